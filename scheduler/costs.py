"""What each executor's tasks cost besides their compute, measured once per machine (or cluster) and cached.

- LocalExecutor: the per-task cost of a thread-pool task (submit, run a compiled
  program, wake the driver); tasks share the driver's memory, so nothing is copied.
- RayExecutor: every node with CPUs runs the compute calibration itself
  (distjit/partition/calibration.py) in a Ray task pinned to it, unless the driver
  has it cached by that node's machine key; the cluster is costed at its slowest
  node. Then, from the driver: a task's round trip, `ray.put` of an array, and a
  task reading one from the object store, each per byte where it moves bytes.

Both are cached next to the compute calibration, keyed by the machine (and for
Ray by the nodes' keys and Ray's version); `DISTJIT_CALIBRATION` (see
calibration.py) replaces all of it with reference numbers.
"""
from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import replace

import numpy as np

from distjit.partition import calibration
from distjit.partition.cost import LOCAL_REFERENCE, RAY_REFERENCE, CostModel, ExecutorCosts

_BIG = 1 << 26          # bytes of the array the object store's rates are measured with


def _median_s(fn, n: int) -> float:
    fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _costs_from(values, base: ExecutorCosts, source: str) -> ExecutorCosts | None:
    """Executor costs from untrusted cached values, or None."""
    try:
        fields = {k: float(values[k]) for k in ("task_s", "put_bytes_s", "get_bytes_s")}
    except (KeyError, TypeError, ValueError):
        return None
    lo, hi = calibration._SANE
    if not all(lo <= v <= hi for v in fields.values()):
        return None
    return replace(base, **fields, source=source)


# ---- the local executor -----------------------------------------------------------------------------------------

def local_model(executor) -> CostModel:
    """The LocalExecutor's cost model: this machine's calibration, the thread pool's per-task cost."""
    cal = calibration.machine_calibration()
    # the threads the executor itself gives each task (scheduler/local.py), from this machine's cores
    shape = dict(slots=executor.max_workers, threads=max(1, (os.cpu_count() or 1) // executor.max_workers))
    if calibration.injected() is not None:
        return CostModel(cal, replace(LOCAL_REFERENCE, **shape))
    key = {**calibration.machine_key(), "executor": "local"}
    costs = _costs_from(calibration.read_cache("local", key) or {}, LOCAL_REFERENCE, "cached")
    if costs is None:
        costs = replace(LOCAL_REFERENCE, task_s=_local_task_s(executor), source="measured")
        calibration.write_cache("local", key, {"task_s": costs.task_s, "put_bytes_s": costs.put_bytes_s,
                                               "get_bytes_s": costs.get_bytes_s})
    return CostModel(cal, replace(costs, **shape))


def _local_task_s(executor) -> float:
    """One task's cost on the pool: a one-task Plan of one tiny op run through the executor, less the op."""
    from distjit.ir.builder import Builder
    from distjit.ir.graph import Graph, Value
    from distjit.partition.stages import partition_graph
    from distjit.types import type_of

    x = np.ones(4)
    g = Graph("calibrate")
    v = Value("x", type_of(x), block=g.block)
    g.block.params.append(v)
    (y,) = Builder(g.block).op("np.negative", [v], {})
    g.add_output(y)
    plan = partition_graph(g, [None], 1, input_names=["x"], cost=CostModel.reference(LOCAL_REFERENCE))
    run = _median_s(lambda: executor.run(plan, [x], {}), 50)
    return max(run - calibration.machine_calibration().call_s, 1e-6)


# ---- Ray --------------------------------------------------------------------------------------------------------

def _node_key() -> dict:
    return calibration.machine_key()


def _node_measure() -> dict:
    from distjit.runtime.calibrate import measure

    return measure().as_values()


def _noop(*args) -> int:
    return 0


def _touch(x) -> int:
    return int(x.nbytes)


def ray_model(ray) -> CostModel:
    """The Ray cluster's cost model: its slowest node's calibration and the object store's rates."""
    if calibration.injected() is not None:
        return CostModel(calibration.machine_calibration(), RAY_REFERENCE)
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]
    key_task, measure_task = ray.remote(num_cpus=1)(_node_key), ray.remote(num_cpus=1)(_node_measure)
    pinned = [NodeAffinitySchedulingStrategy(n["NodeID"], soft=False) for n in nodes]
    keys = ray.get([key_task.options(scheduling_strategy=s).remote() for s in pinned])
    cals, missing = {}, []
    for i, key in enumerate(keys):
        cached = calibration.read_cache("calibration", key)
        try:
            cals[i] = calibration.from_values(cached, "cached") if cached is not None else None
        except ValueError:
            cals[i] = None
        if cals[i] is None:
            missing.append(i)
    measured = ray.get([measure_task.options(scheduling_strategy=pinned[i]).remote() for i in missing])
    for i, values in zip(missing, measured):
        cals[i] = calibration.from_values(values, "measured")
        calibration.write_cache("calibration", keys[i], cals[i].as_values())
    cal = _slowest(list(cals.values())) if cals else calibration.machine_calibration()
    cpus = int(sum(n["Resources"].get("CPU", 0) for n in nodes)) or 1
    cluster_key = {"ray": ray.__version__, "nodes": sorted(json.dumps(k, sort_keys=True) for k in keys),
                   "driver": calibration.machine_key()}
    costs = _costs_from(calibration.read_cache("ray", cluster_key) or {}, RAY_REFERENCE, "cached")
    if costs is None:
        costs = _measure_ray(ray)
        calibration.write_cache("ray", cluster_key, {"task_s": costs.task_s, "put_bytes_s": costs.put_bytes_s,
                                                     "get_bytes_s": costs.get_bytes_s})
    return CostModel(cal, replace(costs, slots=cpus, threads=1))


def _slowest(cals: list) -> calibration.Calibration:
    """Per field, the slowest node's number (a Plan waits for its slowest task)."""
    seconds = {"call_s", "elem_s", "flop_s", "native_flop_s", "native_op_s", "native_call_s"}
    values = {}
    for name in cals[0].as_values():
        column = [getattr(c, name) for c in cals]
        values[name] = max(column) if name in seconds else min(column)
    return calibration.from_values(values, cals[0].source)


def _measure_ray(ray) -> ExecutorCosts:
    noop, touch = ray.remote(num_cpus=1)(_noop), ray.remote(num_cpus=1)(_touch)
    task_s = _median_s(lambda: ray.get(noop.remote()), 10)
    big = np.ones(_BIG // 8)
    put_s = _median_s(lambda: ray.put(big), 5)
    ref = ray.put(big)
    get_s = _median_s(lambda: ray.get(touch.remote(ref)), 3)
    return replace(RAY_REFERENCE, task_s=task_s, put_bytes_s=_BIG / max(put_s, 1e-6),
                   get_bytes_s=_BIG / max(get_s - task_s, _BIG / 1e11), source="measured")
