"""A gather (`x[idx]` by an integer or boolean array) makes fresh memory (ops/index.py, `_fresh_getitem`):
memory planning lets the elementwise op that reads it last write over it, and an update of it may write in
place; differential against eager NumPy, the arguments included."""
import numpy as np
from hypothesis import given, settings, strategies as st

import distjit
from distjit.ir.graph import Graph
from tests.compare import assert_same


def gather_scale(data, idx, x, mask):
    g = data * x[idx]            # the product may write over the gathered values
    h = x[mask]
    h[0] = -1.0                  # an update of the gathered copy, never of x
    return g, h, x


_f = distjit.optimize(distjit.script(gather_scale))


def _planned_over_gather(f) -> bool:
    graph: Graph = f.graph
    return any(n.op == "np.multiply" and n.meta.get("out") for n in graph.block.nodes)


@given(st.integers(1, 40), st.integers(0, 2**32 - 1))
@settings(max_examples=10, deadline=None)
def test_products_of_gathers_and_updates_of_gathers_match_numpy(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    idx = rng.integers(-n, n, 3 * n)
    data = rng.standard_normal(3 * n)
    mask = rng.random(n) < 0.5
    mask[rng.integers(0, n)] = True
    args = (data, idx, x, mask)
    expected = gather_scale(*(a.copy() for a in args))
    got = _f(*(a.copy() for a in args))
    for g, e in zip(got, expected):
        assert_same(g, e)
    assert _planned_over_gather(_f)
