"""Programs with data-dependent control flow, for the ``distjit.script`` frontend.

Domain: iterative numerical methods (Jacobi, Newton, bisection, secant, conjugate
gradient, power iteration, fixed-point iteration, gradient descent, line search,
scaling-and-squaring), sequential scans and recurrences (IIR filters, prefix
maxima, summed-area tables, Thomas algorithm), integer loops (Collatz, GCD,
binary search, sorting) and branchy elementwise / piecewise code.

Every function body stays inside the script subset: annotated parameters and
return type; assignments (incl. tuple unpacking, augmented and subscript
assignment); if/elif/else and ternaries on array values; ``for i in range(...)``,
``for row in x``; data-dependent ``while``; break / continue / early return;
``assert``; calls to NumPy and to other functions of this module; module-level
constants. No lambdas, comprehensions, try/with, classes, globals or prints in
any compiled function. ``make_inputs`` are named module-level ``_inputs_*``
functions (not lambdas) so the source around each decorated function stays in
the subset too; they are never compiled.
"""
import numpy as np

from tests.programs.registry import program

MAX_ITERS = 500
SMALL = 1e-12
# Matrix products in natively compiled loops are NumPy's (BLAS) to rounding, not bit for bit (README's
# numerical contract), so the programs that multiply matrices inside a loop are compared to that.
PRODUCTS_RTOL = 1e-9
GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114])


# ============================================================ helpers (plain NumPy)

def poly_eval(coeffs: np.ndarray, x: float) -> float:
    """Horner evaluation, highest power first."""
    acc = 0.0
    for c in coeffs:
        acc = acc * x + c
    return acc


def smooth3(x: np.ndarray) -> np.ndarray:
    """Periodic 3-point moving average."""
    return (np.roll(x, 1) + x + np.roll(x, -1)) / 3.0


def energy(x: np.ndarray) -> float:
    d = x - x.mean()
    return np.sum(d * d)


