"""The loops table (issue 14): the corpus' scalar loop nests, eager NumPy against distjit's native backend and numba.

    python -m bench.loops [-k PATTERN] [--repeat N] [--warm] [--glibc-keep]

The same table as `python -m bench.corpus --scalar-loops --numba` (see bench/corpus.py for the columns).
"""
from bench.corpus import main

if __name__ == "__main__":
    raise SystemExit(main(scalar_loops_only=True))
