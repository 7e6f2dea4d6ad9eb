"""Loops over small arrays (a state of 2-100 numbers, stepped thousands of times): RK4 on the Lorenz
system with a helper that builds its derivative with np.array, a semi-implicit Euler orbit that takes
np.linalg.norm of a 2-vector, velocity Verlet on a chain of springs, a constant-velocity Kalman filter
with 4x4 matrices, mini-batch SGD of softmax regression, QR by Givens rotations built as 2x2 arrays,
Conway's game of life and an elementary cellular automaton on boolean masks, and escape-time fractals
(Mandelbrot from NumPy's quickstart, a Newton fractal) on small complex grids.

This is how scientific Python tutorials and textbooks write such code; every NumPy call here works on
an array small enough that NumPy's fixed cost per call, not the arithmetic, is what a run measures."""
import numpy as np

from tests.programs.realcode.kernel import kernel, spd_matrix, steps


def lorenz(state, sigma=10.0, rho=28.0, beta=8.0 / 3.0):
    x, y, z = state
    return np.array([sigma * (y - x), x * (rho - z) - y, x * y - beta * z])


def _lorenz_inputs(rng, n):
    return rng.uniform(-5.0, 5.0, 3) + np.array([0.0, 0.0, 25.0]), 0.005, steps(rng, n, n + 5)


@kernel(_lorenz_inputs, size=12, bench_size=4000,
        tags={"float-arg", "int-arg", "time-loop", "helper", "inplace-loop"}, rtol=1e-9)
def rk4_lorenz(state0, dt, n_steps):
    """Classical fourth-order Runge-Kutta, one row of the trajectory per step."""
    traj = np.empty((n_steps + 1, 3))
    traj[0] = state0
    state = state0.copy()
    for i in range(n_steps):
        k1 = lorenz(state)
        k2 = lorenz(state + 0.5 * dt * k1)
        k3 = lorenz(state + 0.5 * dt * k2)
        k4 = lorenz(state + dt * k3)
        state = state + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        traj[i + 1] = state
    return traj


def _orbit_inputs(rng, n):
    r0 = np.array([1.0, 0.0]) + rng.uniform(-0.05, 0.05, 2)
    v0 = np.array([0.0, 1.0]) + rng.uniform(-0.05, 0.05, 2)
    return r0, v0, 1e-3, steps(rng, n, n + 5), 1.0


@kernel(_orbit_inputs, size=12, bench_size=8000,
        tags={"float-arg", "int-arg", "time-loop", "linalg", "inplace-loop", "tuple-return"}, rtol=1e-9)
def euler_orbit(r0, v0, dt, n_steps, GM):
    """Semi-implicit (symplectic) Euler for a planet around a star, tracking the energy."""
    r = r0.copy()
    v = v0.copy()
    energy = np.empty(n_steps)
    for k in range(n_steps):
        a = -GM * r / np.linalg.norm(r) ** 3
        v = v + a * dt
        r = r + v * dt
        energy[k] = 0.5 * v @ v - GM / np.linalg.norm(r)
    return r, v, energy


def _spring_forces(x, k, rest):
    f = np.zeros_like(x)
    stretch = np.diff(x) - rest
    f[:-1] += k * stretch
    f[1:] -= k * stretch
    return f


def _chain_inputs(rng, n):
    masses = 16
    x = np.arange(masses, dtype=float) + rng.uniform(-0.2, 0.2, masses)
    v = np.zeros(masses)
    m = rng.uniform(0.5, 2.0, masses)
    return x, v, m, 4.0, 1.0, 0.01, steps(rng, n, n + 5)


@kernel(_chain_inputs, size=10, bench_size=4000,
        tags={"float-arg", "int-arg", "time-loop", "helper", "mutates-arg", "inplace-loop", "tuple-return"},
        rtol=1e-9)
def verlet_chain(x, v, m, k, rest, dt, n_steps):
    """Velocity Verlet on masses joined by springs; the caller's x and v are advanced in place."""
    a = _spring_forces(x, k, rest) / m
    for _ in range(n_steps):
        x += v * dt + 0.5 * a * dt ** 2
        a_new = _spring_forces(x, k, rest) / m
        v += 0.5 * (a + a_new) * dt
        a = a_new
    return x, v


