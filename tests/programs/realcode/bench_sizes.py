"""Eager NumPy's time per kernel at its `bench_size` (the loops bench of issue 14 runs there).

    python -m tests.programs.realcode.bench_sizes [--heldout] [-k PATTERN]

Prints milliseconds of this process's CPU time (best of two runs: a machine shared with other jobs
stretches wall time several-fold, CPU time much less) and flags the kernels outside the 10-300 ms window that
`bench_size` is chosen for. A calibration aid for the corpus, not a benchmark of distjit.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time

from tests.programs.realcode.report import corpus

WINDOW_MS = (10.0, 300.0)


def numpy_ms(k) -> float:
    inputs = k.inputs(0, k.bench_size)
    best = float("inf")
    for _ in range(2):
        fresh = copy.deepcopy(inputs)
        start = time.process_time()
        k.fn(*fresh)
        best = min(best, (time.process_time() - start) * 1e3)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", action="store_true")
    parser.add_argument("-k", dest="pattern", default="")
    args = parser.parse_args(argv)
    outside = 0
    for name, k in corpus(args.heldout).items():
        if args.pattern not in name:
            continue
        ms = numpy_ms(k)
        flag = "" if WINDOW_MS[0] <= ms <= WINDOW_MS[1] else "  <-- outside 10-300 ms"
        outside += bool(flag)
        print(f"{name:40s} bench_size={k.bench_size:<10d} {ms:9.1f} ms{flag}", flush=True)
    print(f"{outside} kernels outside the window")
    return 0


if __name__ == "__main__":
    sys.exit(main())
