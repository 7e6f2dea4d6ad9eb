"""Finite differences and PDE time stepping on regular grids: gradients,
Laplacians (slicing and np.roll), heat / wave / advection updates."""
import numpy as np

from tests.programs.registry import program


def _field2d(rng, n=24, m=20):
    yy, xx = np.meshgrid(np.linspace(0.0, 1.0, n), np.linspace(0.0, 1.0, m), indexing="ij")
    return (np.sin(3.0 * xx) * np.cos(2.0 * yy) + 0.05 * rng.standard_normal((n, m)),)


@program(lambda rng: (np.sin(np.linspace(0.0, 6.0, 50)) + 0.01 * rng.standard_normal(50),),
         dynamic_axes={0: {0: "N"}})
def gradient_1d(f):
    """Second-order central differences inside, first-order one-sided at the ends (like np.gradient, h=0.1)."""
    h = 0.1
    interior = (f[2:] - f[:-2]) / (2.0 * h)
    first = (f[1:2] - f[0:1]) / h
    last = (f[-1:] - f[-2:-1]) / h
    return np.concatenate([first, interior, last])


@program(_field2d, tags={"tuple_output"})
def gradient_2d(u):
    """Central-difference partial derivatives on the interior of a 2-D field."""
    dx = 1.0 / (u.shape[1] - 1)
    dy = 1.0 / (u.shape[0] - 1)
    du_dx = (u[1:-1, 2:] - u[1:-1, :-2]) / (2.0 * dx)
    du_dy = (u[2:, 1:-1] - u[:-2, 1:-1]) / (2.0 * dy)
    return du_dx, du_dy


@program(_field2d, dynamic_axes={0: {0: "H", 1: "W"}})
def laplacian_5pt(u):
    return u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:] - 4.0 * u[1:-1, 1:-1]


@program(_field2d)
def laplacian_periodic(u):
    return (np.roll(u, 1, axis=0) + np.roll(u, -1, axis=0)
            + np.roll(u, 1, axis=1) + np.roll(u, -1, axis=1) - 4.0 * u)


@program(lambda rng: (rng.standard_normal((8, 9, 10)),))
def laplacian_3d_7pt(u):
    c = u[1:-1, 1:-1, 1:-1]
    return (u[:-2, 1:-1, 1:-1] + u[2:, 1:-1, 1:-1]
            + u[1:-1, :-2, 1:-1] + u[1:-1, 2:, 1:-1]
            + u[1:-1, 1:-1, :-2] + u[1:-1, 1:-1, 2:] - 6.0 * c)


@program(_field2d, tags={"inplace"})
def heat_explicit_steps(u0):
    """Five explicit Euler steps of u_t = alpha * lap(u) with fixed (Dirichlet) boundary,
    writing the interior of a local copy in place."""
    alpha = 0.2
    u = u0.copy()
    for _ in range(5):
        lap = u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:] - 4.0 * u[1:-1, 1:-1]
        u[1:-1, 1:-1] = u[1:-1, 1:-1] + alpha * lap
    return u


@program(lambda rng: (np.exp(-((np.linspace(-1.0, 1.0, 64) / 0.2) ** 2)), 0.01 * rng.standard_normal(64)),
         tags={"tuple_output"})
def wave_leapfrog(u0, v0):
    """1-D wave equation, leapfrog scheme with zero boundaries, 6 unrolled steps."""
    c2 = 0.25  # (c dt / dx)^2
    prev = u0
    cur = u0 + v0
    cur = np.pad(cur[1:-1], 1, mode="constant")
    for _ in range(6):
        nxt = np.zeros_like(cur)
        nxt[1:-1] = 2.0 * cur[1:-1] - prev[1:-1] + c2 * (cur[2:] - 2.0 * cur[1:-1] + cur[:-2])
        prev, cur = cur, nxt
    return prev, cur


@program(lambda rng: (np.where(np.arange(80) < 20, 1.0, 0.0) + 0.01 * rng.standard_normal(80),
                      rng.uniform(-1.0, 1.0, size=80)))
def upwind_advection(q, vel):
    """Periodic first-order upwind advection with a variable velocity field (4 steps)."""
    cfl = 0.4
    for _ in range(4):
        back = q - np.roll(q, 1)
        fwd = np.roll(q, -1) - q
        q = q - cfl * np.where(vel > 0, vel * back, vel * fwd)
    return q


@program(_field2d)
def divergence_curl_magnitude(u):
    """Treat (u, u.T-shaped rotation) as a vector field; combine derivatives with hypot/arctan2."""
    vx = u
    vy = np.flip(u, axis=1)
    dvx_dx = vx[1:-1, 2:] - vx[1:-1, :-2]
    dvy_dy = vy[2:, 1:-1] - vy[:-2, 1:-1]
    dvy_dx = vy[1:-1, 2:] - vy[1:-1, :-2]
    dvx_dy = vx[2:, 1:-1] - vx[:-2, 1:-1]
    div = 0.5 * (dvx_dx + dvy_dy)
    curl = 0.5 * (dvy_dx - dvx_dy)
    return np.stack([np.hypot(div, curl), np.arctan2(curl, div)])
