"""Fusion across symbolic dims: operands whose lengths are different run-time sizes that broadcast.

A scripted function's arguments get their own symbolic lengths (?xs_0, ?ys_0), equal at run time or 1;
`xs ** 2 + ys ** 2` must still be one fused expression, and give eager NumPy's results for every pair
of lengths NumPy accepts (the broadcast value computed at the output's shape inside the expression).
"""
import numpy as np
import pytest

import distjit
from distjit.runtime import fused_eval
from tests.compare import assert_same


def squares(xs, ys):
    inside = xs ** 2 + ys ** 2 <= 1.0
    return inside, np.sqrt(xs * 0.5 + ys)


def squares_leaking(xs, ys):
    a = xs ** 2           # read outside the group too (its own shape): may not join ys's group
    return a + ys, a.sum()


def fused_nodes(f):
    return [n for g in f.graphs for n in g.walk() if n.op == "fused.elementwise"]


@pytest.mark.parametrize("native", [False, True])
@pytest.mark.parametrize("n_x, n_y", [(500, 500), (1, 500), (500, 1), (1, 1)])
def test_operands_of_different_symbolic_lengths_fuse_into_one_expression(monkeypatch, native, n_x, n_y):
    if native:        # the native loops at every size, in blocks of a few rows, on two threads
        monkeypatch.setattr(fused_eval, "NUMBA_MIN_ELEMENTS", 1)
        monkeypatch.setattr(fused_eval, "NATIVE_BLOCK_ELEMENTS", 24)
        monkeypatch.setattr(fused_eval, "NATIVE_THREAD_ELEMENTS", 16)
        monkeypatch.setattr(fused_eval, "THREADS", 2)
    f = distjit.optimize(distjit.script(squares))
    rng = np.random.default_rng(n_x + n_y)
    xs, ys = rng.random(n_x), rng.random(n_y)
    assert_same(f(xs, ys), squares(xs, ys))
    assert_same(f(np.random.default_rng(1).random(300), np.random.default_rng(2).random(300)),
                squares(np.random.default_rng(1).random(300), np.random.default_rng(2).random(300)))
    compares = [n for n in fused_nodes(f) if any(m.op == "np.less_equal" for m in n.attrs["graph"].block.nodes)]
    assert compares and all(sum(m.op == "np.power" for m in n.attrs["graph"].block.nodes) == 2 for n in compares)


@pytest.mark.parametrize("n_x, n_y", [(400, 400), (1, 400)])
def test_a_group_read_outside_at_its_own_shape_does_not_join(n_x, n_y):
    f = distjit.optimize(distjit.script(squares_leaking))
    xs, ys = np.linspace(0, 1, n_x), np.linspace(1, 2, n_y)
    assert_same(f(xs, ys), squares_leaking(xs, ys))
    for node in fused_nodes(f):
        assert not any(n.op == "np.power" for n in node.attrs["graph"].block.nodes)
