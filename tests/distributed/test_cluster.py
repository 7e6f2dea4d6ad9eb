"""Multi-node runs on a ray.cluster_utils.Cluster (3 nodes on 127.0.0.1): lost nodes, killed workers, spilling."""
import threading
import time

import numpy as np
import psutil
import pytest

import distjit

pytestmark = [pytest.mark.cluster, pytest.mark.filterwarnings("ignore::distjit.partition.PlanWarning")]


def slow(x):
    """Seconds of elementwise work per shard: long enough to lose a node in the middle."""
    for _ in range(12):
        x = np.sin(x) * 1.0001 + np.cos(x) * 0.5
    return x, x.sum(axis=0)


def _start(f, x, executor, workers=2):
    box = {}

    def target():
        try:
            box["result"] = f.run(x, cluster=executor, workers=workers, shard={"x": 0})
        except BaseException as e:   # noqa: BLE001 - reported by the test
            box["error"] = e
    thread = threading.Thread(target=target)
    thread.start()
    return thread, box


def _task_processes(prefix: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if cmd.startswith(f"ray::{prefix}"):
            found.append(p)
    return found


def _wait_for_tasks(prefix: str, n: int, timeout: float = 60.0) -> list[psutil.Process]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        procs = _task_processes(prefix)
        if len(procs) >= n:
            return procs
        time.sleep(0.05)
    raise AssertionError(f"no running task named {prefix}*")


def _check(box, x):
    assert "error" not in box, box.get("error")
    y, s = box["result"]
    ey, es = slow(x)
    np.testing.assert_allclose(y, ey, rtol=1e-12)
    np.testing.assert_allclose(s, es, rtol=1e-9)


@pytest.fixture(scope="module")
def traced_slow():
    x = np.random.default_rng(0).standard_normal((1 << 21, 2))
    return distjit.trace(slow, (x,)), x


def test_spilling_when_arrays_exceed_the_object_store(ray_cluster):
    _, executor = ray_cluster
    x = np.random.default_rng(1).standard_normal((1 << 25,))          # 256 MiB: more than any node's store
    f = distjit.trace(lambda x: (x * 2.0 + 1.0, np.abs(x).max()), (x,))
    y, m = f.run(x, cluster=executor, workers=4, shard={"x": 0})
    np.testing.assert_array_equal(y, x * 2.0 + 1.0)
    assert m == np.abs(x).max()
    from ray._private.internal_api import memory_summary

    summary = memory_summary(stats_only=True)
    assert "Spilled" in summary, summary


def test_a_worker_process_killed_mid_run(ray_cluster, traced_slow):
    _, executor = ray_cluster
    f, x = traced_slow
    thread, box = _start(f, x, executor)
    victim = _wait_for_tasks("slow:stage0", 1)[0]
    victim.kill()                                   # a worker process our cluster started: killed by its pid
    thread.join(timeout=300)
    assert not thread.is_alive()
    _check(box, x)


def test_a_node_removed_mid_run(ray_cluster, traced_slow):
    cluster, executor = ray_cluster
    f, x = traced_slow
    thread, box = _start(f, x, executor)
    _wait_for_tasks("slow:stage0", 2)
    node = cluster.list_all_nodes()[-1]             # a worker node (the head has no CPUs, so it runs none)
    cluster.remove_node(node)
    cluster.add_node(num_cpus=1, object_store_memory=100 << 20, node_ip_address="127.0.0.1")
    thread.join(timeout=300)
    assert not thread.is_alive()
    _check(box, x)
