"""RayExecutor: run a Plan's tasks on a Ray cluster, arrays flowing worker to worker through the object store.

- A subgraph travels as its text IR, with the declarations of the custom ops it uses
  (distjit/ops/custom.py: workers need not have their modules), put into the object
  store once per cluster and named by its digest; each worker parses and compiles it once and caches the
  program by digest (`_PROGRAMS`).
- Parameters are put once per cluster (cached by array identity); the call's
  arguments once per run (each shard separately, so a task fetches only its part).
- Tasks are launched with ObjectRefs for their inputs, so the driver never fetches
  an intermediate value; it fetches only the Plan's outputs, and the parts of big
  split outputs not even those: workers on the driver's machine write them straight
  into the result (scheduler/in_place.py).
- Tasks are named after their subgraphs ("kmeans_step:stage1/0") in the dashboard.
- Source tasks (those reading no other task) are released in a bounded window:
  a wide Plan never floods the object store with the roots' outputs before their
  consumers run (Dask's root-task overproduction).
- Tasks are pure, so Ray may re-run them: `max_retries` covers lost workers and
  nodes, and lineage reconstruction recomputes lost intermediate objects.
"""
from __future__ import annotations

import ctypes
import os
import threading
import time

import numpy as np

from distjit.errors import ClusterError, DistJitError
from distjit.ops.custom import pack, used_by
from distjit.partition.plan import Plan, Source
from scheduler.common import arg_part, assemble
from scheduler.in_place import deliver, output_targets, part_of, placed_outputs, same_buffer, variant
from scheduler.shared_result import SharedResult
from scheduler.cluster import connect, generation

_PROGRAMS: dict = {}            # on each worker: digest -> (graph, compiled program)
_VARIANTS: dict = {}            # on each worker: (digest, outputs written in place) -> variant or None
_INLINE_BYTES = 1 << 16         # smaller arguments travel inside the task spec
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4     # mallopt parameters (glibc's malloc.h)


def _run_task(digest: str, graph_box: list, places: dict | None, *inputs):
    """Run one task on a worker. `places` ({output: scheduler.shared_result.Place}) asks for outputs to be
    written into the driver's shared result; those the worker reaches come back as None."""
    from distjit.runtime.executor import run

    graph, program = _program(digest, graph_box)
    opened = {}
    for k, place in (places or {}).items():
        part = place.open()
        if part is not None:
            opened[k] = part
    if not opened:
        outs = run(program, inputs)
        return outs[0] if len(outs) == 1 else tuple(outs)
    return _run_in_place(digest, graph, program, opened, inputs)


def _run_task_timed(n_out: int, digest: str, graph_box: list, places: dict | None, *inputs):
    """`_run_task`, returning one more value: where and when it ran (scheduler/timeline.py), and how its
    loops ran (the native backend's account, distjit/runtime/native `recording`)."""
    import ray
    from distjit.runtime import native

    start = time.time()
    with native.recording() as ran:
        out = _run_task(digest, graph_box, places, *inputs)
    ctx = ray.get_runtime_context()
    span = (f"node {ray.util.get_node_ip_address()} {ctx.get_node_id()[:8]}", f"worker pid {os.getpid()}",
            start, time.time(), ran)
    if n_out == 0:
        return span
    return (out, span) if n_out == 1 else (*out, span)


def _program(digest: str, graph_box: list):
    """(graph, compiled program) of a subgraph, cached on this worker by digest."""
    entry = _PROGRAMS.get(digest)
    if entry is None:
        import ray
        import distjit.runtime.fused_eval as fused_eval
        from distjit.ir.graph import Graph
        from distjit.ops.custom import install
        from distjit.runtime.executor import compile_graph

        # A task holds the CPUs Ray gave it (OMP_NUM_THREADS, which OpenBLAS follows too): the fused evaluator's
        # block threads would otherwise be one per core in every worker (2 workers x 2 threads on 2 cores)
        fused_eval.THREADS = max(1, int(os.environ.get("OMP_NUM_THREADS") or 1))
        if not _PROGRAMS:
            _keep_freed_memory()

        text, custom_ops = ray.get(graph_box[0])      # boxed, so Ray fetches it only on a cache miss
        install(custom_ops)
        graph = Graph.parse(text)
        graph.verify()      # a worker runs only a graph it has checked itself, as the driver did
        entry = _PROGRAMS[digest] = (graph, compile_graph(graph, row_blocks=True))
    return entry


