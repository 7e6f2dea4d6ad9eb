"""Linear algebra by hand, the way textbooks and PolyBench's NumPy ports write it.

Triangular solves, LU (in place, vectorized, with partial pivoting), Cholesky (scalar loops and in
place), QR by Householder reflections, Gram-Schmidt (classic and modified), Gauss-Jordan inversion,
BLAS-like updates that write into their output argument, Levinson-Durbin, and code that leans on
np.linalg.
"""
import numpy as np

from tests.programs.realcode.kernel import diagonally_dominant, kernel, spd_matrix


def _lower_system(rng, n):
    L = np.tril(rng.uniform(-1.0, 1.0, (n, n)))
    L[np.diag_indices(n)] = rng.uniform(1.0, 2.0, n)
    return L, rng.standard_normal(n)


def _upper_system(rng, n):
    L, b = _lower_system(rng, n)
    return L.T.copy(), b


@kernel(_lower_system, size=8, bench_size=5000, tags={"scalar-loop", "inplace-loop"})
def forward_substitution(L, b):
    n = L.shape[0]
    x = np.zeros(n)
    for i in range(n):
        x[i] = (b[i] - np.dot(L[i, :i], x[:i])) / L[i, i]
    return x


@kernel(_upper_system, size=7, bench_size=450, tags={"scalar-loop", "inplace-loop"})
def back_substitution(U, b):
    n = len(b)
    x = np.zeros_like(b)
    for i in range(n - 1, -1, -1):
        s = b[i]
        for j in range(i + 1, n):
            s -= U[i, j] * x[j]
        x[i] = s / U[i, i]
    return x


@kernel(lambda rng, n: (diagonally_dominant(rng, n),), size=7, bench_size=400,
        tags={"inplace-loop", "tuple-return"})
def lu_doolittle(A):
    n = A.shape[0]
    U = A.copy()
    L = np.eye(n)
    for k in range(n - 1):
        L[k + 1:, k] = U[k + 1:, k] / U[k, k]
        U[k + 1:, k:] -= np.outer(L[k + 1:, k], U[k, k:])
    return L, np.triu(U)


@kernel(lambda rng, n: (diagonally_dominant(rng, n),), size=6, bench_size=60,
        tags={"scalar-loop", "inplace-loop", "mutates-arg", "returns-none"})
def lu_inplace(A):
    """PolyBench's lu, loop for loop: L and U overwrite A."""
    N = A.shape[0]
    for i in range(N):
        for j in range(i):
            for k in range(j):
                A[i, j] -= A[i, k] * A[k, j]
            A[i, j] /= A[j, j]
        for j in range(i, N):
            for k in range(i):
                A[i, j] -= A[i, k] * A[k, j]


def _swap_rows(M, i, j):
    M[[i, j]] = M[[j, i]]


@kernel(lambda rng, n: (rng.standard_normal((n, n)),), size=6, bench_size=350,
        tags={"inplace-loop", "helper", "tuple-return", "builtins"})
def lu_partial_pivot(A):
    n = len(A)
    U = A.astype(float)
    L = np.zeros((n, n))
    perm = np.arange(n)
    for k in range(n - 1):
        p = k + np.argmax(np.abs(U[k:, k]))
        _swap_rows(U, k, p)
        _swap_rows(L, k, p)
        perm[[k, p]] = perm[[p, k]]
        for i in range(k + 1, n):
            L[i, k] = U[i, k] / U[k, k]
            U[i, k:] -= L[i, k] * U[k, k:]
    L += np.eye(n)
    return perm, L, U


@kernel(lambda rng, n: (spd_matrix(rng, n),), size=7, bench_size=140, tags={"scalar-loop", "inplace-loop"})
def cholesky_banachiewicz(A):
    n = A.shape[0]
    L = np.zeros_like(A)
    for i in range(n):
        for j in range(i + 1):
            s = 0.0
            for k in range(j):
                s += L[i, k] * L[j, k]
            if i == j:
                L[i, j] = np.sqrt(A[i, i] - s)
            else:
                L[i, j] = (A[i, j] - s) / L[j, j]
    return L


