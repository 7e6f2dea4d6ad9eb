"""Iterative solvers: Jacobi, Gauss-Seidel, SOR with a convergence test, conjugate gradient that
updates the caller's initial guess, power iteration, and cyclic Jacobi eigenvalue rotations."""
import numpy as np

from tests.programs.realcode.kernel import diagonally_dominant, kernel, spd_matrix


def _system_and_iters(rng, n):
    n_iter = int(rng.integers(3, 12))
    return diagonally_dominant(rng, n), rng.standard_normal(n), n_iter


@kernel(_system_and_iters, size=8, bench_size=3000, tags={"int-arg", "time-loop"})
def jacobi_solve(A, b, n_iter):
    D = np.diag(A)
    R = A - np.diagflat(D)
    x = np.zeros_like(b)
    for _ in range(n_iter):
        x = (b - np.dot(R, x)) / D
    return x


@kernel(_system_and_iters, size=6, bench_size=1000,
        tags={"int-arg", "time-loop", "scalar-loop", "inplace-loop"})
def gauss_seidel(A, b, n_iter):
    n = len(b)
    x = np.zeros(n)
    for it in range(n_iter):
        for i in range(n):
            s1 = np.dot(A[i, :i], x[:i])
            s2 = np.dot(A[i, i + 1:], x[i + 1:])
            x[i] = (b[i] - s1 - s2) / A[i, i]
    return x


def _sor_inputs(rng, n):
    return diagonally_dominant(rng, n), rng.standard_normal(n), float(rng.uniform(1.05, 1.3)), 1e-8, 200


@kernel(_sor_inputs, size=5, bench_size=70,
        tags={"float-arg", "int-arg", "data-control", "scalar-loop", "inplace-loop", "linalg", "tuple-return"})
def sor(A, b, omega, tol, max_iter):
    n = A.shape[0]
    x = np.zeros(n)
    for k in range(max_iter):
        x_old = x.copy()
        for i in range(n):
            sigma = 0.0
            for j in range(n):
                if j != i:
                    sigma += A[i, j] * x[j]
            x[i] = (1 - omega) * x[i] + omega * (b[i] - sigma) / A[i, i]
        if np.linalg.norm(x - x_old, ord=np.inf) < tol:
            break
    return x, k + 1


def _cg_inputs(rng, n):
    return spd_matrix(rng, n), rng.standard_normal(n), np.zeros(n), int(rng.integers(n // 2, n)), 1e-10


@kernel(_cg_inputs, size=8, bench_size=1500,
        tags={"int-arg", "float-arg", "data-control", "mutates-arg", "inplace-loop", "reduction"})
def conjugate_gradient(A, b, x, max_iter, tol):
    r = b - A @ x
    p = r.copy()
    rs_old = r @ r
    for i in range(max_iter):
        Ap = A @ p
        alpha = rs_old / (p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        rs_new = r @ r
        if np.sqrt(rs_new) < tol:
            break
        p = r + (rs_new / rs_old) * p
        rs_old = rs_new
    return x


def _power_inputs(rng, n):
    return spd_matrix(rng, n), int(rng.integers(5, 12))


@kernel(_power_inputs, size=6, bench_size=2500, tags={"int-arg", "time-loop", "linalg", "dict-return"})
def power_iteration(A, num_iters):
    b_k = np.ones(A.shape[1])
    for _ in range(num_iters):
        b_k1 = np.dot(A, b_k)
        b_k = b_k1 / np.linalg.norm(b_k1)
    eigenvalue = b_k @ A @ b_k
    return {"eigenvalue": eigenvalue, "eigenvector": b_k,
            "residual": np.linalg.norm(A @ b_k - eigenvalue * b_k)}


def _jacobi_eig_inputs(rng, n):
    return spd_matrix(rng, n), int(rng.integers(2, 4))


@kernel(_jacobi_eig_inputs, size=4, bench_size=40,
        tags={"int-arg", "time-loop", "scalar-loop", "inplace-loop", "tuple-return"})
def jacobi_eigenvalues(A, n_sweeps):
    """Cyclic Jacobi rotations on a symmetric matrix: eigenvalues on the diagonal, vectors in V."""
    A = A.copy()
    n = A.shape[0]
    V = np.eye(n)
    for sweep in range(n_sweeps):
        for p in range(n - 1):
            for q in range(p + 1, n):
                theta = 0.5 * np.arctan2(2 * A[p, q], A[q, q] - A[p, p])
                c, s = np.cos(theta), np.sin(theta)
                J = np.eye(n)
                J[p, p] = c
                J[q, q] = c
                J[p, q] = s
                J[q, p] = -s
                A = J.T @ A @ J
                V = V @ J
    return np.diag(A), V
