"""The calibrated cost model: calibration cached per machine and versions, hostile cache files ignored,
predictions present in RunStats, and the partitioner's decisions made by predicted time.

Decisions are tested with injected calibrations (never against this machine's speed): speed itself is
measured in bench/, not asserted here.
"""
import json
import os
import stat
from dataclasses import replace

import numpy as np
import pytest

import distjit
from distjit.partition import calibration
from distjit.partition.calibration import REFERENCE
from distjit.partition.cost import LOCAL_REFERENCE, RAY_REFERENCE, CostModel, op_class, predict

pytestmark = pytest.mark.filterwarnings("ignore::distjit.partition.PlanWarning")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache folder, no injected calibration, and no calibration remembered by this process."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("DISTJIT_CALIBRATION", raising=False)
    monkeypatch.setattr(calibration, "_current", None)
    return tmp_path / "distjit"


def _files(folder, kind="calibration"):
    return sorted(folder.glob(f"{kind}-*.json"))


# ---- calibration and its cache --------------------------------------------------------------------------------

def test_calibration_is_measured_once_then_cached_by_machine_key(cache, monkeypatch):
    first = calibration.machine_calibration()
    assert first.source == "measured" and all(v > 0 for k, v in first.as_values().items() if k != "native")
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    (path,) = _files(cache)
    saved = json.loads(path.read_text())
    assert saved["key"]["numpy"] == np.__version__ and "blas" in saved["key"] and saved["key"]["cpu"]
    assert saved["values"] == first.as_values()
    assert not [p for p in cache.iterdir() if p.name.startswith(".")], "no temporary file is left behind"

    monkeypatch.setattr(calibration, "_current", None)       # a new process on the same machine
    again = calibration.machine_calibration()
    assert again.source == "cached" and again.as_values() == first.as_values()

    monkeypatch.setattr(calibration, "_current", None)       # another NumPy: its own calibration
    monkeypatch.setattr(np, "__version__", np.__version__ + "-other")
    other = calibration.machine_calibration()
    assert other.source == "measured" and len(_files(cache)) == 2


def _write_hostile(path, how):
    key = calibration.machine_key()
    good = REFERENCE.as_values()
    if how == "garbage":
        path.write_bytes(b"\x00\xff not json {{{")
    elif how == "other key":
        path.write_text(json.dumps({"key": {**key, "numpy": "0.0"}, "values": good}))
    elif how == "nan":
        path.write_text(json.dumps({"key": key, "values": {**good, "elem_s": float("nan")}}))
    elif how == "negative":
        path.write_text(json.dumps({"key": key, "values": {**good, "matmul_f64_flops_s": -1.0}}))
    elif how == "huge":
        path.write_text(json.dumps({"key": key, "values": good, "pad": "x" * (1 << 17)}))
    elif how == "unknown field":
        path.write_text(json.dumps({"key": key, "values": {**good, "evil": 1.0}}))
    elif how == "not an object":
        path.write_text(json.dumps([1, 2, 3]))
    elif how == "deep":
        path.write_text("[" * 100000 + "]" * 100000)


HOSTILE = ["garbage", "other key", "nan", "negative", "huge", "unknown field", "not an object", "deep"]


@pytest.mark.parametrize("how", HOSTILE)
def test_hostile_cache_files_are_not_used(cache, how):
    calibration.write_cache("calibration", calibration.machine_key(), REFERENCE.as_values())
    (path,) = _files(cache)
    _write_hostile(path, how)
    values = calibration.read_cache("calibration", calibration.machine_key())
    if values is not None:                      # readable JSON for this key: its values must still be refused
        with pytest.raises(ValueError):
            calibration.from_values(values, "cached")


def test_a_garbage_cache_file_is_measured_again_and_replaced(cache):
    calibration.write_cache("calibration", calibration.machine_key(), REFERENCE.as_values())
    (path,) = _files(cache)
    _write_hostile(path, "garbage")
    cal = calibration.machine_calibration()
    assert cal.source == "measured"
    assert json.loads(path.read_text())["values"] == cal.as_values()


