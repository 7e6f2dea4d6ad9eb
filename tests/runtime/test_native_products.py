"""Differential tests of the native backend's small linear algebra inside loop regions (runtime/native/products.py:
matrix products, np.outer, np.transpose) and its arrays of a given shape (vectors.py: np.eye, np.identity,
np.zeros/ones/empty/full) against eager NumPy, with zero-size shapes, integer, float and complex dtypes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import distjit
from distjit.errors import ExecutionError
from tests.runtime.test_native_ops import _compiled, _same


def _close(got, expected):
    """Integer products bit for bit (NumPy's own loop); float and complex ones to rounding (NumPy's BLAS sums in
    blocks), with NaNs and infinities where NumPy has them."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if expected.dtype.kind in "iub":
        assert np.array_equal(got, expected)
        return
    tol = 1e-4 if expected.dtype in (np.float32, np.complex64) else 1e-10
    scale = max(1.0, float(np.nanmax(np.abs(expected[np.isfinite(expected)]), initial=0.0)))
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale, equal_nan=True)


def _array(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        return rng.integers(-50 if dtype.kind == "i" else 0, 50, shape).astype(dtype)
    x = rng.standard_normal(shape)
    if dtype.kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    x[rng.random(shape) < 0.4] = 0      # zero terms: the product skips those of finite rows
    return x.astype(dtype)


# -- matrix products -----------------------------------------------------------------------------------------------
def products(A, B, w, u, steps):
    P = np.zeros_like(A @ B)
    q = np.zeros_like(A @ w)
    r = np.zeros_like(u @ A)
    for s in range(steps):
        P = P + A @ B
        q = q + np.dot(A, w)
        r = r + np.matmul(u, A)
    return P, q, r


_DTYPES = ["float64", "complex128", "int32", "float32"]


@given(st.sampled_from(_DTYPES), st.integers(0, 6), st.integers(0, 6), st.integers(0, 6), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_matrix_products_in_a_loop_are_numpys(dtype, n, k, m, seed):
    rng = np.random.default_rng(seed)
    A, B = _array(rng, (n, k), dtype), _array(rng, (k, m), dtype)
    w, u = _array(rng, (k,), dtype), _array(rng, (n,), dtype)
    for g, e in zip(_compiled(products, A, B, w, u, 3), products(A, B, w, u, 3)):
        _close(g, e)


@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_zeros_times_infinities_are_nans_as_in_numpy(n, k, m, seed):
    rng = np.random.default_rng(seed)
    A, B = _array(rng, (n, k), "float64"), _array(rng, (k, m), "float64")
    A[rng.integers(n), rng.integers(k)] = 0.0
    B[rng.integers(k), rng.integers(m)] = rng.choice([np.inf, -np.inf, np.nan])
    assume(np.isnan(A @ B).any() or np.isinf(A @ B).any())
    w, u = B[:, 0].copy(), A[:, 0].copy()
    for g, e in zip(_compiled(products, A, B, w, u, 2), products(A, B, w, u, 2)):
        _close(g, e)


def by_sparse(R, M, steps):
    # each product reads a value the loop carries (a loop-invariant one would be computed outside the region)
    P, Q = M, M
    for s in range(steps):
        P = R @ P
        Q = Q @ R.T
    return P, Q


@given(st.integers(1, 6), st.integers(0, 2**32 - 1), st.sampled_from([np.inf, -np.inf, np.nan, 1.0]))
@settings(max_examples=25, deadline=None)
def test_products_by_a_rotation_or_a_permutation_are_numpys_with_infinities(n, seed, special):
    # the loops by the diagonal and the few more terms of either operand (NOTE: [Matrix products]), with a
    # value of the other operand that a skipped zero term would meet
    rng = np.random.default_rng(seed)
    R = np.eye(n)[rng.permutation(n)] if rng.random() < 0.5 else np.eye(n)
    p, q = rng.integers(n, size=2)
    R[p, q], R[q, p] = rng.standard_normal(2)
    M = _array(rng, (n, n), "float64")
    M[rng.integers(n), rng.integers(n)] = special
    with np.errstate(all="ignore"):
        for g, e in zip(_compiled(by_sparse, R, M, 2), by_sparse(R, M, 2)):
            _close(g, e)


@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_large_products_call_numpys_own_and_are_numpys(dtype):
    # above the size where the helper hands a dense product to NumPy (NOTE: [Matrix products]), and a sparse
    # one of the same size that it keeps
    rng = np.random.default_rng(7)
    A, B = _array(rng, (60, 50), dtype), _array(rng, (50, 70), dtype)
    A[:, ::2], B[1:, :] = 1, 2      # dense
    w, u = _array(rng, (50,), dtype), _array(rng, (60,), dtype)
    for g, e in zip(_compiled(products, A, B, w, u, 2), products(A, B, w, u, 2)):
        _close(g, e)
    M, v = _array(rng, (400, 300), dtype) + 1, _array(rng, (300,), dtype)
    S = np.eye(300, dtype=dtype)[::-1].copy()           # a permutation: kept by the sparse loops
    for g, e in zip(_compiled(products, M, S, v, M[:, 0].copy(), 2), products(M, S, v, M[:, 0].copy(), 2)):
        _close(g, e)


def mixed_product(A, B, steps):
    P = np.zeros_like(A.T @ B)
    for s in range(steps):
        P = A.T @ B + P
    return P


def test_a_product_of_mixed_dtypes_and_a_transposed_view_is_numpys():
    rng = np.random.default_rng(4)
    A, B = rng.integers(-5, 5, (4, 3)).astype(np.int32), rng.standard_normal((4, 2))
    _close(_compiled(mixed_product, A, B, 3), mixed_product(A, B, 3))
    Ai = A.astype(np.int8) * np.int8(30)                  # int8 sums wrap as NumPy's
    assert _same(_compiled(mixed_product, Ai, Ai, 2), mixed_product(Ai, Ai, 2))


def test_a_product_of_mismatched_lengths_raises_as_in_numpy():
    A, B = np.ones((3, 4)), np.ones((5, 2))
    with pytest.raises(ValueError):
        products(A, B, np.ones(4), np.ones(3), 1)
    f = distjit.optimize(distjit.script(mixed_product))
    with pytest.raises(ExecutionError) as info:
        f(np.ones((4, 3)), np.ones((5, 2)), 1)
    assert isinstance(info.value.__cause__, ValueError)


# -- np.outer and the rotations of a Jacobi sweep -------------------------------------------------------------------
def outer_updates(U, a, b, steps):
    for s in range(steps):
        U = U - np.outer(a, b)
    return U


@given(st.sampled_from(["float64", "int8", "complex128", "uint16"]), st.integers(0, 6), st.integers(0, 6),
       st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_outer_products_are_numpys_bit_for_bit(dtype, n, m, seed):
    rng = np.random.default_rng(seed)
    a, b, U = _array(rng, (n,), dtype), _array(rng, (m,), dtype), _array(rng, (n, m), dtype)
    with np.errstate(all="ignore"):
        got, expected = _compiled(outer_updates, U, a, b, 3), outer_updates(U, a, b, 3)
    if dtype == "complex128":
        _close(got, expected)       # NumPy's SIMD complex multiply fuses a multiply-add: to rounding
    else:
        assert _same(got, expected)


def outer_of_bools(a, b, steps):
    c = np.zeros((a.shape[0], b.shape[0]), dtype=bool)
    for s in range(steps):
        c = c | np.outer(a, b)
    return c


def test_an_outer_product_of_bools_is_numpys_logical_and():
    rng = np.random.default_rng(1)
    a, b = rng.random(5) < 0.5, rng.random(4) < 0.5
    assert _same(_compiled(outer_of_bools, a, b, 2), outer_of_bools(a, b, 2))


def rotations(A, sweeps):
    n = A.shape[0]
    V = np.eye(n)
    for sweep in range(sweeps):
        for p in range(n - 1):
            for q in range(p + 1, n):
                theta = 0.5 * np.arctan2(2 * A[p, q], A[q, q] - A[p, p])
                J = np.identity(n)
                J[p, p] = np.cos(theta)
                J[q, q] = np.cos(theta)
                J[p, q] = np.sin(theta)
                J[q, p] = -np.sin(theta)
                A = np.transpose(J) @ A @ J
                V = np.dot(V, J)
    return A, V


@given(st.integers(0, 7), st.integers(0, 2**32 - 1))
@settings(max_examples=15, deadline=None)
def test_jacobi_rotations_of_eye_transpose_and_products_are_numpys(n, seed):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n))
    A = M + M.T
    for g, e in zip(_compiled(rotations, A, 2), rotations(A, 2)):
        _close(g, e)


# -- arrays of a given shape ----------------------------------------------------------------------------------------
def shaped(n, m, k, fill, steps):
    total = np.zeros((n, m))
    I = np.identity(0, dtype=np.int32)
    Z = np.zeros((n, 0))
    O = np.ones(0, dtype=np.complex128)
    G = np.full(0, 3, dtype=np.int16)
    X = np.empty((0, n))
    for s in range(steps):
        E = np.eye(n, m, k)
        I = np.identity(m, dtype=np.int32)
        Z = np.zeros((n, s))
        O = np.ones(m, dtype=np.complex128)
        F = np.full((n, m), fill)
        G = np.full(s, 3, dtype=np.int16)
        X = np.empty((s, n))
        total = total + E * s + F
    return total, I, Z, O, G, X.shape


@given(st.integers(0, 6), st.integers(0, 6), st.integers(-7, 7), st.floats(-5, 5), st.integers(0, 4))
@settings(max_examples=30, deadline=None)
def test_eye_identity_zeros_ones_full_of_graph_ints_are_numpys(n, m, k, fill, steps):
    got, expected = _compiled(shaped, n, m, k, fill, steps), shaped(n, m, k, fill, steps)
    assert all(_same(g, e) for g, e in zip(got[:-1], expected[:-1])) and tuple(got[-1]) == expected[-1]


def eye_of(n, steps):
    t = 0.0
    for s in range(steps):
        t += np.eye(n - s).sum()
    return t


def test_a_negative_length_raises_as_in_numpy():
    with pytest.raises(ValueError):
        eye_of(1, 3)
    f = distjit.optimize(distjit.script(eye_of))
    assert f(4, 3) == eye_of(4, 3)
    with pytest.raises(ExecutionError) as info:
        f(1, 3)
    assert isinstance(info.value.__cause__, ValueError)


# -- np.sign of scalars --------------------------------------------------------------------------------------------
def signs(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = np.sign(x[i]) + np.sign(x[i] - x[0])
    return out


@given(st.sampled_from(["float64", "float32", "int16", "uint8"]),
       st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=12))
@settings(max_examples=30, deadline=None)
def test_sign_of_scalars_is_numpys(dtype, values):
    with np.errstate(all="ignore"):
        x = np.array(values, dtype=np.float64)
        if np.dtype(dtype).kind in "iu":
            x = np.nan_to_num(x, nan=0, posinf=3, neginf=-3).clip(-100, 100)
        x = x.astype(dtype)
        assert _same(_compiled(signs, x), signs(x))
