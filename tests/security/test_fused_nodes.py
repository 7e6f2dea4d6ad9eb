"""A `fused.elementwise` node from a file is checked like a call (issue 16, finding 2).

Its expression is verified with the file, must take the node's inputs and be elementwise; a
native (numba) kernel sizes its loop from the inputs' checked shape, and `out=` buffers must
have the declared shape and dtype: numba does no bounds checks, so a bigger `out=` once made
the loop read past the inputs and write past other outputs.
"""
import numpy as np
import pytest

import distjit
from distjit import FormatError
from distjit.ir.text import parse_graph
from distjit.runtime import fused_eval
from tests.compare import assert_same

EXPR = """
graph e(%0: f64[N], %1: f64[N]) {
  %2: f64[N] = np.add(%0, %1)
  %3: f64[N] = np.tanh(%2)
  return (%3)
}
"""


def fused_file(expr: str, main: str) -> bytes:
    g = parse_graph(expr + main)
    f = distjit.trace(lambda a, b: a + b, (np.zeros(4), np.zeros(4)))
    f.graph = g
    return distjit.serialize.to_bytes(f)


MAIN = """
graph main(%a: f64[4], %b: f64[4]) {{
  %c: f64[4] = fused.elementwise({args}) {{graph=graph("e"), exact=False}}
  return (%c)
}}
"""


def test_a_well_formed_fused_node_loads_and_runs():
    f = distjit.serialize.from_bytes(fused_file(EXPR, MAIN.format(args="%a, %b")))
    a, b = np.arange(4.0), np.ones(4)
    assert_same(f(a, b), np.tanh(a + b))


@pytest.mark.parametrize("expr, args, problem", [
    (EXPR.replace("%3: f64[N] = np.tanh(%2)", "%3: f64[N] = np.cumsum(%2) {axis=0}"), "%a, %b",
     "not an elementwise op"),
    (EXPR.replace("%1: f64[N]) {", "%1: f64[N], %9: f64[N]) {"), "%a, %b", "takes 3"),
    (EXPR.replace("%0: f64[N], %1", "%0: f32[N], %1").replace("np.add(%0, %1)", "np.add(%0, %1)"), "%a, %b",
     "input 0 has type"),
    (EXPR.replace("%0: f64[N], %1: f64[N]", "%0: f64[N,N], %1: f64[N,N]").replace("f64[N] =", "f64[N,N] ="),
     "%a, %b", "input 0 has type"),
])
def test_an_expression_that_does_not_fit_its_node_is_refused(expr, args, problem):
    data = fused_file(expr, MAIN.format(args=args))
    with pytest.raises(FormatError, match=problem):
        distjit.serialize.from_bytes(data)


def expression():
    return parse_graph(EXPR.replace("N", "1000000"))


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_out_buffers_must_have_the_inputs_shape(monkeypatch, backend):
    monkeypatch.setattr(fused_eval, "BACKEND", backend)
    a = np.ones(fused_eval.NUMBA_MIN_ELEMENTS)
    b = np.ones(fused_eval.NUMBA_MIN_ELEMENTS)
    big = np.full(4 * a.size, 7.0)
    g = expression()
    with pytest.raises(ValueError, match="out= buffer"):
        fused_eval.evaluate(a, b, graph=g, exact=False, out=(big,))
    assert (big == 7.0).all()              # nothing written past the inputs' size
    with pytest.raises(ValueError, match="out= buffer"):
        fused_eval.evaluate(a, b, graph=g, exact=False, out=(np.empty(a.size, np.float32),))
    out = np.empty(a.size)
    fused_eval.evaluate(a, b, graph=g, exact=False, out=(out,))
    assert_same(out, np.tanh(a + b))


def test_native_loops_take_their_bounds_from_numpy_broadcast_views(monkeypatch):
    """Operands that broadcast run natively from views NumPy made; ones that do not are refused before any
    loop runs (the loops index only views of the checked broadcast shape)."""
    monkeypatch.setattr(fused_eval, "BACKEND", "auto")
    g = expression()
    a = np.linspace(0, 1, fused_eval.NUMBA_MIN_ELEMENTS)
    assert_same(fused_eval.evaluate(a, np.array([0.5]), graph=g), np.tanh(a + 0.5))
    assert_same(fused_eval.evaluate(a, np.float64(0.5), graph=g), np.tanh(a + 0.5))
    assert fused_eval._kernels[g].native
    with pytest.raises(ValueError):
        fused_eval.evaluate(a, np.ones(3), graph=g)
    with pytest.raises(ValueError):
        fused_eval.evaluate(a[:, None], np.ones((1, 2)), graph=g, out=(np.empty((a.size, 3)),))
