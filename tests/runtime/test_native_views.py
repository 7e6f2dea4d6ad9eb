"""Native regions with views, writes into views, gathers and complex numbers, differential against eager NumPy.

Each program is run by eager NumPy and by distjit on equal inputs; the test also checks that its loop ran
natively (the explain report), so a passing test is about the native code and not the NumPy fallback.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import distjit
from distjit.errors import ExecutionError
from tests.programs.realcode import algorithms, data, stencils  # noqa: F401 - registers the kernels
from tests.programs.realcode.kernel import CORPORA


def _compiled(fn):
    return distjit.optimize(distjit.script(fn))


def _native_only(f):
    report = f.optimization.explain()
    assert "native (" in report and "NumPy code" not in report, report


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def _eager_and_native(f, fn, *args):
    """Both results, or both exceptions' types (distjit's ExecutionError carries NumPy's as its cause)."""
    eager_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    given_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    try:
        expected = fn(*eager_args)
    except (ValueError, IndexError) as e:
        with pytest.raises(ExecutionError) as info:
            f(*given_args)
        assert isinstance(info.value.__cause__, type(e)), info.value
        return None
    got = f(*given_args)
    for a, b in zip(given_args, eager_args):
        if isinstance(a, np.ndarray):
            assert _same(a, b)                      # arguments mutated as NumPy mutates them
    return got, expected


# -- corpus kernels whose loops are now native ----------------------------------------------------------------
VIEW_KERNELS = ["stencils.jacobi_2d", "stencils.heat_3d", "stencils.adi", "algorithms.sieve_of_eratosthenes",
                "algorithms.floyd_warshall_paths"]


@pytest.mark.parametrize("seed", [2, 7])
@pytest.mark.parametrize("name", VIEW_KERNELS)
def test_corpus_loops_writing_into_views_run_natively_bit_for_bit(name, seed):
    k = CORPORA["realcode"][name]
    f = _compiled(k.fn)
    got, expected = _eager_and_native(f, k.fn, *k.inputs(seed))
    _native_only(f)
    for g, e in zip(*((got, expected) if isinstance(got, tuple) else ((got,), (expected,)))):
        assert g is None and e is None or _same(g, e)


def test_csr_rows_gather_natively_to_rounding():
    k = CORPORA["realcode"]["data.csr_matvec_rows"]
    f = _compiled(k.fn)
    got, expected = _eager_and_native(f, k.fn, *k.inputs(5))
    _native_only(f)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# -- slices with any bounds and steps, written with expressions over overlapping views ------------------------
def strided_update(a, b, n, lo, hi, step):
    for _ in range(n):
        a[lo:hi:step, 1:] = a[lo:hi:step, :-1] * 0.5 + b[lo:hi:step, 1:]
    return a


def shifted_copy(a, n, step):
    for _ in range(n):
        a[1:, ::step] = a[:-1, ::step]        # the value is a view of the target's buffer: NumPy copies it first
    return a


def reversed_self(a, n):
    for _ in range(n):
        b = a * 1.0
        b[::-1] = b                             # a fresh value read after its own target is written
        a[:, :] = b
    return a


_strided = _compiled(strided_update)
_shifted = _compiled(shifted_copy)
_reversed = _compiled(reversed_self)
bounds = st.one_of(st.none(), st.integers(-9, 9))


