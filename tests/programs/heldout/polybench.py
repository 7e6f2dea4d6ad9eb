"""Held-out kernels in the style of the NumPy ports of PolyBench and of published NumPy benchmark
suites: arrays updated in place row by row, a scalar loop where the original C had one and slices
where a NumPy port vectorizes the inner loop, bit twiddling over a byte array, CSR by slices."""
import numpy as np

from tests.programs.realcode.kernel import kernel, spd_matrix


@kernel(lambda rng, n: (float(rng.uniform(0.5, 1.5)), np.tril(rng.random((n, n))), rng.random((n, n + 1))),
        size=6, bench_size=400, tags={"float-arg", "inplace-loop", "mutates-arg", "returns-none"})
def trmm(alpha, A, B):
    for i in range(B.shape[0]):
        for j in range(B.shape[1]):
            B[i, j] += np.dot(A[i + 1:, i], B[i + 1:, j])
    B *= alpha


def _paths(rng, n):
    w = rng.integers(1, 20, (n, n)).astype(np.int64)
    w[rng.random((n, n)) < 0.3] = 999
    np.fill_diagonal(w, 0)
    return (w,)


@kernel(_paths, size=6, bench_size=400, tags={"inplace-loop", "mutates-arg", "returns-none", "int-dtype"})
def floyd_warshall_outer(path):
    for k in range(path.shape[0]):
        path[:] = np.minimum(path[:], np.add.outer(path[:, k], path[k, :]))


@kernel(lambda rng, n: (np.tril(rng.random((n, n))) + n * np.eye(n), rng.random(n), np.zeros(n)), size=8,
        bench_size=3000, tags={"scalar-loop", "inplace-loop", "mutates-arg", "returns-none"})
def trisolv(L, x, b):
    for i in range(x.shape[0]):
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]


@kernel(lambda rng, n: (spd_matrix(rng, n),), size=6, bench_size=250,
        tags={"scalar-loop", "inplace-loop", "mutates-arg", "returns-none"})
def lu_rowwise(A):
    for i in range(A.shape[0]):
        for j in range(i):
            A[i, j] -= A[i, :j] @ A[:j, j]
            A[i, j] /= A[j, j]
        for j in range(i, A.shape[0]):
            A[i, j] -= A[i, :i] @ A[:i, j]


@kernel(lambda rng, n: (spd_matrix(rng, n),), size=6, bench_size=300,
        tags={"scalar-loop", "inplace-loop", "mutates-arg", "returns-none"})
def cholesky_rowwise(A):
    A[0, 0] = np.sqrt(A[0, 0])
    for i in range(1, A.shape[0]):
        for j in range(i):
            A[i, j] -= np.dot(A[i, :j], A[j, :j])
            A[i, j] /= A[j, j]
        A[i, i] -= np.dot(A[i, :i], A[i, :i])
        A[i, i] = np.sqrt(A[i, i])


@kernel(lambda rng, n: (rng.random((n + 3, n)) + np.eye(n + 3, n),), size=5, bench_size=250,
        tags={"scalar-loop", "inplace-loop", "mutates-arg", "tuple-return"})
def gramschmidt(A):
    Q = np.zeros_like(A)
    R = np.zeros((A.shape[1], A.shape[1]), dtype=A.dtype)
    for k in range(A.shape[1]):
        nrm = np.dot(A[:, k], A[:, k])
        R[k, k] = np.sqrt(nrm)
        Q[:, k] = A[:, k] / R[k, k]
        for j in range(k + 1, A.shape[1]):
            R[k, j] = np.dot(Q[:, k], A[:, j])
            A[:, j] -= Q[:, k] * R[k, j]
    return Q, R


@kernel(lambda rng, n: (rng.random((n, n)),), size=8, bench_size=800, tags={"scalar-loop", "reduction"})
def go_fast(a):
    trace = 0.0
    for i in range(a.shape[0]):
        trace += np.tanh(a[i, i])
    return a + trace


def _arc_inputs(rng, n):
    return tuple(rng.uniform(-1.5, 1.5, n) for _ in range(4))


