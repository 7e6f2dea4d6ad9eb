"""Data work: histograms and binning (np.histogram, bincount, digitize, a Python loop), group-bys,
CSR sparse matrix-vector products (loop over indptr, row slices, scatter-add), signal filters (FIR
by loops, np.convolve, an IIR recurrence, a separable Gaussian blur, a box blur), moving averages,
rolling and cumulative statistics, in-place normalization and dict summaries."""
import numpy as np

from tests.programs.realcode.kernel import kernel


def _samples_and_bins(rng, n):
    return rng.standard_normal(n), int(rng.choice([8, 10, 12]))


@kernel(_samples_and_bins, size=60, bench_size=8_000_000, tags={"int-arg", "binning", "tuple-return", "int-dtype"})
def histogram_np(x, bins):
    counts, edges = np.histogram(x, bins=bins, range=(-3.0, 3.0))
    centers = 0.5 * (edges[1:] + edges[:-1])
    density = counts / (counts.sum() * np.diff(edges))
    return counts, centers, density


def _loop_histogram_inputs(rng, n):
    x, bins = _samples_and_bins(rng, n)
    return x, bins, -2.5, 2.5


@kernel(_loop_histogram_inputs, size=30, bench_size=60000,
        tags={"data-control", "int-arg", "float-arg", "iterate-array", "builtins", "inplace-loop", "int-dtype"}, rtol=0)
def histogram_loop(x, n_bins, lo, hi):
    counts = np.zeros(n_bins, dtype=int)
    width = (hi - lo) / n_bins
    for v in x:
        idx = int((v - lo) / width)
        if 0 <= idx < n_bins:
            counts[idx] += 1
    return counts


def _groups(rng, n):
    n_groups = int(rng.choice([4, 5]))
    return rng.integers(0, n_groups, n), rng.random(n), n_groups


@kernel(_groups, size=40, bench_size=5_000_000, tags={"int-arg", "binning", "dict-return"})
def group_stats(labels, values, n_groups):
    sums = np.bincount(labels, weights=values, minlength=n_groups)
    counts = np.bincount(labels, minlength=n_groups)
    means = sums / np.maximum(counts, 1)
    sq = np.bincount(labels, weights=values ** 2, minlength=n_groups)
    var = sq / np.maximum(counts, 1) - means ** 2
    return {"sum": sums, "count": counts, "mean": means, "var": var}


def _digitize_inputs(rng, n):
    return rng.uniform(0.0, 10.0, n), np.sort(rng.uniform(1.0, 9.0, 5))


@kernel(_digitize_inputs, size=40, bench_size=4_000_000, tags={"binning", "ufunc-method", "tuple-return",
                                                              "builtins"})
def digitize_means(x, edges):
    idx = np.digitize(x, edges)
    sums = np.zeros(len(edges) + 1)
    np.add.at(sums, idx, x)
    counts = np.bincount(idx, minlength=len(edges) + 1)
    return idx, sums / np.maximum(counts, 1)


@kernel(lambda rng, n: (rng.integers(0, 6, n), rng.standard_normal(n)), size=40, bench_size=2_000_000,
        tags={"dynamic-shape", "binning", "ufunc-method", "tuple-return"})
def groupby_unique(keys, values):
    uniq, inverse = np.unique(keys, return_inverse=True)
    sums = np.zeros(len(uniq))
    np.add.at(sums, inverse, values)
    return uniq, sums


