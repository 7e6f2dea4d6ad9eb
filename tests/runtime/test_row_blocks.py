"""Row blocks (distjit/runtime/row_blocks.py): a graph run block by block against the same graph run whole,
on every corpus program, on generated graphs, and on the shapes that need care (a combine of argmins,
two loops, a value read by a later loop, a split along another axis). tests/distributed/test_blocked_tasks.py
runs the executors' tasks in blocks."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import distjit
from distjit.runtime import row_blocks
from distjit.runtime.codegen import generate
from distjit.runtime.executor import plan_buffers
from tests.compare import assert_same, fresh
from tests.distributed.corpus import RTOL
from tests.distributed.test_fast_paths import kmeans_step
from tests.ir.strategies import straight_line_graphs
from tests.passes.test_random import _inputs
from tests.programs import PROGRAMS

BLOCKED = set()     # corpus programs that ran in blocks: the corpus test must not pass by never blocking


def blocked_and_whole(graph, params=None, rows_per_block=2):
    """(the program run in blocks of `rows_per_block` rows or None when the graph cannot be, the whole one)."""
    plan_buffers(graph)
    blocks = row_blocks.plan(graph, rows_per_block)
    whole = generate(graph, params)
    return (generate(graph, params, blocks) if blocks is not None else None), whole


@pytest.mark.parametrize("level", [0, 2])
@pytest.mark.parametrize("prog", PROGRAMS, ids=lambda p: p.name)
def test_corpus_in_blocks(prog, level):
    f = distjit.trace(prog.fn, prog.make_inputs(np.random.default_rng(0)), dynamic_axes=prog.dynamic_axes)
    if level:
        f = distjit.optimize(f, level=level)
    blocked, whole = blocked_and_whole(f.graph.copy(), f.params)
    if blocked is None:
        return
    BLOCKED.add(prog.name)
    inputs = list(f.flatten_inputs(prog.make_inputs(np.random.default_rng(1)), {}))
    with np.errstate(all="ignore"):
        assert_same(blocked(*fresh(inputs)), whole(*fresh(inputs)), max(prog.rtol, RTOL))


def test_most_of_the_corpus_runs_in_blocks():
    if not BLOCKED:
        for prog in PROGRAMS:
            f = distjit.trace(prog.fn, prog.make_inputs(np.random.default_rng(0)), dynamic_axes=prog.dynamic_axes)
            if row_blocks.plan(f.graph.copy(), 2) is not None:
                BLOCKED.add(prog.name)
    assert len(BLOCKED) >= len(PROGRAMS) // 3, sorted(BLOCKED)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=straight_line_graphs(max_nodes=12))
def test_generated_elementwise_graphs_in_blocks_are_bitwise(graph):
    """Elementwise graphs combine nothing across blocks: every element is computed as it was."""
    blocked, whole = blocked_and_whole(graph)
    if blocked is None:
        return
    inputs = _inputs(graph, 0)
    with np.errstate(all="ignore"):
        try:
            expected = whole(*fresh(inputs))
        except Exception:       # a graph NumPy itself refuses (bad casts): nothing to compare
            return
        assert_same(blocked(*fresh(inputs)), expected, 0.0)


def standardize_cov(X):
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    return Z.T @ Z / X.shape[0]


def first_extremes(X):
    """argmin/argmax over the rows: ties across blocks go to the first row, as in NumPy."""
    return np.argmin(X, axis=0), np.argmax(X.sum(axis=1)), X.max(axis=0), X.min()


def later_loop_reads_earlier_value(X):
    y = np.exp(X) * 2.0
    return y - y.mean(axis=0), (y * y).var(axis=0)


def split_along_columns(X):
    t = X.T * 3.0                    # split along axis 1 from here on
    return np.tanh(t) + 1.0, (t * t).sum(axis=1)


def ints(X):
    return X.sum(axis=0), (X * 3 - 1).prod(axis=0) % 7, X.all(axis=0), (X > 2).any()


def rows(n, cols, seed=0):
    return np.random.default_rng(seed).standard_normal((n, cols))


CASES = [
    (kmeans_step, lambda: (rows(1001, 3), rows(5, 3, 1))),
    (standardize_cov, lambda: (rows(997, 4),)),
    (first_extremes, lambda: (np.round(rows(1003, 3)),)),         # many ties
    (later_loop_reads_earlier_value, lambda: (rows(999, 3),)),
    (split_along_columns, lambda: (rows(1000, 2),)),
    (ints, lambda: (np.random.default_rng(0).integers(-3, 5, (1000, 3)),)),
]


@pytest.mark.parametrize("rows_per_block", [1, 7, 64, 500])
@pytest.mark.parametrize("fn, make", CASES, ids=[c[0].__name__ for c in CASES])
def test_programs_in_blocks_match_numpy(fn, make, rows_per_block):
    inputs = make()
    f = distjit.optimize(distjit.trace(fn, inputs))
    blocked, _ = blocked_and_whole(f.graph.copy(), f.params, rows_per_block)
    assert blocked is not None and "for " in blocked.source
    got = blocked(*fresh(list(inputs)))
    expected = fn(*inputs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    for g, e in zip(got, expected):
        assert np.shape(g) == np.shape(e) and np.asarray(g).dtype == np.asarray(e).dtype
        if np.asarray(e).dtype.kind in "fc":
            np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-9)
        else:
            np.testing.assert_array_equal(g, e)


def test_a_big_row_parallel_graph_chooses_blocks_and_a_small_one_does_not():
    X, C = np.zeros((1 << 20, 8)), rows(32, 8, 1)       # (2^20, 32) temporaries: 256 MiB
    big = distjit.optimize(distjit.trace(kmeans_step, (X, C))).graph
    blocks = row_blocks.plan(big)
    assert blocks is not None and len(blocks.bounds) >= 8
    assert blocks.slots                               # block temporaries in reused buffers
    small = distjit.optimize(distjit.trace(kmeans_step, (X[:1000], C))).graph
    assert row_blocks.plan(small) is None
    elementwise = distjit.optimize(distjit.trace(lambda x: np.exp(x) * 2.0 + 1.0, (X,))).graph
    assert row_blocks.plan(elementwise) is None       # nothing but its result: blocks would only add a copy
