"""The quick start: the whole pipeline on one NumPy model.

trace -> print the graph -> run in-process (bit for bit NumPy) -> optimize -> partition
-> run on a local Ray cluster that distjit starts itself (bound to 127.0.0.1)
-> check against NumPy and compare times.

Set RAY_ADDRESS to run on a cluster you already have.
"""
import time

import numpy as np

import distjit


def mlp(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0)
    z = h @ w2 + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def best_of(fn, n=3):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1 << 16, 256), dtype=np.float32)
    w1 = rng.standard_normal((256, 512), dtype=np.float32) * np.float32(0.05)
    b1 = np.zeros(512, dtype=np.float32)
    w2 = rng.standard_normal((512, 10), dtype=np.float32) * np.float32(0.05)
    b2 = np.zeros(10, dtype=np.float32)
    args = (x, w1, b1, w2, b2)
    expected = mlp(*args)

    f = distjit.trace(mlp, args)
    print(f.graph)
    assert np.array_equal(f(*args), expected), "the traced function differs from NumPy"
    print("in-process: identical to NumPy bit for bit\n")

    g = distjit.optimize(f)
    print(g.optimization.table(), "\n")

    plan = g.plan(workers=2)
    print(plan.explain(), "\n")

    t = time.perf_counter()
    got = g.run(*args, cluster="auto", workers=2)    # starts a local Ray on 127.0.0.1 the first time
    print(f"first run on Ray (starts Ray, ships the plan): {time.perf_counter() - t:.1f} s")
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    print("Ray result matches NumPy")
    _, stats = g.run(*args, cluster="auto", workers=2, stats=True)
    print(stats)                                   # each stage's time beside the cost model's prediction

    eager = best_of(lambda: mlp(*args))
    local = best_of(lambda: g(*args))
    ray = best_of(lambda: g.run(*args, cluster="auto", workers=2))
    print(f"eager NumPy {eager * 1e3:.0f} ms | distjit in-process {local * 1e3:.0f} ms | "
          f"distjit on Ray, 2 workers {ray * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