@kernel(lambda rng, n: (spd_matrix(rng, n),), size=7, bench_size=350,
        tags={"inplace-loop", "mutates-arg", "returns-none"})
def cholesky_inplace(A):
    """PolyBench's cholesky with the inner loops as dot products: L overwrites A's lower triangle."""
    n = A.shape[0]
    A[0, 0] = np.sqrt(A[0, 0])
    for i in range(1, n):
        for j in range(i):
            A[i, j] -= np.dot(A[i, :j], A[j, :j])
            A[i, j] /= A[j, j]
        A[i, i] -= np.dot(A[i, :i], A[i, :i])
        A[i, i] = np.sqrt(A[i, i])


@kernel(lambda rng, n: (rng.standard_normal((n + 3, n)),), size=5, bench_size=250,
        tags={"inplace-loop", "linalg", "tuple-return"})
def qr_householder(A):
    m, n = A.shape
    Q = np.eye(m)
    R = A.copy()
    for k in range(n):
        x = R[k:, k]
        v = x.copy()
        v[0] += np.copysign(np.linalg.norm(x), x[0])
        v = v / np.linalg.norm(v)
        R[k:, :] -= 2.0 * np.outer(v, v @ R[k:, :])
        Q[:, k:] -= 2.0 * np.outer(Q[:, k:] @ v, v)
    return Q, R


@kernel(lambda rng, n: (rng.standard_normal((n + 2, n)),), size=5, bench_size=250,
        tags={"scalar-loop", "inplace-loop", "linalg", "tuple-return"})
def gram_schmidt_classic(A):
    m, n = A.shape
    Q = np.zeros((m, n))
    R = np.zeros((n, n))
    for j in range(n):
        v = A[:, j].copy()
        for i in range(j):
            R[i, j] = Q[:, i] @ A[:, j]
            v -= R[i, j] * Q[:, i]
        R[j, j] = np.linalg.norm(v)
        Q[:, j] = v / R[j, j]
    return Q, R


@kernel(lambda rng, n: (rng.standard_normal((n + 2, n)),), size=5, bench_size=300,
        tags={"scalar-loop", "inplace-loop", "mutates-arg", "tuple-return"})
def gram_schmidt_modified(A):
    """PolyBench's gramschmidt: the columns of A are orthogonalized in place."""
    M, N = A.shape
    Q = np.zeros((M, N), dtype=A.dtype)
    R = np.zeros((N, N), dtype=A.dtype)
    for k in range(N):
        nrm = np.dot(A[:, k], A[:, k])
        R[k, k] = np.sqrt(nrm)
        Q[:, k] = A[:, k] / R[k, k]
        for j in range(k + 1, N):
            R[k, j] = np.dot(Q[:, k], A[:, j])
            A[:, j] = A[:, j] - Q[:, k] * R[k, j]
    return Q, R


@kernel(lambda rng, n: (diagonally_dominant(rng, n),), size=6, bench_size=300,
        tags={"inplace-loop", "builtins"})
def gauss_jordan_inverse(A):
    n = len(A)
    M = np.hstack([A.astype(float), np.eye(n)])
    for i in range(n):
        M[i] = M[i] / M[i, i]
        for j in range(n):
            if j != i:
                M[j] -= M[j, i] * M[i]
    return M[:, n:]


def _gemm_inputs(rng, n):
    alpha, beta = rng.uniform(0.5, 1.5, 2)
    C = rng.standard_normal((n, n + 1))
    return float(alpha), float(beta), C, rng.standard_normal((n, n + 2)), rng.standard_normal((n + 2, n + 1))


@kernel(_gemm_inputs, size=8, bench_size=700,
        tags={"float-arg", "mutates-arg", "returns-none", "reduction"})
