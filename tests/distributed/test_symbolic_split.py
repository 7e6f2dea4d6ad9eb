"""A graph traced with a symbolic batch dim is split over the workers: its Plan is made per call shape."""
import numpy as np
import pytest

import distjit
from distjit.partition.per_shape import PlanPerShape


def mlp(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0)
    z = h @ w2 + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


BIG = 1 << 17       # big enough that the default plan splits it


def _weights(rng):
    return (rng.standard_normal((16, 32)), rng.standard_normal(32), rng.standard_normal((32, 4)),
            rng.standard_normal(4))


@pytest.fixture(scope="module")
def traced():
    rng = np.random.default_rng(0)
    ws = _weights(rng)
    f = distjit.trace(mlp, (rng.standard_normal((1000, 16)), *ws), dynamic_axes={"x": {0: "B"}})
    return distjit.optimize(f), ws


@pytest.mark.parametrize("executor", ["local", "ray_local"])
@pytest.mark.parametrize("shard", [None, {"x": 0}])
def test_symbolic_batch_split_over_two_workers(traced, executor, shard, request):
    g, ws = traced
    ex = request.getfixturevalue(executor)
    for rows in (BIG, 3001):
        x = np.random.default_rng(rows).standard_normal((rows, 16))
        got = g.run(x, *ws, cluster=ex, workers=2, shard=shard)
        np.testing.assert_allclose(got, mlp(x, *ws), rtol=1e-10, atol=1e-13)
    per_shape = g.plan(workers=2, shard=shard) if shard else g.plan_per_shape(workers=2)
    assert isinstance(per_shape, PlanPerShape)
    plans = {types[0].shape[0]: plan for types, plan in per_shape.plans.items()}
    assert plans[BIG].inputs[0].axis == 0 and len(plans[BIG].inputs[0].bounds) == 2
    if shard:                               # asked for: split whatever the size
        assert plans[3001].inputs[0].bounds == [(0, 1501), (1501, 3001)]
    text = per_shape.explain()
    assert "per call shape" in text and "symbolic dim(s) B" in text
    assert f"split(axis=0) into 2: [0:{BIG // 2}] [{BIG // 2}:{BIG}]" in text


@pytest.mark.filterwarnings("ignore::distjit.partition.plan.PlanWarning")
def test_explain_before_any_call_and_plan_shards_agree(traced):
    g, ws = traced
    p = g.plan(workers=3, shard={"x": 0})
    text = p.explain()
    assert "no call yet" in text and "split along axis 0 (B) into up to 3 parts (shard=)" in text
    plan = p.for_types(tuple(distjit.types.type_of(a) for a in (np.zeros((30, 16)), *ws)))
    assert plan.parts == 3 and len(plan.tasks) >= 3
    header = plan.explain().splitlines()[0]
    assert "3 shard(s)" in header


def test_unsplit_plan_says_one_shard():
    """A plan that splits nothing says 1 shard, not `workers` shards."""
    f = distjit.trace(lambda x: np.tanh(x), (np.zeros((4, 3)),))
    plan = f.plan(workers=2)
    assert len(plan.tasks) == 1 and plan.parts == 1 and "1 tasks" in plan.explain() and "1 shard(s)" in plan.explain()


def test_bad_shard_on_symbolic_graph_is_refused_at_plan_time(traced):
    g, _ = traced
    with pytest.raises(distjit.DistJitError, match="names no input"):
        g.plan_per_shape(workers=2, shard={"nope": 0})
    with pytest.raises(distjit.DistJitError, match="along axis 5"):
        g.plan(workers=2, shard={"x": 5})


def test_plain_plan_of_a_symbolic_graph_says_what_it_does(traced):
    g, _ = traced
    text = g.plan(workers=2).explain()
    assert "symbolic dim(s) B, which this Plan does not split" in text
