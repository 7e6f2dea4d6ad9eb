"""Stencils with time loops: PolyBench's jacobi-1d, jacobi-2d, heat-3d, fdtd-2d, seidel-2d and adi
as their NumPy ports write them (updating the arrays they are given), and the finite-difference
codes of CFD tutorials (heat and wave equations, linear convection, Laplace to convergence)."""
import numpy as np

from tests.programs.realcode.kernel import kernel, steps


@kernel(lambda rng, n: (steps(rng, 2, 7) + n // 4, rng.random(n), rng.random(n)), size=12, bench_size=6000,
        tags={"int-arg", "time-loop", "inplace-loop", "mutates-arg", "returns-none"})
def jacobi_1d(TSTEPS, A, B):
    for t in range(1, TSTEPS):
        B[1:-1] = 0.33333 * (A[:-2] + A[1:-1] + A[2:])
        A[1:-1] = 0.33333 * (B[:-2] + B[1:-1] + B[2:])


@kernel(lambda rng, n: (steps(rng, 2, 6) + n // 4, rng.random((n, n)), rng.random((n, n))), size=8, bench_size=300,
        tags={"int-arg", "time-loop", "inplace-loop", "mutates-arg", "returns-none"})
def jacobi_2d(TSTEPS, A, B):
    for t in range(1, TSTEPS):
        B[1:-1, 1:-1] = 0.2 * (A[1:-1, 1:-1] + A[1:-1, :-2] + A[1:-1, 2:] + A[2:, 1:-1] + A[:-2, 1:-1])
        A[1:-1, 1:-1] = 0.2 * (B[1:-1, 1:-1] + B[1:-1, :-2] + B[1:-1, 2:] + B[2:, 1:-1] + B[:-2, 1:-1])


@kernel(lambda rng, n: (steps(rng, 2, 5) + n // 4, rng.random((n, n, n)), rng.random((n, n, n))), size=6,
        bench_size=60, tags={"int-arg", "time-loop", "inplace-loop", "mutates-arg", "returns-none"})
def heat_3d(TSTEPS, A, B):
    for t in range(1, TSTEPS):
        B[1:-1, 1:-1, 1:-1] = (
            0.125 * (A[2:, 1:-1, 1:-1] - 2.0 * A[1:-1, 1:-1, 1:-1] + A[:-2, 1:-1, 1:-1])
            + 0.125 * (A[1:-1, 2:, 1:-1] - 2.0 * A[1:-1, 1:-1, 1:-1] + A[1:-1, :-2, 1:-1])
            + 0.125 * (A[1:-1, 1:-1, 2:] - 2.0 * A[1:-1, 1:-1, 1:-1] + A[1:-1, 1:-1, :-2])
            + A[1:-1, 1:-1, 1:-1])
        A[1:-1, 1:-1, 1:-1] = (
            0.125 * (B[2:, 1:-1, 1:-1] - 2.0 * B[1:-1, 1:-1, 1:-1] + B[:-2, 1:-1, 1:-1])
            + 0.125 * (B[1:-1, 2:, 1:-1] - 2.0 * B[1:-1, 1:-1, 1:-1] + B[1:-1, :-2, 1:-1])
            + 0.125 * (B[1:-1, 1:-1, 2:] - 2.0 * B[1:-1, 1:-1, 1:-1] + B[1:-1, 1:-1, :-2])
            + B[1:-1, 1:-1, 1:-1])


def _fdtd_inputs(rng, n):
    tmax = steps(rng, 2, 6) + n // 4
    return (tmax, rng.random((n, n + 2)), rng.random((n, n + 2)), rng.random((n, n + 2)), rng.random(n // 4 + 8))


@kernel(_fdtd_inputs, size=6, bench_size=300,
        tags={"int-arg", "time-loop", "inplace-loop", "mutates-arg", "returns-none"})
def fdtd_2d(TMAX, ex, ey, hz, _fict_):
    for t in range(TMAX):
        ey[0, :] = _fict_[t]
        ey[1:, :] -= 0.5 * (hz[1:, :] - hz[:-1, :])
        ex[:, 1:] -= 0.5 * (hz[:, 1:] - hz[:, :-1])
        hz[:-1, :-1] -= 0.7 * (ex[:-1, 1:] - ex[:-1, :-1] + ey[1:, :-1] - ey[:-1, :-1])


@kernel(lambda rng, n: (steps(rng, 1, 4), rng.random((n, n))), size=6, bench_size=60,
        tags={"int-arg", "time-loop", "scalar-loop", "inplace-loop", "mutates-arg", "returns-none"})
def seidel_2d(TSTEPS, A):
    N = A.shape[0]
    for t in range(TSTEPS):
        for i in range(1, N - 1):
            for j in range(1, N - 1):
                A[i, j] = (A[i - 1, j - 1] + A[i - 1, j] + A[i - 1, j + 1]
                           + A[i, j - 1] + A[i, j] + A[i, j + 1]
                           + A[i + 1, j - 1] + A[i + 1, j] + A[i + 1, j + 1]) / 9.0


@kernel(lambda rng, n: (steps(rng, 1, 4), n, rng.random((n, n))), size=6, bench_size=250,
        tags={"int-arg", "time-loop", "inplace-loop", "mutates-arg", "returns-none"})
def adi(TSTEPS, N, u):
    """PolyBench's adi (alternating direction implicit) with the inner i loop vectorized: a
    tridiagonal sweep down the columns, then along the rows, per time step."""
    v = np.empty(u.shape, dtype=u.dtype)
    p = np.empty(u.shape, dtype=u.dtype)
    q = np.empty(u.shape, dtype=u.dtype)
    DX = 1.0 / N
    DY = 1.0 / N
    DT = 1.0 / TSTEPS
    B1 = 2.0
    B2 = 1.0
    mul1 = B1 * DT / (DX * DX)
    mul2 = B2 * DT / (DY * DY)
    a = -mul1 / 2.0
    b = 1.0 + mul1
    c = a
    d = -mul2 / 2.0
    e = 1.0 + mul2
    f = d
    for t in range(1, TSTEPS + 1):
        v[0, 1:N - 1] = 1.0
        p[1:N - 1, 0] = 0.0
        q[1:N - 1, 0] = v[0, 1:N - 1]
        for j in range(1, N - 1):
            p[1:N - 1, j] = -c / (a * p[1:N - 1, j - 1] + b)
            q[1:N - 1, j] = (-d * u[j, 0:N - 2] + (1.0 + 2.0 * d) * u[j, 1:N - 1] - f * u[j, 2:N]
                             - a * q[1:N - 1, j - 1]) / (a * p[1:N - 1, j - 1] + b)
        v[N - 1, 1:N - 1] = 1.0
        for j in range(N - 2, 0, -1):
            v[j, 1:N - 1] = p[1:N - 1, j] * v[j + 1, 1:N - 1] + q[1:N - 1, j]
        u[1:N - 1, 0] = 1.0
        p[1:N - 1, 0] = 0.0
        q[1:N - 1, 0] = u[1:N - 1, 0]
        for j in range(1, N - 1):
            p[1:N - 1, j] = -f / (d * p[1:N - 1, j - 1] + e)
            q[1:N - 1, j] = (-a * v[0:N - 2, j] + (1.0 + 2.0 * a) * v[1:N - 1, j] - c * v[2:N, j]
                             - d * q[1:N - 1, j - 1]) / (d * p[1:N - 1, j - 1] + e)
        u[1:N - 1, N - 1] = 1.0
        for j in range(N - 2, 0, -1):
            u[1:N - 1, j] = p[1:N - 1, j] * u[1:N - 1, j + 1] + q[1:N - 1, j]


def _heat_inputs(rng, n):
    x = np.linspace(0.0, 1.0, n)
    u0 = np.sin(np.pi * x) + 0.1 * rng.standard_normal(n)
    nt = steps(rng, 5, 15) + n // 2
    return u0, nt, 0.01, 1.0 / (n - 1), float(rng.uniform(0.2, 0.4)) * (1.0 / (n - 1)) ** 2 / 0.01


@kernel(_heat_inputs, size=16, bench_size=8000, tags={"int-arg", "float-arg", "time-loop", "inplace-loop"})
def heat_equation_1d(u0, nt, alpha, dx, dt):
    u = u0.copy()
    r = alpha * dt / dx ** 2
    for n in range(nt):
        un = u.copy()
        u[1:-1] = un[1:-1] + r * (un[2:] - 2 * un[1:-1] + un[:-2])
        u[0] = 0.0
        u[-1] = 0.0
    return u


def _wave_inputs(rng, n):
    x = np.linspace(0.0, 1.0, n)
    u0 = np.exp(-((x - rng.uniform(0.3, 0.7)) ** 2) / 0.01)
    return u0, 1.0, 1.0 / (n - 1), 0.5 / (n - 1), steps(rng, 4, 12) + n // 2


@kernel(_wave_inputs, size=16, bench_size=8000,
        tags={"int-arg", "float-arg", "time-loop", "list-build", "tuple-return"})
def wave_equation_1d(u0, c, dx, dt, steps):
    C2 = (c * dt / dx) ** 2
    u_prev = u0.copy()
    u = u0.copy()
    u[1:-1] = u0[1:-1] + 0.5 * C2 * (u0[2:] - 2 * u0[1:-1] + u0[:-2])
    energy = []
    for n in range(steps):
        u_next = np.zeros_like(u)
        u_next[1:-1] = 2 * u[1:-1] - u_prev[1:-1] + C2 * (u[2:] - 2 * u[1:-1] + u[:-2])
        u_prev, u = u, u_next
        energy.append(np.sum(u ** 2) * dx)
    return u, np.array(energy)


def _convection_inputs(rng, n):
    u = np.ones((n, n))
    lo, hi = int(n * 0.25), int(n * 0.5) + 1
    u[lo:hi, lo:hi] = 2.0
    u += 0.05 * rng.random((n, n))
    return u, steps(rng, 3, 9) + n // 2, 1.0, 2.0 / (n - 1), 0.2 * 2.0 / (n - 1)


@kernel(_convection_inputs, size=10, bench_size=250, tags={"int-arg", "float-arg", "time-loop", "inplace-loop",
                                                            "mutates-arg"})
def linear_convection_2d(u, nt, c, dx, dt):
    """Step 5 of "12 steps to Navier-Stokes": the solution overwrites u, which is also returned."""
    for n in range(nt + 1):
        un = u.copy()
        u[1:, 1:] = un[1:, 1:] - (c * dt / dx * (un[1:, 1:] - un[1:, :-1])) - (c * dt / dx * (un[1:, 1:] - un[:-1, 1:]))
        u[0, :] = 1
        u[-1, :] = 1
        u[:, 0] = 1
        u[:, -1] = 1
    return u


def _laplace_inputs(rng, n):
    l1norm_target = float(rng.choice([1e-4, 3e-4]))
    y = np.linspace(0, 1, n) * float(rng.uniform(0.5, 1.5))
    p = np.zeros((n, n))
    p[:, -1] = y
    return p, y, l1norm_target


@kernel(_laplace_inputs, size=8, bench_size=60,
        tags={"float-arg", "data-control", "builtins", "inplace-loop", "mutates-arg", "tuple-return"})
def laplace_2d(p, y, l1norm_target):
    """Step 9 of "12 steps to Navier-Stokes": iterate to a relative L1 change below the target."""
    l1norm = 1.0
    iterations = 0
    while l1norm > l1norm_target:
        pn = p.copy()
        p[1:-1, 1:-1] = 0.25 * (pn[1:-1, 2:] + pn[1:-1, :-2] + pn[2:, 1:-1] + pn[:-2, 1:-1])
        p[:, 0] = 0
        p[:, -1] = y
        p[0, :] = p[1, :]
        p[-1, :] = p[-2, :]
        l1norm = np.sum(abs(p[:]) - abs(pn[:])) / np.sum(abs(pn[:]))
        iterations += 1
    return p, iterations