def _kalman_inputs(rng, n):
    t = np.arange(n) * 0.1
    truth = np.stack([np.cos(t) * 10.0, np.sin(0.5 * t) * 5.0], axis=1)
    return truth + rng.standard_normal((n, 2)) * 0.5, 0.1, float(rng.uniform(0.005, 0.02)), float(rng.uniform(0.2, 0.3))


@kernel(_kalman_inputs, size=10, bench_size=5000,
        tags={"float-arg", "iterate-array", "linalg", "inplace-loop"}, rtol=1e-8)
def kalman_cv(zs, dt, q, r):
    """A constant-velocity Kalman filter tracking a 2-D position from noisy measurements."""
    F = np.array([[1, 0, dt, 0],
                  [0, 1, 0, dt],
                  [0, 0, 1, 0],
                  [0, 0, 0, 1]], dtype=float)
    H = np.array([[1.0, 0, 0, 0],
                  [0, 1.0, 0, 0]])
    Q = q * np.eye(4)
    R = r * np.eye(2)
    I = np.eye(4)
    x = np.zeros(4)
    P = np.eye(4) * 500.0
    xs = np.zeros((len(zs), 4))
    for k, z in enumerate(zs):
        x = F @ x
        P = F @ P @ F.T + Q
        y = z - H @ x
        S = H @ P @ H.T + R
        K = P @ H.T @ np.linalg.inv(S)
        x = x + K @ y
        P = (I - K @ H) @ P
        xs[k] = x
    return xs


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sgd_inputs(rng, n):
    n_classes, d, batch = 4, 8, 16
    X = rng.standard_normal((batch * n, d))
    y = rng.integers(0, n_classes, batch * n)
    return X, y, n_classes, 0.1, int(rng.integers(2, 4)), batch


@kernel(_sgd_inputs, size=4, bench_size=600,
        tags={"int-arg", "float-arg", "time-loop", "helper", "gather", "inplace-loop", "tuple-return",
              "reduction"}, rtol=1e-8)
def multinomial_minibatch_sgd(X, y, n_classes, lr, epochs, batch_size):
    """Multinomial logistic regression trained by mini-batch SGD with a one-hot target matrix."""
    n, d = X.shape
    W = np.zeros((d, n_classes))
    b = np.zeros(n_classes)
    Y = np.eye(n_classes)[y]
    for epoch in range(epochs):
        for start in range(0, n, batch_size):
            Xb = X[start:start + batch_size]
            Yb = Y[start:start + batch_size]
            P = softmax(Xb @ W + b)
            G = (P - Yb) / Xb.shape[0]
            W -= lr * (Xb.T @ G)
            b -= lr * G.sum(axis=0)
    return W, b


def givens(a, b):
    r = np.hypot(a, b)
    return a / r, -b / r


def _givens_inputs(rng, n):
    return rng.standard_normal((n, n)),


@kernel(_givens_inputs, size=5, bench_size=90,
        tags={"helper", "scalar-loop", "inplace-loop", "tuple-return"}, rtol=1e-9)
def givens_qr(A):
    """QR by Givens rotations (Golub and Van Loan 5.2.5): zero the subdiagonal bottom-up, column by
    column, rotating two rows of R and two columns of Q."""
    m, n = A.shape
    Q = np.eye(m)
    R = A.copy()
    for j in range(n):
        for i in range(m - 1, j, -1):
            c, s = givens(R[i - 1, j], R[i, j])
            G = np.array([[c, s], [-s, c]])
            R[i - 1:i + 1, j:] = G.T @ R[i - 1:i + 1, j:]
            Q[:, i - 1:i + 1] = Q[:, i - 1:i + 1] @ G
    return Q, R


def _rotation_inputs(rng, n):
    return spd_matrix(rng, 3), rng.uniform(0.0, 0.1, n)


@kernel(_rotation_inputs, size=10, bench_size=6000,
        tags={"iterate-array", "helper", "list-build", "linalg"}, rtol=1e-9)
