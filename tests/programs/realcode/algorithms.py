"""Algorithms on arrays: shortest paths (Floyd-Warshall, PolyBench's and the vectorized one),
dynamic programming (LCS, edit distance, 0/1 knapsack, PolyBench's nussinov), FFTs written out
(iterative radix-2 with bit reversal, and the recursive one), bitwise scalar loops (popcount,
xorshift), a Hillis-Steele scan and the sieve of Eratosthenes."""
import numpy as np

from tests.programs.realcode.kernel import kernel


def _int_graph(rng, n):
    path = rng.integers(1, 100, (n, n)).astype(np.int32)
    path[rng.random((n, n)) < 0.3] = 999
    np.fill_diagonal(path, 0)
    return (path,)


@kernel(_int_graph, size=6, bench_size=250,
        tags={"scalar-loop", "inplace-loop", "mutates-arg", "returns-none", "int-dtype"}, rtol=0)
def floyd_warshall(path):
    """PolyBench's floyd-warshall with the j loop vectorized."""
    N = path.shape[0]
    for k in range(N):
        for i in range(N):
            path[i, :] = np.minimum(path[i, :], path[i, k] + path[k, :])


def _weighted_graph(rng, n):
    w = rng.uniform(1.0, 10.0, (n, n))
    w[rng.random((n, n)) < 0.5] = np.inf
    np.fill_diagonal(w, 0.0)
    return (w,)


@kernel(_weighted_graph, size=8, bench_size=300, tags={"tuple-return"}, rtol=0)
def floyd_warshall_paths(weights):
    """All-pairs distances and the next hop of each shortest path (np.inf where there is no edge)."""
    n = weights.shape[0]
    dist = weights.copy()
    nxt = np.where(np.isfinite(weights), np.arange(n)[None, :], -1)
    for k in range(n):
        through_k = dist[:, k, np.newaxis] + dist[np.newaxis, k, :]
        better = through_k < dist
        dist = np.where(better, through_k, dist)
        nxt = np.where(better, nxt[:, k, np.newaxis], nxt)
    return dist, nxt


def _two_sequences(rng, n):
    return rng.integers(0, 4, n), rng.integers(0, 4, n + 2)


@kernel(_two_sequences, size=7, bench_size=300,
        tags={"data-control", "scalar-loop", "inplace-loop", "builtins", "int-dtype", "tuple-return"}, rtol=0)
def lcs_length(a, b):
    n, m = len(a), len(b)
    dp = np.zeros((n + 1, m + 1), dtype=np.int64)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if a[i - 1] == b[j - 1]:
                dp[i, j] = dp[i - 1, j - 1] + 1
            else:
                dp[i, j] = max(dp[i - 1, j], dp[i, j - 1])
    return dp[n, m], dp


@kernel(_two_sequences, size=6, bench_size=250,
        tags={"data-control", "scalar-loop", "inplace-loop", "builtins", "int-dtype"},
        rtol=0)
def edit_distance(s, t):
    n, m = len(s), len(t)
    d = np.zeros((n + 1, m + 1), dtype=int)
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost = 0 if s[i - 1] == t[j - 1] else 1
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + cost)
    return int(d[n, m])


def _knapsack_inputs(rng, n):
    weights = rng.integers(1, 8, n)
    values = rng.integers(1, 20, n)
    return weights, values, int(rng.integers(2 * n, 3 * n))


@kernel(_knapsack_inputs, size=5, bench_size=120,
        tags={"data-control", "int-arg", "scalar-loop", "inplace-loop", "builtins", "int-dtype"}, rtol=0)
def knapsack(weights, values, capacity):
    n = len(weights)
    dp = np.zeros((n + 1, capacity + 1), dtype=np.int64)
    for i in range(1, n + 1):
        for c in range(capacity + 1):
            if weights[i - 1] <= c:
                dp[i, c] = max(dp[i - 1, c], dp[i - 1, c - weights[i - 1]] + values[i - 1])
            else:
                dp[i, c] = dp[i - 1, c]
    return dp[n, capacity]


def _match(b1, b2):
    return 1 if b1 + b2 == 3 else 0


def _rna(rng, n):
    return rng.integers(0, 4, n).astype(np.int32), np.zeros((n, n), dtype=np.int32)


@kernel(_rna, size=7, bench_size=60,
        tags={"data-control", "scalar-loop", "inplace-loop", "helper", "builtins", "mutates-arg",
              "returns-none", "int-dtype"},
        rtol=0)
