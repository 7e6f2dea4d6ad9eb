"""The benchmark workloads: plain NumPy functions and the makers of their inputs, in one place.

Each workload is an ordinary NumPy function (what a user would write, no distjit
in it) plus a function that makes its inputs from a fixed seed. The runner
traces the function once with those inputs and times eager NumPy against the
traced `distjit.Function` on the same arrays.

`make(quick)` returns the argument tuple; with `quick=True` the sizes shrink so
that `python -m bench --quick` is a smoke run of a few seconds per workload.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

# --------------------------------------------------------------------------------------------------
# MLP inference: B=65536, 512 -> 1024 -> 1024 -> 16, float32, relu hidden layers, softmax output.


def mlp(x, w1, b1, w2, b2, w3, b3):
    h = np.maximum(x @ w1 + b1, 0)
    h = np.maximum(h @ w2 + b2, 0)
    z = h @ w3 + b3
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def make_mlp(quick: bool):
    rng = np.random.default_rng(0)
    batch = 4096 if quick else 65536
    sizes = (512, 1024, 1024, 16)

    def layer(n_in, n_out):
        w = rng.standard_normal((n_in, n_out), dtype=np.float32) * np.float32(1.0 / np.sqrt(n_in))
        b = rng.standard_normal(n_out, dtype=np.float32) * np.float32(0.1)
        return w, b

    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    (w1, b1), (w2, b2), (w3, b3) = (layer(a, b) for a, b in zip(sizes, sizes[1:]))
    return (x, w1, b1, w2, b2, w3, b3)


# --------------------------------------------------------------------------------------------------
# Black-Scholes: call and put prices of 2^24 European options, float64.
# The normal CDF is Abramowitz & Stegun 26.2.17 (a 5-term polynomial, |error| < 7.5e-8): no erf, no scipy.

RISK_FREE = 0.02
VOLATILITY = 0.30
_INV_SQRT_2PI = 0.3989422804014327


def normal_cdf(x):
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.2316419 * a)
    poly = t * (0.319381530 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))))
    upper = 1.0 - _INV_SQRT_2PI * np.exp(-0.5 * a * a) * poly
    return np.where(x >= 0, upper, 1.0 - upper)


def black_scholes(S, K, T):
    r, v = RISK_FREE, VOLATILITY
    sqrt_t = np.sqrt(T)
    d1 = (np.log(S / K) + (r + 0.5 * v * v) * T) / (v * sqrt_t)
    d2 = d1 - v * sqrt_t
    cdf1 = normal_cdf(d1)
    cdf2 = normal_cdf(d2)
    discounted_k = K * np.exp(-r * T)
    call = S * cdf1 - discounted_k * cdf2
    put = discounted_k * (1.0 - cdf2) - S * (1.0 - cdf1)
    return call, put


def make_black_scholes(quick: bool):
    rng = np.random.default_rng(1)
    n = 1 << (20 if quick else 24)
    S = rng.uniform(5.0, 30.0, n)      # spot
    K = rng.uniform(1.0, 100.0, n)     # strike
    T = rng.uniform(0.25, 10.0, n)     # years to expiry
    return (S, K, T)


# --------------------------------------------------------------------------------------------------
# 2000 chained elementwise ops on an 8x8 array: pure dispatch overhead (traced, 2000 nodes).

CHAIN_OPS = 2000


def chain(x):
    for _ in range(CHAIN_OPS // 4):
        x = x * 1.0001
        x = x + 0.5
        x = x - 0.499
        x = x / 1.0001
    return x


def make_chain(quick: bool):
    rng = np.random.default_rng(2)
    return (rng.standard_normal((8, 8)),)


# --------------------------------------------------------------------------------------------------
# Column standardization + covariance of a (2^22, 16) float64 matrix.


def standardize_cov(X):
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    Z = (X - mu) / sd
    C = (Z.T @ Z) / (X.shape[0] - 1)
    return Z, C


def make_standardize_cov(quick: bool):
    rng = np.random.default_rng(3)
    n = 1 << (18 if quick else 22)
    scale = rng.uniform(0.1, 10.0, 16)
    offset = rng.uniform(-5.0, 5.0, 16)
    X = rng.standard_normal((n, 16)) * scale + offset
    return (X,)


# --------------------------------------------------------------------------------------------------
# One k-means step on (2^20, 8) float64 with 32 centroids:
# squared distances by the ||x||^2 - 2 x.c + ||c||^2 expansion, argmin, new centroids by a one-hot matmul.


def kmeans_step(X, C):
    k = C.shape[0]
    x2 = np.sum(X * X, axis=1, keepdims=True)          # (N, 1)
    c2 = np.sum(C * C, axis=1)                          # (K,)
    d = x2 - 2.0 * (X @ C.T) + c2                       # (N, K)
    labels = np.argmin(d, axis=1)                       # (N,)
    onehot = (labels[:, None] == np.arange(k)).astype(X.dtype)   # (N, K)
    counts = onehot.sum(axis=0)                         # (K,)
    sums = onehot.T @ X                                 # (K, D)
    new_c = sums / np.maximum(counts, 1.0)[:, None]
    new_c = np.where(counts[:, None] > 0, new_c, C)     # an empty cluster keeps its centroid
    return new_c, labels


def make_kmeans(quick: bool):
    rng = np.random.default_rng(4)
    n = 1 << (16 if quick else 20)
    centers = rng.uniform(-10.0, 10.0, (32, 8))
    X = centers[rng.integers(0, 32, n)] + rng.standard_normal((n, 8))
    C = X[rng.choice(n, 32, replace=False)].copy()
    return (X, C)


# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    name: str
    fn: Callable
    make: Callable[[bool], tuple]
    size: str              # what the inputs are, for the table
    quick_size: str        # the same with --quick
    large: bool            # large workloads are judged at ratio <= 1.05, small (dispatch) ones at <= 1.3
    repeat: int            # default number of timed samples (each side)
    inner: int = 1         # calls per timed sample (small workloads: many calls, time per call reported)
    quick_repeat: int = 3
    quick_inner: int = 1
    variants: bool = False  # also time distjit's optimization levels and torch.compile of fn (measure.py)

    @property
    def time_target(self) -> float:
        return 1.05 if self.large else 1.3


WORKLOADS: dict[str, Workload] = {w.name: w for w in [
    Workload("mlp", mlp, make_mlp, "B=65536 512-1024-1024-16 f32", "B=4096 512-1024-1024-16 f32",
             large=True, repeat=3),
    Workload("black_scholes", black_scholes, make_black_scholes, "2^24 options f64", "2^20 options f64",
             large=True, repeat=3, variants=True),
    Workload("chain2000", chain, make_chain, "2000 ops on 8x8 f64", "2000 ops on 8x8 f64",
             large=False, repeat=21, inner=50, quick_repeat=5, quick_inner=10),
    Workload("standardize_cov", standardize_cov, make_standardize_cov, "(2^22,16) f64", "(2^18,16) f64",
             large=True, repeat=3),
    Workload("kmeans_step", kmeans_step, make_kmeans, "(2^20,8) f64, k=32", "(2^16,8) f64, k=32",
             large=True, repeat=3),
]}