def _keep_freed_memory() -> None:
    """Make this worker's malloc keep the memory its tasks free, for the next task to reuse.

    glibc gives every freed block of 32 MiB or more back to the kernel, so each big task
    pays for fresh pages again, and fresh pages are what large NumPy temporaries cost most
    on small VMs (0.06-1.2 s per 512 MiB here). A worker runs the same subgraphs over and
    over; with its heap kept (the MALLOC_MMAP_MAX_=0 / MALLOC_TRIM_THRESHOLD_ settings,
    here made at run time; measured with the variables in the workers' environment)
    standardize+cov on 2 workers went from 2.13 to 1.65 s and the k-means step from
    1.47 to 1.23 s. The heap keeps at most a share of physical memory
    per CPU; other C libraries are left alone."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        keep = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // (2 * (os.cpu_count() or 1))
        if libc.mallopt(_M_MMAP_MAX, 0):
            libc.mallopt(_M_TRIM_THRESHOLD, min(keep, 2**31 - 1))
    except (OSError, AttributeError, ValueError):
        pass


def _run_in_place(digest: str, graph, program, opened: dict, inputs) -> object:
    from distjit.runtime.executor import run

    ks = tuple(sorted(opened))
    if (digest, ks) not in _VARIANTS:
        _VARIANTS[(digest, ks)] = variant(graph, ks)
    found = _VARIANTS[(digest, ks)]
    if found is None:
        outs = run(program, inputs)
    else:
        direct, program = found
        outs = run(program, list(inputs) + [opened[k][0] for k in direct])
    result = list(outs)
    for k, (part, _) in opened.items():
        if deliver(result[k], part):
            result[k] = None
    mappings = [m for _, m in opened.values()]
    del outs, opened, part
    for m in mappings:       # the worker keeps none of the driver's memory mapped
        try:
            m.close()
        except BufferError:  # still viewed by something: closed when that goes
            pass
    return result[0] if len(result) == 1 else tuple(result)


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
        self._model = None
        self._lock = threading.Lock()
        self._generation = None

    # -- the cluster ------------------------------------------------------------------------------------------
    def _connect(self):
        """Ray, connected to exactly the cluster `self.cluster` names (NOTE: [Cluster addresses] in cluster.py).
        After a reconnect, what this executor put into the old cluster's object store is gone: forget it."""
        ray = connect(self.cluster)
        if self._ray is None or self._generation != generation():
            self._graphs.clear()
            self._params.clear()
            self._ray, self._remote, self._generation = ray, ray.remote(_run_task), generation()
            self._remote_timed = ray.remote(_run_task_timed)
        return ray

    @property
    def ray(self):
        if self._ray is None:
            self._connect()
        return self._ray

    def default_workers(self) -> int:
        return max(1, int(self._connect().cluster_resources().get("CPU", 1)))

    def cost_model(self):
        """The distjit.partition.CostModel of this cluster: its nodes' calibrations (each measured on the node
        once and cached by the driver) and the object store's per-task and per-byte costs."""
        if self._model is None:
            from scheduler.costs import ray_model

            self._model = ray_model(self.ray)
        return self._model

    # -- putting things once -------------------------------------------------------------------------------------
    def _graph_ref(self, plan: Plan, index: int):
        digest = plan.digest(index)
        if digest not in self._graphs:
            sub = plan.subgraphs[index]
            self._graphs[digest] = self.ray.put((str(sub), pack(used_by(sub))))
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
        ray = self._connect()
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

        timed = tracker is not None         # stats, progress or a timeline: tasks report where, when and how
        span_refs: dict[int, object] = {}
        window = self.window or max(2, 2 * plan.workers)
        in_flight: list = []
        with self._lock:
            graphs = {t.subgraph: self._graph_ref(plan, t.subgraph) for t in plan.tasks}
        shared = SharedResult() if self._can_share() else None
        finished = False
        try:
            dests, targets = output_targets(plan, shared.empty) if shared else ({}, {})
            for i, task in enumerate(plan.tasks):
                n_out = plan.task_outputs(i)
                is_root = not task.deps()
                if is_root and n_out:
                    while len(in_flight) >= window:
                        _, in_flight = ray.wait(in_flight, num_returns=1, fetch_local=False)
                digest, graph_ref = graphs[task.subgraph]
                places = {k: shared.where(*targets[(i, k)][0]) for k in placed_outputs(targets, i, n_out)}
                call = (self._remote_timed, n_out + 1, [n_out]) if timed else (remote, max(n_out, 1), [])
                out = call[0].options(name=task.name, num_returns=call[1], max_retries=self.max_retries,
                                      retry_exceptions=False).remote(*call[2], digest, [graph_ref], places or None,
                                                                     *[source(s) for s in task.inputs])
                returned = [out] if call[1] == 1 else list(out)
                if timed:
                    span_refs[i] = returned[-1]
                    returned = returned[:n_out] or returned
                refs[i] = returned
                if is_root and n_out:
                    in_flight.append(refs[i][0])

            wanted = list(dict.fromkeys(s for o in plan.outputs for s in o.sources if s.kind == "task"))
            if tracker is not None:
                self._track(tracker, refs)
            try:
                fetched = dict(zip(wanted, ray.get([refs[s.index][s.output] for s in wanted])))
            except Exception as e:
                raise _unwrap(e) from None
            finished = True
        finally:
            if not finished:
                self._cancel(refs)
            if shared:
                shared.close(reuse=finished)    # the results keep their mappings

        if tracker is not None:
            tracker.stats.bytes_fetched += sum(getattr(v, "nbytes", 0) for v in fetched.values())
        if timed:
            from scheduler.timeline import Span

            for i, (*span, ran) in zip(span_refs, ray.get(list(span_refs.values()))):
                tracker.record(Span(i, *span))
                tracker.ran(i, span[1], ran)

        def fetch(s: Source):
            if s.kind == "param":
                return params[plan.params[s.index]]
            if s.kind == "arg":
                return arg_part(plan, leaves, s)
            value = fetched[s]
            if value is None and (s.index, s.output) in targets:     # written in place by the task
                return part_of(targets[(s.index, s.output)][0])
            return value
        outs = self._assemble(plan, fetch, dests, targets)
        return [np.array(o) if isinstance(o, np.ndarray) and not o.flags.writeable else o for o in outs]

    def _assemble(self, plan: Plan, fetch, dests: dict, targets: dict) -> list:
        """The outputs. One allocated up front gets the parts its tasks did not write in place copied in,
        side by side; the others (and one with a part of unexpected shape) are assembled from their parts."""
        pool = self._copier()
        copies: dict[int, list] = {}
        for o, dest in dests.items():
            for s in plan.outputs[o].sources:
                value = fetch(s)
                index = next(ix for d, ix in targets[(s.index, s.output)] if d is dest)
                if not (isinstance(value, np.ndarray) and same_buffer(value, dest[index])):
                    copies.setdefault(o, []).append(pool.submit(deliver, value, dest[index]))
        outs = []
        for o, out in enumerate(plan.outputs):
            if o in dests and all([c.result() for c in copies.get(o, ())]):
                outs.append(dests[o])
            else:
                outs.extend(assemble([out], fetch, pool))
        return outs

    def _cancel(self, refs: dict) -> None:
        """Cancel a failed run's tasks that have not finished: queued ones would otherwise still start, and
        write into shared results the driver has given up (Place.open checks the file it opens, too)."""
        for out in refs.values():
            try:
                self.ray.cancel(out[0], force=False)
            except Exception:       # finished already, or the cluster is gone: nothing left to stop
                pass

    def _can_share(self) -> bool:
        """Whether workers may write results into this process's memory (not through the Ray Client,
        whose driver runs elsewhere; Linux only)."""
        return SharedResult.available() and not self.cluster.startswith("ray://")

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
