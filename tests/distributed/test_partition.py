"""The partitioner and the local executor: every corpus program, sharded, gives NumPy's results."""
import warnings

import numpy as np
import pytest

import distjit
from distjit.ops import get_op
from distjit.partition import PlanWarning
from distjit.partition.sharding import bounds
from tests.distributed.corpus import check_program, split_everything, traced
from tests.programs import PROGRAMS

pytestmark = pytest.mark.filterwarnings("ignore::distjit.partition.PlanWarning")



@pytest.mark.parametrize("prog", PROGRAMS, ids=lambda p: p.name)
def test_corpus_on_local_executor(prog, local):
    for workers in (1, 2, 3):
        check_program(prog, local, workers)


@pytest.mark.parametrize("prog", PROGRAMS, ids=lambda p: p.name)
def test_subgraphs_verify_and_round_trip(prog):
    f = traced(prog)
    plan = f.plan(workers=3, shard=split_everything(f, 3))
    for g in plan.subgraphs:
        g.verify()
        assert not g.params, "subgraphs read parameters as inputs"
        assert str(distjit.Graph.parse(str(g))) == str(g)
    for i, t in enumerate(plan.tasks):
        assert all(s.index < i for s in t.inputs if s.kind == "task"), "tasks are in topological order"
        assert len(set(t.inputs)) == len(t.inputs), "each value crosses to a task once"


# ---- sharding decisions -------------------------------------------------------------------------------------

def dense(x, w, b):
    return np.maximum(x @ w + b, 0.0)


def test_matmul_with_split_batch_and_replicated_weight_stays_split():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((1 << 16, 32)), rng.standard_normal((32, 8)), rng.standard_normal(8)
    f = distjit.trace(dense, (x, w, b))
    plan = f.plan(workers=2)
    assert [str(layout) for layout in plan.inputs] == ["split(axis=0) into 2: [0:32768] [32768:65536]",
                                                       "replicated", "replicated"]
    assert len(plan.tasks) == 2 and all(t.shard is not None for t in plan.tasks)
    ops = {n.op for g in plan.subgraphs for n in g.walk()}
    assert not any(op.startswith("dist.") for op in ops), ops
    assert plan.outputs[0].axis == 0
    np.testing.assert_array_equal(f.run(x, w, b, cluster="local", workers=2), dense(x, w, b))


def standardize_cov(X):
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    Z = (X - mu) / sd
    return Z, (Z.T @ Z) / (X.shape[0] - 1)


def test_reductions_over_the_split_axis_combine_partials():
    X = np.random.default_rng(1).standard_normal((1 << 15, 16)) * 3 + 1
    f = distjit.trace(standardize_cov, (X,))
    plan = f.plan(workers=2)
    kinds = sorted(n.attrs["kind"] for g in plan.subgraphs for n in g.walk() if n.op == "dist.Combine")
    assert set(kinds) == {"mean", "var", "sum"}
    assert "dist.Gather" not in {n.op for g in plan.subgraphs for n in g.walk()}
    text = plan.explain()
    assert "X" in text and "split(axis=0)" in text and "FLOP" in text and "moved" in text
    Z, C = f.run(X, cluster="local", workers=2)
    eZ, eC = standardize_cov(X)
    np.testing.assert_allclose(Z, eZ, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(C, eC, rtol=1e-12, atol=1e-12)


def test_small_inputs_and_cheap_graphs_are_not_split():
    x = np.ones((100, 4))
    f = distjit.trace(lambda x: np.exp(x).sum(axis=0), (x,))
    plan = f.plan(workers=4)
    assert len(plan.tasks) == 1 and plan.inputs[0].axis is None


def test_shard_override_and_errors():
    x = np.ones((100, 4))
    f = distjit.trace(lambda x: np.exp(x).sum(axis=0), (x,))
    with pytest.warns(PlanWarning, match="overhead"):
        plan = f.plan(workers=4, shard={"x": 1})
    assert plan.inputs[0].axis == 1 and plan.parts == 4
    with pytest.raises(distjit.DistJitError, match="names no input"):
        f.plan(workers=2, shard={"y": 0})
    with pytest.raises(distjit.DistJitError, match="axis 5"):
        f.plan(workers=2, shard={"x": 5})


def test_partition_is_exported():
    x = np.ones((10, 3))
    f = distjit.trace(lambda x: x * 2, (x,))
    assert distjit.partition(f, workers=2).name == f.plan(workers=2).name


# ---- the dist.* ops -----------------------------------------------------------------------------------------

def _combine(kind, x, axis, parts, **kw):
    partial, combine = get_op("dist.Partial"), get_op("dist.Combine")
    pieces = [x[a:b] for a, b in bounds(x.shape[0], parts)]
    flat = []
    for p in pieces:
        out = partial.kernel(p, kind=kind, axis=axis)
        flat.extend(out if isinstance(out, tuple) else (out,))
    offsets = tuple(a for a, _ in bounds(x.shape[0], parts)) if kind in ("argmax", "argmin") else None
    return combine.kernel(*flat, kind=kind, axis=axis, offsets=offsets, **kw)


@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_combines_match_numpy(parts):
    rng = np.random.default_rng(parts)
    x = rng.standard_normal((50, 3)) * 1e3 + 1e6       # a large mean: a naive sum-of-squares var would lose digits
    np.testing.assert_allclose(_combine("sum", x, (0,), parts), x.sum(axis=0), rtol=1e-13)
    np.testing.assert_allclose(_combine("mean", x, (0,), parts), x.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(_combine("var", x, (0,), parts, ddof=1), x.var(axis=0, ddof=1), rtol=1e-10)
    np.testing.assert_allclose(_combine("var", x, (0,), parts, sqrt=True), x.std(axis=0), rtol=1e-10)
    np.testing.assert_array_equal(_combine("max", x, (0,), parts), x.max(axis=0))
    np.testing.assert_array_equal(_combine("min", x, (0, 1), parts), x.min())
    ties = np.repeat(np.array([[1.0, 5.0, 5.0, 2.0, 5.0, np.nan, 0.0]]).T, 2, axis=1)
    ties[:, 1] = [3, 9, 1, 9, 9, 0, 9]
    if parts <= ties.shape[0]:
        np.testing.assert_array_equal(_combine("argmax", ties, (0,), parts), np.argmax(ties, axis=0))
        np.testing.assert_array_equal(_combine("argmin", ties, (0,), parts), np.argmin(ties, axis=0))
    ints = rng.integers(-5, 5, (20, 2)).astype(np.int8)
    assert _combine("sum", ints, (0,), parts, dtype=np.dtype(np.int64)).dtype == np.int64
    np.testing.assert_array_equal(_combine("sum", ints, (0,), parts), ints.sum(axis=0))


def test_dist_ops_print_parse_and_verify():
    x = np.arange(24.0).reshape(6, 4)
    f = distjit.trace(lambda x: (x - x.mean(axis=0)) / x.std(axis=0) + x.max(axis=0) + np.argmax(x, axis=0), (x,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlanWarning)
        plan = f.plan(workers=3, shard={"x": 0})
    ops = {n.op for g in plan.subgraphs for n in g.walk()}
    assert {"dist.Partial", "dist.Combine"} <= ops
    for g in plan.subgraphs:
        g.verify()
        assert str(distjit.Graph.parse(str(g))) == str(g)


def test_tiny_plans_warn():
    x = np.ones((64, 4))
    f = distjit.trace(lambda x: x + 1, (x,))
    with pytest.warns(PlanWarning, match="per-task overhead"):
        f.plan(workers=2, shard={"x": 0})