def test_a_symlinked_cache_file_is_not_followed(cache, tmp_path):
    calibration.write_cache("calibration", calibration.machine_key(), REFERENCE.as_values())
    (path,) = _files(cache)
    target = tmp_path / "elsewhere.json"
    target.write_text(path.read_text())
    path.unlink()
    path.symlink_to(target)
    assert calibration.read_cache("calibration", calibration.machine_key()) is None


def test_a_loose_cache_folder_is_made_private(cache):
    cache.mkdir(mode=0o777)
    os.chmod(cache, 0o777)
    assert calibration.cache_dir() == str(cache)
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700


def test_an_injected_calibration_file(tmp_path, monkeypatch):
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"values": {"matmul_f64_flops_s": 1e6}}))
    monkeypatch.setenv("DISTJIT_CALIBRATION", str(path))
    cal = calibration.machine_calibration()
    assert cal.matmul_f64_flops_s == 1e6 and cal.elem_s == REFERENCE.elem_s and cal.source == str(path)
    path.write_text(json.dumps({"values": {"matmul_f64_flops_s": "fast"}}))
    with pytest.raises(distjit.DistJitError, match="DISTJIT_CALIBRATION"):
        calibration.machine_calibration()


# ---- costing nodes -------------------------------------------------------------------------------------------

def _mlp(x, w1, w2):
    return np.tanh(x @ w1 + 1.0) @ w2


def test_fused_regions_are_costed_apart_from_numpy_calls():
    x = np.ones((4096, 64))
    f = distjit.trace(lambda x: np.tanh(x * 2.0 + 1.0) - x, (x,))
    g = distjit.optimize(f)
    fused = [n for n in g.graph.block.nodes if n.op == "fused.elementwise"]
    assert fused and op_class(fused[0]) == "fused"
    assert {op_class(n) for n in f.graph.block.nodes if n.op != "prim.Constant"} == {"elementwise"}
    slow_fused = CostModel(replace(REFERENCE, fused_bytes_s=REFERENCE.fused_bytes_s / 100))
    fast = CostModel(REFERENCE)
    assert slow_fused.graph_seconds(g.graph) > 10 * fast.graph_seconds(g.graph)
    assert slow_fused.graph_seconds(f.graph) == fast.graph_seconds(f.graph)    # unfused: NumPy's rates only


def test_an_empty_fused_region_costs_no_work_and_runs(local):
    """x[:0] ** 2 * y[:0] fuses into a region with no elements: it is costed (no division by its size) and run."""
    def f(x, y, k: int):
        return x + np.sum(x[:k] ** 2 * y[:k])

    x, y = np.arange(6.0), np.ones(6)
    g = distjit.optimize(distjit.trace(lambda x, y: f(x, y, 0), (x, y)))
    fused = [n for n in g.graph.walk() if n.op == "fused.elementwise"]
    assert fused and any(v.type.size == 0 for n in fused for v in n.outputs)
    assert CostModel(REFERENCE).graph_seconds(g.graph) > 0
    np.testing.assert_allclose(g.run(x, y, cluster=local), f(x, y, 0))


# ---- the partitioner decides by predicted time ---------------------------------------------------------------

def _faster(cal, k):
    """The calibration of a machine `k` times faster at every kind of kernel."""
    values = {name: (v / k if name.endswith("_s") and not name.endswith("bytes_s") and not name.endswith("flops_s")
                     else v if name == "cores" else v * k)
              for name, v in cal.as_values().items()}
    return calibration.from_values(values, "test")


def _decide(f, cal, executor=RAY_REFERENCE, workers=2):
    return distjit.partition(f, workers=workers, cost=CostModel(cal, executor))


def test_a_cheap_graph_stays_one_task_and_an_expensive_one_is_split():
    x = np.ones((1 << 13, 512))                   # 32 MiB: big enough to split
    w1, w2 = np.ones((512, 512)), np.ones((512, 8))
    cheap = distjit.trace(lambda x: x.sum(), (x,))
    costly = distjit.trace(_mlp, (x, w1, w2))
    plan = _decide(cheap, REFERENCE)
    assert len(plan.tasks) == 1 and plan.inputs[0].axis is None
    assert "one task" in plan.why and "1 shard(s)" in plan.why and "2 shard(s)" in plan.why
    plan = _decide(costly, REFERENCE)
    assert plan.parts == 2 and plan.inputs[0].axis == 0 and "2 shards" in plan.why
    assert "why: 2 shards" in plan.explain()


