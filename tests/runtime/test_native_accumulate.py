"""``out += view`` in loops: the simplify rule broadcast_result and native elementwise results written into a
dying operand (NOTE: [Elementwise in place] in runtime/native/lower.py), differential against eager NumPy.

Each program runs under eager NumPy and distjit on equal inputs, results and exception types compared, and
the loop must have run natively, so a passing test is about the in-place native code."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from tests.programs.realcode import data  # noqa: F401 - registers the kernels
from tests.programs.realcode.kernel import CORPORA
from tests.runtime.test_native_views import _compiled, _eager_and_native, _native_only, _same


@pytest.mark.parametrize("seed", [0, 3, 11])
def test_box_blur_accumulates_in_place_natively_bit_for_bit(seed):
    k = CORPORA["realcode"]["data.box_blur"]
    f = _compiled(k.fn)
    got, expected = _eager_and_native(f, k.fn, *k.inputs(seed))
    _native_only(f)
    assert "broadcast_result" in f.optimization.explain()
    assert _same(got, expected)


def window_sum(src, h, w, n):
    out = np.zeros((h, w))
    for i in range(n):
        for j in range(n):
            out += src[i:i + h, j:j + w]
    return out


def window_scale(src, h, w, n):
    out = np.ones((h, w))
    for i in range(n):
        out *= src[i:i + h, :w]
        out -= src[i, :w]               # a row broadcast over out's rows
    return out


def self_reversed(a, n):
    out = a.copy()
    for _ in range(n):
        out = out - out[:, ::-1] * 0.5
        out += out[::-1]                # the other operand is a view of out: not in place
    return out


_sum = _compiled(window_sum)
_scale = _compiled(window_scale)
_self = _compiled(self_reversed)


@given(st.integers(1, 7), st.integers(1, 7), st.integers(0, 4), st.integers(1, 4), st.integers(1, 4),
       st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_window_sums_match_numpy_including_shape_errors(rows, cols, h, w, n, seed):
    src = np.random.default_rng(seed).random((rows, cols))
    for f, fn in ((_sum, window_sum), (_scale, window_scale)):
        out = _eager_and_native(f, fn, src, h, w, n)     # short slices (clipped windows) raise as NumPy does
        if out is not None:
            assert _same(*out)
        _native_only(f)


@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 3), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_an_operand_viewing_the_accumulator_is_read_before_it_is_written(rows, cols, n, seed):
    a = np.random.default_rng(seed).random((rows, cols))
    out = _eager_and_native(_self, self_reversed, a, n)
    assert out is not None and _same(*out)
    _native_only(_self)


def test_a_row_of_length_one_broadcasts_into_the_accumulator():
    src = np.random.default_rng(1).random((1, 5))
    out = _eager_and_native(_sum, window_sum, src, 3, 5, 1)   # src[0:3] has one row: broadcast over three
    assert out is not None and _same(*out)
    _native_only(_sum)


def equal_views(a, b, n, lo, hi):
    out = np.zeros(a.shape)
    for _ in range(n):
        s = a[lo:hi, 1:] * 0.5 + a[lo:hi, 1:] * b - a[lo:hi, 1:]     # one view read three times
        out[lo:hi, 1:] = s
        a[lo:hi, 1:] = out[lo:hi, 1:] + a[lo:hi, :-1]
    return out, a


_equal = _compiled(equal_views)


@given(st.integers(1, 6), st.integers(2, 6), st.integers(1, 6), bounds := st.one_of(st.none(), st.integers(-7, 7)),
       bounds, st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_equal_views_read_once_broadcast_and_raise_as_numpy(rows, cols, bcols, lo, hi, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.random((rows, cols)), rng.random((1, bcols))       # b broadcasts only when bcols is 1 or cols - 1
    out = _eager_and_native(_equal, equal_views, a, b, 2, lo, hi)
    if out is not None:
        assert all(_same(g, e) for g, e in zip(*out))
    _native_only(_equal)


def add_then_scale(out, s, k):
    out += s[:k]                # straight-line code: the rewritten graph runs on the NumPy path
    out *= s[k:]
    return out


_straight = _compiled(add_then_scale)


@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 10), st.integers(0, 10), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_broadcast_result_rule_keeps_numpys_values_and_errors(rows, cols, srows, k, seed):
    rng = np.random.default_rng(seed)
    out, s = rng.random((rows, cols)), rng.random((srows, cols))
    assume(k <= srows)
    got = _eager_and_native(_straight, add_then_scale, out, s, k)
    if got is not None:
        assert _same(*got)
    assert "broadcast_result" in _straight.optimization.explain()
