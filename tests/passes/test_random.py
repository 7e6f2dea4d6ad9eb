"""Hypothesis-drawn graphs (tests/ir/strategies.py) optimized at every level against the unoptimized graph."""
import numpy as np
from hypothesis import HealthCheck, given, settings

from distjit.ir import Graph
from distjit.types import ScalarType, TensorType
from distjit.passes import PIPELINES, run_passes
from distjit.runtime.executor import compile_graph
from tests.compare import assert_same
from tests.ir.strategies import straight_line_graphs


def _inputs(graph: Graph, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    for v in graph.inputs:
        t = v.type
        if isinstance(t, TensorType):
            shape = tuple(2 if isinstance(d, str) else d for d in t.shape)
            data = rng.standard_normal(shape) * 3
            if t.dtype.kind == "c":
                data = data + 1j * rng.standard_normal(shape)
            out.append(np.asarray(data).astype(t.dtype) if t.dtype != np.bool_ else np.asarray(data > 0))
        elif isinstance(t, ScalarType):
            out.append({"int": 3, "float": -0.0, "bool": True, "complex": 1j}[t.kind])
    return out


def _run(graph, inputs):
    with np.errstate(all="ignore"):
        try:
            return ("ok", compile_graph(graph)(*inputs))
        except Exception as e:   # the unoptimized graph may fail (int overflow, bad casts): then both must
            return ("error", type(e).__name__)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(straight_line_graphs(max_nodes=12))
def test_random_graphs(graph):
    inputs = _inputs(graph, 0)
    expected = _run(graph, inputs)
    for level in (1, 2, 3):
        g = graph.copy()
        run_passes(g, PIPELINES[level], level=level, verify=True)
        got = _run(g, inputs)
        assert got[0] == expected[0]
        if got[0] == "ok":
            for a, b in zip(got[1], expected[1]):
                dt = getattr(np.asarray(b), "dtype", None)
                rtol = 0.0 if level < 3 else (1e-4 if dt is not None and dt.itemsize <= 4 else 1e-6)
                assert_same(a, b, rtol)

