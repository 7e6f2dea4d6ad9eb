"""Simulation and models: CNN layers as loops (convolution, max-pooling, a small forward pass), an
N-body leapfrog that updates the caller's arrays, Monte Carlo over random numbers drawn outside
(pi, a European option, a random walk, Ising Metropolis), logistic regression by gradient descent,
k-means that moves the centroids it is given, k-nearest neighbours, an RNN over a sequence, and a
two-layer network trained by hand-written backprop."""
import numpy as np

from tests.programs.realcode.kernel import kernel, steps


def _conv_inputs(rng, n):
    return rng.standard_normal((2, n, n)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)


@kernel(_conv_inputs, size=6, bench_size=90, tags={"scalar-loop", "inplace-loop", "reduction"})
def conv2d_loops(x, w, b):
    C, H, W = x.shape
    O, _, K, _ = w.shape
    H_out, W_out = H - K + 1, W - K + 1
    out = np.zeros((O, H_out, W_out))
    for o in range(O):
        for i in range(H_out):
            for j in range(W_out):
                out[o, i, j] = np.sum(x[:, i:i + K, j:j + K] * w[o]) + b[o]
    return out


def _nhwc_inputs(rng, n):
    return rng.random((2, n, n, 3)), rng.random((3, 3, 3, 4))


@kernel(_nhwc_inputs, size=7, bench_size=60, tags={"inplace-loop", "reduction"})
def conv2d_nhwc(input, weights):
    """NPBench-style convolution: batch and channels vectorized, loops over the output pixels."""
    K = weights.shape[0]
    N = input.shape[0]
    H_out = input.shape[1] - K + 1
    W_out = input.shape[2] - K + 1
    C_out = weights.shape[3]
    output = np.empty((N, H_out, W_out, C_out), dtype=np.float64)
    for i in range(H_out):
        for j in range(W_out):
            output[:, i, j, :] = np.sum(
                input[:, i:i + K, j:j + K, :, np.newaxis] * weights[np.newaxis, :, :, :],
                axis=(1, 2, 3))
    return output


def _pool_inputs(rng, n):
    return rng.standard_normal((2, 3, n, n)), int(rng.choice([2, 3]))


@kernel(_pool_inputs, size=6, bench_size=330, tags={"int-arg", "inplace-loop", "tuple-return"})
def max_pool(x, pool):
    N, C, H, W = x.shape
    H_out, W_out = H // pool, W // pool
    out = np.zeros((N, C, H_out, W_out))
    argmax = np.zeros((N, C, H_out, W_out), dtype=np.int64)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * pool:(i + 1) * pool, j * pool:(j + 1) * pool].reshape(N, C, -1)
            out[:, :, i, j] = window.max(axis=2)
            argmax[:, :, i, j] = window.argmax(axis=2)
    return out, argmax


def _conv_relu_pool(x, w, b):
    C, H, W = x.shape
    O, _, K, _ = w.shape
    z = np.zeros((O, H - K + 1, W - K + 1))
    for i in range(H - K + 1):
        for j in range(W - K + 1):
            z[:, i, j] = np.tensordot(w, x[:, i:i + K, j:j + K], axes=3) + b
    z = np.maximum(z, 0)
    h, w_ = z.shape[1] // 2, z.shape[2] // 2
    return z[:, :2 * h, :2 * w_].reshape(O, h, 2, w_, 2).max(axis=(2, 4))


