"""The executors' and partitioner's fast paths give NumPy's results: optimized (fused) graphs split into
shards, a mean and a std sharing one pass, big split outputs assembled in place, BLAS threads restored."""
import numpy as np
import pytest

import distjit
from scheduler import LocalExecutor
from scheduler.common import _openblas, blas_threads


def kmeans_step(X, C):
    x2 = np.sum(X * X, axis=1, keepdims=True)
    d = x2 - 2.0 * (X @ C.T) + np.sum(C * C, axis=1)
    labels = np.argmin(d, axis=1)
    onehot = (labels[:, None] == np.arange(C.shape[0])).astype(X.dtype)
    counts = onehot.sum(axis=0)
    new_c = (onehot.T @ X) / np.maximum(counts, 1.0)[:, None]
    return np.where(counts[:, None] > 0, new_c, C), labels


def standardize(X):
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    return Z, X.var(axis=0, ddof=1)


def test_optimized_graph_with_fused_nodes_splits_into_shards():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1 << 16, 8))
    C = X[:8].copy()
    f = distjit.optimize(distjit.trace(kmeans_step, (X, C)))
    assert any(n.op == "fused.elementwise" for n in f.graph.walk())
    plan = f.plan(workers=2, shard={"X": 0})
    rows = [n.outputs[0].type.shape[0] for g in plan.subgraphs for n in g.walk() if n.op == "fused.elementwise"]
    assert 1 << 15 in rows and 1 << 16 not in rows      # a shard's fused nodes have its rows, not the whole's
    new_c, labels = f.run(X, C, cluster=LocalExecutor(2), workers=2, shard={"X": 0})
    e_c, e_labels = kmeans_step(X, C)
    np.testing.assert_array_equal(labels, e_labels)
    np.testing.assert_allclose(new_c, e_c, rtol=1e-12)


def test_mean_and_std_of_one_value_share_one_partial():
    X = np.random.default_rng(1).standard_normal((1 << 16, 16)) * 3 + 100.0
    f = distjit.trace(standardize, (X,))
    plan = f.plan(workers=2, shard={"X": 0})
    partials = [n.attrs["kind"] for g in plan.subgraphs for n in g.walk() if n.op == "dist.Partial"]
    assert partials == ["var"]
    Z, v = f.run(X, cluster=LocalExecutor(2), workers=2, shard={"X": 0})
    eZ, ev = standardize(X)
    np.testing.assert_allclose(Z, eZ, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(v, ev, rtol=1e-12)
    assert Z.flags.writeable and Z.flags.c_contiguous


def test_big_split_outputs_assembled_in_place_on_three_uneven_shards():
    x = np.random.default_rng(2).standard_normal((1 << 20) + 7)
    f = distjit.trace(lambda x: (np.sin(x) * 2.0, x.sum()), (x,))
    y, s = f.run(x, cluster=LocalExecutor(3), workers=3, shard={"x": 0})
    np.testing.assert_array_equal(y, np.sin(x) * 2.0)
    np.testing.assert_allclose(s, x.sum())


def test_blas_threads_are_restored():
    lib = _openblas()
    if not lib:
        return
    get, _ = lib
    before = int(get())
    with blas_threads(1):
        assert int(get()) == 1
        with blas_threads(1):
            pass
        assert int(get()) == 1
    assert int(get()) == before


def test_tasks_side_by_side_evaluate_fused_nodes_on_their_own_thread(monkeypatch):
    """The LocalExecutor's tasks keep the cores busy: a fused node inside a task uses no block threads."""
    import distjit.runtime.fused_eval as fused_eval

    x = np.random.default_rng(3).standard_normal(1 << 20)
    f = distjit.optimize(distjit.trace(lambda x: np.sin(x) * 2.0 + 1.0, (x,)))
    assert any(n.op == "fused.elementwise" for n in f.graph.walk())
    monkeypatch.setattr(fused_eval, "THREADS", 2)

    def no_pool():
        raise AssertionError("a task's fused node used the block threads")
    monkeypatch.setattr(fused_eval, "_threads", no_pool)
    y = f.run(x, cluster=LocalExecutor(2), workers=2, shard={"x": 0})
    np.testing.assert_array_equal(y, np.sin(x) * 2.0 + 1.0)
    with fused_eval.limit_threads(1):
        np.testing.assert_array_equal(f(x), np.sin(x) * 2.0 + 1.0)
    with pytest.raises(distjit.ExecutionError, match="block threads"):
        f(x)                                       # outside: the block threads again
