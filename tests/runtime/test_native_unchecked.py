"""Unit-stride loops compiled without bounds checks (NOTE: [Unchecked loops] in runtime/native/unchecked.py).

The helper's own source is checked before it is used, so the first tests hold that check to account (any
subscript but a proven array at the loop variable refuses it); the others are differential against eager
NumPy for loops whose vectors broadcast (steps 0 and 1 both), overlap their targets, or mismatch.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import distjit
from distjit.errors import ExecutionError
from distjit.runtime.native import unchecked
from tests.programs.realcode import algorithms  # noqa: F401 - registers the kernels
from tests.programs.realcode.kernel import CORPORA


def _compiled(fn):
    return distjit.optimize(distjit.script(fn))


def _native_only(f):
    report = f.optimization.explain()
    assert "native (" in report and "NumPy code" not in report, report


def test_a_helper_reading_proven_arrays_at_the_loop_variable_is_made():
    made = unchecked.helper("_h", "t1", "n2", {"v3", "v4"}, ["e5 = v3[t1] * c6", "v4[t1] = e5"])
    assert made is not None
    source, args = made
    assert args == ["n2", "v3", "c6", "v4"] and "{unchecked}" in source     # in order of first appearance


def test_loops_that_compute_the_same_thing_are_one_helpers_text():
    one = unchecked.helper("_h", "t1", "n2", {"v3", "v4"}, ["e5 = v3[t1] * c6", "v4[t1] = e5"])
    other = unchecked.helper("_h", "t11", "n12", {"v13", "v14"}, ["e15 = v13[t11] * c16", "v14[t11] = e15"])
    swapped = unchecked.helper("_h", "t11", "n12", {"v13", "v14"}, ["e15 = c16 * v13[t11]", "v14[t11] = e15"])
    assert one[0] == other[0] and other[1] == ["n12", "v13", "c16", "v14"]
    assert swapped[0] != one[0]


@pytest.mark.parametrize("body", [
    ["v4[t1] = v3[t1 + 1]"],            # an index other than t
    ["v4[t1] = v9[t1]"],                # an array not proven to have length n
    ["v4[t1] = v3[t1, 0]"],             # more axes than one
    ["v4[0] = v3[t1]"],                 # a constant index
    ["v4[t1] = v3[t1][0]"],             # a subscript of a subscript
    ["v4[t1] = v3[c7]"],                # another variable
    ["v4[t1] = v3[:]"],                 # a slice
])
def test_any_other_subscript_refuses_the_helper(body):
    assert unchecked.helper("_h", "t1", "n2", {"v3", "v4"}, body) is None


_AT = {"v3": ("t1", "0"), "v4": ("t1", "t2"), "v5": ("t2",)}


def test_a_nest_reading_each_array_at_its_proven_items_is_made():
    made = unchecked.nest("_h", ["t1", "t2"], ["n6", "n7"], _AT, ["v4[t1, t2] = v3[t1, 0] * v5[t2] + c8"])
    assert made is not None
    source, args = made
    assert args == ["n6", "n7", "v4", "v3", "v5", "c8"] and "for h2 in range(h3):" in source


@pytest.mark.parametrize("body", [
    ["v4[t2, t1] = v3[t1, 0] * v5[t2]"],     # the loop variables swapped
    ["v4[t1, t2] = v3[t1, t2] * v5[t2]"],    # a loop variable where an axis of length 1 is proven
    ["v4[t1, t2] = v3[t1, 1] * v5[t2]"],     # a constant other than 0
    ["v4[t1, t2] = v3[t1, 0] * v5[t1]"],     # the other loop's variable
    ["v4[t1, t2] = v3[t1, 0] * v5[t2, 0]"],  # more items than proven
    ["v4[t1] = v3[t1, 0]"],                  # fewer items than proven
    ["v4[t1, t2] = v9[t1, t2]"],             # an array not proven
    ["v4[t1, t2] = v3[t1, 0] * v5[t2 - 1]"],  # arithmetic in an index
])
def test_any_other_subscript_refuses_the_nest(body):
    assert unchecked.nest("_h", ["t1", "t2"], ["n6", "n7"], _AT, body) is None


def test_a_nest_proving_an_item_that_is_no_loop_variable_is_refused():
    assert unchecked.nest("_h", ["t1"], ["n6"], {"v3": ("t9",), "v4": ("t1",)}, ["v4[t1] = v3[t9]"]) is None


def outer_update(U, a, b, steps):
    for s in range(steps):
        U[1:, :] -= np.outer(a[1:], b) * 0.5
        U[:, 1:] = U[:, 1:] + U[:, :1]
    return U


@given(st.integers(1, 7), st.integers(1, 7), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_matrix_loops_broadcasting_rows_and_columns_match_numpy_bit_for_bit(n, m, seed):
    rng = np.random.default_rng(seed)
    U, a, b = rng.standard_normal((n, m)), rng.standard_normal(n), rng.standard_normal(m)
    f = _compiled(outer_update)
    got = f(U.copy(), a, b, 3)
    _native_only(f)
    assert np.array_equal(got, outer_update(U.copy(), a, b, 3))


def _scan(x):
    n = len(x)
    y = x.copy()
    offset = 1
    while offset < n:
        y[offset:] = y[offset:] + y[:-offset]
        offset *= 2
    return y


@given(st.integers(0, 300), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_scans_of_overlapping_views_match_numpy_bit_for_bit(n, seed):
    x = np.random.default_rng(seed).standard_normal(n)
    f = _compiled(_scan)
    got = f(x.copy())
    assert np.array_equal(got, _scan(x.copy()))
    if n > 1:
        _native_only(f)


def _broadcasting(x, y, w):
    out = x.copy()
    for k in range(3):
        out[1:] = out[1:] * w + y * float(k)
    return out


lengths = st.sampled_from([0, 1, 2, 5, 17])


@given(lengths, lengths, lengths, st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_vectors_of_length_one_broadcast_and_others_raise_as_numpy(nx, ny, nw, seed):
    rng = np.random.default_rng(seed)
    x, y, w = rng.standard_normal(nx), rng.standard_normal(ny), rng.standard_normal(nw)
    f = _compiled(_broadcasting)
    try:
        expected = _broadcasting(x.copy(), y, w)
    except ValueError as e:
        with pytest.raises(ExecutionError) as info:
            f(x.copy(), y, w)
        assert isinstance(info.value.__cause__, type(e))
        return
    assert np.array_equal(f(x.copy(), y, w), expected)


def _casting(x, a):
    out = np.zeros(len(x), dtype=np.int64)
    for k in range(2):
        out[:] = x * a + k
    return out


@given(st.lists(st.integers(-2**20, 2**20), max_size=20), st.integers(-5, 5))
@settings(max_examples=25, deadline=None)
def test_int_loops_written_into_int_views_match_numpy(values, a):
    x = np.array(values, dtype=np.int64)
    f = _compiled(_casting)
    assert np.array_equal(f(x, a), _casting(x, a))


def test_hillis_steele_scan_runs_natively_and_matches_numpy():
    k = CORPORA["realcode"]["algorithms.hillis_steele_scan"]
    f = _compiled(k.fn)
    (x,) = k.inputs(3, 4096)
    got, expected = f(x.copy()), k.fn(x.copy())
    _native_only(f)
    assert np.array_equal(got[0], expected[0]) and np.allclose(got[1], expected[1])


@pytest.mark.parametrize("body", [
    ["v4[t1] = math.exp(v3[t1])"],      # a math function: its vector form need not round as NumPy's
    ["v4[t1] = _fpow(v3[t1], c6)"],     # a prelude function that calls pow
    ["v4[t1] = np.minimum(v3[t1], c6)"],
])
def test_a_call_but_a_cast_or_a_select_refuses_the_helper(body):
    assert unchecked.helper("_h", "t1", "n2", {"v3", "v4"}, body) is None


@pytest.mark.parametrize("body", [
    ["v4[t1] = np.float64(np.int64(v3[t1]) + 1)"],
    ["v4[t1] = _nmax(_nmin(v3[t1], c6), np.float64(0.0))"],       # np.maximum, np.minimum: compare and select
    ["v4[t1] = _pymin(_pymax(v3[t1], c6), c7)"],
])
def test_casts_and_selects_are_allowed_in_a_helper(body):
    assert unchecked.helper("_h", "t1", "n2", {"v3", "v4"}, body)


def _clipped_rows(A, lo, hi):
    for i in range(1, A.shape[0]):
        A[i, :] = np.maximum(np.minimum(A[i, :], A[i - 1, :] + hi), lo)
    return A


special = st.sampled_from([0.0, -0.0, 1.5, -2.0, np.nan, np.inf, -np.inf])


@given(st.integers(1, 40), st.integers(2, 5), special, special, st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_minimum_and_maximum_rows_are_numpys_bit_for_bit_with_nans_and_zeros(n, rows, lo, hi, seed):
    rng = np.random.default_rng(seed)
    A = rng.choice(np.array([0.0, -0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 3.25]), (rows, n))
    f = _compiled(_clipped_rows)
    with np.errstate(invalid="ignore"):         # inf - inf: NaN, as intended
        got, expected = f(A.copy(), lo, hi), _clipped_rows(A.copy(), lo, hi)
    _native_only(f)
    numbers = ~np.isnan(expected)
    assert np.array_equal(got, expected, equal_nan=True)
    assert np.array_equal(np.signbit(got[numbers]), np.signbit(expected[numbers]))       # -0.0 where NumPy has it
