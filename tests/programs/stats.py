"""Descriptive statistics and simple unsupervised learning: standardisation,
covariance/correlation, moments, weighted and robust estimates, ranks, k-means."""
import numpy as np

from tests.programs.registry import program


def _data(rng, n=50, d=4):
    return (rng.standard_normal((n, d)) * np.array([1.0, 2.0, 0.5, 3.0])[:d] + np.arange(d),)


@program(_data, dynamic_axes={0: {0: "N"}})
def standardize(x):
    return (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)


@program(_data, dynamic_axes={0: {0: "N"}})
def covariance(x):
    xc = x - np.mean(x, axis=0, keepdims=True)
    return xc.T @ xc / (x.shape[0] - 1)


@program(_data)
def correlation(x):
    xc = x - x.mean(axis=0)
    cov = xc.T @ xc / (x.shape[0] - 1)
    sd = np.sqrt((xc * xc).sum(axis=0) / (x.shape[0] - 1))
    return cov / np.outer(sd, sd)


@program(lambda rng: (rng.standard_normal(40) * 3.0 + 1.0,))
def zscores_and_outliers(x):
    z = (x - x.mean()) / x.std()
    return z, np.abs(z) > 2.0


@program(lambda rng: (rng.standard_normal((6, 20)), rng.uniform(0.1, 1.0, size=20)))
def weighted_mean_var(x, w):
    wn = w / w.sum()
    mean = (x * wn).sum(axis=1)
    var = ((x - mean[:, None]) ** 2 * wn).sum(axis=1)
    return mean, var


@program(lambda rng: (rng.gamma(2.0, 1.5, size=(3, 200)),), tags={"dict_output"})
def moments(x):
    """Mean, variance, skewness and excess kurtosis along the last axis."""
    mu = x.mean(axis=-1, keepdims=True)
    d = x - mu
    m2 = (d ** 2).mean(axis=-1)
    m3 = (d ** 3).mean(axis=-1)
    m4 = np.mean(d ** 4, axis=-1)
    return {
        "mean": mu[..., 0],
        "var": m2,
        "skew": m3 / m2 ** 1.5,
        "kurtosis": m4 / m2 ** 2 - 3.0,
    }


@program(lambda rng: (rng.standard_normal((5, 9)) * 10.0,))
def logsumexp(x):
    m = x.max(axis=1, keepdims=True)
    return (m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True)))[:, 0]


@program(lambda rng: (rng.uniform(-5.0, 5.0, size=(8, 3)),))
def minmax_scale(x):
    lo = x.min(axis=0)
    hi = x.max(axis=0)
    return (x - lo) / (hi - lo)


@program(lambda rng: (rng.standard_normal(64),))
def moving_average(x):
    """Window-8 moving average via cumulative sums (prepend a zero with concatenate)."""
    k = 8
    c = np.cumsum(np.concatenate([np.zeros(1), x]))
    return (c[k:] - c[:-k]) / k


@program(lambda rng: (rng.standard_normal((4, 15)),), tags={"tuple_output"})
def median_and_iqr(x):
    """Sort-based median and interquartile range (odd length, so the middle is an index)."""
    s = np.sort(x, axis=1)
    n = x.shape[1]
    median = s[:, n // 2]
    q1 = s[:, n // 4]
    q3 = s[:, (3 * n) // 4]
    return median, q3 - q1


@program(lambda rng: (rng.permutation(30).astype(np.float64) + 0.5 * rng.standard_normal(30),
                      rng.standard_normal(30)),
         tags={"int"})
def spearman_rank_correlation(x, y):
    rx = np.argsort(np.argsort(x)).astype(np.float64)
    ry = np.argsort(np.argsort(y, kind="stable")).astype(np.float64)
    n = x.shape[0]
    d = rx - ry
    return 1.0 - 6.0 * np.sum(d * d) / (n * (n * n - 1))


def _kmeans_inputs(rng):
    centers = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 6.0]])
    x = np.concatenate([c + rng.standard_normal((20, 2)) for c in centers])
    init = x[rng.choice(x.shape[0], size=3, replace=False)]
    return x, init


@program(_kmeans_inputs, dynamic_axes={0: {0: "N"}}, tags={"tuple_output"})
def kmeans_step(x, centers):
    """One Lloyd iteration: squared distances by broadcasting, argmin, means via one-hot matmul."""
    k = centers.shape[0]
    d2 = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(axis=-1)
    labels = np.argmin(d2, axis=1)
    onehot = (labels[:, None] == np.arange(k)[None, :]).astype(x.dtype)
    counts = onehot.sum(axis=0)
    sums = onehot.T @ x
    new_centers = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1.0)[:, None], centers)
    inertia = np.min(d2, axis=1).sum()
    return new_centers, labels, inertia


@program(lambda rng: (rng.uniform(0.0, 10.0, size=(3, 25)), rng.standard_normal((3, 25))),
         tags={"tuple_output"})
def simple_linear_regression(x, noise):
    """Row-wise least-squares line fit y = a + b x (closed form) plus R^2."""
    y = 1.5 + 0.7 * x + noise
    xm = x.mean(axis=1, keepdims=True)
    ym = y.mean(axis=1, keepdims=True)
    slope = ((x - xm) * (y - ym)).sum(axis=1) / ((x - xm) ** 2).sum(axis=1)
    intercept = ym[:, 0] - slope * xm[:, 0]
    resid = y - (intercept[:, None] + slope[:, None] * x)
    r2 = 1.0 - (resid ** 2).sum(axis=1) / ((y - ym) ** 2).sum(axis=1)
    return intercept, slope, r2
