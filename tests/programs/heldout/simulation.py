"""Held-out simulations: Conway's game of life, a 2-D wave equation, Mandelbrot escape counts,
PageRank, Lotka-Volterra by RK4, and a softmax classifier trained by SGD over pre-shuffled batches."""
import numpy as np

from tests.programs.realcode.kernel import kernel


@kernel(lambda rng, n: ((rng.random((n, n)) < 0.35).astype(np.int8), int(rng.integers(2, 6)) + n // 4), size=8,
        bench_size=500, tags={"int-arg", "time-loop", "int-dtype"}, rtol=0)
def game_of_life(board, generations):
    grid = board.copy()
    for _ in range(generations):
        neighbors = sum(np.roll(np.roll(grid, i, 0), j, 1)
                        for i in (-1, 0, 1) for j in (-1, 0, 1) if (i != 0 or j != 0))
        grid = ((neighbors == 3) | ((grid == 1) & (neighbors == 2))).astype(np.int8)
    return grid


def _wave2d_inputs(rng, n):
    x = np.linspace(-1, 1, n)
    X, Y = np.meshgrid(x, x)
    cx = float(rng.uniform(-0.3, 0.3))
    return np.exp(-((X - cx) ** 2 + Y ** 2) / 0.05), int(rng.integers(3, 8)) + n // 8, 0.4


@kernel(_wave2d_inputs, size=9, bench_size=400, tags={"int-arg", "float-arg", "time-loop", "inplace-loop"})
def wave_2d(u0, steps, courant):
    u_prev = u0.copy()
    u = u0.copy()
    c2 = courant ** 2
    for _ in range(steps):
        lap = np.zeros_like(u)
        lap[1:-1, 1:-1] = u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4 * u[1:-1, 1:-1]
        u_next = 2 * u - u_prev + c2 * lap
        u_next[0, :] = u_next[-1, :] = u_next[:, 0] = u_next[:, -1] = 0.0
        u_prev, u = u, u_next
    return u


def _mandel_inputs(rng, n):
    re = np.linspace(-2.0, 0.6, n) + float(rng.uniform(-0.05, 0.05))
    im = np.linspace(-1.2, 1.2, n)
    return re, im, int(rng.integers(10, 20))


@kernel(_mandel_inputs, size=10, bench_size=500, tags={"int-arg", "complex", "time-loop", "inplace-loop",
                                                       "builtins", "int-dtype"})
def mandelbrot(re, im, max_iter):
    c = re[None, :] + 1j * im[:, None]
    z = np.zeros_like(c)
    counts = np.zeros(c.shape, dtype=int)
    for _ in range(max_iter):
        active = abs(z) <= 2.0
        z[active] = z[active] ** 2 + c[active]
        counts += active
    return counts


def _graph_inputs(rng, n):
    adj = (rng.random((n, n)) < 0.3).astype(float)
    np.fill_diagonal(adj, 0.0)
    return adj, 0.85, int(rng.integers(10, 30))


@kernel(_graph_inputs, size=8, bench_size=1500, tags={"int-arg", "float-arg", "time-loop"})
def pagerank(adj, damping, n_iter):
    n = adj.shape[0]
    out_degree = adj.sum(axis=1)
    dangling = out_degree == 0
    M = np.divide(adj, out_degree[:, None], out=np.zeros_like(adj), where=out_degree[:, None] > 0)
    rank = np.full(n, 1.0 / n)
    for _ in range(n_iter):
        rank = (1 - damping) / n + damping * (rank @ M + rank[dangling].sum() / n)
    return rank


def _lotka_volterra(state, alpha, beta, delta, gamma):
    x, y = state
    return np.array([alpha * x - beta * x * y, delta * x * y - gamma * y])


@kernel(lambda rng, n: (rng.uniform(5, 15, 2), 0.01, n + int(rng.integers(0, 5)), (1.1, 0.4, 0.1, 0.4)),
        size=8, bench_size=6000, tags={"int-arg", "float-arg", "time-loop", "helper", "inplace-loop"})
def rk4_lotka_volterra(y0, dt, steps, params):
    traj = np.zeros((steps + 1, 2))
    traj[0] = y0
    y = y0.astype(float)
    for i in range(steps):
        k1 = _lotka_volterra(y, *params)
        k2 = _lotka_volterra(y + 0.5 * dt * k1, *params)
        k3 = _lotka_volterra(y + 0.5 * dt * k2, *params)
        k4 = _lotka_volterra(y + dt * k3, *params)
        y = y + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        traj[i + 1] = y
    return traj


def _softmax_inputs(rng, n):
    X = rng.standard_normal((n, 4))
    y = np.argmax(X @ rng.standard_normal((4, 3)), axis=1)
    batches = rng.permutation(n).reshape(-1, 4)
    return X, y, batches, float(rng.uniform(0.05, 0.2))


@kernel(_softmax_inputs, size=16, bench_size=20000,
        tags={"float-arg", "iterate-array", "gather", "inplace-loop", "tuple-return", "reduction"})
def softmax_sgd(X, y, batches, lr):
    n_classes = 3
    W = np.zeros((X.shape[1], n_classes))
    b = np.zeros(n_classes)
    for idx in batches:
        xb, yb = X[idx], y[idx]
        logits = xb @ W + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(yb)), yb] -= 1.0
        W -= lr * xb.T @ p / len(yb)
        b -= lr * p.mean(axis=0)
    return W, b
