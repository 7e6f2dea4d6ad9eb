"""Print how much of the real-code corpus distjit takes: a kernel x stage table, pass rates, failure classes.

    python -m tests.programs.realcode.report                  # the real-code corpus
    python -m tests.programs.realcode.report --heldout        # the held-out corpus (do not tune on it)
    python -m tests.programs.realcode.report -k linalg.       # kernels whose name contains "linalg."
    python -m tests.programs.realcode.report --details        # every failure's step, message and frame
    python -m tests.programs.realcode.report --bind-ints      # also: trace with the int arguments bound
    python -m tests.programs.realcode.report --write-expected # record today's passes in expected.json

Cells: "ok"; "WRONG" (ran, result or mutated arguments differ from NumPy's); an error's class
without "Error" for distjit's own errors ("Tracing", "Script", "Shape"), with "!" for a bare Python
exception ("Attribute!", "Recursion!"); "T/O" for a timeout; "-" when the route's first stage failed.
Failure classes group the messages with file names, lines, numbers, types and quoted names taken out.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict

import distjit
from tests.programs.realcode.harness import ROUTES, STAGES, STEPS, Outcome, run_ints_bound_trace, run_kernel
from tests.programs.realcode.kernel import TAGS

EXPECTED_PATH = __file__.rsplit("/", 1)[0] + "/expected.json"
_DISTJIT_ERRORS = {cls.__name__ for cls in vars(distjit).values()
                   if isinstance(cls, type) and issubclass(cls, distjit.DistJitError)}


def corpus(heldout: bool) -> dict:
    if heldout:
        from tests.programs.heldout import KERNELS
    else:
        from tests.programs.realcode import KERNELS
    return KERNELS


def run_all(kernels: dict, progress=None) -> dict[str, dict[str, Outcome]]:
    results = {}
    for name, k in kernels.items():
        start = time.perf_counter()
        results[name] = run_kernel(k)
        if progress:
            progress(name, time.perf_counter() - start)
    return results


# -- the table -------------------------------------------------------------------------------------

def cell(o: Outcome) -> str:
    if o.status == "ok":
        return "ok"
    if o.status == "wrong":
        return "WRONG"
    if o.status == "timeout":
        return "T/O"
    if o.status == "blocked":
        return "-"
    if o.error in _DISTJIT_ERRORS:
        return o.error.removesuffix("Error")
    return o.error.removesuffix("Error") + "!"


def table(results) -> str:
    headers = ["kernel"] + [s.replace("trace.", "t.").replace("script.", "s.") for s in STAGES]
    rows = [[name] + [cell(outcomes[s]) for s in STAGES] for name, outcomes in results.items()]
    widths = [max(len(r[i]) for r in rows + [headers]) for i in range(len(headers))]
    fmt = lambda r: "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()    # noqa: E731
    return "\n".join([fmt(headers), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


# -- pass rates ------------------------------------------------------------------------------------

def rates(results) -> list[tuple[str, int, int]]:
    """(label, passed, of) for the headline numbers."""
    n = len(results)
    ok = lambda name, stage: results[name][stage].ok      # noqa: E731
    count = lambda pred: sum(1 for name in results if pred(name))   # noqa: E731
    lines = [("trace correct", count(lambda k: ok(k, "trace")), n),
             ("script correct", count(lambda k: ok(k, "script")), n),
             ("either correct", count(lambda k: ok(k, "trace") or ok(k, "script")), n)]
    for step in STEPS[1:]:
        for route in ROUTES:
            lines.append((f"{route}{step} (of all)", count(lambda k: ok(k, route + step)), n))
            lines.append((f"{route}{step} (of {route} ok)", count(lambda k: ok(k, route + step)),
                          count(lambda k: ok(k, route))))
        lines.append((f"{step[1:]} by either route", count(lambda k: any(ok(k, r + step) for r in ROUTES)), n))
    lines.append(("whole pipeline by either route",
                  count(lambda k: any(all(ok(k, r + s) for s in STEPS) for r in ROUTES)), n))
    return lines


def tag_rates(results, kernels) -> str:
    """Trace and script pass counts per tag: which kinds of code each frontend takes."""
    rows = []
    for tag in sorted(TAGS):
        names = [n for n in results if tag in kernels[n].tags]
        if names:
            trace_ok = sum(results[n]["trace"].ok for n in names)
            script_ok = sum(results[n]["script"].ok for n in names)
            rows.append(f"  {tag.ljust(14)} {len(names):3d} kernels   trace {trace_ok:3d}   script {script_ok:3d}")
    return "by tag (a kernel has several):\n" + "\n".join(rows)


def format_rates(lines) -> str:
    width = max(len(label) for label, _, _ in lines)
    return "\n".join(f"{label.ljust(width)}  {passed:3d}/{of:<3d} {100.0 * passed / of if of else 0.0:5.1f}%"
                     for label, passed, of in lines)


# -- failure classes ---------------------------------------------------------------------------------

_LOCATION = re.compile(r"(?:/[^\s:]+|<[^>\s]+>):\d+(?::\d+)?:\s*")       # "/path/file.py:12:3: "
_NORMALIZE = [
    (_LOCATION, ""),
    (re.compile(r"\b(?:bool|[fiuc]\d+)\[[^\]]*\]"), "<type>"),               # f64[6,3], i64[?x_0]
    (re.compile(r"^np\.[A-Za-z_][\w.]*"), "np.<fn>"),                          # "np.cov is not supported"
    (re.compile(r"\(\d+(?:, \d+)*,?\)"), "(…)"),                               # shapes
    (re.compile(r"\b\d+(?:\.\d+)?(?:e[-+]?\d+)?\b"), "N"),
]
_QUOTED = re.compile(r"'[^']*'")
_LEADING_NP_NAME = re.compile(r"^np\.[A-Za-z_][\w.]*")
_WRAPPED = re.compile(r"^\w+(?:Error|Exception): ")     # "ScriptError: AttributeError: ..." wraps a bare one


def template(o: Outcome) -> str:
    """The message with what varies from kernel to kernel taken out. Quoted names stay in a bare
    exception's message (`'TracedArray' object has no attribute 'real'`: the names are the news)."""
    if o.status in ("wrong", "timeout"):
        return f"{o.status} ({o.at})"
    text = _LOCATION.sub("", o.message)
    for pattern, repl in _NORMALIZE:
        text = pattern.sub(repl, text)
    if o.error in _DISTJIT_ERRORS and not _WRAPPED.match(text):
        text = _QUOTED.sub("'…'", text)
    return f"{o.error}: {text}"


