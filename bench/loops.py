"""The loops table (issue 14): the corpus' scalar loop nests, eager NumPy against distjit's native backend and numba.

    python -m bench.loops                  # every "scalar-loop" kernel of tests/programs/realcode
    python -m bench.loops -k lcs -k lu     # kernels whose name contains one of these
    python -m bench.loops --repeat 5

Each kernel runs at its corpus `bench_size` (where eager NumPy takes 10-300 ms). Columns: eager NumPy's
time; distjit's (`distjit.optimize(distjit.script(fn))`, the default level, steady state) and its first
call (scripting, optimizing, generating code, compiling the native regions); numba's `@njit` of the same
source where njit accepts it, and its first call; the ratios to NumPy (how many times faster); and which
loops ran natively (native regions / loops at the top of their nest that fell back to NumPy code). Times
are the best of `--repeat` runs in CPU time of this process (the machine is shared: wall time stretches
with other jobs, CPU time much less); inputs are fresh copies per run, made outside the timing. The
compile columns use an empty disk cache (a temporary `XDG_CACHE_HOME`) unless `--warm`.
"""
from __future__ import annotations

import argparse
import copy
import math
import os
import sys
import tempfile
import time


def _cpu_ms(fn, inputs, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        fresh = copy.deepcopy(inputs)
        start = time.process_time()
        fn(*fresh)
        best = min(best, (time.process_time() - start) * 1e3)
    return best


def _first_ms(fn, inputs) -> float:
    fresh = copy.deepcopy(inputs)
    start = time.process_time()
    fn(*fresh)
    return (time.process_time() - start) * 1e3


def _regions(report: str) -> str:
    loops = [line.strip() for line in report.splitlines() if line.strip().startswith("loop ")]
    native = sum("native (" in line for line in loops)
    return f"{native}/{len(loops)}"


def measure(k, repeat: int) -> dict:
    import numba

    import distjit

    inputs = k.inputs(0, k.bench_size)
    row = {"kernel": k.name, "size": k.bench_size, "numpy_ms": _cpu_ms(k.fn, inputs, repeat)}
    start = time.process_time()
    f = distjit.optimize(distjit.script(k.fn))
    fresh = copy.deepcopy(inputs)
    f(*fresh)
    row["distjit_first_ms"] = (time.process_time() - start) * 1e3
    row["distjit_ms"] = _cpu_ms(f, inputs, repeat)
    row["native"] = _regions(f.optimization.explain())
    try:
        jitted = numba.njit(k.fn)
        row["numba_first_ms"] = _first_ms(jitted, inputs)
        row["numba_ms"] = _cpu_ms(jitted, inputs, repeat)
    except Exception as e:        # noqa: BLE001 - njit refuses this source: the column says so
        row["numba_error"] = type(e).__name__
    return row


def table(rows: list[dict]) -> str:
    head = (f"{'kernel':<30} {'size':>8} {'numpy ms':>9} {'distjit ms':>10} {'x faster':>8} {'first ms':>9} "
            f"{'native':>6} {'numba ms':>9} {'x faster':>8} {'first ms':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        numba_cols = (f"{r['numba_ms']:9.2f} {r['numpy_ms'] / r['numba_ms']:8.1f} {r['numba_first_ms']:9.0f}"
                      if "numba_ms" in r else f"{'refused (' + r['numba_error'] + ')':>28}")
        lines.append(f"{r['kernel']:<30} {r['size']:>8} {r['numpy_ms']:9.2f} {r['distjit_ms']:10.2f} "
                     f"{r['numpy_ms'] / r['distjit_ms']:8.1f} {r['distjit_first_ms']:9.0f} {r['native']:>6} "
                     f"{numba_cols}")
    ratios = [r["numpy_ms"] / r["distjit_ms"] for r in rows]
    native_all = [r["numpy_ms"] / r["distjit_ms"] for r in rows if r["native"].split("/")[0] == r["native"].split("/")[1]]
    lines.append("-" * len(head))
    lines.append(f"geometric mean, distjit x faster than NumPy: {_geo(ratios):.2f} over {len(ratios)} kernels; "
                 f"{_geo(native_all):.2f} over the {len(native_all)} whose every loop ran natively")
    both = [(r["numpy_ms"] / r["distjit_ms"], r["numpy_ms"] / r["numba_ms"]) for r in rows if "numba_ms" in r]
    if both:
        lines.append(f"where njit accepts the source ({len(both)} kernels): distjit {_geo([a for a, _ in both]):.2f}x, "
                     f"numba {_geo([b for _, b in both]):.2f}x NumPy's speed (geometric means)")
    return "\n".join(lines)


def _geo(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="patterns", action="append", default=[])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warm", action="store_true", help="keep the user's disk cache of native code")
    args = parser.parse_args(argv)
    if not args.warm:
        os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="distjit-bench-loops-")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if root not in sys.path:
        sys.path.insert(0, root)
    from tests.programs.realcode.report import corpus

    rows = []
    for name, k in corpus(False).items():
        if "scalar-loop" not in k.tags or args.patterns and not any(p in name for p in args.patterns):
            continue
        print(f"  {name} ...", file=sys.stderr, flush=True)
        rows.append(measure(k, args.repeat))
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
