"""Native lowerings that loops over small arrays need, differential against eager NumPy: np.stack of scalars
and of arrays (`np.array([x, y, z])` in a loop body), complex np.power by integers (escape-time fractals),
NumPy's lexicographic order of complex numbers, writes through a boolean mask, and `a[...] = v`.

Each program is run by eager NumPy and by distjit on equal inputs, and the test checks that its loop ran
natively (the explain report), so a passing test is about the native code and not the NumPy fallback.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import distjit
from tests.runtime.test_native_views import _eager_and_native, _native_only, _same


def _compiled(fn):
    return distjit.optimize(distjit.script(fn))


# -- np.stack / np.array of scalars and of rows -------------------------------------------------------------------
def lorenz_like(state, n):
    out = np.empty((n, 3))
    for i in range(n):
        x, y, z = state
        state = np.array([10.0 * (y - x), x * (28.0 - z) - y, x * y - 2.5 * z]) * 0.01 + state
        out[i] = state
    return out


def rotations(angles):
    acc = np.eye(2)
    total = np.zeros((2, 2))
    for k in range(angles.shape[0]):
        c, s = np.cos(angles[k]), np.sin(angles[k])
        G = np.array([[c, s], [-s, c]])
        total += G
        acc[0, 0] = acc[0, 0] * G[0, 0] + G[1, 0]
    return total, acc


def stack_rows(a, b, n):
    out = np.zeros((2, a.shape[0]), dtype=np.int32)
    for _ in range(n):
        out += np.stack([a, b])
    return out


def stack_mixed_dtypes(x, k, n):
    acc = np.zeros(3)
    for i in range(n):
        acc += np.array([x[i], k[i], i])         # float64, int32 and a Python int: one float64 row
    return acc


_lorenz, _rotations, _rows, _mixed = (_compiled(f) for f in (lorenz_like, rotations, stack_rows, stack_mixed_dtypes))


@given(st.integers(1, 12), st.integers(0, 2**32 - 1))
@settings(max_examples=15, deadline=None)
def test_np_array_of_scalars_runs_natively_bit_for_bit(n, seed):
    rng = np.random.default_rng(seed)
    state = rng.uniform(-5, 5, 3)
    got, expected = _eager_and_native(_lorenz, lorenz_like, state, n)
    _native_only(_lorenz)
    assert _same(got, expected)
    angles = rng.uniform(-3, 3, n)
    got, expected = _eager_and_native(_rotations, rotations, angles)
    _native_only(_rotations)
    # cos/sin are the C library's in a region (README's contract); the stacking itself adds no rounding
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-13, atol=1e-13)
    x, k = rng.standard_normal(n), rng.integers(-9, 9, n).astype(np.int32)
    got, expected = _eager_and_native(_mixed, stack_mixed_dtypes, x, k, n)
    _native_only(_mixed)
    assert _same(got, expected)


@given(st.integers(1, 6), st.integers(0, 3), st.integers(0, 2**32 - 1))
@settings(max_examples=15, deadline=None)
def test_stacked_rows_are_checked_for_equal_shapes_as_numpy(n, extra, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-50, 50, n).astype(np.int32)
    b = rng.integers(-50, 50, n + extra).astype(np.int32)     # extra > 0: NumPy's ValueError, from the region too
    result = _eager_and_native(_rows, stack_rows, a, b[:n] if extra == 0 else b, 3)
    _native_only(_rows)
    if extra == 0:
        assert _same(*result)
    else:
        assert result is None


# -- complex power and order --------------------------------------------------------------------------------------
def escape(c, n, p):
    z = np.zeros_like(c)
    count = np.zeros(c.shape, dtype=np.int64)
    for i in range(n):
        z = np.power(z, p) + c
        count += np.abs(z) <= 2.0
    return z, count


def powers(z, n):
    out = np.empty((n, z.shape[0]), dtype=z.dtype)
    for k in range(n):
        out[k] = np.power(z, k - 7)
    return out


finite = st.floats(-4.0, 4.0, allow_nan=False)
special = st.one_of(finite, st.sampled_from([0.0, -0.0, np.inf, -np.inf, np.nan, 1e200, 1e-200]))
_escape, _powers = _compiled(escape), _compiled(powers)


@given(st.integers(1, 20), st.sampled_from([2, 3, 4, 5, 2.0, -1]), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_complex_power_by_an_integer_is_numpys_bit_for_bit(n, p, seed):
    rng = np.random.default_rng(seed)
    c = rng.uniform(-1.5, 1.5, 12) + 1j * rng.uniform(-1.5, 1.5, 12)
    with np.errstate(all="ignore"):
        (z, count), (z_e, count_e) = _eager_and_native(_escape, escape, c, n, p)
    _native_only(_escape)
    assert _same(z, z_e) and _same(count, count_e)


@given(st.lists(st.tuples(special, special), min_size=1, max_size=8), st.integers(1, 21))
@settings(max_examples=30, deadline=None)
def test_complex_powers_from_minus_7_keep_numpys_special_cases(parts, n):
    z = np.array([complex(a, b) for a, b in parts])
    with np.errstate(all="ignore"):
        got, expected = _eager_and_native(_powers, powers, z, n)
    _native_only(_powers)
    assert _same(got, expected)


def fractional_power(z, n):
    for _ in range(n):
        z = np.power(z, 0.5) + 0.25
    return z


def test_a_fractional_complex_power_is_numpys_to_rounding():
    f = _compiled(fractional_power)
    z = np.array([1 + 1j, -2 + 0.5j, 0.25 - 3j])
    got, expected = _eager_and_native(f, fractional_power, z, 4)
    _native_only(f)
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def complex_order(z, w, n):
    out = np.zeros((4, z.shape[0]), dtype=bool)
    for _ in range(n):
        out[0] = z > w
        out[1] = z >= w
        out[2] = np.less(z, w)
        out[3] = w <= z
    return out


@given(st.lists(st.tuples(special, special, special, special), min_size=1, max_size=8))
@settings(max_examples=40, deadline=None)
def test_complex_comparisons_of_arrays_are_numpys_lexicographic_order(parts):
    f = _compiled(complex_order)
    z = np.array([complex(a, b) for a, b, _, _ in parts])
    w = np.array([complex(c, d) for _, _, c, d in parts])
    with np.errstate(all="ignore"):
        got, expected = _eager_and_native(f, complex_order, z, w, 2)
    _native_only(f)
    assert _same(got, expected)


def scalar_order(z, w):
    out = np.zeros(z.shape[0], dtype=bool)
    for i in range(z.shape[0]):
        out[i] = z[i] < w[i]
    return out


def test_a_comparison_of_complex_scalars_is_left_to_numpy():
    # NumPy's scalar operators skip its loops' NaN tests: the region does not lower that order
    f = _compiled(scalar_order)
    f(np.array([0j]), np.array([1 + 1j]))
    assert "NumPy code, as np.less" in f.optimization.explain()


# -- boolean masks, Ellipsis ----------------------------------------------------------------------------------
def masked_updates(a, b, n, v):
    for i in range(n):
        a[a > b] = v
        b[...] = b + 1.0
        a[(a < 0.0) | (b > 3.0)] = i
    return a, b


def masked_by(a, mask, n):
    for _ in range(n):
        a[mask] = 7
    return a


@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 4), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_writes_through_boolean_masks_match_numpy(rows, cols, n, seed):
    rng = np.random.default_rng(seed)
    f = _compiled(masked_updates)
    a, b = rng.standard_normal((rows, cols)), rng.standard_normal((rows, cols))
    got, expected = _eager_and_native(f, masked_updates, a, b, n, float(rng.standard_normal()))
    _native_only(f)
    for g, e in zip(got, expected):
        assert _same(g, e)


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (4, 2)])
def test_a_mask_of_another_shape_raises_numpys_index_error(shape):
    f = _compiled(masked_by)
    a = np.zeros((4, 3), dtype=np.int16)
    mask = np.random.default_rng(0).random(shape) < 0.5
    result = _eager_and_native(f, masked_by, a, mask, 2)
    _native_only(f)
    if shape == (4, 3):
        assert _same(*result)
    else:
        assert result is None


# -- small matrix products, transposes, traces, constant arrays ---------------------------------------------------
def rotate_and_track(A, thetas):
    Q = np.eye(A.shape[0])
    moments = np.zeros(thetas.shape[0])
    for k in range(thetas.shape[0]):
        c, s = np.cos(thetas[k]), np.sin(thetas[k])
        R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        A = R @ A @ R.T
        Q = Q @ R
        moments[k] = np.trace(A) + (A @ Q[0]) @ (Q[:, 1] @ A)
    return A, Q, moments


def int_products(A, B, v, n):
    acc = np.zeros((A.shape[0], B.shape[1]), dtype=A.dtype)
    for _ in range(n):
        acc += A @ B + np.trace(A)
        acc[0] += v @ B
        acc[:, 0] += A @ v
    return acc


_rotate, _int_products = _compiled(rotate_and_track), _compiled(int_products)


@given(st.integers(1, 8), st.integers(0, 2**32 - 1))
@settings(max_examples=15, deadline=None)
def test_small_matrix_products_in_a_loop_are_numpys_to_rounding(n, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((3, 3))
    got, expected = _eager_and_native(_rotate, rotate_and_track, A, rng.uniform(-3, 3, n))
    _native_only(_rotate)
    for g, e in zip(got, expected):        # BLAS sums in its own order (README's contract): to rounding
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2), st.integers(0, 2**32 - 1))
@settings(max_examples=15, deadline=None)
def test_integer_matrix_products_are_exact_and_check_their_shapes(m, k, extra, seed):
    rng = np.random.default_rng(seed)
    A = rng.integers(-9, 9, (m, k + extra))
    B = rng.integers(-9, 9, (k, m))
    v = rng.integers(-9, 9, k)
    result = _eager_and_native(_int_products, int_products, A, B, v, 2)
    _native_only(_int_products)
    if extra == 0:
        assert _same(*result)
    else:
        assert result is None          # NumPy's ValueError for mismatched core dimensions, from the region too


# -- np.roll and np.diff of vectors -------------------------------------------------------------------------------
def roll_and_diff(x, shift, n):
    out = np.zeros(max(x.shape[0] - 1, 0))
    for i in range(n):
        x = np.roll(x, shift + i) * 0.5 + x
        out += np.diff(x)
    return x, out


def ring_automaton(cells, n):
    history = np.zeros((n, cells.shape[0]), dtype=bool)
    for t in range(n):
        history[t] = cells
        cells = np.roll(cells, 1) ^ (cells | np.roll(cells, -1))
    return history


_roll_diff, _ring = _compiled(roll_and_diff), _compiled(ring_automaton)


@given(st.integers(0, 9), st.integers(-12, 12), st.integers(1, 4), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_roll_and_diff_of_vectors_are_numpys_bit_for_bit(size, shift, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(size)
    got, expected = _eager_and_native(_roll_diff, roll_and_diff, x, shift, n)
    _native_only(_roll_diff)
    for g, e in zip(got, expected):
        assert _same(g, e)
    cells = rng.random(max(size, 1)) < 0.5
    got, expected = _eager_and_native(_ring, ring_automaton, cells, n)
    _native_only(_ring)
    assert _same(got, expected)
