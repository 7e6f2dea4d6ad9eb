"""The array ops of distjit/ops/arrays.py over random shapes and dtypes, traced, against NumPy."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

import distjit
from tests.compare import assert_same

DTYPES = st.sampled_from(["f8", "f4", "i8", "i4", "c16"])
SHAPES = st.lists(st.integers(1, 4), min_size=2, max_size=3).map(tuple)


def _array(draw, dtype, shape):
    values = draw(st.lists(st.integers(-5, 5), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return np.array(values).reshape(shape).astype(dtype)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), dtype=DTYPES, shape=SHAPES, k=st.integers(-3, 3))
def test_triangles_and_diagonals(data, dtype, shape, k):
    x = _array(data.draw, dtype, shape)

    def fn(x):
        return np.triu(x, k), np.tril(x, k), np.diagonal(x, k, 0, 1), np.diag(x.reshape(-1)[:3], k)

    assert_same(distjit.trace(fn, (x,))(x), fn(x))


@settings(max_examples=40, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(["f8", "f4", "i8", "i4", "u1"]), shape=SHAPES, axis=st.integers(-2, 1))
def test_gathers_counts_and_scans(data, dtype, shape, axis):
    x = _array(data.draw, dtype, shape)
    order = np.argsort(x, axis=axis)

    def fn(x, order):
        return (np.take_along_axis(x, order, axis=axis), np.count_nonzero(x, axis=axis),
                np.cumulative_sum(x, axis=axis, include_initial=True), np.kron(x, x[:1]),
                np.partition(x, 0, axis=axis))

    assert_same(distjit.trace(fn, (x, order))(x, order), fn(x, order))


@settings(max_examples=30, deadline=None)
@given(data=st.data(), shape=SHAPES)
def test_run_time_lengths(data, shape):
    x = _array(data.draw, "i8", shape)

    def fn(x):
        return np.nonzero(x), np.unique(x, return_counts=True), np.flatnonzero(x), x[x > 0]

    first = _array(data.draw, "i8", shape)
    f = distjit.trace(fn, (first,))
    assert_same(f(x), fn(x))     # one graph, another input: the lengths follow the values