def failure_classes(results, stages) -> list[tuple[str, list[str], Counter, Counter]]:
    """(class, kernels, np functions refused, where raised) per class, most frequent first. With
    several stages, the stage is part of the class."""
    groups = defaultdict(lambda: ([], Counter(), Counter()))
    for name, outcomes in results.items():
        for stage in stages:
            o = outcomes[stage]
            if o.status in ("ok", "blocked"):
                continue
            key = template(o) if len(stages) == 1 else f"[{stage}] {template(o)}"
            kernels, functions, frames = groups[key]
            kernels.append(name)
            functions.update(_LEADING_NP_NAME.findall(_LOCATION.sub("", o.message)))
            if o.where:
                frames[o.where] += 1
    return sorted(((t, *g) for t, g in groups.items()), key=lambda g: (-len(g[1]), g[0]))


def format_classes(title, classes, width=160) -> str:
    total = sum(len(k) for _, k, _, _ in classes)
    out = [f"{title}: {total} failures in {len(classes)} classes"]
    for text, kernels, functions, frames in classes:
        out.append(f"  {len(kernels):3d}  {text[:width]}")
        if functions:
            out.append("       refused: " + ", ".join(f"{f} x{c}" if c > 1 else f for f, c in functions.most_common()))
        if frames:
            out.append("       raised at: " + ", ".join(f"{f} x{c}" if c > 1 else f for f, c in frames.most_common()))
        out.append("       kernels: " + ", ".join(kernels))
    return "\n".join(out)


