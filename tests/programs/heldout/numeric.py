"""Held-out numerical kernels: the Thomas algorithm, QR by Givens rotations, LDL^T, PolyBench's
gemver and correlation, a naive DFT, and a Kalman filter."""
import numpy as np

from tests.programs.realcode.kernel import kernel, spd_matrix


def _tridiagonal(rng, n):
    a = rng.uniform(-1, 0, n)
    c = rng.uniform(-1, 0, n)
    b = 2.5 + rng.random(n)
    return a, b, c, rng.standard_normal(n)


@kernel(_tridiagonal, size=10, bench_size=60000, tags={"scalar-loop", "inplace-loop", "builtins"})
def thomas(a, b, c, d):
    n = len(d)
    cp = np.zeros(n)
    dp = np.zeros(n)
    cp[0] = c[0] / b[0]
    dp[0] = d[0] / b[0]
    for i in range(1, n):
        denom = b[i] - a[i] * cp[i - 1]
        cp[i] = c[i] / denom
        dp[i] = (d[i] - a[i] * dp[i - 1]) / denom
    x = np.zeros(n)
    x[-1] = dp[-1]
    for i in range(n - 2, -1, -1):
        x[i] = dp[i] - cp[i] * x[i + 1]
    return x


@kernel(lambda rng, n: (rng.standard_normal((n + 2, n)),), size=4, bench_size=60,
        tags={"data-control", "scalar-loop", "inplace-loop", "tuple-return"})
def qr_givens(A):
    m, n = A.shape
    Q = np.eye(m)
    R = A.copy()
    for j in range(n):
        for i in range(m - 1, j, -1):
            a, b = R[i - 1, j], R[i, j]
            r = np.hypot(a, b)
            if r == 0:
                continue
            c, s = a / r, -b / r
            G = np.array([[c, -s], [s, c]])
            R[[i - 1, i], :] = G @ R[[i - 1, i], :]
            Q[:, [i - 1, i]] = Q[:, [i - 1, i]] @ G.T
    return Q, R


@kernel(lambda rng, n: (spd_matrix(rng, n),), size=6, bench_size=150,
        tags={"scalar-loop", "inplace-loop", "tuple-return"})
def ldlt(A):
    n = A.shape[0]
    L = np.eye(n)
    D = np.zeros(n)
    for j in range(n):
        D[j] = A[j, j] - np.sum(L[j, :j] ** 2 * D[:j])
        for i in range(j + 1, n):
            L[i, j] = (A[i, j] - np.sum(L[i, :j] * L[j, :j] * D[:j])) / D[j]
    return L, D


def _gemver_inputs(rng, n):
    alpha, beta = (float(v) for v in rng.uniform(1, 2, 2))
    u1, v1, u2, v2, y, z = rng.random((6, n))
    return alpha, beta, rng.random((n, n)), u1, v1, u2, v2, np.zeros(n), np.zeros(n), y, z


@kernel(_gemver_inputs, size=8, bench_size=2500, tags={"float-arg", "mutates-arg", "returns-none", "reduction"})
def gemver(alpha, beta, A, u1, v1, u2, v2, w, x, y, z):
    A += np.outer(u1, v1) + np.outer(u2, v2)
    x += beta * y @ A + z
    w += alpha * A @ x


@kernel(lambda rng, n: (float(n + 2), rng.random((n + 2, n))), size=6, bench_size=800,
        tags={"float-arg", "scalar-loop", "inplace-loop", "mutates-arg", "reduction"})
def correlation(float_n, data):
    """PolyBench's correlation: data is centered and scaled in place; the upper triangle is filled by loops."""
    mean = np.mean(data, axis=0)
    stddev = np.std(data, axis=0)
    stddev[stddev <= 0.1] = 1.0
    data -= mean
    data /= np.sqrt(float_n) * stddev
    M = data.shape[1]
    corr = np.eye(M, dtype=data.dtype)
    for i in range(M - 1):
        corr[i + 1:M, i] = corr[i, i + 1:M] = data[:, i] @ data[:, i + 1:M]
    return corr


@kernel(lambda rng, n: (rng.standard_normal(n),), size=8, bench_size=250, tags={"complex", "scalar-loop",
                                                                               "inplace-loop"})
def dft_naive(x):
    N = len(x)
    X = np.zeros(N, dtype=complex)
    for k in range(N):
        for n in range(N):
            X[k] += x[n] * np.exp(-2j * np.pi * k * n / N)
    return X


def _kalman_inputs(rng, n):
    true_v = float(rng.uniform(0.5, 2.0))
    t = np.arange(n)
    z = (true_v * t + rng.standard_normal(n))[:, None]
    return z, 1.0, float(rng.uniform(0.5, 2.0))


@kernel(_kalman_inputs, size=8, bench_size=8000,
        tags={"float-arg", "iterate-array", "linalg", "list-build", "tuple-return"})
def kalman_constant_velocity(measurements, dt, r):
    F = np.array([[1.0, dt], [0.0, 1.0]])
    H = np.array([[1.0, 0.0]])
    Q = 0.01 * np.eye(2)
    R = np.array([[r]])
    x = np.zeros((2, 1))
    P = np.eye(2) * 10.0
    estimates = []
    for z in measurements:
        x = F @ x
        P = F @ P @ F.T + Q
        S = H @ P @ H.T + R
        K = P @ H.T @ np.linalg.inv(S)
        x = x + K @ (z.reshape(1, 1) - H @ x)
        P = (np.eye(2) - K @ H) @ P
        estimates.append(x.ravel())
    return np.array(estimates), P
