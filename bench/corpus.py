"""The corpus table (issue 14): every real-code kernel, eager NumPy against distjit, and numba's `@njit`.

    python -m bench.corpus                     # every kernel of tests/programs/realcode
    python -m bench.corpus --heldout           # the held-out corpus (timed, never tuned against)
    python -m bench.corpus --scalar-loops      # only the scalar loop nests (what `python -m bench.loops` runs)
    python -m bench.corpus -k lcs -k lu        # kernels whose name contains one of these
    python -m bench.corpus --numba             # also numba's @njit of the same source, where it accepts it
    python -m bench.corpus --glibc-keep        # in a child whose glibc keeps its heap (see bench/README.md)

Each kernel runs at its corpus `bench_size` (where eager NumPy takes 10-300 ms), through the front door
a user takes for a whole program, `distjit.optimize(distjit.script(fn))` at the default level, and is
checked against eager NumPy on the same inputs within the kernel's tolerance: a wrong result is
reported as such and left out of the means. Columns: eager NumPy's time; distjit's (steady state)
and its ratio to NumPy (below 1 is faster); the first call (scripting, optimizing, generating code,
compiling native regions); which loops ran natively (native regions / loops at the top of their nest
that fell back to NumPy code); numba's time and first call. Times are the best of `--repeat` runs in
wall-clock time (`--cpu`: this process's CPU time, steadier on a shared machine, but it adds up the
threads of a parallel loop); inputs are fresh copies per run, made outside the timing. First calls
use an empty disk cache (a temporary `XDG_CACHE_HOME`) unless `--warm`. The summary prints the issue's goals next to the
numbers: the geometric mean of the ratios, the slowest kernel, and the scalar loop nests' speedup.
"""
from __future__ import annotations

import argparse
import copy
import math
import os
import signal
import subprocess
import sys
import tempfile
import time

GLIBC_KEEP = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "100000000000"}
KERNEL_TIMEOUT_S = 300


CLOCK = time.perf_counter


