"""Compile time per node on large unrolled graphs: does every stage grow linearly?

    python -m bench.compile_scale                    # 10k, 100k and 1M nodes
    python -m bench.compile_scale --nodes 10000      # one size (repeatable)
    python -m bench.compile_scale --profile optimize # cProfile one stage at the largest size

The kernel is a loop nest written with Python ints, `A[i, j] = A[i, j-1] * 0.5 + B[i, j]`,
that the tracer unrolls: a node count set by the trip counts, as real kernels with int
sizes make (issue 13). Each size runs in a fresh child process so that one size's garbage
and caches do not bill the next. Printed: seconds and microseconds per node of each stage
(trace, optimize at the default level, plan for 2 workers, save, load with verification,
and the first call, which generates and compiles the code), and the sum of the first five,
whose goal is 30 µs per node.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MARKER = "SCALE-JSON:"
SIZES = (10_000, 100_000, 1_000_000)
STAGES = ("trace", "optimize", "plan", "save", "load", "first_call")
GOAL_STAGES = ("trace", "optimize", "plan", "save", "load")
GOAL_US = 30.0
REPO_ROOT = Path(__file__).resolve().parent.parent
NODES_PER_STEP = 5       # getitem A, multiply, getitem B, add, setitem


def recurrence(A, B, n: int, m: int):
    """A row-wise linear recurrence, as a loop nest over Python ints (unrolled by the tracer)."""
    for i in range(n):
        for j in range(1, m):
            A[i, j] = A[i, j - 1] * 0.5 + B[i, j]
    return A


def shape_for(nodes: int) -> tuple[int, int]:
    steps = max(1, nodes // NODES_PER_STEP)
    m = 101
    return max(1, steps // (m - 1)), m


def measure(nodes: int, profile_stage: str | None = None) -> dict:
    import distjit

    n, m = shape_for(nodes)
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((n, m)), rng.standard_normal((n, m))
    times: dict[str, float] = {}
    profiler = None

    def stage(name, fn):
        nonlocal profiler
        if name == profile_stage:
            import cProfile
            profiler = cProfile.Profile()
            profiler.enable()
        t0 = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - t0
        if name == profile_stage:
            profiler.disable()
        return out

    f = stage("trace", lambda: distjit.trace(lambda A, B: recurrence(A, B, n, m), (A.copy(), B)))
    count = f.graph.node_count()
    g = stage("optimize", lambda: distjit.optimize(f))
    stage("plan", lambda: g.plan(workers=2))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "scale.djit")
        stage("save", lambda: distjit.save(g, path))
        h = stage("load", lambda: distjit.load(path))
        got = stage("first_call", lambda: h(A.copy(), B))
    want = recurrence(A.copy(), B, n, m)
    result = {"nodes": count, "optimized_nodes": g.graph.node_count(), "shape": [n, m],
              "seconds": times, "matches": bool(np.allclose(got, want))}
    if profiler is not None:
        import io
        import pstats
        s = io.StringIO()
        pstats.Stats(profiler, stream=s).sort_stats("tottime").print_stats(30)
        result["profile"] = s.getvalue()
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.compile_scale", description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, action="append", help="graph size (repeatable; default 10k, 100k, 1M)")
    p.add_argument("--profile", choices=STAGES, help="print a cProfile of this stage at each size")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--json", metavar="PATH", help="also write the raw results here")
    args = p.parse_args(argv)
    if args.child:
        sys.setrecursionlimit(1000)          # the default: no stage may lean on a raised limit
        sys.stdout.write(MARKER + json.dumps(measure(args.child, args.profile)) + "\n")
        return 0
    results = []
    for nodes in args.nodes or SIZES:
        print(f"  {nodes:>9,} nodes ...", end="", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        results.append(_spawn(nodes, args.profile))
        print(f" {time.perf_counter() - t0:6.1f}s", file=sys.stderr, flush=True)
    _print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def _spawn(nodes: int, profile: str | None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    cmd = [sys.executable, "-m", "bench.compile_scale", "--child", str(nodes)]
    if profile:
        cmd += ["--profile", profile]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    return {"nodes": nodes, "error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}


def _print_table(results: list[dict]) -> None:
    load = f"  (load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)" if hasattr(os, "getloadavg") else ""
    print(f"compile time per node, µs (seconds in brackets){load}")
    head = f"{'nodes':>9}  " + "  ".join(f"{s:>17}" for s in STAGES) + f"  {'goal sum':>9}  match"
    print(head)
    for r in results:
        if "error" in r:
            print(f"{r['nodes']:>9,}  error: {r['error']}")
            continue
        sec, count = r["seconds"], r["nodes"]
        cells = "  ".join(f"{sec[s] / count * 1e6:7.2f} ({sec[s]:7.2f})" for s in STAGES)
        total = sum(sec[s] for s in GOAL_STAGES) / count * 1e6
        verdict = "ok" if total <= GOAL_US else "over"
        print(f"{count:>9,}  {cells}  {total:6.1f} {verdict:>2}  {r['matches']}")
        if "profile" in r:
            print(r["profile"])
    print(f"goal: trace + optimize + plan + save + load <= {GOAL_US:g} µs per node")


if __name__ == "__main__":
    sys.exit(main())
