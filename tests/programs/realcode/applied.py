"""Code from outside scientific computing's core: image processing (Sobel edges, Otsu's threshold, histogram
equalization by a lookup table, bilinear resizing), signal processing (IQ demodulation with a phase
unwrap, a Hann-windowed 2-D spectrum), finance (maximum drawdown, a binomial American put, Black-Scholes
with math.erf, a minimum-variance portfolio), graph algorithms (Bellman-Ford on an edge list,
breadth-first levels by boolean frontiers, dense Dijkstra, connected components by label propagation), ML
snippets (k-NN with einsum and argsort, Gaussian naive Bayes from boolean masks, softmax cross-entropy
with fancy-indexed gradients, causal self-attention, a spectral embedding, Procrustes alignment) and data
munging (NaN imputation and clipping, set algebra on ids, correlated column pairs, bright-spot
statistics, .item() and float() of reductions, a random walk's statistics).

Written as their authors write NumPy (CS231n, scikit-image and SciPy cookbook style), not for distjit:
keyword arguments, keepdims, fancy indexing, np.where, list comprehensions, tuple and dict returns."""
import math

import numpy as np

from tests.programs.realcode.kernel import kernel


def _image(rng, n):
    yy, xx = np.mgrid[0:n, 0:n]
    img = ((xx - n / 2) ** 2 + (yy - n / 3) ** 2 < (n / 4) ** 2).astype(float)
    return (img * 0.8 + rng.random((n, n)) * 0.2,)


@kernel(_image, size=12, bench_size=1200, tags={"tuple-return"})
def sobel_edges(img):
    """Sobel gradient magnitude and direction, then a threshold at the mean magnitude."""
    gx = np.zeros_like(img)
    gy = np.zeros_like(img)
    gx[1:-1, 1:-1] = (img[:-2, 2:] + 2 * img[1:-1, 2:] + img[2:, 2:]
                      - img[:-2, :-2] - 2 * img[1:-1, :-2] - img[2:, :-2])
    gy[1:-1, 1:-1] = (img[2:, :-2] + 2 * img[2:, 1:-1] + img[2:, 2:]
                      - img[:-2, :-2] - 2 * img[:-2, 1:-1] - img[:-2, 2:])
    mag = np.hypot(gx, gy)
    angle = np.arctan2(gy, gx)
    edges = mag > mag.mean()
    return mag, angle, edges


def _gray_and_bins(rng, n):
    return (_image(rng, n)[0] * 255).astype(np.uint8), int(rng.integers(32, 256))


@kernel(_gray_and_bins, size=16, bench_size=3000, tags={"int-arg", "binning", "tuple-return", "int-dtype"})
def otsu_threshold(img, nbins):
    """Otsu's method: the threshold that maximizes the between-class variance of the histogram."""
    hist, bin_edges = np.histogram(img.ravel(), bins=nbins, range=(0, 256))
    centers = (bin_edges[:-1] + bin_edges[1:]) / 2.0
    w1 = np.cumsum(hist)
    w2 = np.cumsum(hist[::-1])[::-1]
    m1 = np.cumsum(hist * centers) / np.maximum(w1, 1)
    m2 = (np.cumsum((hist * centers)[::-1]) / np.maximum(w2[::-1], 1))[::-1]
    between = w1[:-1] * w2[1:] * (m1[:-1] - m2[1:]) ** 2
    t = centers[np.argmax(between)]
    return t, (img > t).astype(np.uint8)


@kernel(_gray_and_bins, size=16, bench_size=3000, tags={"int-arg", "gather", "int-dtype", "binning"})
def equalize_hist(img, nbins):
    """Histogram equalization through a lookup table indexed by the pixel values."""
    hist = np.bincount(img.reshape(-1), minlength=256)
    cdf = hist.cumsum()
    cdf_min = cdf[cdf > 0].min()
    lut = np.round((cdf - cdf_min) / (cdf[-1] - cdf_min) * (nbins - 1)).astype(np.uint8)
    return lut[img]


