"""Held-out sequence and graph kernels: Needleman-Wunsch, longest increasing subsequence,
Bellman-Ford, matrix-chain order, Viterbi decoding, bubble sort."""
import numpy as np

from tests.programs.realcode.kernel import kernel


def _nw_inputs(rng, n):
    return rng.integers(0, 4, n), rng.integers(0, 4, n + 1), int(rng.integers(1, 4)), -1, int(rng.integers(-3, 0))


@kernel(_nw_inputs, size=6, bench_size=250, tags={"data-control", "int-arg", "scalar-loop", "inplace-loop", "builtins",
                                                  "int-dtype"}, rtol=0)
def needleman_wunsch(a, b, match, mismatch, gap):
    n, m = len(a), len(b)
    score = np.zeros((n + 1, m + 1), dtype=np.int64)
    score[:, 0] = gap * np.arange(n + 1)
    score[0, :] = gap * np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            diag = score[i - 1, j - 1] + (match if a[i - 1] == b[j - 1] else mismatch)
            score[i, j] = max(diag, score[i - 1, j] + gap, score[i, j - 1] + gap)
    return score


@kernel(lambda rng, n: (rng.standard_normal(n),), size=8, bench_size=1500,
        tags={"data-control", "scalar-loop", "inplace-loop", "builtins", "int-dtype", "tuple-return"}, rtol=0)
def longest_increasing_subsequence(x):
    n = len(x)
    length = np.ones(n, dtype=int)
    for i in range(1, n):
        for j in range(i):
            if x[j] < x[i] and length[j] + 1 > length[i]:
                length[i] = length[j] + 1
    return length.max(), length


def _edges(rng, n):
    n_edges = 3 * n
    source = int(rng.integers(0, n))
    return rng.integers(0, n, n_edges), rng.integers(0, n, n_edges), rng.uniform(1, 5, n_edges), n, source


@kernel(_edges, size=5, bench_size=150,
        tags={"data-control", "int-arg", "scalar-loop", "inplace-loop", "gather"}, rtol=0)
def bellman_ford(src, dst, weight, n_nodes, source):
    dist = np.full(n_nodes, np.inf)
    dist[source] = 0.0
    for _ in range(n_nodes - 1):
        for e in range(len(src)):
            u, v = src[e], dst[e]
            if dist[u] + weight[e] < dist[v]:
                dist[v] = dist[u] + weight[e]
    return dist


@kernel(lambda rng, n: (rng.integers(2, 30, n + 1),), size=6, bench_size=60,
        tags={"data-control", "scalar-loop", "inplace-loop", "builtins", "int-dtype", "tuple-return"}, rtol=0)
def matrix_chain_order(dims):
    n = len(dims) - 1
    cost = np.zeros((n, n), dtype=np.int64)
    split = np.zeros((n, n), dtype=np.int64)
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            cost[i, j] = np.iinfo(np.int64).max
            for k in range(i, j):
                q = cost[i, k] + cost[k + 1, j] + dims[i] * dims[k + 1] * dims[j + 1]
                if q < cost[i, j]:
                    cost[i, j] = q
                    split[i, j] = k
    return cost[0, n - 1], split


def _hmm_inputs(rng, n):
    S = 3
    trans = rng.random((S, S)) + 0.5
    trans /= trans.sum(axis=1, keepdims=True)
    emit = rng.random((S, 4)) + 0.2
    emit /= emit.sum(axis=1, keepdims=True)
    return np.log(np.full(S, 1.0 / S)), np.log(trans), np.log(emit), rng.integers(0, 4, n)


@kernel(_hmm_inputs, size=8, bench_size=30000, tags={"inplace-loop", "gather", "builtins", "tuple-return"})
def viterbi(log_init, log_trans, log_emit, obs):
    T = len(obs)
    S = len(log_init)
    score = np.zeros((T, S))
    back = np.zeros((T, S), dtype=int)
    score[0] = log_init + log_emit[:, obs[0]]
    for t in range(1, T):
        cand = score[t - 1][:, None] + log_trans
        back[t] = np.argmax(cand, axis=0)
        score[t] = cand.max(axis=0) + log_emit[:, obs[t]]
    path = np.zeros(T, dtype=int)
    path[-1] = np.argmax(score[-1])
    for t in range(T - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path, score[-1].max()


@kernel(lambda rng, n: (rng.standard_normal(n),), size=7, bench_size=600,
        tags={"data-control", "scalar-loop", "inplace-loop", "mutates-arg", "returns-none"})
def bubble_sort(arr):
    n = len(arr)
    for i in range(n):
        for j in range(0, n - i - 1):
            if arr[j] > arr[j + 1]:
                arr[j], arr[j + 1] = arr[j + 1], arr[j]
