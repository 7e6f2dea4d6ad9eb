"""`f.run(..., timeline=path)` and `distjit run --timeline`: a Chrome trace-event file, one slice per task."""
import json

import numpy as np
import pytest

import distjit
from scheduler.timeline import predicted


def scores(x, w):
    h = np.tanh(x @ w)
    return h - h.mean(axis=0)


@pytest.fixture(scope="module")
def f():
    rng = np.random.default_rng(0)
    return distjit.trace(scores, (rng.standard_normal((20000, 16)), rng.standard_normal((16, 8))))


def _check(path, plan, executor):
    doc = json.loads(path.read_text())
    assert doc["otherData"]["executor"] == executor and doc["otherData"]["tasks"] == len(plan.tasks)
    events = doc["traceEvents"]
    slices = [e for e in events if e["ph"] == "X"]
    assert sorted(e["args"]["task"] for e in slices) == sorted(f"t{i}" for i in range(len(plan.tasks)))
    by_task = {e["args"]["task"]: e for e in slices}
    for i, t in enumerate(plan.tasks):
        e = by_task[f"t{i}"]
        assert e["name"] == t.name and e["ts"] >= 0 and e["dur"] >= 0
        assert e["args"]["predicted_ms"] == pytest.approx(predicted(t) * 1e3, abs=1e-6) and e["args"]["predicted_ms"] > 0
        assert e["args"]["measured_ms"] == pytest.approx(e["dur"] / 1e3, rel=1e-6, abs=1e-6)
    rows = {(e["pid"], e["tid"]) for e in slices}
    named = {(e["pid"], e["tid"]) for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert rows == named                           # every row is a named worker
    for i, t in enumerate(plan.tasks):              # a task starts after the tasks it reads have ended (1 ms slack)
        for d in t.deps():
            assert by_task[f"t{i}"]["ts"] >= by_task[f"t{d}"]["ts"] + by_task[f"t{d}"]["dur"] - 1e3
    return slices


@pytest.mark.parametrize("executor", ["local", "ray_local"])
def test_timeline_has_one_slice_per_task(f, executor, request, tmp_path):
    ex = request.getfixturevalue(executor)
    x, w = np.random.default_rng(1).standard_normal((20000, 16)), np.random.default_rng(2).standard_normal((16, 8))
    out = f.run(x, w, cluster=ex, workers=2, shard={"x": 0}, timeline=tmp_path / "run.json")
    np.testing.assert_allclose(out, scores(x, w), rtol=1e-9, atol=1e-12)
    plan = f.plan(2, {"x": 0})
    assert len(plan.tasks) >= 2
    slices = _check(tmp_path / "run.json", plan, ex.name)
    if executor == "ray_local":
        assert all(e["pid"] >= 1 for e in slices)


def test_cli_run_timeline(tmp_path):
    from distjit.cli import main

    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((20000, 16)), rng.standard_normal((16, 8))
    g = distjit.trace(scores, (x, w))
    distjit.save(g, tmp_path / "m.djit")
    np.savez(tmp_path / "in.npz", x=x, w=w)
    assert main(["run", str(tmp_path / "m.djit"), "--inputs", str(tmp_path / "in.npz"), "-o", str(tmp_path / "o.npz"),
                 "--workers", "2", "-q", "--timeline", str(tmp_path / "t.json")]) == 0
    from scheduler import executor_for

    loaded = distjit.load(tmp_path / "m.djit")      # planned as `run` plans it: for the local executor's costs
    _check(tmp_path / "t.json", loaded.plan(2, cost=executor_for("local").cost_model()), "local")
