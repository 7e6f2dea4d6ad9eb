"""No stage of the compiler recurses along a chain of values (issue 13: a 1M-node graph compiles).

Unrolled loops make graphs whose dependency chains are as long as the user's trip counts.
Each stage runs here on a ~7k-node graph under a recursion limit only a little above the
current stack depth, so a walk that recursed once per value, node or view would raise
RecursionError long before the chain's end; recursion over the nesting of blocks (bounded
by the user's source) still fits. Results are compared with eager NumPy. bench/compile_scale
measures the same stages' time per node at 1M nodes.
"""
import contextlib
import sys

import numpy as np
import pytest

import distjit
from distjit.ir.graph import Graph
from distjit.runtime.interpreter import Interpreter

STEPS = 2000        # a chain of 2 nodes per step
VIEWS = 400         # a chain of views, each the base of the next
ROWS, COLS = 12, 41  # an in-place loop nest of 5 nodes per step
HEADROOM = 200      # frames allowed above the test's own depth


def kernel(x, b, A, B):
    for _ in range(STEPS):
        x = x * 0.5 + b
    y = x
    for _ in range(VIEWS):
        y = y[:]
    y[0] = 1.0                          # writes through every view into x
    A = A.copy()                        # the argument stays as it is (the graph has no mutation outputs)
    for i in range(ROWS):
        for j in range(1, COLS):
            A[i, j] = A[i, j - 1] * 0.5 + B[i, j]
    return x, y.sum() + A


def _inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal(8), rng.standard_normal(8), rng.standard_normal((ROWS, COLS)), \
        rng.standard_normal((ROWS, COLS))


def _depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


@contextlib.contextmanager
def shallow_stack():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(_depth() + HEADROOM)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _check(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def traced():
    x, b, A, B = _inputs()
    with shallow_stack():
        f = distjit.trace(kernel, (x, b, A.copy(), B))
    assert f.graph.node_count() > STEPS * 2 + ROWS * (COLS - 1) * 5
    return f


@pytest.fixture(scope="module")
def expected():
    x, b, A, B = _inputs()
    return kernel(x, b, A, B)


def test_headroom_is_too_small_for_a_chain():
    """The limit is low enough: a recursion along a chain of a few hundred values fails under it."""
    def down(n):
        return 0 if n == 0 else 1 + down(n - 1)
    with shallow_stack(), pytest.raises(RecursionError):
        down(HEADROOM + 50)


def test_trace_verify_print_parse_and_interpret(traced, expected):
    x, b, A, B = _inputs()
    with shallow_stack():
        traced.graph.verify()
        text = str(traced.graph)
        parsed = Graph.parse(text)
        parsed.verify()
        assert str(parsed) == text
        _check(Interpreter(traced.graph).run(x, b, A.copy(), B), expected)
        _check(traced(x, b, A.copy(), B), expected)


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_optimize_verify_codegen_and_call(traced, expected, level):
    x, b, A, B = _inputs()
    with shallow_stack():
        g = distjit.optimize(traced, level=level)
        g.graph.verify()
        _check(g(x, b, A.copy(), B), expected)
        if level == 2:
            text = str(g.graph)
            assert str(Graph.parse(text)) == text
            _check(Interpreter(g.graph).run(x, b, A.copy(), B), expected)