def _best_ms(fn, inputs, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        fresh = copy.deepcopy(inputs)
        start = CLOCK()
        fn(*fresh)
        best = min(best, (CLOCK() - start) * 1e3)
    return best


def _first(fn, inputs):
    fresh = copy.deepcopy(inputs)
    start = CLOCK()
    result = fn(*fresh)
    return (CLOCK() - start) * 1e3, result, fresh


def _regions(report: str) -> str:
    loops = [line.strip() for line in report.splitlines() if line.strip().startswith("loop ")]
    native = sum("native (" in line for line in loops)
    return f"{native}/{len(loops)}"


def _check(k, inputs, got, given) -> str:
    """"ok", or the first difference from eager NumPy (results and the caller's arrays after the call)."""
    from tests.compare import assert_same

    expected_inputs = copy.deepcopy(inputs)
    expected = k.fn(*expected_inputs)
    try:
        assert_same(got, expected, k.rtol, "result", scaled=True)
        assert_same(given, expected_inputs, k.rtol, "inputs after the call", scaled=True)
    except AssertionError as e:
        return "WRONG: " + " ".join(str(e).split())[:120]
    return "ok"


def measure(k, repeat: int, with_numba: bool) -> dict:
    import distjit

    inputs = k.inputs(0, k.bench_size)
    row = {"kernel": k.name, "size": k.bench_size, "scalar_loop": "scalar-loop" in k.tags,
           "numpy_ms": _best_ms(k.fn, inputs, repeat)}
    try:
        start = CLOCK()
        f = distjit.optimize(distjit.script(k.fn))
        build_ms = (CLOCK() - start) * 1e3
        first_ms, got, given = _first(f, inputs)
        row["distjit_first_ms"] = build_ms + first_ms
        row["check"] = _check(k, inputs, got, given)
        row["distjit_ms"] = _best_ms(f, inputs, repeat)
        row["native"] = _regions(f.optimization.explain())
    except Exception as e:        # noqa: BLE001 - the table records what failed and goes on
        row["check"] = f"ERROR: {type(e).__name__}: {' '.join(str(e).split())[:100]}"
    if with_numba:
        import numba
        try:
            jitted = numba.njit(k.fn)
            row["numba_first_ms"] = _first(jitted, inputs)[0]
            row["numba_ms"] = _best_ms(jitted, inputs, repeat)
        except Exception as e:    # noqa: BLE001 - njit refuses this source: the column says so
            row["numba_error"] = type(e).__name__
    return row


def _timed_out(signum, frame):
    raise TimeoutError(f"over {KERNEL_TIMEOUT_S} s")


def table(rows: list[dict], with_numba: bool) -> str:
    head = (f"{'kernel':<34} {'size':>7} {'numpy ms':>9} {'distjit ms':>10} {'ratio':>6} {'first ms':>8} "
            f"{'native':>6}" + (f" {'numba ms':>9} {'ratio':>6} {'first ms':>8}" if with_numba else ""))
    lines = [head, "-" * len(head)]
    for r in rows:
        if r["check"] != "ok":
            lines.append(f"{r['kernel']:<34} {r['size']:>7} {r['numpy_ms']:9.2f}  {r['check']}")
            continue
        line = (f"{r['kernel']:<34} {r['size']:>7} {r['numpy_ms']:9.2f} {r['distjit_ms']:10.2f} "
                f"{r['distjit_ms'] / r['numpy_ms']:6.3f} {r['distjit_first_ms']:8.0f} {r['native']:>6}")
        if with_numba:
            line += (f" {r['numba_ms']:9.2f} {r['numba_ms'] / r['numpy_ms']:6.3f} {r['numba_first_ms']:8.0f}"
                     if "numba_ms" in r else f"  njit refused ({r['numba_error']})")
        lines.append(line)
    lines.append("-" * len(head))
    lines.extend(summary(rows, with_numba))
    return "\n".join(lines)


def summary(rows: list[dict], with_numba: bool) -> list[str]:
    ok = [r for r in rows if r["check"] == "ok"]
    ratio = {r["kernel"]: r["distjit_ms"] / r["numpy_ms"] for r in ok}
    lines = [f"kernels: {len(rows)}, matching NumPy: {len(ok)}"
             + (f", failing: {', '.join(r['kernel'] for r in rows if r['check'] != 'ok')}" if len(ok) < len(rows) else "")]
    if not ok:
        return lines
    slowest = max(ratio, key=ratio.get)
    over = sorted((k for k, v in ratio.items() if v > 1.25), key=ratio.get, reverse=True)
    lines.append(f"distjit time / NumPy time, geometric mean: {_geo(ratio.values()):.3f} (goal <= 0.5)")
    lines.append(f"slowest kernel: {slowest} at {ratio[slowest]:.2f}x NumPy's time (goal <= 1.25); "
                 f"over 1.25x: {', '.join(f'{k} {ratio[k]:.2f}' for k in over) or 'none'}")
    loops = [r["kernel"] for r in ok if r["scalar_loop"]]
    if loops:
        least = max(loops, key=ratio.get)
        lines.append(f"scalar loop nests ({len(loops)}): {1 / _geo(ratio[k] for k in loops):.1f}x faster than NumPy "
                     f"(geometric mean); least {least} {1 / ratio[least]:.1f}x (goal >= 10x)")
    both = [r for r in ok if "numba_ms" in r]
    if with_numba and both:
        lines.append(f"where njit accepts the source ({len(both)} kernels): distjit {_geo(ratio[r['kernel']] for r in both):.3f}, "
                     f"numba {_geo(r['numba_ms'] / r['numpy_ms'] for r in both):.3f} of NumPy's time (geometric means)")
    return lines


def _geo(xs) -> float:
    xs = list(xs)
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def main(argv=None, *, scalar_loops_only: bool = False) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="patterns", action="append", default=[])
    parser.add_argument("--heldout", action="store_true")
    parser.add_argument("--scalar-loops", action="store_true", default=scalar_loops_only)
    parser.add_argument("--numba", action="store_true", default=scalar_loops_only)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warm", action="store_true", help="keep the user's disk cache of native code")
    parser.add_argument("--cpu", action="store_true", help="time by this process's CPU time, not the wall clock")
    parser.add_argument("--glibc-keep", action="store_true", help="run in a child whose glibc keeps its heap")
    args = parser.parse_args(argv)
    if args.glibc_keep:
        child = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--glibc-keep"]
        if scalar_loops_only:
            child.append("--scalar-loops")
        return subprocess.call([sys.executable, "-m", "bench.corpus", *child], env={**os.environ, **GLIBC_KEEP})
    if args.cpu:
        global CLOCK
        CLOCK = time.process_time
    if not args.warm:
        os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="distjit-bench-corpus-")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if root not in sys.path:
        sys.path.insert(0, root)
    from tests.programs.realcode.report import corpus

    signal.signal(signal.SIGALRM, _timed_out)
    rows = []
    for name, k in corpus(args.heldout).items():
        if args.scalar_loops and "scalar-loop" not in k.tags or args.patterns and not any(p in name for p in args.patterns):
            continue
        print(f"  {name} ...", file=sys.stderr, flush=True)
        signal.alarm(KERNEL_TIMEOUT_S)
        try:
            rows.append(measure(k, args.repeat, args.numba))
        except TimeoutError as e:
            rows.append({"kernel": name, "size": k.bench_size, "scalar_loop": "scalar-loop" in k.tags,
                         "numpy_ms": float("nan"), "check": f"ERROR: {e}"})
        finally:
            signal.alarm(0)
    print(table(rows, args.numba))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
