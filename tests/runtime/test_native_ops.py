"""Differential tests of the native backend's dtype-dependent scalar ops (runtime/native/scalar_templates.py) and
its whole-vector ops (runtime/native/vectors.py) against eager NumPy: bit for bit, or within README's contract."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import distjit
from distjit.errors import ExecutionError
from tests.programs.realcode.algorithms import xorshift64
from tests.programs.realcode.linalg import durbin

INT_DTYPES = ["int64", "uint64", "int32", "uint16", "int8", "uint8"]


def _compiled(fn, *args):
    f = distjit.optimize(distjit.script(fn))
    got = f(*args)
    report = f.optimization.explain()
    assert "native (" in report and "NumPy code" not in report, report
    return got


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def _ints(rng, dtype, n):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)


# -- shifts, bitwise ops, invert ----------------------------------------------------------------------------------
def shift_by_counts(x, c):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i] = ((x[i] >> c[i]) ^ (x[i] << c[i])) | (x[i] & c[i])
    return out


@given(st.sampled_from(INT_DTYPES), st.integers(1, 30), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_shifts_by_any_count_are_numpys(dtype, n, seed):
    rng = np.random.default_rng(seed)
    x = _ints(rng, dtype, n)
    width = np.dtype(dtype).itemsize * 8
    # counts inside, at and beyond the width, and negative ones for a signed dtype (NumPy: all bits out)
    c = rng.integers(-3 if np.dtype(dtype).kind == "i" else 0, width + 10, n).astype(dtype)
    assert _same(_compiled(shift_by_counts, x, c), shift_by_counts(x, c))


def shift_by_int(x, s):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i] = (x[i] >> s) ^ (x[i] << s)
    return out


def popcount_like(x, bits):
    counts = np.zeros_like(x)
    for shift in range(bits):
        counts += (x >> shift) & 1
    return counts


@given(st.sampled_from(["int64", "uint64"]), st.integers(0, 200), st.integers(1, 20), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_shifts_by_a_python_int_are_numpys_nep50(dtype, s, n, seed):
    rng = np.random.default_rng(seed)
    x = _ints(rng, dtype, n)
    if dtype == "int64" and rng.random() < 0.3:
        s = -s                       # a negative Python int is an int64 count: NumPy shifts every bit out
    assert _same(_compiled(shift_by_int, x, s), shift_by_int(x, s))
    bits = min(abs(s), 80)
    assert _same(_compiled(popcount_like, x, bits), popcount_like(x, bits))


def test_uint64_xorshift_streams_are_numpys():
    rng = np.random.default_rng(5)
    state = rng.integers(1, 2**63, 50, dtype=np.uint64)
    f = distjit.optimize(distjit.script(xorshift64))
    assert _same(f(state, 9), xorshift64(state, 9))


def inverts(x, b):
    out = np.zeros_like(x)
    flags = np.zeros_like(b)
    for i in range(x.shape[0]):
        out[i] = ~x[i] ^ (x[i] | 5)
        flags[i] = ~b[i] & (b[i] | True) ^ b[i]
    return out, flags


@given(st.sampled_from(INT_DTYPES), st.integers(1, 20), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_invert_of_ints_and_bools_is_numpys(dtype, n, seed):
    rng = np.random.default_rng(seed)
    x, b = _ints(rng, dtype, n), rng.random(n) < 0.5
    got, expected = _compiled(inverts, x, b), inverts(x, b)
    assert all(_same(g, e) for g, e in zip(got, expected))


# -- powers, copysign, hypot --------------------------------------------------------------------------------------
def int_powers(x, e):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i] = np.power(x[i], e[i]) + x[i] ** 2
    return out


@given(st.sampled_from(INT_DTYPES), st.integers(1, 20), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_integer_powers_wrap_as_numpys(dtype, n, seed):
    rng = np.random.default_rng(seed)
    x = _ints(rng, dtype, n)
    e = rng.integers(0, 70, n).astype(dtype)
    assert _same(_compiled(int_powers, x, e), int_powers(x, e))


def test_an_integer_to_a_negative_power_raises_as_in_numpy():
    x, e = np.array([2, 3], dtype=np.int64), np.array([1, -1], dtype=np.int64)
    with pytest.raises(ValueError):
        int_powers(x, e)
    f = distjit.optimize(distjit.script(int_powers))
    with pytest.raises(ExecutionError) as info:
        f(x, e)
    assert isinstance(info.value.__cause__, ValueError)


_FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)


def signs_and_hypot(x, y):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = np.copysign(x[i], y[i]) + np.hypot(x[i], y[i])
    return out


@given(st.lists(st.tuples(_FLOATS, _FLOATS), min_size=1, max_size=20))
@settings(max_examples=40, deadline=None)
def test_copysign_and_hypot_are_numpys_bit_for_bit(pairs):
    x, y = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    with np.errstate(all="ignore"):
        assert _same(_compiled(signs_and_hypot, x, y), signs_and_hypot(x, y))


def float_powers(x, y):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = np.power(x[i], y[i])
    return out


def _ulps(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ia, ib = a.view(np.int64), b.view(np.int64)
    ia = np.where(ia < 0, np.int64(-2**63) - ia, ia)
    ib = np.where(ib < 0, np.int64(-2**63) - ib, ib)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return np.where(same, 0, np.abs(ia - ib))


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=15, deadline=None)
def test_float_power_is_within_the_stated_ulp_of_numpys(seed):
    rng = np.random.default_rng(seed)
    x = np.abs(rng.standard_normal(200)) * 10.0 ** rng.integers(-5, 5, 200)
    y = rng.standard_normal(200) * 10.0 ** rng.integers(-3, 2, 200)
    with np.errstate(all="ignore"):
        assert _ulps(_compiled(float_powers, x, y), float_powers(x, y)).max() <= 4


def py_powers(a, b, n):
    s = 0.0
    for i in range(n):
        s += a ** (b + i) + (a + i) ** 2
    return s


@given(st.floats(1e-3, 50.0), st.floats(-8.0, 8.0), st.integers(0, 12))
@settings(max_examples=40, deadline=None)
def test_python_float_powers_are_pythons_bit_for_bit(a, b, n):
    got, expected = _compiled(py_powers, a, b, n), py_powers(a, b, n)
    assert got == expected or math.isnan(got) and math.isnan(expected)


def test_python_zero_to_a_negative_power_raises():
    with pytest.raises(ZeroDivisionError):
        py_powers(0.0, -2.0, 1)
    f = distjit.optimize(distjit.script(py_powers))
    with pytest.raises(ExecutionError) as info:
        f(0.0, -2.0, 1)
    assert isinstance(info.value.__cause__, ZeroDivisionError)


# -- reductions of vectors ----------------------------------------------------------------------------------------
def window_stats(x, w, step):
    n = x.shape[0] - w + 1
    means, stds, variances = np.empty(n), np.empty(n), np.empty(n)
    highs, lows = np.empty(n), np.empty(n)
    where = np.zeros((n, 2), dtype=np.int64)
    for i in range(n):
        seg = x[i:i + w:step]
        means[i] = seg.mean()
        stds[i] = seg.std()
        variances[i] = np.var(seg[::-1], ddof=1)
        highs[i] = seg.max()
        lows[i] = np.min(seg)
        where[i, 0] = np.argmax(seg)
        where[i, 1] = seg.argmin()
    return means, stds, variances, highs, lows, where


def _values(rng, n, nans):
    x = rng.standard_normal(n) * 10.0 ** rng.integers(-6, 6, n)
    if nans:
        x[rng.random(n) < 0.05] = np.nan
    return x


@given(st.one_of(st.integers(2, 40), st.sampled_from([129, 300, 1030])), st.integers(1, 3), st.booleans(),
       st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_reductions_of_views_are_numpys(n, step, nans, seed):
    rng = np.random.default_rng(seed)
    x = _values(rng, n + 10, nans)
    w = min(n, x.shape[0])
    with np.errstate(all="ignore"):
        got, expected = _compiled(window_stats, x, w, step), window_stats(x, w, step)
    means, stds, variances, highs, lows, where = got
    # mean, var and std sum in NumPy's pairwise order: bit for bit; min/max equal in value (a zero's sign may
    # differ where zeros of both signs tie: README's contract); argmin/argmax the same index.
    for g, e in zip((means, stds, variances, where), (expected[0], expected[1], expected[2], expected[5])):
        assert _same(g, e)
    for g, e in zip((highs, lows), (expected[3], expected[4])):
        assert g.dtype == e.dtype and np.array_equal(g, e, equal_nan=True)


def int_column_extremes(X):
    out = np.zeros((X.shape[1], 4), dtype=X.dtype)
    for j in range(X.shape[1]):
        col = X[:, j]
        out[j, 0] = col.min()
        out[j, 1] = col.max()
        out[j, 2] = np.argmin(col)
        out[j, 3] = np.argmax(col)
    return out


@given(st.sampled_from(["int64", "uint8", "int32"]), st.integers(1, 30), st.integers(1, 4), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_integer_extremes_of_columns_are_numpys(dtype, rows, cols, seed):
    X = _ints(np.random.default_rng(seed), dtype, rows * cols).reshape(rows, cols)
    assert _same(_compiled(int_column_extremes, X), int_column_extremes(X))


def min_of_slices(x, k):
    s = 0.0
    for i in range(3):
        s += np.min(x[:k])
    return s


def test_min_of_an_empty_vector_raises_as_in_numpy():
    x = np.arange(4.0)
    with pytest.raises(ValueError):
        min_of_slices(x, 0)
    f = distjit.optimize(distjit.script(min_of_slices))
    assert f(x, 2) == min_of_slices(x, 2)
    with pytest.raises(ExecutionError) as info:
        f(x, 0)
    assert isinstance(info.value.__cause__, ValueError)


# -- np.flip, array creation, broadcast_to ------------------------------------------------------------------------
@given(st.integers(1, 40), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_flipped_views_read_as_numpys(n, seed):
    rng = np.random.default_rng(seed)
    r = 0.5 ** np.arange(n) * rng.uniform(0.1, 0.9)      # a Toeplitz sequence whose recursion is stable
    np.testing.assert_allclose(_compiled(durbin, r), durbin(r), rtol=1e-10, atol=1e-12)   # dots to rounding, amplified by cancellation


def flip_rows(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i] = np.flip(x[i]) * 2.0 - x[i]
    return out


def test_flip_in_an_elementwise_row_is_numpys_bit_for_bit():
    x = np.random.default_rng(3).standard_normal((5, 7))
    assert _same(_compiled(flip_rows, x), flip_rows(x))


def fresh_arrays(A, steps):
    total = 0.0
    for t in range(steps):
        Z = np.zeros_like(A)
        E = np.empty_like(A)
        C = np.copy(A[:, ::2]) if t % 2 else A.copy()
        B = np.broadcast_to(A[0], A.shape)
        S = np.broadcast_to(t * 0.5, A.shape)
        total += np.sum(Z + 1.0 + B * S) + np.sum(C * 2.0) + E.shape[1]
    return total


def test_array_creation_of_any_rank_is_numpys():
    A = np.random.default_rng(2).standard_normal((4, 6))
    assert _compiled(fresh_arrays, A, 5) == fresh_arrays(A, 5)


def blur(img, k):
    H, W = img.shape
    padded = np.pad(img, k, mode="edge")
    out = np.zeros_like(img)
    for di in range(-k, k + 1):
        for dj in range(-k, k + 1):
            out += padded[k + di:k + di + H, k + dj:k + dj + W]
    return out


@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 2), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_views_broadcast_to_a_matrix_add_as_numpys(h, w, k, seed):
    img = np.random.default_rng(seed).random((h, w))
    assert _same(_compiled(blur, img, k), blur(img, k))


def broadcast_rows(v, m):
    s = 0.0
    for t in range(3):
        B = np.broadcast_to(v, (m, v.shape[0])) + t
        s += np.sum(B)
    return s


def test_broadcast_to_raises_as_numpy_on_shapes_that_do_not_broadcast():
    v = np.arange(3.0)
    f = distjit.optimize(distjit.script(broadcast_rows))
    assert f(v, 4) == broadcast_rows(v, 4)
    with pytest.raises(ExecutionError) as info:
        f(v, -1)
    assert isinstance(info.value.__cause__, ValueError)


def add_int(x, s):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i] = (x[i] + s) >> 1
    return out


@pytest.mark.parametrize("dtype,s", [("uint8", 300), ("uint64", -1), ("int8", -129), ("int16", 40000)])
def test_a_python_int_out_of_the_dtypes_range_raises_as_nep50_says(dtype, s):
    x = np.arange(4).astype(dtype)
    with pytest.raises(OverflowError):
        add_int(x, s)
    f = distjit.optimize(distjit.script(add_int))
    assert _same(f(x, 3), add_int(x, 3))
    assert "NumPy code" not in f.optimization.explain()
    with pytest.raises(ExecutionError) as info:
        f(x, s)
    assert isinstance(info.value.__cause__, OverflowError)


def broadcast_fresh_rows(A, steps):
    s = 0.0
    for t in range(steps):
        B = np.broadcast_to(A[0:1] * 2.0 + t, A.shape)       # a fresh (1, n) array to (m, n): filled
        C = np.broadcast_to(A * 0.5, A.shape)                # equal shapes: itself
        s += np.sum(B - C)
    return s


@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1))
@settings(max_examples=15, deadline=None)
def test_fresh_arrays_broadcast_to_their_rank_are_numpys(m, n, seed):
    A = np.random.default_rng(seed).standard_normal((m, n))
    assert _compiled(broadcast_fresh_rows, A, 3) == broadcast_fresh_rows(A, 3)


def masks_in_loop(x, steps):
    total = 0
    for t in range(steps):
        m = np.zeros_like(x > 0)
        ones = np.ones_like(x, dtype=np.int32)
        total += np.max(m) + np.max(ones) + np.argmin(x > t)
    return total


def test_bool_and_int_arrays_made_in_a_loop_are_numpys():
    x = np.array([3.0, -1.0, 5.0, 0.5])
    assert _compiled(masks_in_loop, x, 4) == masks_in_loop(x, 4)