def nussinov(seq, table):
    """PolyBench's nussinov (RNA folding): the table is filled in place."""
    N = seq.shape[0]
    for i in range(N - 1, -1, -1):
        for j in range(i + 1, N):
            if j - 1 >= 0:
                table[i, j] = max(table[i, j], table[i, j - 1])
            if i + 1 < N:
                table[i, j] = max(table[i, j], table[i + 1, j])
            if j - 1 >= 0 and i + 1 < N:
                if i < j - 1:
                    table[i, j] = max(table[i, j], table[i + 1, j - 1] + _match(seq[i], seq[j]))
                else:
                    table[i, j] = max(table[i, j], table[i + 1, j - 1])
            for k in range(i + 1, j):
                table[i, j] = max(table[i, j], table[i, k] + table[k + 1, j])


def _signal(rng, n):
    return (rng.standard_normal(n) + 1j * rng.standard_normal(n),)


@kernel(_signal, size=16, bench_size=2 ** 15, tags={"complex", "bitwise", "inplace-loop"})
def fft_radix2(x):
    """Iterative Cooley-Tukey: bit-reversal permutation, then log2(n) stages of butterflies."""
    n = x.shape[0]
    X = x.astype(np.complex128)
    j = 0
    for i in range(1, n):
        bit = n >> 1
        while j & bit:
            j ^= bit
            bit >>= 1
        j ^= bit
        if i < j:
            X[i], X[j] = X[j], X[i]
    size = 2
    while size <= n:
        half = size // 2
        w = np.exp(-2j * np.pi * np.arange(half) / size)
        for start in range(0, n, size):
            even = X[start:start + half].copy()
            odd = X[start + half:start + size] * w
            X[start:start + half] = even + odd
            X[start + half:start + size] = even - odd
        size *= 2
    return X


@kernel(lambda rng, n: (rng.standard_normal(n),), size=16, bench_size=2 ** 14, tags={"complex"})
def fft_recursive(x):
    N = len(x)
    if N <= 1:
        return x.astype(complex)
    even = fft_recursive(x[0::2])
    odd = fft_recursive(x[1::2])
    factor = np.exp(-2j * np.pi * np.arange(N // 2) / N)
    return np.concatenate([even + factor * odd, even - factor * odd])


def _words(rng, n):
    nbits = int(rng.integers(20, 32))
    return rng.integers(0, 2 ** 31, n, dtype=np.int64), nbits


@kernel(_words, size=8, bench_size=1_000_000, tags={"int-arg", "bitwise", "inplace-loop", "int-dtype"}, rtol=0)
def popcount(values, nbits):
    counts = np.zeros_like(values)
    for shift in range(nbits):
        counts += (values >> shift) & 1
    return counts


@kernel(lambda rng, n: (rng.integers(0, 2 ** 20, n),), size=6, bench_size=60000,
        tags={"scalar-loop", "data-control", "bitwise", "builtins", "int-dtype"}, rtol=0)
def popcount_kernighan(values):
    counts = np.zeros(len(values), dtype=np.int64)
    for i in range(len(values)):
        v = int(values[i])
        c = 0
        while v:
            v &= v - 1
            c += 1
        counts[i] = c
    return counts


def _xorshift_inputs(rng, n):
    n_draws = int(rng.integers(8, 12))
    return rng.integers(1, 2 ** 63, n, dtype=np.uint64), n_draws


@kernel(_xorshift_inputs, size=8, bench_size=400000,
        tags={"int-arg", "time-loop", "bitwise", "inplace-loop", "int-dtype"}, rtol=0)
def xorshift64(state, n_draws):
    """Marsaglia's xorshift64 over many independent streams; one column of output per draw."""
    x = state.copy()
    out = np.empty((x.shape[0], n_draws), dtype=np.uint64)
    for t in range(n_draws):
        x ^= x << np.uint64(13)
        x ^= x >> np.uint64(7)
        x ^= x << np.uint64(17)
        out[:, t] = x
    return out


@kernel(lambda rng, n: (rng.standard_normal(n),), size=13, bench_size=2 ** 20, tags={"tuple-return"})
def hillis_steele_scan(x):
    n = len(x)
    y = x.copy()
    offset = 1
    while offset < n:
        y[offset:] = y[offset:] + y[:-offset]
        offset *= 2
    return y, np.cumsum(x)


@kernel(lambda rng, n: (int(rng.integers(n, 2 * n)),), size=40, bench_size=15_000_000,
        tags={"dynamic-shape", "data-control", "int-arg", "inplace-loop", "int-dtype", "builtins"}, rtol=0)
def sieve_of_eratosthenes(n):
    is_prime = np.ones(n + 1, dtype=bool)
    is_prime[:2] = False
    for i in range(2, int(n ** 0.5) + 1):
        if is_prime[i]:
            is_prime[i * i::i] = False
    return np.flatnonzero(is_prime)
