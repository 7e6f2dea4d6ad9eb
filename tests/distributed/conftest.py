"""Ray for the distributed tests: one local Ray per test session, and a 3-node Cluster for the cluster tests.

Everything binds to 127.0.0.1 (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0). A process can be
connected to one Ray at a time, so the cluster tests (marked `cluster`) run last: the
`ray_cluster` fixture disconnects from the session's Ray before it starts its own.
"""
import os

import pytest

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

_session = {}


def pytest_configure(config):
    config.addinivalue_line("markers", "cluster: needs a multi-node ray.cluster_utils.Cluster (runs last)")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.get_closest_marker("cluster") is not None)   # stable: others keep their order


@pytest.fixture(scope="session")
def local():
    """A LocalExecutor with 3 threads."""
    from scheduler import LocalExecutor

    ex = LocalExecutor(max_workers=3)
    yield ex
    ex.shutdown()


@pytest.fixture(scope="session")
def ray_local():
    """A RayExecutor on a local one-node Ray with 2 CPUs, started once per session."""
    import ray

    from scheduler.ray_executor import RayExecutor

    if not ray.is_initialized():
        # address="local": a new Ray, never the one a `ray start` elsewhere on the machine recorded
        ray.init(address="local", num_cpus=2, _node_ip_address="127.0.0.1", log_to_driver=False,
                 include_dashboard=False)
    _session["ray"] = ray
    yield RayExecutor("auto")
    ray.shutdown()


@pytest.fixture(scope="module")
def ray_cluster():
    """A 3-node ray.cluster_utils.Cluster on 127.0.0.1 (a head without CPUs, 2 workers of 1 CPU, 1 spare):
    yields (cluster, executor). Small object stores, so big runs spill."""
    import ray
    from ray.cluster_utils import Cluster

    from scheduler.ray_executor import RayExecutor

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "object_store_memory": 200 << 20, "node_ip_address": "127.0.0.1",
        "include_dashboard": False,
        # notice a removed node within seconds, not the default ~30 s
        "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 4}})
    for _ in range(2):
        cluster.add_node(num_cpus=1, object_store_memory=100 << 20, node_ip_address="127.0.0.1")
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    try:
        yield cluster, RayExecutor("auto")
    finally:
        ray.shutdown()
        cluster.shutdown()