def _cnn_inputs(rng, n):
    x = rng.standard_normal((1, n, n))
    w1 = rng.standard_normal((4, 1, 3, 3)) * 0.5
    b1 = rng.standard_normal(4) * 0.1
    feat = 4 * ((n - 2) // 2) ** 2
    return x, w1, b1, rng.standard_normal((feat, 10)) * 0.1, rng.standard_normal(10) * 0.1


@kernel(_cnn_inputs, size=8, bench_size=150, tags={"helper", "inplace-loop", "reduction"})
def cnn_forward(x, w1, b1, w_fc, b_fc):
    h = _conv_relu_pool(x, w1, b1)
    logits = h.ravel() @ w_fc + b_fc
    logits -= logits.max()
    p = np.exp(logits)
    return p / p.sum()


def _get_acc(pos, mass, G, softening):
    x = pos[:, 0:1]
    y = pos[:, 1:2]
    z = pos[:, 2:3]
    dx = x.T - x
    dy = y.T - y
    dz = z.T - z
    inv_r3 = (dx ** 2 + dy ** 2 + dz ** 2 + softening ** 2) ** (-1.5)
    ax = G * (dx * inv_r3) @ mass
    ay = G * (dy * inv_r3) @ mass
    az = G * (dz * inv_r3) @ mass
    return np.hstack((ax, ay, az))


def _energy(pos, vel, mass, G):
    KE = 0.5 * np.sum(np.sum(mass * vel ** 2))
    x = pos[:, 0:1]
    y = pos[:, 1:2]
    z = pos[:, 2:3]
    dx = x.T - x
    dy = y.T - y
    dz = z.T - z
    inv_r = np.sqrt(dx ** 2 + dy ** 2 + dz ** 2)
    inv_r[inv_r > 0] = 1.0 / inv_r[inv_r > 0]
    PE = G * np.sum(np.sum(np.triu(-(mass * mass.T) * inv_r, 1)))
    return KE, PE


def _nbody_inputs(rng, n):
    mass = 20.0 * np.ones((n, 1)) / n
    pos = rng.standard_normal((n, 3))
    vel = rng.standard_normal((n, 3))
    vel -= np.mean(mass * vel, 0) / np.mean(mass)
    return pos, vel, mass, steps(rng, 2, 6) + n // 4, 0.01, 0.1, 1.0


@kernel(_nbody_inputs, size=6, bench_size=200,
        tags={"int-arg", "float-arg", "time-loop", "helper", "mutates-arg", "list-build", "tuple-return",
              "inplace-loop"})
def nbody(pos, vel, mass, Nt, dt, softening, G):
    """Leapfrog (kick-drift-kick) N-body in the style of the well-known Python tutorial: pos and vel
    are updated in place, and the energies are tracked in lists."""
    acc = _get_acc(pos, mass, G, softening)
    KE, PE = _energy(pos, vel, mass, G)
    KE_save = [KE]
    PE_save = [PE]
    for i in range(Nt):
        vel += acc * dt / 2.0
        pos += vel * dt
        acc = _get_acc(pos, mass, G, softening)
        vel += acc * dt / 2.0
        KE, PE = _energy(pos, vel, mass, G)
        KE_save.append(KE)
        PE_save.append(PE)
    return np.array(KE_save), np.array(PE_save)


@kernel(lambda rng, n: (rng.random(n), rng.random(n)), size=50, bench_size=6_000_000,
        tags={"builtins", "tuple-return", "reduction"})
def monte_carlo_pi(xs, ys):
    inside = xs ** 2 + ys ** 2 <= 1.0
    n = len(xs)
    pi_hat = 4.0 * np.count_nonzero(inside) / n
    stderr = 4.0 * np.sqrt(inside.mean() * (1 - inside.mean()) / n)
    return pi_hat, stderr


def _option_inputs(rng, n):
    n_steps = steps(rng, 3, 8)
    return rng.standard_normal((n, 8)), 100.0, float(rng.uniform(90, 110)), 0.03, 0.2, 1.0, n_steps


@kernel(_option_inputs, size=20, bench_size=400000,
        tags={"int-arg", "float-arg", "time-loop", "inplace-loop", "dict-return", "reduction"})
def monte_carlo_option(z, S0, K, r, sigma, T, n_steps):
    """Arithmetic-average Asian call over pre-drawn normals z[:, t], one column per time step."""
    dt = T / n_steps
    n_paths = z.shape[0]
    S = np.full(n_paths, S0)
    running_sum = np.zeros(n_paths)
    for t in range(n_steps):
        S *= np.exp((r - 0.5 * sigma ** 2) * dt + sigma * np.sqrt(dt) * z[:, t])
        running_sum += S
    payoff = np.maximum(running_sum / n_steps - K, 0.0)
    disc = np.exp(-r * T)
    return {"price": disc * payoff.mean(), "stderr": disc * payoff.std() / np.sqrt(n_paths)}


@kernel(lambda rng, n: (rng.random(n),), size=20, bench_size=200000,
        tags={"data-control", "scalar-loop", "inplace-loop", "tuple-return"})
def random_walk(u):
    n_steps = len(u)
    position = 0
    path = np.zeros(n_steps + 1, dtype=int)
    for i in range(n_steps):
        step = 1 if u[i] < 0.5 else -1
        position += step
        path[i + 1] = position
    return path, path.max(), path.min()


def _ising_inputs(rng, n):
    spins = rng.choice(np.array([-1, 1]), size=(n, n))
    n_steps = 2 * n * n
    return spins, rng.integers(0, n, (n_steps, 2)), rng.random(n_steps), float(rng.uniform(0.3, 0.6))


@kernel(_ising_inputs, size=5, bench_size=100,
        tags={"data-control", "float-arg", "scalar-loop", "inplace-loop", "mutates-arg", "gather", "int-dtype"})
def ising_metropolis(spins, sites, u, beta):
    """Metropolis updates at pre-drawn sites with pre-drawn uniforms; flips the caller's spins."""
    L = spins.shape[0]
    energy_changes = 0
    for step in range(len(u)):
        i, j = sites[step]
        nb = spins[(i + 1) % L, j] + spins[i - 1, j] + spins[i, (j + 1) % L] + spins[i, j - 1]
        dE = 2 * spins[i, j] * nb
        if dE <= 0 or u[step] < np.exp(-beta * dE):
            spins[i, j] = -spins[i, j]
            energy_changes += dE
    return energy_changes


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _logreg_inputs(rng, n):
    X = rng.standard_normal((n, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.standard_normal(n) > 0).astype(float)
    return X, y, float(rng.uniform(0.05, 0.2)), steps(rng, 4, 10)


@kernel(_logreg_inputs, size=20, bench_size=300000,
        tags={"int-arg", "float-arg", "time-loop", "helper", "inplace-loop", "list-build", "tuple-return",
              "reduction"})
def logistic_regression(X, y, lr, n_iters):
    n_samples, n_features = X.shape
    w = np.zeros(n_features)
    b = 0.0
    losses = []
    for i in range(n_iters):
        p = _sigmoid(X @ w + b)
        dw = (1 / n_samples) * np.dot(X.T, (p - y))
        db = (1 / n_samples) * np.sum(p - y)
        w -= lr * dw
        b -= lr * db
        losses.append(-np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))
    return w, b, losses


def _kmeans_inputs(rng, n):
    centers = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 6.0]])
    X = np.concatenate([c + rng.standard_normal((n, 2)) for c in centers])
    init = X[rng.choice(len(X), 3, replace=False)].copy()
    return X, init, steps(rng, 2, 6)