def rotate_frames(inertia, angles):
    """A rigid body's inertia tensor turned by successive rotations about z, each rotation matrix
    stacked from its rows; returns the largest principal moment after each turn."""
    moments = []
    I_body = inertia
    for theta in angles:
        c, s = np.cos(theta), np.sin(theta)
        Rz = np.stack([np.array([c, -s, 0.0]), np.array([s, c, 0.0]), np.array([0.0, 0.0, 1.0])])
        I_body = Rz @ I_body @ Rz.T
        moments.append(np.trace(I_body) - I_body[2, 2])
    return np.array(moments)


def _life_inputs(rng, n):
    return (rng.random((24, 24)) < 0.3).astype(np.int64), steps(rng, n, n + 4)


@kernel(_life_inputs, size=6, bench_size=3000,
        tags={"int-arg", "time-loop", "mutates-arg", "inplace-loop", "int-dtype", "dynamic-shape"}, rtol=0)
def life_rougier(Z, generations):
    """Conway's game of life as in Rougier's NumPy tutorial: count the neighbours with shifted slices,
    then set the cells that are born or survive through a boolean mask of the interior view."""
    for _ in range(generations):
        N = (Z[0:-2, 0:-2] + Z[0:-2, 1:-1] + Z[0:-2, 2:] +
             Z[1:-1, 0:-2] + Z[1:-1, 2:] +
             Z[2:, 0:-2] + Z[2:, 1:-1] + Z[2:, 2:])
        birth = (N == 3) & (Z[1:-1, 1:-1] == 0)
        survive = ((N == 2) | (N == 3)) & (Z[1:-1, 1:-1] == 1)
        Z[...] = 0
        Z[1:-1, 1:-1][birth | survive] = 1
    return Z


def _ca_inputs(rng, n):
    return rng.random(64) < 0.5, steps(rng, n, n + 4)


@kernel(_ca_inputs, size=8, bench_size=6000, tags={"int-arg", "time-loop", "inplace-loop", "int-dtype"}, rtol=0)
def rule30(cells, n_gen):
    """Wolfram's rule 30 on a ring of cells: new = left XOR (center OR right)."""
    history = np.zeros((n_gen, cells.size), dtype=bool)
    for t in range(n_gen):
        history[t] = cells
        left = np.roll(cells, 1)
        right = np.roll(cells, -1)
        cells = left ^ (cells | right)
    return history


def _mandelbrot_inputs(rng, n):
    h, w = 16, 24
    y, x = np.ogrid[-1.4:1.4:h * 1j, -2:0.8:w * 1j]
    c = x + y * 1j + (rng.uniform(-1e-3, 1e-3) + 1j * rng.uniform(-1e-3, 1e-3))
    return c, steps(rng, n, n + 4)


@kernel(_mandelbrot_inputs, size=8, bench_size=8000,
        tags={"int-arg", "time-loop", "complex", "inplace-loop", "dynamic-shape"}, rtol=0)
def mandelbrot_quickstart(c, maxit):
    """NumPy quickstart's Mandelbrot: the iteration at which each point diverges."""
    z = c
    divtime = maxit + np.zeros(z.shape, dtype=int)
    for i in range(maxit):
        z = z ** 2 + c
        diverge = z * np.conj(z) > 2 ** 2
        div_now = diverge & (divtime == maxit)
        divtime[div_now] = i
        z[diverge] = 2
    return divtime


def _newton_inputs(rng, n):
    re = np.linspace(-1.5, 1.5, 20) + rng.uniform(-1e-3, 1e-3)
    im = np.linspace(-1.5, 1.5, 20)
    return re[None, :] + 1j * im[:, None], steps(rng, n, n + 4)


@kernel(_newton_inputs, size=8, bench_size=4000,
        tags={"int-arg", "time-loop", "complex", "reduction", "tuple-return"}, rtol=1e-9)
def newton_fractal(z, n_iter):
    """Newton's method for z**3 = 1 from every point of a grid; returns the root each point reached
    and where the iteration ended."""
    roots = np.array([1.0 + 0j, -0.5 + 0.8660254037844386j, -0.5 - 0.8660254037844386j])
    for _ in range(n_iter):
        z = np.where(np.abs(z) > 1e-12, z - (z ** 3 - 1) / (3 * z ** 2), z)
    dist = np.abs(z[..., None] - roots)
    return np.argmin(dist, axis=-1), z
