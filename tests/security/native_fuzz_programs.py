"""The programs whose saved files the native fuzz test mutates (tests/security/test_native_fuzz.py).

Each is a loop nest the native backend compiles whole (distjit/runtime/native/): scalar-indexed updates
(A[i, j]), a triangular solve through np.dot of slices, dynamic-programming tables with prim.If, loop bounds
from shapes and from int arguments, indices read from data, a row written from a fused elementwise
expression and summed, and one fused elementwise chain large enough for native loop stages. Both the parent test (to make the base files) and its child process (to run the
mutants on valid inputs) import this module, so both agree on the inputs.
"""
from __future__ import annotations

import numpy as np


def seidel(A, steps):
    n, m = A.shape
    for t in range(steps):
        for i in range(1, n - 1):
            for j in range(1, m - 1):
                A[i, j] = (A[i - 1, j] + A[i + 1, j] + A[i, j - 1] + A[i, j + 1] + A[i, j]) * 0.2
    return A


def forward_substitution(L, b):
    n = L.shape[0]
    x = np.zeros(n)
    for i in range(n):
        x[i] = (b[i] - np.dot(L[i, :i], x[:i])) / L[i, i]
    return x


def lcs_length(a, b):
    n, m = len(a), len(b)
    dp = np.zeros((n + 1, m + 1), dtype=np.int64)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if a[i - 1] == b[j - 1]:
                dp[i, j] = dp[i - 1, j - 1] + 1
            else:
                dp[i, j] = max(dp[i - 1, j], dp[i, j - 1])
    return dp[n, m], dp


def knapsack(weights, values, capacity):
    best = np.zeros(capacity + 1, dtype=np.int64)
    for k in range(weights.shape[0]):
        for c in range(capacity, weights[k] - 1, -1):
            if best[c - weights[k]] + values[k] > best[c]:
                best[c] = best[c - weights[k]] + values[k]
    return best


def gather_scaled(x, idx, n):
    s = 0.0
    out = np.zeros(n, dtype=np.float32)
    for i in range(n):
        s += x[idx[i % idx.shape[0]]] * 0.5
        out[i] = s
    return out


def row_updates(A, y):
    s = np.zeros(A.shape[0])
    for i in range(1, A.shape[0]):
        A[i, :] = np.minimum(A[i, :], A[i - 1, :] + y) * 0.5
        s[i] = np.sum(A[i] * y) + np.linalg.norm(A[i - 1])
    return A, s


def int_arith(x, n):
    acc = np.int32(1)
    for i in range(n):
        acc = acc * 3 + x[i % x.shape[0]] // 2
        x[i % x.shape[0]] = acc % 1000
    return acc, x


def back_substitution(U, b):
    n = U.shape[0]
    x = b.copy()
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            x[i] -= U[i, j] * x[j]
        x[i] = x[i] / U[i, i]
    return x


def fused_chain(x, y, k):
    # no loop: at 2**16 elements the fused elementwise expression runs as native loop stages
    # (runtime/fused_native.py), whose indexing is not bounds-checked (NOTE: [Native loop bounds])
    d = np.sqrt(x * x + 1.0) * k - np.maximum(x, y) / (y * y + 2.0)
    return np.where(d > 0.0, d, -d * 0.5), x * y - k


def _inputs():
    rng = np.random.default_rng(0)
    L = np.tril(rng.uniform(0.5, 1.0, (6, 6))) + 6 * np.eye(6)
    return {
        "seidel": (rng.standard_normal((6, 7)), 2),
        "forward_substitution": (L, rng.standard_normal(6)),
        "lcs_length": (rng.integers(0, 4, 7), rng.integers(0, 4, 9)),
        "knapsack": (rng.integers(1, 6, 5), rng.integers(1, 20, 5), 12),
        "gather_scaled": (rng.standard_normal(8), rng.integers(-8, 8, 5), 9),
        "row_updates": (rng.standard_normal((5, 4)), rng.standard_normal(4)),
        "int_arith": (rng.integers(-50, 50, 6).astype(np.int32), 8),
        "back_substitution": (L.T.copy(), rng.standard_normal(6)),
        "fused_chain": (rng.standard_normal((256, 256)), rng.standard_normal(256), 0.75),
    }


PROGRAMS = {name: globals()[name] for name in _inputs()}


def inputs(name: str) -> tuple:
    """Fresh copies of the program's valid inputs (the same on every call)."""
    return tuple(np.copy(a) if isinstance(a, np.ndarray) else a for a in _inputs()[name])