@given(st.integers(1, 7), st.integers(2, 6), bounds, bounds, st.integers(-3, 3).filter(bool), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_writes_into_strided_views_match_numpy(rows, cols, lo, hi, step, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.random((rows, cols)), rng.random((rows, cols))
    out = _eager_and_native(_strided, strided_update, a, b, 2, lo, hi, step)
    assert out is not None and _same(*out)
    _native_only(_strided)


@given(st.integers(1, 6), st.integers(1, 6), st.integers(-3, 3).filter(bool), st.integers(0, 2**32 - 1))
@settings(max_examples=15, deadline=None)
def test_a_value_overlapping_its_target_is_read_before_the_write(rows, cols, step, seed):
    a = np.random.default_rng(seed).random((rows, cols))
    out = _eager_and_native(_shifted, shifted_copy, a, 2, step)
    assert _same(*out)
    _native_only(_shifted)
    out = _eager_and_native(_reversed, reversed_self, a, 2)
    assert _same(*out)
    _native_only(_reversed)


def columns_from_other(A, Q, r):
    for j in range(1, A.shape[1]):
        A[:, j] = A[:, j] - Q[:, j - 1] * r         # into its own operand's view: stored directly
    return A


def columns_from_self(A, r, k):
    for j in range(1, A.shape[1]):
        A[:, j] = A[:, j] - A[:, j - k] * r         # k=1: another column of A, whose bytes interleave the target's
    return A


def rows_from_self(A, step):
    for i in range(A.shape[0]):
        A[i, :] = np.minimum(A[i, :], A[i, ::step] + A[0, 0])     # step -1: the target reversed, same bytes
    return A


_from_other, _from_self, _rows_self = _compiled(columns_from_other), _compiled(columns_from_self), \
    _compiled(rows_from_self)


@given(st.integers(1, 7), st.integers(2, 7), st.integers(0, 1), st.sampled_from([1, -1]), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_elementwise_stored_into_its_target_reads_as_numpy_with_any_overlap(rows, cols, k, step, seed):
    rng = np.random.default_rng(seed)
    A, Q = rng.standard_normal((rows, cols)), rng.standard_normal((rows, cols))
    for f, fn, args in [(_from_other, columns_from_other, (A, Q, 0.75)), (_from_self, columns_from_self, (A, 0.75, k)),
                        (_rows_self, rows_from_self, (A, step))]:
        out = _eager_and_native(f, fn, *args)
        assert out is not None and _same(*out), fn.__name__
        _native_only(f)


def test_a_zero_step_raises_as_numpy_does():
    a, b = np.ones((4, 3)), np.ones((4, 3))
    assert _eager_and_native(_strided, strided_update, a, b, 1, 0, 4, 0) is None


# -- broadcasting a value into a view; a length that does not fit --------------------------------------------
def row_into_block(a, row, n, i):
    for k in range(n):
        a[i:, :] = row + 1.0            # row: (cols,), (1, cols) or (rows', 1)... broadcast to the view
    return a


_row = _compiled(row_into_block)


@given(st.integers(1, 5), st.integers(1, 5), st.sampled_from(["vector", "one_row", "column", "one", "wrong"]),
       st.integers(-6, 6), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_a_value_is_broadcast_into_the_view_as_numpy_does(rows, cols, kind, i, seed):
    rng = np.random.default_rng(seed)
    a = rng.random((rows, cols))
    view_rows = len(range(rows)[i:])
    shape = {"vector": (cols,), "one_row": (1, cols), "column": (view_rows, 1), "one": (1,),
             "wrong": (cols + 1,)}[kind]
    out = _eager_and_native(_row, row_into_block, a, rng.random(shape), 2, i)
    if out is not None:
        assert _same(*out)
    _native_only(_row)


# -- partial integer indices, np.newaxis, scalars into stepped slices ----------------------------------------
def eliminate(a, f):
    n = a.shape[0]
    for k in range(n - 1):
        for i in range(k + 1, n):
            a[i, :] -= f * a[k, :]
    return a


def outer_min(d):
    for k in range(d.shape[0]):
        d = np.minimum(d, d[:, k, np.newaxis] + d[np.newaxis, k, :])
    return d


def mark_multiples(n, start):
    flags = np.ones(n, dtype=bool)
    for i in range(2, n):
        flags[start * i::i] = False
        flags[-1:-n:-i] = True
    return flags


@given(st.integers(1, 6), st.integers(1, 6), st.floats(-2, 2), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_rows_views_and_newaxis_match_numpy(rows, cols, factor, seed):
    a = np.random.default_rng(seed).random((rows, cols))
    f = _compiled(eliminate)
    out = _eager_and_native(f, eliminate, a, factor)
    assert _same(*out)
    if rows > 1:
        _native_only(f)
    d = np.random.default_rng(seed).random((rows, rows))
    g = _compiled(outer_min)
    assert _same(*_eager_and_native(g, outer_min, d))
    _native_only(g)


@given(st.integers(3, 40), st.integers(1, 3))
@settings(max_examples=20, deadline=None)
def test_scalars_written_into_stepped_slices_match_numpy(n, start):
    f = _compiled(mark_multiples)
    assert _same(*_eager_and_native(f, mark_multiples, n, start))
    _native_only(f)


# -- gathers by an index vector -----------------------------------------------------------------------------
def gather_rows(x, cols, ptr):
    y = np.empty(len(ptr) - 1)
    for i in range(len(ptr) - 1):
        y[i] = np.dot(x[cols[ptr[i]:ptr[i + 1]]], x[ptr[i]:ptr[i + 1]])
    return y


_gather = _compiled(gather_rows)


@given(st.lists(st.integers(-12, 12), min_size=1, max_size=12), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_gathers_by_index_vectors_are_bounds_checked_and_wrap_negatives(indices, seed):
    rng = np.random.default_rng(seed)
    x = rng.random(len(indices) + 2)
    cols = np.array(indices, dtype=np.int64)
    cuts = np.sort(rng.integers(0, len(indices) + 1, 3))
    ptr = np.array([0, *cuts, len(indices)], dtype=np.int64)
    out = _eager_and_native(_gather, gather_rows, x, cols, ptr)
    if out is not None:
        np.testing.assert_allclose(out[0], out[1], rtol=1e-12, atol=1e-12)
    _native_only(_gather)


# -- complex numbers ----------------------------------------------------------------------------------------
def complex_ops(z, w, n):
    acc = np.zeros(z.shape, dtype=z.dtype)
    s = np.zeros(n, dtype=complex)
    for k in range(n):
        acc[:] = acc + z * w - np.conjugate(z) / w + np.exp(z * 0.1) * np.abs(w)
        for i in range(z.shape[0]):
            s[k] += z[i] * np.exp(-2j * np.pi * k * i / n) + np.real(w[i]) - 1j * np.imag(z[i]) / (1 + k)
    return acc, s


def complex_divide(z, w):
    out = np.empty(z.shape, dtype=z.dtype)
    for i in range(z.shape[0]):
        out[i] = z[i] / w[i]
    return out


finite = st.floats(-1e3, 1e3, allow_nan=False)
special = st.one_of(finite, st.sampled_from([0.0, -0.0, np.inf, -np.inf, np.nan, 1e300, 1e-300]))


@given(st.integers(1, 6), st.sampled_from([np.complex128, np.complex64]), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_complex_arithmetic_matches_numpy_to_rounding(n, dtype, seed):
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dtype)
    w = (rng.standard_normal(n) + 1j * rng.standard_normal(n) + 0.5).astype(dtype)
    f = _compiled(complex_ops)
    (acc, s), (acc_e, s_e) = _eager_and_native(f, complex_ops, z, w, 3)
    _native_only(f)
    tol = 1e-12 if dtype == np.complex128 else 1e-4
    assert acc.dtype == acc_e.dtype
    np.testing.assert_allclose(acc, acc_e, rtol=tol, atol=tol)
    np.testing.assert_allclose(s, s_e, rtol=tol, atol=tol)


@given(st.lists(st.tuples(special, special, special, special), min_size=1, max_size=8),
       st.sampled_from([np.complex128, np.complex64]))
@settings(max_examples=30, deadline=None)
def test_complex_division_is_numpys_algorithm_bit_for_bit(parts, dtype):
    f = _compiled(complex_divide)
    with np.errstate(all="ignore"):         # 1e300 overflows to inf in complex64, as NumPy's cast does
        z = np.array([complex(a, b) for a, b, _, _ in parts], dtype=dtype)
        w = np.array([complex(c, d) for _, _, c, d in parts], dtype=dtype)
        got, expected = _eager_and_native(f, complex_divide, z, w)
    _native_only(f)
    assert _same(got, expected)


# -- chains of elementwise nodes computed in one loop (NOTE: [Elementwise chains]) ------------------------------
def chain(a, b, c, n):
    s = 0.0
    for k in range(n):
        r = (a + b) * c - a * k         # three arrays of their own shapes: the fuse pass leaves a chain
        s += r[0, 0] + r[-1, -1] * 0.5
    return s


_chain = _compiled(chain)
lengths = st.sampled_from([1, 3, 4])


@given(st.tuples(lengths, lengths), st.tuples(lengths, lengths), st.tuples(lengths, lengths),
       st.sampled_from([np.float64, np.float32]), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_chains_of_elementwise_nodes_broadcast_and_round_as_numpy(sa, sb, sc, dtype, seed):
    rng = np.random.default_rng(seed)
    a, b, c = (rng.random(s).astype(dtype) for s in (sa, sb, sc))
    out = _eager_and_native(_chain, chain, a, b, c, 3)
    if out is not None:
        assert out[0] == out[1]
    report = _chain.optimization.explain()
    assert "native (" in report, report