def assign_labels(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    d2 = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(axis=-1)
    return np.argmin(d2, axis=1)


def update_centers(x: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> np.ndarray:
    k = centers.shape[0]
    onehot = (labels[:, None] == np.arange(k)[None, :]).astype(np.float64)
    counts = onehot.sum(axis=0)
    sums = onehot.T @ x
    return np.where(counts[:, None] > 0, sums / np.maximum(counts, 1.0)[:, None], centers)


def rosenbrock(x: np.ndarray) -> float:
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_grad(x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] = g[1:] + 200.0 * (x[1:] - x[:-1] ** 2)
    return g


def life_neighbors(board: np.ndarray) -> np.ndarray:
    n = np.zeros_like(board)
    for di in range(-1, 2):
        for dj in range(-1, 2):
            if di != 0 or dj != 0:
                n = n + np.roll(np.roll(board, di, axis=0), dj, axis=1)
    return n


def quadratic_loss(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> float:
    return 0.5 * (x @ (a @ x)) - b @ x


# ==================================================================== iterative solvers

def _inputs_jacobi(rng):
    n = int(rng.integers(8, 14))
    u = np.zeros((n, n))
    u[0, :] = rng.uniform(0.5, 1.5)
    u[:, -1] = rng.uniform(-1.0, 1.0, size=n)
    tol = float(rng.choice([1e-2, 1e-3, 1e-5]))
    max_iter = int(rng.integers(5, 120))
    return u, tol, max_iter


@program(_inputs_jacobi, control=True, tags={"scalar_input", "inplace", "tuple_output"})
def jacobi_laplace(u0: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, int]:
    """Jacobi relaxation of Laplace's equation; returns (u, iterations) with an early return on convergence."""
    u = u0.copy()
    for it in range(max_iter):
        new = u.copy()
        new[1:-1, 1:-1] = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])
        diff = np.abs(new - u).max()
        u = new
        if diff < tol:
            return u, it + 1
    return u, max_iter


def _inputs_newton_sqrt(rng):
    return rng.uniform(0.01, 100.0, size=int(rng.integers(1, 10))), float(rng.choice([1e-2, 1e-6, 1e-12]))


@program(_inputs_newton_sqrt, control=True, tags={"scalar_input", "tuple_output"})
def newton_sqrt(a: np.ndarray, tol: float) -> tuple[np.ndarray, int]:
    """Vectorised Newton iteration for sqrt(a) until the worst relative residual is below tol."""
    x = np.where(a > 1.0, a, 1.0)
    it = 0
    while np.max(np.abs(x * x - a) / a) > tol and it < MAX_ITERS:
        x = 0.5 * (x + a / x)
        it += 1
    return x, it


def _inputs_bisection(rng):
    r = float(rng.uniform(-1.5, 1.5))
    coeffs = np.array([1.0, -r, 1.0, -r])          # (x - r)(x^2 + 1)
    return coeffs, -2.0, 2.0, float(rng.choice([1e-3, 1e-8]))


@program(_inputs_bisection, control=True, tags={"scalar_input", "tuple_output"})
def bisection(coeffs: np.ndarray, lo: float, hi: float, tol: float) -> tuple[float, int]:
    """Root of a polynomial bracketed by [lo, hi]; exact zero returns early."""
    flo = poly_eval(coeffs, lo)
    it = 0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        fmid = poly_eval(coeffs, mid)
        if fmid == 0.0:
            return mid, it
        if (fmid < 0.0) == (flo < 0.0):
            lo = mid
            flo = fmid
        else:
            hi = mid
        it += 1
    return 0.5 * (lo + hi), it


def _inputs_secant(rng):
    return float(rng.uniform(0.5, 50.0)), float(rng.choice([1e-4, 1e-10]))


@program(_inputs_secant, control=True, tags={"scalar_input", "tuple_output"})
def secant_cube_root(c: float, tol: float) -> tuple[float, int]:
    """Secant method on f(x) = x^3 - c with a guarded denominator."""
    x0 = 1.0
    x1 = 2.0
    f0 = x0 ** 3 - c
    it = 0
    while np.abs(x1 - x0) > tol:
        f1 = x1 ** 3 - c
        denom = f1 - f0
        if np.abs(denom) < SMALL:
            break
        x0, x1 = x1, x1 - f1 * (x1 - x0) / denom
        f0 = f1
        it += 1
        if it >= MAX_ITERS:
            break
    return x1, it


def _inputs_lstsq(rng):
    a = rng.standard_normal((20, 4))
    b = a @ rng.standard_normal(4) + 0.1 * rng.standard_normal(20)
    return a, b, 0.01, float(rng.choice([1e-2, 1e-6])), int(rng.integers(10, 400))


@program(_inputs_lstsq, control=True, tags={"scalar_input", "tuple_output"}, rtol=PRODUCTS_RTOL)
def gradient_descent_lstsq(a: np.ndarray, b: np.ndarray, lr: float, tol: float, max_iter: int) -> tuple[np.ndarray, int]:
    """Least squares by gradient descent, stopping early when the gradient norm drops below tol."""
    x = np.zeros(a.shape[1])
    for it in range(max_iter):
        grad = a.T @ (a @ x - b)
        if np.linalg.norm(grad) < tol:
            return x, it
        x = x - lr * grad
    return x, max_iter


def _inputs_power(rng):
    m = rng.standard_normal((6, 6))
    return m @ m.T + np.eye(6) * float(rng.uniform(0.0, 3.0)), float(rng.choice([1e-3, 1e-10])), 300


@program(_inputs_power, control=True, tags={"scalar_input", "tuple_output"}, rtol=PRODUCTS_RTOL)
def power_iteration_converge(a: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, float, int]:
    """Power iteration until the Rayleigh quotient stabilises; returns (vector, eigenvalue, iterations)."""
    n = a.shape[0]
    v = np.ones(n) / np.sqrt(n)
    lam = 0.0
    it = 0
    while it < max_iter:
        w = a @ v
        new_lam = v @ w
        v = w / np.linalg.norm(w)
        it += 1
        if np.abs(new_lam - lam) < tol * np.abs(new_lam):
            lam = new_lam
            break
        lam = new_lam
    return v, lam, it


def _inputs_cg(rng):
    n = int(rng.integers(4, 12))
    m = rng.standard_normal((n, n))
    return m @ m.T + n * np.eye(n), rng.standard_normal(n), float(rng.choice([1e-4, 1e-10])), n + 5


@program(_inputs_cg, control=True, tags={"scalar_input", "tuple_output"}, rtol=PRODUCTS_RTOL)
def conjugate_gradient(a: np.ndarray, b: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, int]:
    x = np.zeros_like(b)
    r = b - a @ x
    p = r.copy()
    rs = r @ r
    for it in range(max_iter):
        if np.sqrt(rs) < tol:
            return x, it
        ap = a @ p
        alpha = rs / (p @ ap)
        x = x + alpha * p
        r = r - alpha * ap
        rs_new = r @ r
        p = r + (rs_new / rs) * p
        rs = rs_new
    return x, max_iter


def _inputs_fixed_point(rng):
    return rng.uniform(-2.0, 2.0, size=5), float(rng.choice([1e-3, 1e-9])), int(rng.integers(5, 100))


@program(_inputs_fixed_point, control=True, tags={"scalar_input", "tuple_output"})
def fixed_point_cos(x0: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, int]:
    """x <- cos(x) until the update is below tol (converges to the Dottie number)."""
    x = x0
    n = 0
    for i in range(max_iter):
        nxt = np.cos(x)
        n = i + 1
        if np.max(np.abs(nxt - x)) < tol:
            x = nxt
            break
        x = nxt
    return x, n


def _inputs_line_search(rng):
    x = rng.uniform(-1.5, 1.5, size=4)
    return x, -rosenbrock_grad(x), float(rng.choice([1.0, 0.01]))


@program(_inputs_line_search, control=True, tags={"scalar_input", "tuple_output"})
def backtracking_line_search(x: np.ndarray, d: np.ndarray, alpha0: float) -> tuple[float, int]:
    """Armijo backtracking on the Rosenbrock function (calls module helpers in the loop)."""
    c = 1e-4
    f0 = rosenbrock(x)
    slope = rosenbrock_grad(x) @ d
    alpha = alpha0
    halvings = 0
    while rosenbrock(x + alpha * d) > f0 + c * alpha * slope:
        alpha = alpha * 0.5
        halvings += 1
        if halvings > 60:
            break
    return alpha, halvings


def _inputs_momentum(rng):
    n = 5
    m = rng.standard_normal((n, n))
    return m @ m.T + np.eye(n), rng.standard_normal(n), float(rng.choice([0.0, 0.9])), float(rng.choice([1e-3, 1e-8]))


@program(_inputs_momentum, control=True, tags={"scalar_input", "tuple_output"}, rtol=PRODUCTS_RTOL)
def momentum_descent(a: np.ndarray, b: np.ndarray, beta: float, tol: float) -> tuple[np.ndarray, float, int]:
    """Heavy-ball descent on 0.5 x'Ax - b'x; step from the largest row sum; stops when the loss stalls."""
    lr = 1.0 / np.max(np.abs(a).sum(axis=1))
    x = np.zeros_like(b)
    v = np.zeros_like(b)
    loss = quadratic_loss(a, b, x)
    steps = 0
    while steps < MAX_ITERS:
        v = beta * v - lr * (a @ x - b)
        x = x + v
        new_loss = quadratic_loss(a, b, x)
        steps += 1
        if np.abs(loss - new_loss) < tol:
            loss = new_loss
            break
        loss = new_loss
    return x, loss, steps


def _inputs_expm(rng):
    return rng.standard_normal((4, 4)) * float(rng.choice([0.1, 1.0, 5.0])),


@program(_inputs_expm, control=True, tags={"tuple_output"}, rtol=PRODUCTS_RTOL)
def expm_scaling_squaring(a: np.ndarray) -> tuple[np.ndarray, int]:
    """Matrix exponential: halve until the norm is small (data-dependent count), Taylor, then square back."""
    s = 0
    scaled = a
    while np.linalg.norm(scaled, ord=1) > 0.5:
        scaled = scaled * 0.5
        s += 1
    n = a.shape[0]
    result = np.eye(n)
    term = np.eye(n)
    for k in range(1, 12):
        term = term @ scaled / k
        result = result + term
    for _ in range(s):
        result = result @ result
    return result, s


# ==================================================================== smoothing / convergence

def _inputs_smooth(rng):
    return rng.standard_normal(int(rng.integers(6, 20))), float(rng.choice([1e-1, 1e-4])), int(rng.integers(3, 200))


@program(_inputs_smooth, control=True, tags={"scalar_input", "tuple_output"})
def smooth_until_flat(x: np.ndarray, tol: float, max_steps: int) -> tuple[np.ndarray, int]:
    """Repeatedly call a helper smoother; break as soon as the helper-computed energy drops below tol."""
    steps = 0
    for _ in range(max_steps):
        if energy(x) < tol:
            break
        x = smooth3(x)
        steps += 1
    return x, steps


def _inputs_break_norm(rng):
    return rng.standard_normal((3, 3)) * float(rng.choice([0.1, 10.0])), float(rng.choice([1e-1, 1e-3]))


@program(_inputs_break_norm, control=True, tags={"scalar_input", "tuple_output"})
def shrink_until_small(x: np.ndarray, tol: float) -> tuple[np.ndarray, int]:
    """``while True`` with a break once the Frobenius norm drops below tol."""
    count = 0
    while True:
        nrm = np.linalg.norm(x)
        if nrm < tol:
            break
        x = 0.5 * x + 0.1 * x.T
        count += 1
    return x, count


def _inputs_halving(rng):
    return rng.standard_normal(4) * float(rng.choice([0.001, 1.0, 1000.0])), 0.01


@program(_inputs_halving, control=True, tags={"scalar_input"})
def halving_steps(x: np.ndarray, tol: float) -> int:
    n = 0
    while np.max(np.abs(x)) > tol:
        x = x / 2.0
        n += 1
    return n


def _inputs_euler(rng):
    return rng.uniform(-3.0, 3.0, size=3), float(rng.uniform(0.2, 2.0))


@program(_inputs_euler, control=True, tags={"scalar_input", "tuple_output"})
def euler_adaptive(y0: np.ndarray, t_end: float) -> tuple[np.ndarray, int]:
    """Forward Euler for y' = -y^3 + sin(t) with a step size that shrinks when |y'| is large."""
    y = y0.copy()
    t = 0.0
    steps = 0
    while t < t_end and steps < 10000:
        dy = -(y ** 3) + np.sin(t)
        dt = 0.05 / (1.0 + np.max(np.abs(dy)))
        dt = t_end - t if t + dt > t_end else dt
        y = y + dt * dy
        t = t + dt
        steps += 1
    return y, steps


def _inputs_kmeans(rng):
    centers = np.array([[0.0, 0.0], [4.0, 4.0], [0.0, 5.0]])
    x = np.concatenate([centers[0] + rng.standard_normal((10, 2)),
                        centers[1] + rng.standard_normal((10, 2)),
                        centers[2] + rng.standard_normal((10, 2))])
    init = x[rng.choice(30, size=3, replace=False)]
    return x, init, int(rng.integers(1, 20))


@program(_inputs_kmeans, control=True, tags={"scalar_input", "tuple_output"})
def kmeans_until_stable(x: np.ndarray, centers: np.ndarray, max_iter: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Lloyd iterations via helper functions until the labels stop changing."""
    labels = assign_labels(x, centers)
    it = 0
    while it < max_iter:
        centers = update_centers(x, labels, centers)
        new_labels = assign_labels(x, centers)
        it += 1
        if np.all(new_labels == labels):
            break
        labels = new_labels
    return centers, labels, it


def _inputs_life(rng):
    n = 10
    board = (rng.uniform(size=(n, n)) < float(rng.choice([0.0, 0.3, 0.5]))).astype(np.int64)
    return board, int(rng.integers(1, 30))


@program(_inputs_life, control=True, tags={"int", "scalar_input", "tuple_output"})
def game_of_life(board: np.ndarray, generations: int) -> tuple[np.ndarray, int]:
    """Toroidal Game of Life; stops early when the board becomes static."""
    gen = 0
    for g in range(generations):
        n = life_neighbors(board)
        new = ((n == 3) | ((board == 1) & (n == 2))).astype(board.dtype)
        gen = g + 1
        if np.all(new == board):
            break
        board = new
    return board, gen


# ==================================================================== integer loops

def _inputs_collatz(rng):
    return int(rng.integers(1, 200)),


@program(_inputs_collatz, control=True, tags={"int", "scalar_input"})
def collatz_steps(n: int) -> int:
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


def _inputs_collatz_vec(rng):
    return rng.integers(1, 60, size=int(rng.integers(1, 8))),


@program(_inputs_collatz_vec, control=True, tags={"int", "tuple_output"})
def collatz_vectorized(x: np.ndarray) -> tuple[np.ndarray, int]:
    """All lanes step until every lane reaches 1; returns (per-lane step counts, total rounds)."""
    steps = np.zeros_like(x)
    rounds = 0
    while np.any(x != 1):
        active = x != 1
        x = np.where(active, np.where(x % 2 == 0, x // 2, 3 * x + 1), x)
        steps = steps + active
        rounds += 1
    return steps, rounds


def _inputs_gcd(rng):
    return int(rng.integers(1, 10000)), int(rng.integers(0, 10000))


@program(_inputs_gcd, control=True, tags={"int", "scalar_input"})
def gcd(a: int, b: int) -> int:
    while b != 0:
        a, b = b, a % b
    return a


def _inputs_binary_search(rng):
    x = np.sort(rng.uniform(0.0, 10.0, size=int(rng.integers(1, 30))))
    return x, float(rng.uniform(-1.0, 11.0))


@program(_inputs_binary_search, control=True, tags={"int", "scalar_input"})
def binary_search(sorted_x: np.ndarray, target: float) -> int:
    """Leftmost insertion point of target (like np.searchsorted(..., side='left'))."""
    lo = 0
    hi = sorted_x.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if sorted_x[mid] < target:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _inputs_sort(rng):
    return rng.integers(-20, 20, size=int(rng.integers(1, 12))).astype(np.float64),


@program(_inputs_sort, control=True, tags={"inplace", "tuple_output"})
def bubble_sort(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Bubble sort of a copy with an early-exit 'swapped' flag; returns (sorted, swaps)."""
    y = x.copy()
    n = y.shape[0]
    swaps = 0
    swapped = True
    while swapped:
        swapped = False
        for j in range(n - 1):
            if y[j] > y[j + 1]:
                tmp = y[j]
                y[j] = y[j + 1]
                y[j + 1] = tmp
                swaps += 1
                swapped = True
        n -= 1
    return y, swaps


@program(_inputs_sort, control=True, tags={"inplace", "mutates_input"})
def insertion_sort_(x: np.ndarray) -> int:
    """Sorts the INPUT in place (mutation is the point) and returns the number of element shifts."""
    shifts = 0
    for i in range(1, x.shape[0]):
        key = x[i]
        j = i - 1
        while j >= 0 and x[j] > key:
            x[j + 1] = x[j]
            j -= 1
            shifts += 1
        x[j + 1] = key
    return shifts


# ==================================================================== scans and recurrences

def _inputs_iir(rng):
    return rng.standard_normal((int(rng.integers(2, 30)), 2)), float(rng.uniform(-0.95, 0.95))


@program(_inputs_iir, control=True, tags={"scalar_input", "inplace"})
def iir_filter(x: np.ndarray, a: float) -> np.ndarray:
    """First-order IIR filter y[i] = a * y[i-1] + x[i] along the first axis (trip count = x.shape[0])."""
    y = np.zeros_like(x)
    y[0] = x[0]
    for i in range(1, x.shape[0]):
        y[i] = y[i - 1] * a + x[i]
    return y


def _inputs_scan(rng):
    return rng.standard_normal(int(rng.integers(1, 25))),


@program(_inputs_scan, control=True, tags={"inplace", "tuple_output"})
def running_max_scan(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Sequential prefix maximum with a branch per element; also counts new records."""
    y = np.zeros_like(x)
    m = x[0]
    records = 0
    for i in range(x.shape[0]):
        if x[i] > m:
            m = x[i]
            records += 1
        y[i] = m
    return y, records


def _inputs_sat(rng):
    return rng.integers(0, 10, size=(int(rng.integers(1, 7)), int(rng.integers(1, 7)))).astype(np.float64),


@program(_inputs_sat, control=True, tags={"inplace"})
def summed_area_table(x: np.ndarray) -> np.ndarray:
    """Integral image with nested loops and boundary branches."""
    h = x.shape[0]
    w = x.shape[1]
    s = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            v = x[i, j]
            if i > 0:
                v = v + s[i - 1, j]
            if j > 0:
                v = v + s[i, j - 1]
            if i > 0 and j > 0:
                v = v - s[i - 1, j - 1]
            s[i, j] = v
    return s


def _inputs_thomas(rng):
    n = int(rng.integers(2, 12))
    lower = rng.uniform(-1.0, 1.0, size=n)
    upper = rng.uniform(-1.0, 1.0, size=n)
    diag = 3.0 + rng.uniform(0.0, 1.0, size=n)   # diagonally dominant
    return lower, diag, upper, rng.standard_normal(n)


@program(_inputs_thomas, control=True, tags={"inplace"})
def thomas_solve(lower: np.ndarray, diag: np.ndarray, upper: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Tridiagonal solve (lower[0] and upper[-1] unused); asserts on shapes and pivots."""
    n = diag.shape[0]
    assert lower.shape[0] == n and upper.shape[0] == n and rhs.shape[0] == n
    c = np.zeros(n)
    d = np.zeros(n)
    c[0] = upper[0] / diag[0]
    d[0] = rhs[0] / diag[0]
    for i in range(1, n):
        denom = diag[i] - lower[i] * c[i - 1]
        assert np.abs(denom) > SMALL
        c[i] = upper[i] / denom
        d[i] = (rhs[i] - lower[i] * d[i - 1]) / denom
    x = np.zeros(n)
    x[n - 1] = d[n - 1]
    for i in range(n - 2, -1, -1):
        x[i] = d[i] - c[i] * x[i + 1]
    return x


def _inputs_lif(rng):
    return rng.uniform(0.0, float(rng.choice([0.05, 0.3])), size=(40, 3)), 1.0


@program(_inputs_lif, control=True, tags={"scalar_input", "inplace", "tuple_output"})
def leaky_integrate_and_fire(current: np.ndarray, threshold: float) -> tuple[np.ndarray, int]:
    """Iterate over time steps (rows); branch only when some neuron fires."""
    v = np.zeros(current.shape[1])
    spikes = np.zeros_like(current)
    t = 0
    events = 0
    for i_t in current:
        v = 0.9 * v + i_t
        fired = v >= threshold
        if np.any(fired):
            spikes[t] = fired
            v = np.where(fired, 0.0, v)
            events += 1
        t += 1
    return spikes, events


# ==================================================================== branchy code

def _inputs_branches(rng):
    return rng.standard_normal((3, 4)) * float(rng.choice([0.1, 1.0, 3.0])) + float(rng.choice([-1.0, 0.0, 1.0])),


@program(_inputs_branches, control=True)
def nested_conditionals(x: np.ndarray) -> np.ndarray:
    if x.mean() > 0:
        if x.max() > 2.0:
            y = x / x.max()
        else:
            y = x * 2.0
    else:
        if x.min() < -2.0:
            y = np.clip(x, -2.0, 0.0)
        elif np.all(x < 0.5):
            y = -x
        else:
            y = np.abs(x)
    return y + 1.0


@program(_inputs_branches, control=True)
def piecewise_on_mean(x: np.ndarray) -> np.ndarray:
    """if/elif/else chain on a scalar reduction."""
    m = x.mean()
    if m < -0.5:
        return np.exp(x)
    elif m < 0.0:
        return x * x
    elif m < 0.5:
        return np.tanh(x)
    else:
        return np.sqrt(np.abs(x)) + m


@program(_inputs_branches, control=True)
def ternary_scale(x: np.ndarray) -> np.ndarray:
    scale = 2.0 if x.sum() > 0 else -1.0
    shift = x.min() if x.std() > 1.0 else 0.0
    return x * scale - shift


def _inputs_piecewise_scalar(rng):
    return float(rng.uniform(-2.0, 3.0)),


@program(_inputs_piecewise_scalar, control=True, tags={"scalar_input"})
def piecewise_scalar(t: float) -> float:
    """Smoothstep-like piecewise function of a Python float."""
    if t <= 0.0:
        return 0.0
    elif t < 1.0:
        return t * t * (3.0 - 2.0 * t)
    elif t < 2.0:
        return 1.0 + 0.5 * (t - 1.0)
    return 1.5


def _inputs_clip_branches(rng):
    return rng.standard_normal(int(rng.integers(1, 15))) * 2.0, -1.0, float(rng.uniform(0.0, 2.0))


@program(_inputs_clip_branches, control=True, tags={"scalar_input", "inplace"})
def clip_with_branches(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Elementwise clip written as a loop with if/elif/else per element."""
    y = x.copy()
    for i in range(x.shape[0]):
        if x[i] < lo:
            y[i] = lo
        elif x[i] > hi:
            y[i] = hi
        else:
            y[i] = x[i]
    return y


def _inputs_rows(rng):
    return rng.standard_normal((int(rng.integers(1, 10)), 4)) + float(rng.choice([-0.5, 0.0, 0.5])),


@program(_inputs_rows, control=True, tags={"tuple_output"})
def sum_positive_rows(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Iterate over rows, skipping rows with a negative sum via continue."""
    acc = np.zeros(x.shape[1])
    used = 0
    for row in x:
        if row.sum() < 0:
            continue
        acc = acc + row
        used += 1
    return acc, used


@program(_inputs_rows, control=True, tags={"tuple_output"})
def row_statistics_loop(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accumulate running mean (Welford) and elementwise maximum over rows."""
    mean = np.zeros(x.shape[1])
    m2 = np.zeros(x.shape[1])
    mx = x[0]
    n = 0
    for row in x:
        n += 1
        delta = row - mean
        mean = mean + delta / n
        m2 = m2 + delta * (row - mean)
        mx = np.maximum(mx, row)
    var = m2 / n
    return np.stack([mean, var]), mx


def _inputs_first_above(rng):
    return rng.standard_normal(int(rng.integers(1, 20))), float(rng.uniform(0.0, 2.5))


@program(_inputs_first_above, control=True, tags={"scalar_input", "int"})
def first_index_above(x: np.ndarray, target: float) -> int:
    """Early return from inside a for loop; -1 if not found."""
    for i in range(x.shape[0]):
        if x[i] > target:
            return i
    return -1


def _inputs_threshold_sum(rng):
    return rng.uniform(0.0, 1.0, size=int(rng.integers(1, 30))), float(rng.uniform(0.5, 10.0))


@program(_inputs_threshold_sum, control=True, tags={"scalar_input", "tuple_output"})
def sum_until_threshold(x: np.ndarray, threshold: float) -> tuple[float, int]:
    """Iterate over a 1-D array's elements and break once the running total exceeds the threshold."""
    total = 0.0
    count = 0
    for v in x:
        total = total + v
        count += 1
        if total > threshold:
            break
    return total, count


def _inputs_sign_changes(rng):
    return rng.integers(-1, 2, size=int(rng.integers(1, 25))).astype(np.float64),


@program(_inputs_sign_changes, control=True, tags={"int"})
def count_sign_changes(x: np.ndarray) -> int:
    """Zeros are skipped with continue; a change is counted against the last nonzero sign."""
    changes = 0
    last = 0.0
    for v in x:
        if v == 0.0:
            continue
        s = np.sign(v)
        if last != 0.0 and s != last:
            changes += 1
        last = s
    return changes


def _inputs_checked(rng):
    scale = float(rng.choice([0.0, 1.0]))
    return rng.standard_normal((3, 5)) * scale, bool(rng.integers(0, 2))


@program(_inputs_checked, control=True, tags={"scalar_input"})
def normalize_checked(x: np.ndarray, by_rows: bool) -> np.ndarray:
    """Asserts on the input rank, branches on a bool flag and on a zero norm."""
    assert x.ndim == 2, "expected a matrix"
    if np.linalg.norm(x) == 0.0:
        return x.copy()
    if by_rows:
        n = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.maximum(n, SMALL)
    return x / np.linalg.norm(x)


def _inputs_gray(rng):
    return rng.uniform(0.0, 1.0, size=(int(rng.integers(2, 6)), 4, 3)),


@program(_inputs_gray, control=True, tags={"int", "tuple_output"})
def classify_pixels(img: np.ndarray) -> tuple[np.ndarray, int]:
    """Loop over image rows using a module-level constant; per-row branch on brightness."""
    gray = img @ GRAY_WEIGHTS
    out = np.zeros(gray.shape[0], dtype=np.int64)
    bright_rows = 0
    i = 0
    for row in gray:
        level = row.mean()
        if level > 0.6:
            out[i] = 2
            bright_rows += 1
        elif level > 0.4:
            out[i] = 1
        i += 1
    return out, bright_rows