def gemm(alpha, beta, C, A, B):
    C[:] = alpha * A @ B + beta * C


def _syrk_inputs(rng, n):
    return 1.5, float(rng.uniform(0.5, 1.0)), rng.standard_normal((n, n)), rng.standard_normal((n, n - 2))


@kernel(_syrk_inputs, size=6, bench_size=230,
        tags={"float-arg", "inplace-loop", "mutates-arg", "returns-none"})
def syrk(alpha, beta, C, A):
    """PolyBench's syrk with the j loop vectorized, as its NumPy ports do."""
    for i in range(A.shape[0]):
        C[i, :i + 1] *= beta
        for k in range(A.shape[1]):
            C[i, :i + 1] += alpha * A[i, k] * A[:i + 1, k]


def _toeplitz_r(rng, n):
    return (rng.uniform(0.1, 0.5, n) * 0.5 ** np.arange(n),)


@kernel(_toeplitz_r, size=8, bench_size=6000, tags={"inplace-loop"})
def durbin(r):
    """Levinson-Durbin recursion (PolyBench's durbin)."""
    y = np.empty_like(r)
    alpha = -r[0]
    beta = 1.0
    y[0] = -r[0]
    for k in range(1, r.shape[0]):
        beta *= 1.0 - alpha * alpha
        alpha = -(r[k] + np.dot(np.flip(r[:k]), y[:k])) / beta
        y[:k] += alpha * np.flip(y[:k])
        y[k] = alpha
    return y


def _solve_inputs(rng, n):
    return spd_matrix(rng, n), rng.standard_normal(n)


@kernel(_solve_inputs, size=6, bench_size=300, tags={"linalg", "dict-return"})
def linear_system_report(A, b):
    x = np.linalg.solve(A, b)
    L = np.linalg.cholesky(A)
    A_inv = np.linalg.inv(A)
    return {
        "x": x,
        "residual": np.linalg.norm(A @ x - b),
        "logdet": 2.0 * np.sum(np.log(np.diag(L))),
        "cond": np.linalg.norm(A, 2) * np.linalg.norm(A_inv, 2),
        "x_via_inv": A_inv @ b,
    }


def _ridge_inputs(rng, n):
    X = rng.standard_normal((4 * n, n))
    y = X @ rng.standard_normal(n) + 0.1 * rng.standard_normal(4 * n)
    lambdas = [float(v) for v in np.round(rng.uniform(0.01, 2.0, 3), 3)]
    return X, y, lambdas


@kernel(_ridge_inputs, size=4, bench_size=500, tags={"linalg", "list-build", "tuple-return"})
def ridge_path(X, y, lambdas):
    n_features = X.shape[1]
    XtX = X.T @ X
    Xty = X.T @ y
    coefs = []
    errors = []
    for lam in lambdas:
        w = np.linalg.solve(XtX + lam * np.eye(n_features), Xty)
        coefs.append(w)
        errors.append(np.mean((X @ w - y) ** 2))
    return np.array(coefs), np.array(errors)


def _complex_pair(rng, n):
    A = rng.standard_normal((n, n + 1)) + 1j * rng.standard_normal((n, n + 1))
    B = rng.standard_normal((n + 1, n)) + 1j * rng.standard_normal((n + 1, n))
    return A, B


@kernel(_complex_pair, size=5, bench_size=500, tags={"complex", "tuple-return", "reduction"})
def complex_matmul_gauss(A, B):
    """Gauss's three-multiplication complex product, checked against A @ B and A^H A."""
    a, b = A.real, A.imag
    c, d = B.real, B.imag
    t1 = a @ c
    t2 = b @ d
    t3 = (a + b) @ (c + d)
    C = (t1 - t2) + 1j * (t3 - t1 - t2)
    gram = A.conj().T @ A
    return C, np.abs(C - A @ B).max(), gram
