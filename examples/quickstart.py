"""The quick start: trace a small NumPy model, print its graph, run it, and compare with NumPy."""
import time

import numpy as np

import distjit


def mlp(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0)
    z = h @ w2 + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def main():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4096, 256), dtype=np.float32)
    w1 = rng.standard_normal((256, 512), dtype=np.float32) * 0.05
    b1 = np.zeros(512, dtype=np.float32)
    w2 = rng.standard_normal((512, 10), dtype=np.float32) * 0.05
    b2 = np.zeros(10, dtype=np.float32)
    args = (x, w1, b1, w2, b2)

    f = distjit.trace(mlp, args, dynamic_axes={"x": {0: "B"}})
    print(f.graph)

    expected = mlp(*args)
    got = f(*args)
    assert got.dtype == expected.dtype and np.array_equal(got, expected), "distjit differs from NumPy"
    print(f"result: {got.shape} {got.dtype}, identical to NumPy bit for bit")

    smaller = x[:100]
    assert np.array_equal(f(smaller, w1, b1, w2, b2), mlp(smaller, w1, b1, w2, b2))
    print("dynamic batch axis B: a batch of 100 runs through the same graph")

    def best_of(fn, n=5):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn(*args)
            times.append(time.perf_counter() - t)
        return min(times)

    eager, traced = best_of(mlp), best_of(f)
    print(f"eager NumPy {eager * 1e3:.1f} ms, distjit {traced * 1e3:.1f} ms (ratio {traced / eager:.2f})")


if __name__ == "__main__":
    main()
