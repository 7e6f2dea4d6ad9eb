"""Which executor a `cluster=` argument means, and how distjit gets a Ray cluster.

  "local"              LocalExecutor: a thread pool in this process
  "auto"               the Ray cluster this process is connected to; else the one RAY_ADDRESS
                       names; else a local Ray that distjit starts itself, bound to 127.0.0.1
  "ray://host:10001"   a remote cluster through the Ray Client
  "host:6379"          a cluster's GCS address (the process must be able to reach every node)

An executor is created once per cluster string and reused, so subgraphs and
parameters are put into a cluster's object store once.
"""
from __future__ import annotations

import os
import threading

from distjit.errors import ClusterError

_executors: dict = {}
_lock = threading.Lock()


def executor_for(cluster):
    """The executor for `cluster` (a string above, or an executor object, returned as is)."""
    if cluster is None:
        cluster = "auto"
    if not isinstance(cluster, str):
        if hasattr(cluster, "run"):
            return cluster
        raise ClusterError(f"cluster must be 'local', 'auto', 'ray://host:port' or 'host:port', not {cluster!r}")
    with _lock:
        if cluster not in _executors:
            if cluster == "local":
                from scheduler.local import LocalExecutor

                _executors[cluster] = LocalExecutor()
            else:
                _check_address(cluster)
                from scheduler.ray_executor import RayExecutor

                _executors[cluster] = RayExecutor(cluster)
        return _executors[cluster]


def _check_address(cluster: str) -> None:
    if cluster == "auto" or cluster.startswith("ray://"):
        return
    host, sep, port = cluster.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ClusterError(f"cluster={cluster!r} is not understood: use 'local', 'auto', 'ray://host:port' "
                           f"or 'host:port' (a Ray cluster's address)")


def connect(cluster: str):
    """Connect this process to the Ray cluster `cluster` names (see the module docstring); returns ray."""
    try:
        import ray
    except ImportError as e:   # pragma: no cover - ray is a dependency
        raise ClusterError(f"cluster={cluster!r} needs Ray: pip install 'ray[default]' ({e})") from None
    if ray.is_initialized():
        return ray
    try:
        if cluster == "auto":
            if os.environ.get("RAY_ADDRESS"):
                ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False)
            else:
                start_local(ray)
        else:
            ray.init(address=cluster, log_to_driver=False)
    except ClusterError:
        raise
    except Exception as e:
        where = os.environ.get("RAY_ADDRESS") if cluster == "auto" else cluster
        raise ClusterError(f"could not connect to the Ray cluster at {where!r}: {type(e).__name__}: {e}. "
                           f"Check the address (`ray status` on the head node), or use cluster='local'") from None
    return ray


def start_local(ray, num_cpus: int | None = None, **kwargs) -> None:
    """Start the embedded default: a one-node Ray listening on 127.0.0.1 only."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"   # Ray then binds its servers to loopback
    try:
        ray.init(num_cpus=num_cpus, _node_ip_address="127.0.0.1", include_dashboard=None,
                 log_to_driver=False, **kwargs)
    except Exception as e:
        raise ClusterError(f"could not start a local Ray: {type(e).__name__}: {e}") from None
