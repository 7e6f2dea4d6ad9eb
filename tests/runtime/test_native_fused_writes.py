"""Writes into views that compute their value in the write's loops (NOTE: [Fused writes] in runtime/native/views.py).

Differential against eager NumPy, bit for bit: the slices' bounds and steps (negative and empty ones included)
are arguments, so one compiled region meets targets and operands that overlap forward, backward, exactly, in
another stride, broadcast from one element, or not at all; where NumPy raises, the region raises the same.
"""
import functools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import distjit
from distjit.errors import ExecutionError


def _native_only(f):
    report = f.optimization.explain()
    assert "native (" in report and "NumPy code" not in report, report


def _shift_add(y, a0, a1, a2, b0, b1, b2, c0, c1, c2, k):
    for _ in range(k):
        y[a0:a1:a2] = y[b0:b1:b2] * 0.5 + y[c0:c1:c2]
    return y


def _shift_copy(y, a0, a1, a2, b0, b1, b2, k):
    for _ in range(k):
        y[a0:a1:a2] = y[b0:b1:b2]
    return y


def _two_arrays(y, z, a0, a1, a2, b0, b1, b2, k):
    for _ in range(k):
        y[a0:a1:a2] = z[b0:b1:b2] - y[b0:b1:b2] * 2.0
        z[b0:b1:b2] = y[a0:a1:a2] + 1.0
    return y, z


def _rows(Y, r0, r1, c0, c1, c2, d0, d1, d2, k):
    for _ in range(k):
        Y[r0:r1, c0:c1:c2] = Y[r0:r1, d0:d1:d2] + Y[r0:r1, c0:c1:c2] * 0.25
    return Y


def _columns(P, r0, r1, j, k, m):
    for _ in range(m):
        P[r0:r1, j] = P[r0:r1, k] * 0.5 - P[r0 + 1:r1 + 1, j] + 1.0
    return P


@functools.cache
def _compiled(fn):
    return distjit.optimize(distjit.script(fn))


@st.composite
def _slices(draw, n):
    """(start, stop, step) of a slice of y[:n], as integers (one type: one compiled region): mostly of one
    length drawn once per example (so that targets and operands fit), at any start, either direction, bounds
    counted from the end and beyond it; sometimes any triple (empty, clipped, of another length)."""
    if draw(st.integers(0, 9)) == 0:
        bound = st.integers(-n - 2, n + 2)
        return draw(bound), draw(bound), draw(st.integers(-3, 3).filter(bool))
    m = draw(st.shared(st.integers(0, n), key="length"))
    step = draw(st.integers(-3, 3).filter(bool))
    span = (m - 1) * abs(step) + 1 if m else 0
    if span > n:
        m, span = 1, 1
    first = draw(st.integers(0, n - span)) if step > 0 else draw(st.integers(span - 1, n - 1))
    last = first + (m - 1) * step
    stop = last + (1 if step > 0 else -1) if m else first
    if stop < 0:
        stop = -n - 1 - draw(st.integers(0, 2))     # before the first element: Python's None for a step < 0
    if draw(st.booleans()):
        first -= n                                   # the same start counted from the end
    return first, stop, step


def _check(fn, args, copies):
    """fn over copies of the arrays in args, natively and eagerly: equal bit for bit, or the same error."""
    f = _compiled(fn)
    try:
        expected = fn(*copies(args))
    except (ValueError, IndexError) as e:
        with pytest.raises(ExecutionError) as info:
            f(*copies(args))
        assert isinstance(info.value.__cause__, type(e))
        return
    got = f(*copies(args))
    for g, e in zip(got if isinstance(got, tuple) else (got,), expected if isinstance(expected, tuple) else (expected,)):
        assert np.array_equal(g, e)
    _native_only(f)


def _copy_all(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


@given(st.integers(1, 24).flatmap(lambda n: st.tuples(st.just(n), _slices(n), _slices(n), _slices(n))),
       st.integers(1, 3), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_an_elementwise_value_of_overlapping_views_is_written_as_numpy_does(drawn, k, seed):
    n, a, b, c = drawn
    y = np.random.default_rng(seed).standard_normal(n)
    _check(_shift_add, [y, *a, *b, *c, k], _copy_all)


@given(st.integers(1, 24).flatmap(lambda n: st.tuples(st.just(n), _slices(n), _slices(n))),
       st.integers(1, 3), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_a_view_copied_into_an_overlapping_view_is_read_before_it_is_written(drawn, k, seed):
    n, a, b = drawn
    y = np.random.default_rng(seed).standard_normal(n)
    _check(_shift_copy, [y, *a, *b, k], _copy_all)


@given(st.integers(1, 16).flatmap(lambda n: st.tuples(st.just(n), _slices(n), _slices(n))), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_writes_between_two_arrays_read_each_before_it_is_written(drawn, seed):
    n, a, b = drawn
    rng = np.random.default_rng(seed)
    _check(_two_arrays, [rng.standard_normal(n), rng.standard_normal(n), *a, *b, 2], _copy_all)


@given(st.integers(1, 6), st.integers(1, 12).flatmap(lambda n: st.tuples(st.just(n), _slices(n), _slices(n))),
       st.integers(-7, 7), st.integers(-7, 7), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_a_two_axis_write_of_overlapping_column_views_matches_numpy(rows, drawn, r0, r1, seed):
    cols, c, d = drawn
    Y = np.random.default_rng(seed).standard_normal((rows, cols))
    _check(_rows, [Y, r0, r1, *c, *d, 2], _copy_all)


@given(st.integers(1, 8), st.integers(1, 8), st.integers(-9, 9), st.integers(-9, 9), st.integers(-8, 7),
       st.integers(-8, 7), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_columns_written_from_columns_of_the_same_matrix_match_numpy(rows, cols, r0, r1, j, k, seed):
    P = np.random.default_rng(seed).standard_normal((rows, cols))
    _check(_columns, [P, r0, r1, j, k, 2], _copy_all)


def _region_bodies(f):
    from distjit.runtime import native
    regions = native._regions.get(f.program_graph, {}).values()     # the graph the program runs
    return [r.lowered.source.split("def region(")[1] for r in regions if hasattr(r, "lowered")]


def test_a_scan_step_writes_its_sum_into_the_view_without_a_temporary():
    f = distjit.optimize(distjit.script(_shift_add))
    args = [1, 40, 1, 1, 40, 1, 0, -1, 1, 1]
    y = np.random.default_rng(0).standard_normal(40)
    assert np.array_equal(f(y.copy(), *args), _shift_add(y.copy(), *args))
    (body,) = _region_bodies(f)
    assert "_order(" in body and "np.empty(" not in body
