"""Native regions with np.reshape and reductions along one axis (runtime/native/lanes.py), differential
against eager NumPy, and checked to have run natively (the explain report)."""
import numpy as np
from hypothesis import example, given, settings, strategies as st

import distjit
from tests.runtime.test_native_views import _eager_and_native, _native_only, _same


def pool_windows(x, pool):
    N, C, H, W = x.shape
    out = np.zeros((N, C, H // pool, W // pool))
    arg = np.zeros((N, C, H // pool, W // pool), dtype=np.int64)
    for i in range(H // pool):
        for j in range(W // pool):
            window = x[:, :, i * pool:(i + 1) * pool, j * pool:(j + 1) * pool].reshape(N, C, -1)
            out[:, :, i, j] = window.max(axis=2)
            arg[:, :, i, j] = window.argmax(axis=2)
    return out, arg


def column_extremes(a, n):
    # along the first axis of a 3-D array (strided lanes), and a reshape whose lengths come from the loop
    lo = np.zeros((a.shape[1], a.shape[2]), dtype=a.dtype)
    at = np.zeros(a.shape[1] * a.shape[2], dtype=np.int64)
    last = np.zeros((1, 1), dtype=np.int64)
    for k in range(n):
        lo = lo + a.min(axis=0)
        at = at + np.argmin(a, axis=0).reshape(-1)
        last = np.argmax(a.reshape(a.shape[0], k + 1, -1), axis=-1)
    return lo, at, last


_pool, _columns = distjit.optimize(distjit.script(pool_windows)), distjit.optimize(distjit.script(column_extremes))


@given(st.integers(1, 7), st.integers(1, 7), st.integers(1, 3), st.integers(0, 2**32 - 1))
@settings(max_examples=12, deadline=None)
def test_windowed_max_and_argmax_are_numpys_bit_for_bit(h, w, pool, seed):
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([-1.5, -0.0, 0.0, 2.0, np.nan, np.inf, -np.inf]), (2, 2, h, w)) \
        if seed % 2 else rng.standard_normal((2, 2, h, w))
    both = _eager_and_native(_pool, pool_windows, x, pool)
    _native_only(_pool)
    got, expected = both
    # equal in value: where +0.0 and -0.0 tie, the zero's sign is not promised (README's contract)
    assert all(_same(g, e) for g, e in zip(got, expected))


@given(st.integers(0, 3), st.integers(1, 3), st.integers(0, 4), st.integers(0, 2**32 - 1))
@settings(max_examples=12, deadline=None)
def test_reductions_along_an_axis_and_reshapes_match_numpy_and_raise_as_it_does(d0, d1, d2, seed):
    # d0 == 0 reduces empty lanes (ValueError); a reshape into k + 1 rows that do not divide raises ValueError
    rng = np.random.default_rng(seed)
    a = rng.integers(-3, 4, (d0, d1, d2)).astype(np.int32)
    both = _eager_and_native(_columns, column_extremes, a, 2)
    _native_only(_columns)
    if both is not None:
        assert all(_same(g, e) for g, e in zip(*both))


def axis_sums(a, n):
    # sums along every axis of an array the region made (C-contiguous), with and without keepdims
    s0 = np.zeros((a.shape[1], a.shape[2]))
    s1 = np.zeros((a.shape[0], 1, a.shape[2]))
    s2 = np.zeros((a.shape[0], a.shape[1]))
    for k in range(n):
        b = a * (k + 1.0)
        s0 = b.sum(axis=0)
        s1 = b.sum(axis=1, keepdims=True)
        s2 = np.sum(b, axis=-1)
    return s0, s1, s2


def row_normalize(z, n):
    # a softmax's reductions without its exp (which the C library rounds its own way): max and sum along the
    # rows with keepdims, and an argmax along the columns with keepdims
    p = np.zeros(z.shape)
    at = np.zeros((1, z.shape[1]), dtype=np.int64)
    for k in range(n):
        e = (z - z.max(axis=1, keepdims=True)) * (k + 0.5) - 1.0
        p = e / e.sum(axis=1, keepdims=True)
        at = np.argmax(e, axis=0, keepdims=True)
    return p, at


_sums, _normalize = distjit.optimize(distjit.script(axis_sums)), distjit.optimize(distjit.script(row_normalize))
_LENGTHS = st.sampled_from([0, 1, 2, 7, 8, 9, 17, 130, 300])


@given(_LENGTHS, _LENGTHS, _LENGTHS, st.integers(0, 2**32 - 1))
@example(2, 300, 1, 0).via("a lane of more than 128 elements: pairwise halves")
@example(3, 130, 9, 1).via("a middle axis over inner rows: one by one")
@example(300, 1, 1, 2).via("the first axis, every other of length 1: one lane")
@example(0, 7, 0, 3).via("empty")
@settings(max_examples=20, deadline=None)
def test_sums_along_an_axis_are_numpys_bit_for_bit(d0, d1, d2, seed):
    # magnitudes spread over twelve decades: a sum in another order than NumPy's rounds differently
    if d0 * d1 * d2 > 20000:
        d0 = min(d0, 2)
    rng = np.random.default_rng(seed)
    shape = (d0, d1, d2)
    a = rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 7, shape)
    both = _eager_and_native(_sums, axis_sums, a, 2)
    _native_only(_sums)
    assert all(_same(g, e) for g, e in zip(*both))


@given(st.integers(0, 4), _LENGTHS, st.integers(0, 2**32 - 1))
@settings(max_examples=12, deadline=None)
def test_reductions_with_keepdims_match_numpy_and_raise_as_it_does(rows, cols, seed):
    # an empty row raises NumPy's ValueError (max of nothing)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((rows, cols)) * 10.0 ** rng.integers(-6, 7, (rows, cols))
    both = _eager_and_native(_normalize, row_normalize, z, 2)
    _native_only(_normalize)
    if both is not None:
        assert all(_same(g, e) for g, e in zip(*both))
