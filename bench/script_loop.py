"""Loop overhead of distjit.script: a scripted loop of 10,000 iterations of a few small array ops vs plain Python.

    python -m bench.script_loop            # prints the ratio (target: <= 1.5)

The scripted loop is one prim.Loop; the generated code runs it as a Python `for`
over the node kernels, so the ratio measures what distjit adds per iteration.
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


def best_of(fn, args, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


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
    main()
