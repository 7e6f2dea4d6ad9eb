"""RayExecutor: run a Plan's tasks on a Ray cluster, arrays flowing worker to worker through the object store.

- A subgraph travels as its text IR, put into the object store once per cluster and
  named by its digest; each worker parses and compiles it once and caches the
  program by digest (`_PROGRAMS`).
- Parameters are put once per cluster (cached by array identity); the call's
  arguments once per run (each shard separately, so a task fetches only its part).
- Tasks are launched with ObjectRefs for their inputs, so the driver never fetches
  an intermediate value; it fetches only the Plan's outputs.
- Tasks are named after their subgraphs ("kmeans_step:stage1/0") in the dashboard.
- Source tasks (those reading no other task) are released in a bounded window:
  a wide Plan never floods the object store with the roots' outputs before their
  consumers run (Dask's root-task overproduction).
- Tasks are pure, so Ray may re-run them: `max_retries` covers lost workers and
  nodes, and lineage reconstruction recomputes lost intermediate objects.
"""
from __future__ import annotations

import threading

import numpy as np

from distjit.errors import ClusterError, DistJitError
from distjit.partition.plan import Plan, Source
from scheduler.common import arg_part, assemble
from scheduler.cluster import connect

_PROGRAMS: dict = {}            # on each worker: digest -> compiled program
_INLINE_BYTES = 1 << 16         # smaller arguments travel inside the task spec


def _run_task(digest: str, graph_box: list, *inputs):
    from distjit.runtime.executor import compile_graph, run

    program = _PROGRAMS.get(digest)
    if program is None:
        import os

        import ray
        import distjit.runtime.fused_eval as fused_eval
        from distjit.ir.graph import Graph

        # A task holds the CPUs Ray gave it (OMP_NUM_THREADS, which OpenBLAS follows too): the fused evaluator's
        # block threads would otherwise be one per core in every worker (2 workers x 2 threads on 2 cores)
        fused_eval.THREADS = max(1, int(os.environ.get("OMP_NUM_THREADS") or 1))

        text = ray.get(graph_box[0])       # boxed, so Ray fetches it only on a cache miss
        program = _PROGRAMS[digest] = compile_graph(Graph.parse(text))
    outs = run(program, inputs)
    return outs[0] if len(outs) == 1 else tuple(outs)