def test_the_same_graph_is_split_or_not_by_its_calibration():
    x, w1, w2 = np.ones((1 << 13, 512)), np.ones((512, 512)), np.ones((512, 8))
    f = distjit.trace(_mlp, (x, w1, w2))
    huge_overhead = replace(RAY_REFERENCE, task_s=10.0)
    assert _decide(f, REFERENCE).parts == 2
    assert _decide(f, _faster(REFERENCE, 100)).parts == 1
    plan = _decide(f, REFERENCE, huge_overhead)
    assert plan.parts == 1 and "overhead" in plan.why


def test_a_tiny_graph_is_not_spread_over_workers():
    x = np.ones((1 << 19,))                       # 4 MiB, summed in well under a millisecond
    f = distjit.trace(lambda x: x.sum(), (x,))
    plan = _decide(f, REFERENCE, workers=8)
    assert len(plan.tasks) == 1 and "below one ray task's overhead" in plan.why


def test_shard_overrides_are_obeyed():
    x = np.ones((1 << 13, 512))
    f = distjit.trace(lambda x: x.sum(), (x,))
    plan = distjit.partition(f, workers=4, shard={"x": 0}, cost=CostModel(REFERENCE))
    assert plan.parts == 4 and "shard=" in plan.why


def test_tasks_carry_their_predicted_seconds():
    x, w1, w2 = np.ones((1 << 13, 512)), np.ones((512, 512)), np.ones((512, 8))
    plan = _decide(distjit.trace(_mlp, (x, w1, w2)), REFERENCE)
    assert all(t.predicted_seconds > t.seconds > 0 for t in plan.tasks)
    p = predict(plan, CostModel(REFERENCE, LOCAL_REFERENCE))
    assert p.seconds > 0 and len(p.stages) == plan.stages and len(p.tasks) == len(plan.tasks)
    assert p.transfers == 0                          # the local executor's tasks share memory
    assert predict(plan, CostModel(REFERENCE, RAY_REFERENCE)).transfers > 0


# ---- RunStats ---------------------------------------------------------------------------------------------------

def _check_stats(stats, plan):
    assert stats.predicted_seconds > 0 and len(stats.predicted_stages) == len(stats.stages) == plan.stages
    assert len(stats.predicted_tasks) == len(plan.tasks)
    text = str(stats)
    assert "predicted" in text and "measured/predicted" in text
    assert text.count("(predicted ") == 1 + len(stats.stages)


def test_run_stats_predict_the_run_on_the_local_executor(local):
    x = np.random.default_rng(0).standard_normal((1 << 12, 64))
    f = distjit.trace(lambda x: np.tanh(x) - x.mean(axis=0), (x,))
    out, stats = f.run(x, cluster=local, workers=2, shard={"x": 0}, stats=True)
    np.testing.assert_allclose(out, np.tanh(x) - x.mean(axis=0), rtol=1e-12, atol=1e-15)
    _check_stats(stats, f.plan(2, {"x": 0}))
    assert local.cost_model().executor.name == "local" and local.cost_model().executor.slots == local.max_workers


def test_run_stats_predict_the_run_on_ray(ray_local):
    x = np.random.default_rng(0).standard_normal((1 << 12, 64))
    f = distjit.trace(lambda x: np.tanh(x) - x.mean(axis=0), (x,))
    out, stats = f.run(x, cluster=ray_local, workers=2, shard={"x": 0}, stats=True)
    np.testing.assert_allclose(out, np.tanh(x) - x.mean(axis=0), rtol=1e-12, atol=1e-15)
    _check_stats(stats, f.plan(2, {"x": 0}))


def test_ray_calibrates_on_its_workers_once(ray_local, cache):
    from scheduler.costs import ray_model

    ray = ray_local.ray
    model = ray_model(ray)
    assert model.calibration.source == "measured" and model.executor.source == "measured"
    assert model.executor.task_s > 0 and model.executor.put_bytes_s > 0 and model.executor.slots >= 1
    assert _files(cache) and _files(cache, "ray")
    again = ray_model(ray)
    assert again.calibration.source == "cached" and again.executor.source == "cached"
    assert again.calibration.as_values() == model.calibration.as_values()
