"""Loop overhead of distjit.script: a scripted loop of 10,000 iterations of a few small array ops vs plain Python,
and a scripted Gauss-Seidel sweep (scalar reads and writes of one array in a loop nest) vs the same NumPy code.

    python -m bench.script_loop                    # both ratios (step loop target: <= 1.5)
    python -m bench.script_loop --seidel 40 400    # the sweep at these sizes only

The scripted loop is one prim.Loop; the generated code runs it as a Python `for`
over the node kernels, so the ratio measures what distjit adds per iteration. The
sweep (PolyBench's seidel-2d, as tests/programs/realcode writes it) writes `A[i, j]`
in a loop nest: what it costs is whether each write copies the array (a functional
update) or writes in place (distjit/core/inplace.py).
"""
from __future__ import annotations

import time

import numpy as np

import distjit

ITERS = 10_000


def step_loop(x: np.ndarray, v: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    for i in range(n):
        v = 0.9 * v - 0.01 * x
        x = x + v
        x = np.clip(x, -1.0, 1.0)
    return x, v


from tests.programs.realcode.stencils import seidel_2d  # noqa: E402  (the corpus kernel, run from the repo root)

SEIDEL_STEPS = 3
SEIDEL_SIZES = (40, 400)


def best_of(fn, args, repeat: int, fresh=None) -> float:
    """The fastest of `repeat` calls; `fresh(args)` makes each call's arguments (outside the timing)."""
    best = float("inf")
    for _ in range(repeat):
        call_args = fresh(args) if fresh is not None else args
        t0 = time.perf_counter()
        fn(*call_args)
        best = min(best, time.perf_counter() - t0)
    return best


def seidel(n: int, repeat: int = 3) -> float:
    """The scripted sweep on an n x n array, SEIDEL_STEPS time steps, against NumPy: time / NumPy's time."""
    A = np.random.default_rng(0).random((n, n))
    scripted = distjit.script(seidel_2d)
    got, expected = A.copy(), A.copy()
    t0 = time.perf_counter()
    scripted(SEIDEL_STEPS, got)                     # compiles; the caller's array is updated as NumPy's is
    t_first = time.perf_counter() - t0
    seidel_2d(SEIDEL_STEPS, expected)
    assert np.array_equal(got, expected), "scripted sweep differs from NumPy"
    fresh = lambda args: (args[0], args[1].copy())  # noqa: E731
    t_numpy = best_of(seidel_2d, (SEIDEL_STEPS, A), repeat, fresh)
    t_script = best_of(scripted, (SEIDEL_STEPS, A), repeat, fresh)
    ratio = t_script / t_numpy
    print(f"seidel_2d {n}x{n}, {SEIDEL_STEPS} steps: NumPy {t_numpy * 1e3:9.2f} ms  distjit.script "
          f"{t_script * 1e3:9.2f} ms  ratio (script / numpy) {ratio:6.2f}  (first call {t_first * 1e3:.0f} ms)")
    return ratio


def main(repeat: int = 7) -> float:
    rng = np.random.default_rng(0)
    x, v = rng.standard_normal(16), np.zeros(16)
    scripted = distjit.script(step_loop)
    got, expected = scripted(x, v, ITERS), step_loop(x, v, ITERS)
    assert all(np.array_equal(g, e) for g, e in zip(got, expected)), "scripted result differs from plain Python"
    t_python = best_of(step_loop, (x, v, ITERS), repeat)
    t_script = best_of(scripted, (x, v, ITERS), repeat)
    ratio = t_script / t_python
    print(f"script_loop: {ITERS} iterations of 4 small array ops")
    print(f"  plain Python  {t_python * 1e3:8.2f} ms")
    print(f"  distjit.script {t_script * 1e3:7.2f} ms")
    print(f"  ratio (script / python) {ratio:.2f}  (target <= 1.5)")
    return ratio


if __name__ == "__main__":
    import sys

    if "--seidel" in sys.argv:
        for size in sys.argv[sys.argv.index("--seidel") + 1:]:
            seidel(int(size))
    else:
        main()
        for size in SEIDEL_SIZES:
            seidel(size)