def ints_bound(kernels, results) -> str:
    """Trace with the Python int arguments bound, for the kernels that take some."""
    bound = {name: {"trace": run_ints_bound_trace(k)} for name, k in kernels.items()
             if any(type(x) in (int, bool) for x in k.inputs(0))}
    passed = sum(o["trace"].ok for o in bound.values())
    newly = [n for n, o in bound.items() if o["trace"].ok and not results[n]["trace"].ok]
    either = sum(results[n]["trace"].ok or results[n]["script"].ok or n in newly for n in results)
    head = (f"trace with the int arguments bound: {passed}/{len(bound)} of the kernels taking ints "
            f"({len(newly)} more than today: {', '.join(newly) or 'none'});\n"
            f"trace correct would be {sum(r['trace'].ok for r in results.values()) + len(newly)}/{len(results)}, "
            f"either {either}/{len(results)}")
    return head + "\n" + format_classes("still failing with the ints bound", failure_classes(bound, ["trace"]))


def details(results) -> str:
    out = []
    for name, outcomes in results.items():
        for stage in STAGES:
            o = outcomes[stage]
            if o.status not in ("ok", "blocked"):
                out.append(f"{name} [{stage}] {o.status} at {o.at}: {o.error + ': ' if o.error else ''}{o.message}"
                           + (f"  ({o.where})" if o.where else ""))
    return "\n".join(out)


# -- expectations ----------------------------------------------------------------------------------

def passing(outcomes: dict[str, Outcome]) -> list[str]:
    return [s for s in STAGES if outcomes[s].ok]


def load_expected() -> dict[str, list[str]]:
    with open(EXPECTED_PATH) as f:
        return json.load(f)


def write_expected(results) -> None:
    """One kernel per line, so that a diff shows which kernel moved."""
    lines = [f"  {json.dumps(name)}: {json.dumps(passing(results[name]))}" for name in sorted(results)]
    with open(EXPECTED_PATH, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", action="store_true", help="run the held-out corpus instead")
    parser.add_argument("-k", dest="pattern", default="", help="only kernels whose name contains this")
    parser.add_argument("--details", action="store_true", help="print every failure in full")
    parser.add_argument("--bind-ints", action="store_true",
                        help="also trace the kernels that take Python ints with those bound, per input set "
                             "(what int specialization would give), and group what fails then")
    parser.add_argument("--json", metavar="PATH", help="also write the raw outcomes as JSON")
    parser.add_argument("--write-expected", action="store_true",
                        help="record today's passing stages in expected.json (real-code corpus, all kernels)")
    args = parser.parse_args(argv)
    if args.write_expected and (args.heldout or args.pattern):
        parser.error("--write-expected records the whole real-code corpus: no --heldout, no -k")
    kernels = {n: k for n, k in corpus(args.heldout).items() if args.pattern in n}
    start = time.perf_counter()
    results = run_all(kernels, progress=lambda name, s: print(f"  {name} {s:.2f}s", file=sys.stderr, flush=True))
    elapsed = time.perf_counter() - start
    which = "held-out" if args.heldout else "real-code"
    print(f"distjit on the {which} corpus: {len(results)} kernels, {elapsed:.1f} s\n")
    print(table(results) + "\n")
    print(format_rates(rates(results)) + "\n")
    print(tag_rates(results, kernels) + "\n")
    print(format_classes("trace failures", failure_classes(results, ["trace"])) + "\n")
    print(format_classes("script failures", failure_classes(results, ["script"])) + "\n")
    later = [r + s for s in STEPS[1:] for r in ROUTES]
    print(format_classes("optimize/save/run failures", failure_classes(results, later)))
    if args.bind_ints:
        print("\n" + ints_bound(kernels, results))
    if args.details:
        print("\n" + details(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({name: {s: vars(o) for s, o in outcomes.items()} for name, outcomes in results.items()},
                      f, indent=1)
    if args.write_expected:
        write_expected(results)
        print(f"\nwrote {EXPECTED_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
