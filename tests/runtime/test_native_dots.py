"""Dots of vectors inside native loops (np.dot, np.matmul, np.linalg.norm: `_dot1` in runtime/native/lower.py),
differential against eager NumPy: of every dtype pair (NumPy's result dtype, as it casts both vectors), of
contiguous row slices and strided columns, of every length around the vector widths, with NaN and inf."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

import distjit

DTYPES = ["bool", "int8", "int32", "int64", "uint64", "float32", "float64", "complex128"]


def row_and_column_dots(A, B, rows, cols):
    for i in range(A.shape[0]):
        rows[i] = np.dot(A[i, :i], B[i, :i])          # a prefix of a row: contiguous, of every length below n
    for j in range(A.shape[1]):
        cols[j] = A[:, j] @ B[:, j]                   # a column: strided
    return rows, cols


def _matrix(rng, dtype, shape, specials):
    d = np.dtype(dtype)
    if d.kind == "b":
        return rng.random(shape) < 0.3
    if d.kind in "iu":
        info = np.iinfo(d)
        return rng.integers(info.min, info.max, shape, dtype=d, endpoint=True)
    x = rng.standard_normal(shape) + (1j * rng.standard_normal(shape) if d.kind == "c" else 0)
    if specials:
        flat = x.reshape(-1)
        picks = rng.integers(0, flat.size, 3)
        flat[picks] = rng.choice([np.nan, np.inf, -np.inf], 3)
    return x.astype(d)


def _close(got, expected, A, B, axis_products):
    """Ints and bools exactly (NumPy wraps as the native sum does); floats to rounding of the sum of |products|."""
    assert got.dtype == expected.dtype
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(got, expected)
        return
    eps = np.finfo(expected.dtype).eps
    with np.errstate(invalid="ignore", over="ignore"):
        scale = axis_products(np.abs(A.astype(expected.dtype)), np.abs(B.astype(expected.dtype)))
    n = max(A.shape)
    finite = np.isfinite(scale)
    err = np.abs(got[finite] - expected[finite])
    assert np.all(err <= 4 * n * eps * scale[finite] + np.finfo(expected.dtype).tiny), (got, expected)
    # where an operand is NaN or inf the result is NaN or the same inf, in any summation order
    np.testing.assert_array_equal(np.isnan(got[~finite]), np.isnan(expected[~finite]))
    np.testing.assert_array_equal(got[~finite][~np.isnan(expected[~finite])],
                                  expected[~finite][~np.isnan(expected[~finite])])


@given(st.sampled_from(DTYPES), st.sampled_from(DTYPES), st.integers(1, 70), st.booleans(), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_dots_of_rows_and_columns_are_numpys(da, db, n, specials, seed):
    rng = np.random.default_rng(seed)
    A = _matrix(rng, da, (n, n + 1), specials)
    B = _matrix(rng, db, (n, n + 1), specials)
    out = np.result_type(A, B)
    f = distjit.optimize(distjit.script(row_and_column_dots))
    with np.errstate(over="ignore", invalid="ignore"):
        expected = row_and_column_dots(A, B, np.zeros(n, out), np.zeros(n + 1, out))
        got = f(A, B, np.zeros(n, out), np.zeros(n + 1, out))
    report = f.optimization.explain()
    assert "native (" in report and "NumPy code" not in report, report
    _close(got[0], expected[0], A, B, lambda a, b: np.array([np.dot(a[i, :i], b[i, :i]) for i in range(n)]))
    _close(got[1], expected[1], A, B, lambda a, b: np.einsum("ij,ij->j", a, b))


def norms_of_prefixes(x, out):
    for i in range(x.shape[0]):
        out[i] = np.linalg.norm(x[:i + 1])
    return out


@given(st.sampled_from(["float32", "float64"]), st.integers(1, 200), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_norms_of_prefixes_are_numpys_to_rounding(dtype, n, seed):
    x = np.random.default_rng(seed).standard_normal(n).astype(dtype)
    f = distjit.optimize(distjit.script(norms_of_prefixes))
    got, expected = f(x, np.zeros(n, dtype)), norms_of_prefixes(x, np.zeros(n, dtype))
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=4 * n * np.finfo(dtype).eps)
