"""Values derived only from Python scalar arguments are known while tracing, through any pure op
(NOTE: [Scalar specialization]): a branch on an array made from the argument specializes as a branch on the
argument does, and a window's length (np.hanning(n), an op whose M is a size) as np.zeros(n) does."""
from __future__ import annotations

import numpy as np
import pytest

import distjit
from distjit.errors import DistJitError
from tests.compare import assert_same


@pytest.mark.parametrize("window", [np.hanning, np.hamming, np.bartlett, np.blackman])
def test_window_functions_of_an_int_argument_specialize(window):
    def smooth(x, n: int):
        w = window(n)
        return np.convolve(x, w / w.sum(), mode="same")

    x = np.random.default_rng(0).standard_normal(40)
    f = distjit.trace(smooth, (x, 5))
    for n in (5, 9, 5):
        np.testing.assert_allclose(f(x, n), smooth(x, n), rtol=1e-12, atol=1e-12)
    assert f.traces == 2 and sorted(list(g.guards.values()) for g in f.graphs) == [[5], [9]]


@pytest.mark.parametrize("mode", ["trace", "script"])
def test_a_window_function_held_in_a_closure_cell_is_the_op(mode):
    """`win = np.hanning` in an enclosing function: the call through the cell records np.hanning, as the call
    through the module attribute does (scripted code sizes it by a dim it does not bake)."""
    win = np.hanning

    def taper(x):
        return x * win(len(x))

    xs = [np.linspace(1.0, 2.0, 8), np.linspace(-1.0, 3.0, 8)]
    f = distjit.trace(taper, (xs[0],)) if mode == "trace" else distjit.script(taper)
    for x in xs:
        assert_same(f(x), taper(x))
    if mode == "trace":
        assert "np.hanning" in str(f.graph)


def test_a_value_derived_through_arrays_guards_its_argument():
    def f(x, n: int):
        v = np.array([n, 2 * n])
        if v.sum() > 10:
            return x * v[1]
        return x - v[0]

    x = np.arange(4.0)
    g = distjit.trace(f, (x, 2))
    for n in (2, 7, 3):
        assert_same(g(x, n), f(x, n))


def test_an_update_forgets_the_known_value():
    """v is known from n until an element is replaced by data: a branch on it must see the data."""
    def f(x, n: int):
        v = np.array([n, 1.0])
        v[0] = x[0]
        if v[0] > 0:
            return x + 1.0
        return x - 1.0

    pos, neg = np.array([1.0, 2.0]), np.array([-1.0, 2.0])
    try:
        g = distjit.trace(f, (pos, 3))
    except DistJitError as e:      # refusing the branch on data is right too; using n's stale value is not
        assert "truth test" in str(e)
    else:
        for x in (pos, neg):
            assert_same(g(x, 3), f(x, 3))


def state_from_literals(x):
    """Small state vectors made from literals, then updated with data (a Kalman or RK4 step does this)."""
    state = np.array([0.0, 1.0])
    state[0] = x[0]
    acc = np.asarray([1.0, 2.0])
    acc += x
    table = np.array([10, 20, 30])
    return state * 2, acc, table[int(table[1] // 10)] + x


@pytest.mark.parametrize("frontend", ["trace", "script"])
def test_arrays_made_from_literals_can_be_updated_with_traced_values(frontend):
    first, second = np.array([5.0, 1.0]), np.array([-2.0, 3.0])
    f = distjit.trace(state_from_literals, (first,)) if frontend == "trace" else distjit.script(state_from_literals)
    for x in (first, second):
        assert_same(f(x), state_from_literals(x))
