"""Trace a NumPy workload, optimize it, partition it, and run it on a local Ray that distjit starts itself.

    python examples/distributed.py

The embedded default (cluster="auto" with no RAY_ADDRESS) is a one-node Ray bound
to 127.0.0.1. Set RAY_ADDRESS to run on a cluster you already have.
"""
import time

import numpy as np

import distjit


def standardize_cov(X):
    """Column-standardize a tall matrix and return it with its covariance."""
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    Z = (X - mu) / sd
    C = (Z.T @ Z) / (X.shape[0] - 1)
    return Z, C


def main():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1 << 21, 16)) * rng.uniform(0.1, 10.0, 16) + rng.uniform(-5.0, 5.0, 16)

    f = distjit.optimize(distjit.trace(standardize_cov, (X,)))
    plan = distjit.partition(f, workers=2)
    print(plan.explain())

    t = time.perf_counter()
    Z, C = f.run(X, cluster="auto", workers=2)      # starts a local Ray (127.0.0.1) on first use
    print(f"\nfirst run (starts Ray, ships the subgraphs): {time.perf_counter() - t:.2f} s")

    eZ, eC = standardize_cov(X)
    np.testing.assert_allclose(Z, eZ, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(C, eC, rtol=1e-9, atol=1e-12)
    print("results match NumPy (to rounding: partial sums are combined in another order)")

    def best(fn, n=3):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    numpy_s = best(lambda: standardize_cov(X))
    ray_s = best(lambda: f.run(X, cluster="auto", workers=2))
    print(f"eager NumPy: {numpy_s * 1e3:.0f} ms   distjit on Ray, 2 workers: {ray_s * 1e3:.0f} ms "
          f"({numpy_s / ray_s:.2f}x)")


if __name__ == "__main__":
    main()