@kernel(_arc_inputs, size=16, bench_size=1 << 21, tags={"reduction"})
def arc_distance(theta_1, phi_1, theta_2, phi_2):
    temp = np.sin((theta_2 - theta_1) / 2) ** 2 + np.cos(theta_1) * np.cos(theta_2) * np.sin((phi_2 - phi_1) / 2) ** 2
    distance_matrix = 2 * np.arctan2(np.sqrt(temp), np.sqrt(1 - temp))
    return distance_matrix


def _crc_inputs(rng, n):
    return (rng.integers(0, 256, n).astype(np.uint8),)


@kernel(_crc_inputs, size=6, bench_size=4000, tags={"scalar-loop", "bitwise", "int-dtype", "data-control"})
def crc16(data, poly=0x8408):
    crc = 0xFFFF
    for b in data:
        cur_byte = 0xFF & b
        for _ in range(0, 8):
            if (crc & 0x0001) ^ (cur_byte & 0x0001):
                crc = (crc >> 1) ^ poly
            else:
                crc >>= 1
            cur_byte >>= 1
    crc = (~crc & 0xFFFF)
    crc = (crc << 8) | ((crc >> 8) & 0xFF)
    return crc & 0xFFFF


def _hdiff_inputs(rng, n):
    """in_field has a halo of two cells around out_field and coeff."""
    I, J, K = n, n + 1, 3
    return rng.random((I + 4, J + 4, K)), rng.random((I, J, K)), rng.random((I, J, K))


@kernel(_hdiff_inputs, size=6, bench_size=120, tags={"inplace-loop", "mutates-arg", "returns-none"})
def hdiff(in_field, out_field, coeff):
    I, J, K = out_field.shape[0], out_field.shape[1], out_field.shape[2]
    lap_field = 4.0 * in_field[1:I + 3, 1:J + 3, :] - (in_field[2:I + 4, 1:J + 3, :] + in_field[0:I + 2, 1:J + 3, :]
                                                       + in_field[1:I + 3, 2:J + 4, :] + in_field[1:I + 3, 0:J + 2, :])
    res = lap_field[1:, 1:J + 1, :] - lap_field[:-1, 1:J + 1, :]
    flx_field = np.where((res * (in_field[2:I + 3, 2:J + 2, :] - in_field[1:I + 2, 2:J + 2, :])) > 0, 0, res)
    res = lap_field[1:I + 1, 1:, :] - lap_field[1:I + 1, :-1, :]
    fly_field = np.where((res * (in_field[2:I + 2, 2:J + 3, :] - in_field[2:I + 2, 1:J + 2, :])) > 0, 0, res)
    out_field[:, :, :] = in_field[2:I + 2, 2:J + 2, :] - coeff[:, :, :] * (
        flx_field[1:, :, :] - flx_field[:-1, :, :] + fly_field[:, 1:, :] - fly_field[:, :-1, :])


@kernel(lambda rng, n: (rng.standard_normal((n, n + 2, 4)),), size=4, bench_size=120, tags={"reduction"})
def softmax_lastaxis(x):
    tmp_max = np.max(x, axis=-1, keepdims=True)
    tmp_out = np.exp(x - tmp_max)
    tmp_sum = np.sum(tmp_out, axis=-1, keepdims=True)
    return tmp_out / tmp_sum


def _spmv_inputs(rng, n):
    """CSR of an n x (n+1) matrix with 3n nonzeros spread unevenly over the rows (shapes equal per size)."""
    counts = rng.multinomial(3 * n, np.full(n, 1.0 / n))
    counts = np.minimum(counts, n + 1)
    counts[0] += 3 * n - counts.sum()
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = np.concatenate([np.sort(rng.choice(n + 1, c, replace=False)) for c in counts]).astype(np.int64)
    return indptr, indices, rng.random(3 * n), rng.random(n + 1)


@kernel(_spmv_inputs, size=6, bench_size=3000, tags={"scalar-loop", "gather", "dynamic-shape", "reduction"})
def spmv(A_row, A_col, A_val, x):
    y = np.empty(A_row.size - 1, A_val.dtype)
    for i in range(A_row.size - 1):
        cols = A_col[A_row[i]:A_row[i + 1]]
        vals = A_val[A_row[i]:A_row[i + 1]]
        y[i] = vals @ x[cols]
    return y