def _csr(rng, n):
    """A random CSR matrix: a nonzero diagonal and a fixed number of other nonzeros (30% of the matrix,
    at most 8 a row on average), so the arrays keep their shapes from seed to seed while the rows
    vary in length."""
    extra = min(int(0.3 * n * n), 8 * n)
    flat = rng.choice(n * (n - 1), extra, replace=False)
    rows, cols = flat // (n - 1), flat % (n - 1)
    cols += cols >= rows                                 # skip the diagonal
    rows = np.concatenate([rows, np.arange(n)])
    cols = np.concatenate([cols, np.arange(n)])
    order = np.lexsort((cols, rows))
    indptr = np.zeros(n + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(np.bincount(rows, minlength=n))
    return rng.standard_normal(len(rows)), cols[order].astype(np.int64), indptr


def _spmv_inputs(rng, n):
    data, indices, indptr = _csr(rng, n)
    return data, indices, indptr, rng.standard_normal(n)


@kernel(_spmv_inputs, size=7, bench_size=8000,
        tags={"data-control", "scalar-loop", "inplace-loop", "gather", "builtins"})
def csr_matvec(data, indices, indptr, x):
    n_rows = len(indptr) - 1
    y = np.zeros(n_rows)
    for i in range(n_rows):
        for jj in range(indptr[i], indptr[i + 1]):
            y[i] += data[jj] * x[indices[jj]]
    return y


@kernel(_spmv_inputs, size=7, bench_size=30000, tags={"dynamic-shape", "inplace-loop", "gather", "builtins"})
def csr_matvec_rows(data, indices, indptr, x):
    n = len(indptr) - 1
    y = np.empty(n)
    for i in range(n):
        start, end = indptr[i], indptr[i + 1]
        y[i] = np.dot(data[start:end], x[indices[start:end]])
    return y


@kernel(_spmv_inputs, size=7, bench_size=300000,
        tags={"dynamic-shape", "gather", "ufunc-method", "binning", "reduction"})
def csr_matvec_vectorized(data, indices, indptr, x):
    n_rows = indptr.shape[0] - 1
    row_of = np.repeat(np.arange(n_rows), np.diff(indptr))
    y = np.zeros(n_rows)
    np.add.at(y, row_of, data * x[indices])
    return y


def _fir_inputs(rng, n):
    return rng.standard_normal(n), rng.standard_normal(4)


@kernel(_fir_inputs, size=12, bench_size=40000, tags={"scalar-loop", "inplace-loop", "builtins"})
def fir_filter(x, h):
    y = np.zeros_like(x)
    for n in range(len(x)):
        for k in range(len(h)):
            if n - k >= 0:
                y[n] += h[k] * x[n - k]
    return y


@kernel(_fir_inputs, size=30, bench_size=5_000_000, tags={"dict-return"})
def convolve_modes(x, h):
    return {"full": np.convolve(x, h), "same": np.convolve(x, h, mode="same"),
            "valid": np.convolve(x, h, mode="valid"), "causal": np.convolve(x, h)[:len(x)]}


@kernel(lambda rng, n: (rng.standard_normal(n), float(rng.uniform(0.1, 0.5))), size=16, bench_size=200000,
        tags={"float-arg", "scalar-loop", "inplace-loop", "builtins"})
def iir_lowpass(x, alpha):
    y = np.empty_like(x)
    y[0] = x[0]
    for i in range(1, len(x)):
        y[i] = alpha * x[i] + (1 - alpha) * y[i - 1]
    return y


def _blur_inputs(rng, n):
    return rng.random((n, n + 3)), float(rng.uniform(0.8, 1.5)), int(rng.choice([1, 2]))


@kernel(_blur_inputs, size=9, bench_size=1300,
        tags={"int-arg", "float-arg", "inplace-loop", "builtins"})
def gaussian_blur(img, sigma, radius):
    offsets = np.arange(-radius, radius + 1)
    kernel_1d = np.exp(-offsets ** 2 / (2 * sigma ** 2))
    kernel_1d /= kernel_1d.sum()
    tmp = np.empty_like(img)
    for i in range(img.shape[0]):
        tmp[i] = np.convolve(img[i], kernel_1d, mode="same")
    out = np.empty_like(img)
    for j in range(img.shape[1]):
        out[:, j] = np.convolve(tmp[:, j], kernel_1d, mode="same")
    return out


@kernel(lambda rng, n: (rng.random((n, n)), int(rng.choice([1, 2]))), size=8, bench_size=1400,
        tags={"int-arg", "inplace-loop"})
def box_blur(img, k):
    H, W = img.shape
    padded = np.pad(img, k, mode="edge")
    out = np.zeros_like(img)
    for di in range(-k, k + 1):
        for dj in range(-k, k + 1):
            out += padded[k + di:k + di + H, k + dj:k + dj + W]
    out /= (2 * k + 1) ** 2
    return out


@kernel(lambda rng, n: (rng.standard_normal(n), int(rng.choice([3, 4, 5]))), size=20, bench_size=5_000_000,
        tags={"int-arg", "tuple-return"})
def moving_average(x, window):
    c = np.cumsum(np.insert(x, 0, 0.0))
    by_cumsum = (c[window:] - c[:-window]) / window
    by_convolve = np.convolve(x, np.ones(window) / window, mode="valid")
    return by_cumsum, by_convolve


@kernel(lambda rng, n: (rng.standard_normal(n), int(rng.choice([3, 4, 5]))), size=16, bench_size=8000,
        tags={"int-arg", "inplace-loop", "dict-return"})
def rolling_stats(x, window):
    n = len(x) - window + 1
    means = np.empty(n)
    stds = np.empty(n)
    highs = np.empty(n)
    for i in range(n):
        seg = x[i:i + window]
        means[i] = seg.mean()
        stds[i] = seg.std()
        highs[i] = seg.max()
    return {"mean": means, "std": stds, "max": highs}


@kernel(lambda rng, n: (rng.standard_normal(n) + 3.0,), size=12, bench_size=100000,
        tags={"iterate-array", "scalar-loop", "inplace-loop", "ufunc-method", "dict-return"})
def running_stats(x):
    """Welford's online mean and variance beside the vectorized running max and mean."""
    means = np.empty(len(x))
    variances = np.empty(len(x))
    mean = 0.0
    m2 = 0.0
    for i, v in enumerate(x):
        delta = v - mean
        mean += delta / (i + 1)
        m2 += delta * (v - mean)
        means[i] = mean
        variances[i] = m2 / (i + 1)
    return {"mean": means, "var": variances, "max": np.maximum.accumulate(x),
            "cummean": np.cumsum(x) / np.arange(1, len(x) + 1)}


def _columns_and_eps(rng, n):
    eps = 10.0 ** -int(rng.integers(6, 10))
    return rng.standard_normal((n, 4)) * np.array([1.0, 10.0, 0.1, 3.0]), eps


@kernel(_columns_and_eps, size=12,
        bench_size=2_000_000, tags={"float-arg", "mutates-arg", "tuple-return", "reduction"})
def standardize_inplace(X, eps):
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    X -= mu
    X /= sd + eps
    return mu, sd


@kernel(lambda rng, n: (rng.random((n, 5)) * 10.0,), size=10, bench_size=2_000_000,
        tags={"inplace-loop", "mutates-arg", "returns-none"})
def minmax_scale_columns(X):
    for j in range(X.shape[1]):
        col = X[:, j]
        X[:, j] = (col - col.min()) / (col.max() - col.min())


@kernel(lambda rng, n: (rng.gamma(2.0, 2.0, n),), size=25, bench_size=3_000_000,
        tags={"builtins", "dict-return", "reduction"})
def describe(x):
    q1, q3 = np.percentile(x, [25, 75])
    return {
        "n": len(x),
        "mean": x.mean(),
        "std": x.std(ddof=1),
        "min": x.min(),
        "q1": q1,
        "median": np.median(x),
        "q3": q3,
        "max": x.max(),
        "iqr": q3 - q1,
        "outliers": int(np.sum((x < q1 - 1.5 * (q3 - q1)) | (x > q3 + 1.5 * (q3 - q1)))),
    }


def _tone_inputs(rng, n):
    fs = float(rng.choice([100.0, 128.0]))
    t = np.arange(n) / fs
    f0 = float(rng.choice([5.0, 12.5]))
    return np.sin(2 * np.pi * f0 * t) + 0.3 * rng.standard_normal(n), fs


@kernel(_tone_inputs, size=64, bench_size=1_000_000, tags={"float-arg", "complex", "dict-return", "builtins"})
def power_spectrum(x, fs):
    X = np.fft.rfft(x - x.mean())
    freqs = np.fft.rfftfreq(len(x), d=1.0 / fs)
    power = np.abs(X) ** 2 / len(x)
    return {"freqs": freqs, "power": power, "phase": np.angle(X), "peak": freqs[np.argmax(power)],
            "re": X.real, "im": X.imag}
