"""scheduler: executing a distjit Plan, in one process (LocalExecutor) or on a Ray cluster (RayExecutor).

`executor_for(cluster)` picks one: "local" runs a thread pool in this process;
"auto", "ray://host:port" or "host:port" run on Ray (see scheduler/cluster.py).
Only this package (and the CLI) imports ray, and only when a Ray executor is asked for.
"""
from scheduler.local import LocalExecutor  # noqa: F401
from scheduler.cluster import executor_for  # noqa: F401

__all__ = ["LocalExecutor", "executor_for", "RayExecutor"]


def __getattr__(name):
    if name == "RayExecutor":        # imports ray: only on demand
        from scheduler.ray_executor import RayExecutor

        return RayExecutor
    raise AttributeError(name)
