"""A graph whose dependency chain is tens of thousands of nodes long goes through the partitioner, save, load
and the local executor with a recursion limit far below its length (issue 13: no recursion in the compiler).

The graph is traced at the normal limit; the low limit is set only around the stages under test (planning
for 2 workers, saving, loading with verification, running), so a frame per node anywhere in them fails.
"""
import sys

import numpy as np

import distjit
from tests.compare import assert_same

STEPS = 5000            # four nodes a step: a 20k-node graph


def _chain(x, y, w):
    for i in range(STEPS):
        x = x * 0.5 + y[i % 3]
        w = w * 0.9999                       # a long chain of cheap replicated nodes: they float into the tasks
        if i % 500 == 250:
            x = x - x.mean(axis=0)         # a combine across shards: a new stage, so the Plan has many tasks
    return x + w


def _depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


def test_a_20k_node_chain_is_planned_saved_loaded_and_run_without_deep_recursion(tmp_path, local):
    rng = np.random.default_rng(0)
    x, y, w = rng.standard_normal((8, 3)), rng.standard_normal((3, 3)), rng.standard_normal(3)
    f = distjit.trace(_chain, (x, y, w))
    assert f.graph.node_count() >= 4 * STEPS
    path = tmp_path / "chain.djit"
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_depth() + 200)      # a few hundred frames for a graph 20,000 nodes deep
    try:
        plan = f.plan(workers=2, shard={"x": 0})
        distjit.save(f, path)
        h = distjit.load(path)
        got = h.run(x, y, w, cluster=local, workers=2, shard={"x": 0})
    finally:
        sys.setrecursionlimit(limit)
    assert plan.parts == 2 and plan.stages > STEPS // 500
    (loaded,) = h.plans.values()
    assert loaded.tasks == plan.tasks
    assert [loaded.digest(i) for i in range(len(loaded.subgraphs))] == \
        [plan.digest(i) for i in range(len(plan.subgraphs))]
    assert_same(got, _chain(x, y, w), rtol=1e-9, scaled=True)     # shards' partial means are summed in another order
