"""`python -m bench`: time eager NumPy against distjit on each workload and print one table.

    python -m bench                  # every workload, both environments (~5 minutes)
    python -m bench --quick          # smaller inputs, fewer repeats: a smoke run
    python -m bench --only mlp       # one workload (repeatable: --only mlp --only chain2000)
    python -m bench --repeat 9       # timed samples per side for every workload
    python -m bench --json out.json  # also write the raw per-process results

Each workload runs in a fresh child process per environment (glibc reads the
MALLOC_* variables only at process start); a child prints its results as JSON
and the parent prints the table. See bench/README.md for the columns.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

MARKER = "BENCH-JSON:"
REPO_ROOT = Path(__file__).resolve().parent.parent
GLIBC_KEEP = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "100000000000"}
ENVIRONMENTS = {
    "default": "the environment as it is",
    "glibc-keep": " ".join(f"{k}={v}" for k, v in GLIBC_KEEP.items()),
}
MEM_TARGET = 1.0
CHILD_TIMEOUT_S = 900


def main(argv=None) -> int:
    from bench.workloads import WORKLOADS

    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller inputs and fewer repeats (smoke run)")
    p.add_argument("--only", action="append", metavar="NAME", choices=list(WORKLOADS),
                   help=f"run only this workload (repeatable): {', '.join(WORKLOADS)}")
    p.add_argument("--repeat", type=int, metavar="N", help="timed samples per side (default: per workload)")
    p.add_argument("--json", metavar="PATH", help="write the raw results of every child process here")
    p.add_argument("--child", metavar="NAME", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child:
        return run_child(args.child, args.quick, args.repeat)
    if args.repeat is not None and args.repeat < 1:
        p.error("--repeat must be at least 1")

    from bench.measure import machine_facts

    names = args.only or list(WORKLOADS)
    facts = machine_facts()
    print_header(facts, args)
    sys.stdout.flush()
    results: dict[str, dict[str, dict]] = {}
    start = time.perf_counter()
    for name in names:
        results[name] = {}
        for env_name in ENVIRONMENTS:
            t0 = time.perf_counter()
            print(f"  running {name:<16} [{env_name}] ...", end="", file=sys.stderr, flush=True)
            results[name][env_name] = spawn_child(name, env_name, args.quick, args.repeat)
            print(f" {time.perf_counter() - t0:5.1f}s", file=sys.stderr, flush=True)
    print(flush=True)
    print_table(names, results, WORKLOADS, args.quick)
    load = f", load average at end {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    print(f"\ntotal wall time {time.perf_counter() - start:.0f}s{load}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": facts, "results": results}, indent=1))
    return 0


# -- child processes -----------------------------------------------------------------------------------

def run_child(name: str, quick: bool, repeat: int | None) -> int:
    from bench.measure import measure_workload

    result = measure_workload(name, quick=quick, repeat=repeat)
    sys.stdout.write(MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


def spawn_child(name: str, env_name: str, quick: bool, repeat: int | None) -> dict:
    env = dict(os.environ)
    if env_name == "glibc-keep":
        env.update(GLIBC_KEEP)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    cmd = [sys.executable, "-m", "bench", "--child", name]
    if quick:
        cmd.append("--quick")
    if repeat is not None:
        cmd += ["--repeat", str(repeat)]
    try:
        proc = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"name": name, "errors": [f"child timed out after {CHILD_TIMEOUT_S}s"]}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
    return {"name": name, "errors": [f"child exited {proc.returncode}: {tail}"[:300]], "stderr": proc.stderr[-4000:]}


# -- printing ------------------------------------------------------------------------------------------

def print_header(facts: dict, args) -> None:
    print(f"distjit {facts['distjit']} | numpy {facts['numpy']} ({facts.get('blas', '?')}) | "
          f"Python {facts['python']}")
    print(f"machine: {facts['cores_usable']} usable cores of {facts['cpu_count']} | {facts['cpu']} | "
          f"{facts.get('memory_gb', '?')} GiB RAM | {facts['platform']}")
    print("environments: " + "; ".join(f"{k} = {v}" for k, v in ENVIRONMENTS.items()))
    already = [k for k in GLIBC_KEEP if k in os.environ]
    if already:
        print(f"  note: {', '.join(already)} already set in this environment, so 'default' is not glibc's default")
    mode = "quick (smoke run: smaller inputs)" if args.quick else "full"
    print(f"mode: {mode}; times are medians per call; ratio = distjit / eager, same process, alternating")
    if hasattr(os, "getloadavg"):
        load = os.getloadavg()[0]
        busy = f"  (busy: more runnable processes than the {facts['cores_usable']} cores, expect noise)" \
            if load > facts["cores_usable"] * 0.75 else ""
        print(f"load average at start: {load:.2f}{busy}")


def fmt_time(seconds) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f}ms"
    return f"{seconds:.2f}s"


def fmt_bytes(n) -> str:
    if n is None:
        return "-"
    if abs(n) < 2**10:
        return f"{n}B"
    if abs(n) < 2**20:
        return f"{n / 2**10:.1f}K"
    if abs(n) < 2**30:
        return f"{n / 2**20:.0f}M"
    return f"{n / 2**30:.2f}G"


def _median(r: dict, key: str):
    t = r.get(key)
    return t["median"] if t else None


def _ratio(a, b):
    return a / b if a is not None and b else None


def _fmt_ratio(r) -> str:
    return f"{r:.2f}" if r is not None else "-"


def _signed_bytes(n) -> str:
    if n is None:
        return "-"
    return ("+" if n > 0 else "-" if n < 0 else "") + fmt_bytes(abs(n)) if n else "0"


def print_table(names, results, workloads, quick: bool = False) -> None:
    headers = ["workload", "size", "nodes", "target",
               "eager", "distjit", "ratio",           # default environment
               "eager", "distjit", "ratio",           # glibc-keep
               "eager", "distjit", "ratio", "diff", "held",
               "match", "verdict"]
    groups = [("", 4), ("default env", 3), ("glibc-keep env", 3), ("peak extra memory per call", 5), ("", 2)]
    rows, notes, errors = [], [], []
    for name in names:
        wl = workloads[name]
        per_env = results[name]
        d, g = per_env["default"], per_env["glibc-keep"]
        row = [name, wl.quick_size if quick else wl.size, str(d.get("nodes", g.get("nodes", "-"))),
               f"<={wl.time_target:g}"]
        ratios = []
        for r in (d, g):
            e, j = _median(r, "time_eager"), _median(r, "time_distjit")
            ratios.append(_ratio(j, e))
            row += [fmt_time(e), fmt_time(j), _fmt_ratio(ratios[-1])]
        # tracemalloc counts requested bytes, independent of the malloc environment: show the default env's.
        src = d if d.get("mem_eager") is not None else g
        me, mj = src.get("mem_eager"), src.get("mem_distjit")
        mratio = _ratio(mj, me)
        row += [fmt_bytes(me), fmt_bytes(mj), _fmt_ratio(mratio),
                _signed_bytes(mj - me) if mj is not None and me is not None else "-",
                fmt_bytes(src.get("held_distjit"))]
        if src is d and g.get("mem_distjit") is not None and (g.get("mem_eager"), g.get("mem_distjit")) != (me, mj):
            notes.append(f"{name}: in glibc-keep the peaks were eager {fmt_bytes(g.get('mem_eager'))}, "
                         f"distjit {fmt_bytes(g.get('mem_distjit'))}")
        matches = {r["match"]["text"] for r in (d, g) if r.get("match")}
        row.append(" / ".join(sorted(matches)) or "-")
        failed = []
        errs = [f"{name} [{env}] {e}" for env, r in per_env.items() for e in r.get("errors", [])]
        if errs:
            failed.append("error")
            errors += errs
        for label, ratio in zip(("time", "time-glibc"), ratios):
            if ratio is not None and ratio > wl.time_target:
                failed.append(label)
        if mj is not None and me is not None and mj > me:
            failed.append("mem")
        if any(r.get("match") and not r["match"]["bitwise"] for r in (d, g)):
            failed.append("match")
        row.append("ok" if not failed else "FAIL " + ",".join(failed))
        rows.append(row)
        for env, r in per_env.items():
            if not r.get("time_eager"):
                continue
            inner = r.get("inner", 1)
            line = (f"{name} [{env}] n={r.get('repeat')}{f' x {inner} calls' if inner > 1 else ''}: "
                    f"eager {fmt_time(r['time_eager']['min'])}..{fmt_time(r['time_eager']['max'])}")
            if r.get("time_distjit"):
                line += f", distjit {fmt_time(r['time_distjit']['min'])}..{fmt_time(r['time_distjit']['max'])}"
            line += f"; page faults/call eager {r.get('faults_eager', 0):.0f}"
            if r.get("faults_distjit") is not None:
                line += f", distjit {r['faults_distjit']:.0f}"
            if r.get("trace_s") is not None and env == "default":
                line += f"; trace {fmt_time(r['trace_s'])}"
            if r.get("loadavg") is not None:
                line += f"; load {r['loadavg']:.1f}"
            notes.append(line)

    widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) for i in range(len(headers))]
    spans, col = [], 0
    for title, n in groups:
        w = sum(widths[col:col + n]) + 2 * (n - 1)
        spans.append(f" {title} ".center(w, "-") if title else " " * w)
        col += n
    print("  ".join(spans).rstrip())
    print("  ".join(h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths))))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print("\ntarget: time ratio (distjit/eager median) <= the target column in both environments; "
          "peak memory of distjit <= eager's (diff <= 0)")
    variant_lines = []
    for name in names:
        for env, r in results[name].items():
            v = r.get("variants")
            if not v or "time" not in v.get("eager", {}):
                continue
            eager = v["eager"]["time"]["median"]
            parts = [f"eager {fmt_time(eager)}"]
            for key, m in v.items():
                if key == "eager" or "time" not in m:
                    continue
                t = m["time"]["median"]
                parts.append(f"{key} {fmt_time(t)} ({t / eager:.3f}x; first call {fmt_time(m['first_s'])}; "
                             f"{m['match']['text']})")
            variant_lines.append(f"  {name} [{env}]: " + " | ".join(parts))
    if variant_lines:
        print("\nvariants, same process, alternating (ratio to eager; the first call includes compiling):")
        for line in variant_lines:
            print(line)
    if errors:
        print("\nerrors:")
        for e in errors:
            print(f"  {e}")
    if notes:
        print("\nspread (min..max per call), page faults per call (median), machine load (1-min average):")
        for n in notes:
            print(f"  {n}")


if __name__ == "__main__":
    sys.exit(main())