@kernel(_kmeans_inputs, size=6, bench_size=120000,
        tags={"dynamic-shape", "data-control", "int-arg", "time-loop", "mutates-arg", "linalg", "builtins",
              "inplace-loop", "tuple-return"})
def kmeans(X, centroids, n_iters):
    """Lloyd's iterations; the centroids passed in are moved in place, as in many tutorials."""
    k = len(centroids)
    for _ in range(n_iters):
        dists = np.linalg.norm(X[:, None, :] - centroids[None, :, :], axis=2)
        labels = np.argmin(dists, axis=1)
        for c in range(k):
            members = X[labels == c]
            if len(members) > 0:
                centroids[c] = members.mean(axis=0)
    return labels, centroids


def _knn_inputs(rng, n):
    X_train = rng.standard_normal((n, 2))
    y_train = (X_train[:, 0] > 0).astype(int) + (X_train[:, 1] > 0).astype(int)
    return X_train, y_train, rng.standard_normal((n // 2, 2)), int(rng.choice([3, 5]))


@kernel(_knn_inputs, size=12, bench_size=3000,
        tags={"dynamic-shape", "int-arg", "binning", "builtins", "gather", "int-dtype"},
        rtol=0)
def knn_predict(X_train, y_train, X_test, k):
    dists = np.sum((X_test[:, None, :] - X_train[None, :, :]) ** 2, axis=-1)
    nearest = np.argsort(dists, axis=1)[:, :k]
    votes = y_train[nearest]
    n_classes = int(y_train.max()) + 1
    return np.array([np.bincount(v, minlength=n_classes).argmax() for v in votes])


def _rnn_inputs(rng, n):
    return (rng.standard_normal((n, 3)), rng.standard_normal((3, 5)) * 0.5, rng.standard_normal((5, 5)) * 0.3,
            np.zeros(5))


@kernel(_rnn_inputs, size=6, bench_size=40000, tags={"iterate-array", "list-build", "tuple-return"})
def rnn_forward(xs, Wx, Wh, b):
    h = np.zeros(Wh.shape[0])
    hs = []
    for x_t in xs:
        h = np.tanh(x_t @ Wx + h @ Wh + b)
        hs.append(h)
    return np.stack(hs), h


def _mlp_inputs(rng, n):
    X = rng.standard_normal((n, 4))
    y = np.sin(X[:, :1]) + 0.1 * rng.standard_normal((n, 1))
    params = {"W1": rng.standard_normal((4, 8)) * 0.3, "b1": np.zeros(8),
              "W2": rng.standard_normal((8, 1)) * 0.3, "b2": np.zeros(1)}
    return X, y, params, float(rng.uniform(0.01, 0.05)), steps(rng, 3, 7)


@kernel(_mlp_inputs, size=16, bench_size=60000,
        tags={"int-arg", "float-arg", "time-loop", "dict-return", "mutates-arg", "inplace-loop", "reduction"})
def mlp_train(X, y, params, lr, epochs):
    """Full-batch gradient descent on a tanh network; the params dict's arrays are updated in place."""
    n = X.shape[0]
    history = np.zeros(epochs)
    for epoch in range(epochs):
        h = np.tanh(X @ params["W1"] + params["b1"])
        pred = h @ params["W2"] + params["b2"]
        err = pred - y
        history[epoch] = np.mean(err ** 2)
        d_pred = 2 * err / n
        dW2 = h.T @ d_pred
        db2 = d_pred.sum(axis=0)
        dh = d_pred @ params["W2"].T * (1 - h ** 2)
        dW1 = X.T @ dh
        db1 = dh.sum(axis=0)
        params["W1"] -= lr * dW1
        params["b1"] -= lr * db1
        params["W2"] -= lr * dW2
        params["b2"] -= lr * db2
    return {"loss": history, "final_loss": history[-1], "params": params}


def _pca_inputs(rng, n):
    n_components = int(rng.integers(1, 5))
    latent = rng.standard_normal((n, 2))
    X = latent @ rng.standard_normal((2, 5)) + 0.1 * rng.standard_normal((n, 5))
    return X, n_components


@kernel(_pca_inputs, size=20, bench_size=400000, tags={"int-arg", "linalg", "tuple-return", "reduction"})
def pca(X, n_components):
    Xc = X - X.mean(axis=0)
    cov = np.cov(Xc, rowvar=False)
    eigvals, eigvecs = np.linalg.eigh(cov)
    order = np.argsort(eigvals)[::-1]
    components = eigvecs[:, order[:n_components]]
    explained = eigvals[order] / eigvals.sum()
    return Xc @ components, explained[:n_components]