def _rgb(rng, n):
    return rng.random((n, n, 3)), int(rng.integers(n // 2, n)), int(rng.integers(n + 1, 2 * n))


@kernel(_rgb, size=10, bench_size=1500, tags={"int-arg", "gather"})
def bilinear_resize(rgb, out_h, out_w):
    """Resize an RGB image by bilinear interpolation, gathering the four neighbours with fancy indexing."""
    h, w = rgb.shape[:2]
    gray = rgb @ np.array([0.299, 0.587, 0.114])
    ys = np.linspace(0, h - 1, out_h)
    xs = np.linspace(0, w - 1, out_w)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    wy = (ys - y0)[:, None]
    wx = (xs - x0)[None, :]
    top = gray[y0][:, x0] * (1 - wx) + gray[y0][:, x1] * wx
    bottom = gray[y1][:, x0] * (1 - wx) + gray[y1][:, x1] * wx
    return top * (1 - wy) + bottom * wy


def _demod_inputs(rng, n):
    fs = 1000.0
    t = np.arange(n) / fs
    f0 = float(rng.choice([50.0, 60.0]))
    phase = 0.5 * np.sin(2 * np.pi * 3 * t)
    return np.cos(2 * np.pi * f0 * t + phase) + 0.05 * rng.standard_normal(n), f0, fs


@kernel(_demod_inputs, size=64, bench_size=1_000_000, tags={"float-arg", "complex", "tuple-return"}, rtol=1e-8)
def iq_demodulate(x, f0, fs):
    """Mix down to baseband with a complex exponential, low-pass by a running mean, unwrap the phase."""
    t = np.arange(x.size) / fs
    baseband = x * np.exp(-2j * np.pi * f0 * t)
    w = int(fs / f0)
    c = np.cumsum(np.concatenate([np.zeros(1, dtype=complex), baseband]))
    smooth = (c[w:] - c[:-w]) / w
    phase = np.unwrap(np.angle(smooth))
    return np.abs(smooth) * 2, phase


@kernel(_image, size=12, bench_size=2000, tags={"reduction"})
def window_spectrum(img):
    """A 2-D Hann-windowed power spectrum with the zero frequency centred (np.outer of np.hanning)."""
    win = np.outer(np.hanning(img.shape[0]), np.hanning(img.shape[1]))
    spec = np.fft.fftshift(np.abs(np.fft.fft2((img - img.mean()) * win)) ** 2)
    return np.log1p(spec)


def _prices(rng, n):
    return (100 * np.exp(np.cumsum(rng.standard_normal(n) * 0.01)),)


@kernel(_prices, size=30, bench_size=5_000_000, tags={"ufunc-method", "tuple-return", "builtins"})
def max_drawdown(prices):
    """The largest peak-to-trough fall, with where it starts and ends."""
    running_max = np.maximum.accumulate(prices)
    drawdown = (prices - running_max) / running_max
    trough = int(np.argmin(drawdown))
    peak = int(np.argmax(prices[:trough + 1]))
    return float(drawdown[trough]), peak, trough


def _option(rng, n):
    return float(rng.uniform(90, 110)), 100.0, 0.05, float(rng.uniform(0.15, 0.3)), 1.0, n + int(rng.integers(0, 3))


@kernel(_option, size=12, bench_size=3000, tags={"float-arg", "int-arg", "time-loop", "inplace-loop"}, rtol=1e-9)
def binomial_american_put(S, K, r, sigma, T, N):
    """Cox-Ross-Rubinstein tree for an American put, stepped back one level at a time."""
    dt = T / N
    u = np.exp(sigma * np.sqrt(dt))
    d = 1 / u
    p = (np.exp(r * dt) - d) / (u - d)
    disc = np.exp(-r * dt)
    j = np.arange(N + 1)
    prices = S * u ** (N - j) * d ** j
    values = np.maximum(K - prices, 0.0)
    for i in range(N - 1, -1, -1):
        prices = S * u ** (i - np.arange(i + 1)) * d ** np.arange(i + 1)
        values = disc * (p * values[:-1] + (1 - p) * values[1:])
        values = np.maximum(values, K - prices)
    return values[0]


def _asset_returns(rng, n):
    return rng.standard_normal((n, 5)) * 0.01 + 0.0005, float(rng.uniform(0.0, 0.0002))


@kernel(_asset_returns, size=20, bench_size=2_000_000, tags={"float-arg", "linalg", "dict-return", "reduction"},
        rtol=1e-8)
def min_variance_portfolio(returns, rf):
    """The minimum-variance portfolio (solve with the covariance), and its Sharpe ratio."""
    mu = returns.mean(axis=0)
    centered = returns - returns.mean(axis=0, keepdims=True)
    cov = centered.T @ centered / (returns.shape[0] - 1)
    ones = np.ones(len(mu))
    w = np.linalg.solve(cov, ones)
    w /= w.sum()
    ret = w @ mu
    vol = np.sqrt(w @ cov @ w)
    return {"weights": w, "return": ret, "vol": vol, "sharpe": (ret - rf) / vol}


def _options(rng, n):
    return rng.uniform(80, 120, n), float(rng.uniform(95.0, 105.0)), 0.03, rng.uniform(0.1, 0.4, n), 0.5


@kernel(_options, size=20, bench_size=100_000, tags={"float-arg", "scalar-loop", "inplace-loop"}, rtol=1e-9)
def black_scholes_math(S, K, r, sigma, T):
    """European calls one option at a time, the normal CDF from math.erf (no SciPy), as a first course writes it."""
    out = np.empty(len(S))
    for i in range(len(S)):
        d1 = (math.log(S[i] / K) + (r + 0.5 * sigma[i] ** 2) * T) / (sigma[i] * math.sqrt(T))
        d2 = d1 - sigma[i] * math.sqrt(T)
        nd1 = 0.5 * (1 + math.erf(d1 / math.sqrt(2)))
        nd2 = 0.5 * (1 + math.erf(d2 / math.sqrt(2)))
        out[i] = S[i] * nd1 - K * math.exp(-r * T) * nd2
    return out


def _edge_list(rng, n):
    m = 4 * n
    src = rng.integers(0, n, m)
    dst = rng.integers(0, n, m)
    w = rng.uniform(1.0, 10.0, m)
    return src, dst, w, n, int(rng.integers(0, n))


@kernel(_edge_list, size=8, bench_size=1500,
        tags={"int-arg", "scalar-loop", "data-control", "inplace-loop", "gather", "builtins"})
def shortest_paths_edge_list(src, dst, w, n, source):
    """Bellman-Ford shortest paths over an edge list, stopping early when no edge relaxes."""
    dist = np.full(n, np.inf)
    dist[source] = 0.0
    for _ in range(n - 1):
        changed = False
        for e in range(len(src)):
            if dist[src[e]] + w[e] < dist[dst[e]]:
                dist[dst[e]] = dist[src[e]] + w[e]
                changed = True
        if not changed:
            break
    return dist


def _graph_and_start(rng, n):
    m = int(1.25 * n)
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    a = np.zeros((n, n), dtype=bool)
    a[src, dst] = True
    a = a | a.T
    return a, int(rng.integers(0, n))


@kernel(_graph_and_start, size=12, bench_size=12000, tags={"int-arg", "data-control", "int-dtype"}, rtol=0)
def bfs_levels(adj, start):
    """Breadth-first levels by boolean frontier expansion; -1 for unreachable nodes."""
    n = adj.shape[0]
    level = np.full(n, -1)
    frontier = np.zeros(n, dtype=bool)
    frontier[start] = True
    depth = 0
    while frontier.any():
        level[frontier] = depth
        reached = adj[frontier].any(axis=0)
        frontier = reached & (level < 0)
        depth += 1
    return level


def _weights(rng, n):
    w = rng.uniform(1.0, 10.0, (n, n))
    w[rng.random((n, n)) < 0.5] = np.inf
    np.fill_diagonal(w, 0.0)
    return w, int(rng.integers(0, n))


@kernel(_weights, size=10, bench_size=1500, tags={"int-arg", "data-control", "builtins", "tuple-return"})
def dijkstra_dense(W, source):
    """O(n^2) Dijkstra on a dense weight matrix: argmin over the unvisited nodes, relax a row."""
    n = W.shape[0]
    dist = np.full(n, np.inf)
    prev = np.full(n, -1)
    visited = np.zeros(n, dtype=bool)
    dist[source] = 0.0
    for _ in range(n):
        u = int(np.argmin(np.where(visited, np.inf, dist)))
        if np.isinf(dist[u]):
            break
        visited[u] = True
        cand = dist[u] + W[u]
        better = (cand < dist) & ~visited
        dist = np.where(better, cand, dist)
        prev[better] = u
    return dist, prev


@kernel(_graph_and_start, size=12, bench_size=2000, tags={"int-arg", "data-control", "int-dtype", "tuple-return"},
        rtol=0)
def label_components(adj, start):
    """Connected components by min-label propagation; also the size of the start node's component."""
    n = adj.shape[0]
    labels = np.arange(n)
    while True:
        neighbour_min = np.where(adj, labels[None, :], n).min(axis=1)
        new = np.minimum(labels, neighbour_min)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels, int((labels == labels[start]).sum())


def _points(rng, n):
    return rng.standard_normal((n, 4)), rng.standard_normal((n // 2, 4)), int(rng.choice([3, 4]))


@kernel(_points, size=12, bench_size=2500, tags={"int-arg", "gather", "tuple-return", "int-dtype"})
def knn_einsum(X, Q, k):
    """k nearest neighbours by the expanded squared distance (einsum for the norms), argsort, take_along_axis."""
    xx = np.einsum("ij,ij->i", X, X)
    qq = np.einsum("ij,ij->i", Q, Q)
    d2 = np.maximum(qq[:, None] + xx[None, :] - 2 * Q @ X.T, 0.0)
    idx = np.argsort(d2, axis=1, kind="stable")[:, :k]
    return idx, np.sqrt(np.take_along_axis(d2, idx, axis=1))


def _labelled(rng, n):
    c = int(rng.choice([3, 4]))
    y = np.arange(n) % c
    X = rng.standard_normal((n, 3)) + y[:, None] * 1.5
    return X, y, c, rng.standard_normal((n // 2, 3)) + 1.0


@kernel(_labelled, size=24, bench_size=400_000,
        tags={"int-arg", "dynamic-shape", "list-build", "int-dtype", "tuple-return"}, rtol=1e-9)
def gaussian_nb(X, y, n_classes, X_test):
    """Gaussian naive Bayes: per-class means and variances from boolean masks, log-likelihoods, argmax."""
    means, variances, priors = [], [], []
    for c in range(n_classes):
        Xc = X[y == c]
        means.append(Xc.mean(axis=0))
        variances.append(Xc.var(axis=0) + 1e-9)
        priors.append(len(Xc) / len(X))
    mu, var = np.array(means), np.array(variances)
    log_prior = np.log(np.array(priors))
    ll = -0.5 * (np.log(2 * np.pi * var)[None] + (X_test[:, None, :] - mu[None]) ** 2 / var[None]).sum(axis=2)
    scores = ll + log_prior
    return scores.argmax(axis=1), scores


def _logits(rng, n):
    c = 5
    return rng.standard_normal((n, c)) * 3, rng.integers(0, c, n)


@kernel(_logits, size=16, bench_size=1_000_000, tags={"gather", "tuple-return", "reduction"}, rtol=1e-9)
def softmax_xent(logits, labels):
    """Softmax cross-entropy and its gradient, the CS231n way (keepdims, fancy indexing, in-place -= 1)."""
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    probs = exp / exp.sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(n), labels]).mean()
    grad = probs.copy()
    grad[np.arange(n), labels] -= 1
    grad /= n
    return loss, grad


def _qkv(rng, n):
    d = 8
    return rng.standard_normal((n, d)), rng.standard_normal((d, d)) / 3, rng.standard_normal((d, d)) / 3, \
        rng.standard_normal((d, d)) / 3


@kernel(_qkv, size=8, bench_size=1500, tags={"reduction"}, rtol=1e-9)
def causal_attention(x, Wq, Wk, Wv):
    """Single-head causal self-attention with layer norm first (a minimal GPT block without the MLP)."""
    h = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    q, k, v = h @ Wq, h @ Wk, h @ Wv
    T, d = q.shape
    scores = np.einsum("td,sd->ts", q, k) / np.sqrt(d)
    mask = np.triu(np.ones((T, T), dtype=bool), k=1)
    scores = np.where(mask, -np.inf, scores)
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    return x + weights @ v


def _cloud(rng, n):
    a = rng.standard_normal((n // 2, 2)) * 0.3
    b = rng.standard_normal((n - n // 2, 2)) * 0.3 + 2.0
    return np.vstack([a, b]), float(rng.uniform(0.8, 1.2)), 2


@kernel(_cloud, size=12, bench_size=400, tags={"float-arg", "int-arg", "linalg", "reduction", "tuple-return"}, rtol=1e-7)
def spectral_embedding(X, sigma, k):
    """A normalized-Laplacian spectral embedding of a point cloud (the first step of spectral clustering)."""
    sq = np.sum(X ** 2, axis=1)
    d2 = sq[:, np.newaxis] + sq[np.newaxis, :] - 2 * X.dot(X.T)
    A = np.exp(-np.maximum(d2, 0) / (2 * sigma ** 2))
    np.fill_diagonal(A, 0)
    deg = A.sum(axis=1)
    D = np.diag(1 / np.sqrt(deg))
    L = np.eye(len(X)) - D @ A @ D
    vals, vecs = np.linalg.eigh(L)
    emb = vecs[:, :k]
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    return vals[:k], np.abs(emb)


def _shapes(rng, n):
    A = rng.standard_normal((n, 3))
    theta = rng.uniform(0, np.pi)
    R = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    return A, A @ R.T * 2.0 + 0.01 * rng.standard_normal((n, 3)) + 1.0


@kernel(_shapes, size=10, bench_size=500_000, tags={"linalg", "tuple-return"}, rtol=1e-7)
def procrustes_align(A, B):
    """Orthogonal Procrustes: the rotation (and scale) that best maps centred A onto centred B, by SVD, with
    the reflection fixed through the sign of a determinant."""
    a0 = A - A.mean(0)
    b0 = B - B.mean(0)
    H = a0.T @ b0
    U, S, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(Vt.T @ U.T))
    D = np.diag([1.0, 1.0, d])
    R = Vt.T @ D @ U.T
    scale = S.sum() / (a0 ** 2).sum()
    return R, scale, np.linalg.norm(scale * a0 @ R.T - b0)


def _table(rng, n):
    t = rng.standard_normal((n, 4)) * np.array([1.0, 10.0, 0.1, 5.0]) + np.array([0.0, 50.0, 1.0, -3.0])
    t[rng.random((n, 4)) < 0.1] = np.nan
    t[0, :] = 1.0
    return t, float(rng.choice([2.5, 3.0]))


@kernel(_table, size=20, bench_size=1_000_000, tags={"float-arg", "gather"}, rtol=1e-9)
def impute_and_clip(table, z):
    """Fill NaNs with the column means (np.where over np.isnan), then clip outliers at z standard deviations."""
    col_mean = np.nanmean(table, axis=0)
    filled = np.where(np.isnan(table), np.take(col_mean, np.arange(table.shape[1]))[None, :], table)
    mu = filled.mean(axis=0, keepdims=True)
    sd = filled.std(axis=0, ddof=1, keepdims=True)
    return np.clip(filled, mu - z * sd, mu + z * sd)


def _id_sets(rng, n):
    return rng.integers(0, 3 * n, n), rng.integers(0, 3 * n, n)


@kernel(_id_sets, size=30, bench_size=50_000, tags={"dynamic-shape", "int-dtype", "tuple-return"}, rtol=0)
def set_algebra(a, b):
    """Set algebra on two arrays of ids (intersect1d, setdiff1d, union1d, isin)."""
    common = np.intersect1d(a, b)
    only_a = np.setdiff1d(a, b)
    both = np.union1d(a, b)
    in_b = np.isin(a, b)
    return common, only_a, both.size, in_b.sum()


def _features(rng, n):
    base = rng.standard_normal((n, 3))
    X = np.hstack([base, base[:, :2] * 0.9 + 0.1 * rng.standard_normal((n, 2)), rng.standard_normal((n, 1))])
    return X, float(rng.choice([0.7, 0.8]))


@kernel(_features, size=20, bench_size=500_000, tags={"float-arg", "dynamic-shape", "tuple-return", "int-dtype"})
def correlated_pairs(X, thresh):
    """The correlation matrix of the columns and the pairs above a threshold, from the upper triangle's indices."""
    C = np.corrcoef(X, rowvar=False)
    iu = np.triu_indices(C.shape[0], k=1)
    strong = np.abs(C[iu]) > thresh
    pairs = np.column_stack([iu[0][strong], iu[1][strong]])
    return C, pairs


def _mask_img(rng, n):
    return rng.random((n, n)), float(rng.uniform(0.6, 0.8))


@kernel(_mask_img, size=10, bench_size=2000, tags={"float-arg", "dynamic-shape", "tuple-return", "int-dtype"})
def bright_spots(img, level):
    """Pixels above a level: their centroid (np.where of the mask), bounding box (np.argwhere) and count."""
    rows, cols = np.where(img > level)
    centroid = np.array([rows.mean(), cols.mean()])
    coords = np.argwhere(img > level)
    bbox = coords.min(axis=0), coords.max(axis=0)
    return centroid, bbox, np.count_nonzero(img > level)


def _dirichlet(rng, n):
    return rng.random((n, 3)),


@kernel(_dirichlet, size=8, bench_size=200_000, tags={"tuple-return"})
def item_and_tolist(X):
    """Python numbers out of arrays: .item() of a reduction, float() of each row's maximum in a comprehension."""
    total = X.sum().item()
    rows = X.shape[0]
    per_row = [float(r.max()) for r in X]
    best = max(per_row)
    return total / rows, best, np.asarray(per_row).argsort()


def _walk(rng, n):
    return rng.standard_normal((n, 2)), float(rng.uniform(0.5, 1.0))


@kernel(_walk, size=20, bench_size=1_000_000, tags={"float-arg", "tuple-return", "reduction"})
def trajectory_stats(steps_xy, scale):
    """A 2-D random walk's path, its radius of gyration, mean squared displacement at a few lags, and
    the final position as a 0-d array."""
    path = np.cumsum(steps_xy * scale, axis=0)
    centre = path.mean(axis=0)
    rg = np.sqrt(((path - centre) ** 2).sum(axis=1).mean())
    msd = np.array([((path[lag:] - path[:-lag]) ** 2).sum(axis=1).mean() for lag in (1, 2, 4)])
    far = np.asarray(np.abs(path).max())
    return rg, msd, far
