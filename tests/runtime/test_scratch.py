"""Scratch memory (distjit/runtime/scratch.py) against the same graph without it: bit for bit, on every
corpus program and on generated graphs, with the first call's results held while the next call reuses
the buffers, and from two threads at once."""
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import distjit
from distjit.runtime import scratch
from distjit.runtime.codegen import generate
from distjit.runtime.executor import plan_buffers
from tests.compare import assert_same, fresh
from tests.ir.strategies import straight_line_graphs
from tests.passes.test_random import _inputs
from tests.programs import PROGRAMS


def programs(graph, monkeypatch, params=None):
    """(with scratch for every temporary it may hold, without any)."""
    plan_buffers(graph)
    monkeypatch.setattr(scratch, "MIN_BYTES", 0)
    on = generate(graph, params)
    monkeypatch.setattr(scratch, "MIN_BYTES", 1 << 62)
    off = generate(graph, params)
    assert "take()" not in off.source
    return on, off


def check(graph, make_inputs, monkeypatch, params=None):
    on, off = programs(graph, monkeypatch, params)
    first_inputs, second_inputs = make_inputs(0), make_inputs(1)
    with np.errstate(all="ignore"):
        first = on(*fresh(first_inputs))
        kept = fresh(first)
        second = on(*fresh(second_inputs))          # reuses the first call's buffers
        assert_same(first, kept, 0.0, "first result after a second call")
        assert_same(first, off(*fresh(first_inputs)), 0.0)
        assert_same(second, off(*fresh(second_inputs)), 0.0)
    return on


@pytest.mark.parametrize("level", [0, 2])
@pytest.mark.parametrize("prog", PROGRAMS, ids=lambda p: p.name)
def test_corpus_with_scratch(prog, level, monkeypatch):
    f = distjit.trace(prog.fn, prog.make_inputs(np.random.default_rng(0)), dynamic_axes=prog.dynamic_axes)
    if level:
        f = distjit.optimize(f, level=level)
    check(f.graph.copy(), lambda seed: list(f.flatten_inputs(prog.make_inputs(np.random.default_rng(seed)), {})),
          monkeypatch, f.params)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(graph=straight_line_graphs(max_nodes=12))
def test_generated_graphs_with_scratch(graph, monkeypatch):
    try:
        with np.errstate(all="ignore"):
            generate(graph)(*_inputs(graph, 0))
    except Exception:        # a graph NumPy itself refuses (bad casts): nothing to compare
        return
    check(graph, lambda seed: _inputs(graph, seed), monkeypatch)


def views_of_a_temporary(x):
    a = x * 2.0
    b = np.einsum("ij->ji", a)       # a view of a: a must not be overwritten, nor kept as scratch
    c = a + 1.0
    t = (a * 3.0).T                  # a view of a temporary, returned
    return b, c, t, (x - 1.0).sum()


def test_views_of_temporaries_keep_their_memory(monkeypatch):
    x = np.arange(12.0).reshape(3, 4)
    f = distjit.trace(views_of_a_temporary, (x,))
    on = check(f.graph.copy(), lambda seed: (np.random.default_rng(seed).standard_normal((3, 4)),), monkeypatch)
    assert "take()" in on.source                     # the summed temporary is scratch
    assert_same(f(x), views_of_a_temporary(x), 0.0)


def kmeans_like(X, C):
    d = np.sum(X * X, axis=1, keepdims=True) - 2.0 * (X @ C.T) + np.sum(C * C, axis=1)
    onehot = (np.argmin(d, axis=1)[:, None] == np.arange(C.shape[0])).astype(X.dtype)
    return onehot.T @ X, onehot.sum(axis=0)


def test_calls_side_by_side_take_their_own_buffers():
    rng = np.random.default_rng(0)
    C = rng.standard_normal((8, 4))
    inputs = [rng.standard_normal((1 << 15, 4)) * (k + 1) for k in range(4)]
    f = distjit.optimize(distjit.trace(kmeans_like, (inputs[0], C)))
    f(inputs[0], C)
    assert "take()" in f._program.source
    results = {}

    def call(k):
        for _ in range(5):
            results[k] = f(inputs[k], C)

    threads = [threading.Thread(target=call, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        for got, expected in zip(results[k], kmeans_like(inputs[k], C)):
            np.testing.assert_allclose(got, expected, rtol=1e-12)