class RayExecutor:
    name = "ray"

    def __init__(self, cluster: str = "auto", *, window: int | None = None, max_retries: int = 3):
        self.cluster = cluster
        self.window = window
        self.max_retries = max_retries
        self._ray = None
        self._remote = None
        self._graphs: dict[str, object] = {}
        self._params: dict[tuple, tuple] = {}
        self._copy_pool = None
        self._lock = threading.Lock()

    # -- the cluster ------------------------------------------------------------------------------------------
    @property
    def ray(self):
        if self._ray is None:
            self._ray = connect(self.cluster)
            self._remote = self._ray.remote(_run_task)
        return self._ray

    def default_workers(self) -> int:
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    # -- putting things once -------------------------------------------------------------------------------------
    def _graph_ref(self, plan: Plan, index: int):
        digest = plan.digest(index)
        if digest not in self._graphs:
            self._graphs[digest] = self.ray.put(str(plan.subgraphs[index]))
        return digest, self._graphs[digest]

    def _param_ref(self, value, tracker=None):
        if not isinstance(value, np.ndarray) or value.nbytes < _INLINE_BYTES:
            return value
        key = (id(value), value.__array_interface__["data"][0], value.shape, value.dtype.str)
        if key not in self._params:
            self._params[key] = (value, self.ray.put(value))   # keeps the array alive: its id stays its own
            if tracker is not None:
                tracker.stats.bytes_put += value.nbytes
        return self._params[key][1]

    # -- running -------------------------------------------------------------------------------------------------
    def run(self, plan: Plan, leaves: list, params: dict, tracker=None) -> list:
        """`tracker` (a scheduler.stats.Tracker, optional) hears of each finished task and counts bytes."""
        ray = self.ray
        if tracker is not None:
            tracker.restart()             # connecting to the cluster is not part of the run
        remote = self._remote
        args: dict[tuple[int, int | None], object] = {}
        if isinstance(leaves, Resident):
            if leaves.plan is not plan:
                raise DistJitError("RayExecutor.run: these resident inputs were put for another Plan")
            args.update(leaves.refs)
            leaves = leaves.leaves
        refs: dict[int, list] = {}

        def source(s: Source):
            if s.kind == "arg":
                key = (s.index, s.shard)
                if key not in args:
                    value = arg_part(plan, leaves, s)
                    big = isinstance(value, np.ndarray) and value.nbytes >= _INLINE_BYTES
                    args[key] = ray.put(value) if big else value
                    if big and tracker is not None:
                        tracker.stats.bytes_put += value.nbytes
                return args[key]
            if s.kind == "param":
                return self._param_ref(params[plan.params[s.index]], tracker)
            return refs[s.index][s.output]

        window = self.window or max(2, 2 * plan.workers)
        in_flight: list = []
        with self._lock:
            graphs = {t.subgraph: self._graph_ref(plan, t.subgraph) for t in plan.tasks}
        for i, task in enumerate(plan.tasks):
            n_out = plan.task_outputs(i)
            is_root = not task.deps()
            if is_root and n_out:
                while len(in_flight) >= window:
                    _, in_flight = ray.wait(in_flight, num_returns=1, fetch_local=False)
            digest, graph_ref = graphs[task.subgraph]
            out = remote.options(name=task.name, num_returns=max(n_out, 1), max_retries=self.max_retries,
                                 retry_exceptions=False).remote(digest, [graph_ref],
                                                                *[source(s) for s in task.inputs])
            refs[i] = [out] if n_out <= 1 else list(out)
            if is_root and n_out:
                in_flight.append(refs[i][0])

        wanted = list(dict.fromkeys(s for o in plan.outputs for s in o.sources if s.kind == "task"))
        if tracker is not None:
            self._track(tracker, refs)
        try:
            fetched = dict(zip(wanted, ray.get([refs[s.index][s.output] for s in wanted])))
        except Exception as e:
            raise _unwrap(e) from None

        if tracker is not None:
            tracker.stats.bytes_fetched += sum(getattr(v, "nbytes", 0) for v in fetched.values())

        def fetch(s: Source):
            if s.kind == "param":
                return params[plan.params[s.index]]
            if s.kind == "arg":
                return arg_part(plan, leaves, s)
            return fetched[s]
        outs = assemble(plan, fetch, pool=self._copier())
        return [np.array(o) if isinstance(o, np.ndarray) and not o.flags.writeable else o for o in outs]

    def _copier(self):
        """Threads that copy fetched parts into a split output side by side (the driver's cores)."""
        if self._copy_pool is None:
            import os
            from concurrent.futures import ThreadPoolExecutor

            self._copy_pool = ThreadPoolExecutor(min(4, os.cpu_count() or 1), thread_name_prefix="distjit-copy")
        return self._copy_pool

    def resident(self, plan: Plan, leaves: list) -> "Resident":
        """Put a call's arguments into the object store once, for several runs of `plan` (`run(plan, resident,
        params)`): what dask's `persist()` does. The caller promises not to change the arrays meanwhile:
        the runs read the copies in the object store."""
        refs = {}
        for i, layout in enumerate(plan.inputs):
            shards = [None] if layout.axis is None else range(len(layout.bounds))
            for j in shards:
                value = arg_part(plan, leaves, Source("arg", i, 0, j))
                if isinstance(value, np.ndarray) and value.nbytes >= _INLINE_BYTES:
                    refs[(i, j)] = self.ray.put(value)
        return Resident(plan, list(leaves), refs)

    def _track(self, tracker, refs: dict) -> None:
        """Tell `tracker` of each task as it finishes (waits on every task; used only for progress or stats)."""
        pending = {refs[i][0]: i for i in refs}
        while pending:
            done, _ = self.ray.wait(list(pending), num_returns=1, fetch_local=False)
            for ref in done:
                tracker.task_done(pending.pop(ref))


class Resident:
    """A call's arguments already in the object store, for `RayExecutor.run` (see `RayExecutor.resident`)."""

    def __init__(self, plan: Plan, leaves: list, refs: dict):
        self.plan, self.leaves, self.refs = plan, leaves, refs


def _unwrap(e: Exception) -> Exception:
    """A task's own error (ExecutionError naming the user's line) rather than Ray's wrapper."""
    cause = getattr(e, "cause", None)
    if isinstance(cause, DistJitError):
        return cause
    if isinstance(e, DistJitError):
        return e
    name = type(e).__name__
    if "RayTaskError" in name and cause is not None:
        return cause if isinstance(cause, Exception) else e
    if "Ray" in name or "ObjectLost" in name or "WorkerCrashed" in name:
        return ClusterError(f"the Ray cluster failed to run the plan: {name}: {e}")
    return e
