"""The cost model: a node's predicted seconds from the registry's (flops, bytes) and a measured Calibration,
and a Plan's predicted run time on an executor (its per-task and per-byte costs, `ExecutorCosts`).

NOTE: [How a node is costed]
Each node falls into a class of kernels with its own measured throughput
(`op_class`): elementwise ufuncs (a roofline: per-element work in cache, or the
bytes streamed to and from memory, whichever is slower), reductions, BLAS
contractions (flops at the BLAS rate plus the operands streamed), copies, strided
copies, views (only the call), and the regions the runtime evaluates itself:
`fused.elementwise` through the blocked evaluator (its inner ops at in-cache
rates plus the evaluator's streaming rate) or through the native backend (numba,
one loop). Every node also pays one NumPy call. Contractions and fused regions
use the threads a task gets; plain NumPy calls use one.

NOTE: [How a Plan's run is predicted]
`predict` replays the executor's schedule: the driver puts the call's arguments
(on Ray), each task starts when its inputs exist and a worker is free, costs its
per-task overhead, its compute and the results it puts, and the driver fetches
the outputs. A stage's predicted time is measured the way RunStats measures it
(from the previous stage's end to its last task's end), so the two compare.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field, replace

from distjit.ir.graph import Node
from distjit.ops import get_op
from distjit.partition.calibration import REFERENCE, Calibration, machine_calibration
from distjit.types import TensorType

INLINE_BYTES = 1 << 16      # smaller arguments travel inside a Ray task's spec, not through the object store


@dataclass(frozen=True)
class ExecutorCosts:
    """What running a task costs an executor besides its compute (measured by the scheduler)."""

    name: str = "ray"
    task_s: float = 1.0e-3           # launch, schedule, bookkeeping per task
    put_bytes_s: float = 2.0e9       # an array into the object store (the driver's arguments, tasks' results)
    get_bytes_s: float = 8.0e9       # an object out of it, into another process
    object_store: bool = True        # False: tasks share the driver's memory (no puts, no gets)
    slots: int | None = None         # tasks at once (None: the Plan's workers)
    threads: int = 1                 # threads per task for BLAS and the fused evaluator
    source: str = "reference"


RAY_REFERENCE = ExecutorCosts()
LOCAL_REFERENCE = ExecutorCosts("local", task_s=60e-6, object_store=False, source="reference")


def op_class(node: Node, native: bool = False) -> str:
    """Which measured throughput a node's kernel runs at (`native`: the native backend is there).

    The one place that reads op flags for costing; it belongs in OpDef (a `cost_class` beside
    `cost`) once the registry carries it.
    """
    opdef = get_op(node.op)
    flags = opdef.flags
    if "fused" in flags:
        return "native" if native and node.attrs.get("exact", True) is False else "fused"
    if "contraction" in flags:
        return "matmul"
    if node.op == "dist.Partial" or "reduction" in flags or "cumulative" in flags:
        return "reduce"
    if node.op == "dist.Reshard":
        return "transpose"
    if "elementwise" in flags or node.op == "dist.Combine":
        return "elementwise"
    if "view" in flags or "constant" in flags or "control" in flags:
        return "view"
    return "copy"


def _size(node: Node) -> float:
    sizes = [v.type.size for v in node.outputs if isinstance(v.type, TensorType) and v.type.size is not None]
    return float(max(sizes, default=1))


@dataclass
class CostModel:
    """Seconds per node (from `calibration`) and per task (`executor`); the partitioner's thresholds.

    `calibration` None: this machine's (`calibration.machine_calibration`, measured once and cached).
    """

    calibration: Calibration | None = None
    executor: ExecutorCosts = RAY_REFERENCE
    floating_s: float = 20e-6             # recompute nodes cheaper than this wherever they are needed
    small_bytes: int = 1 << 16            # ... when their result is at most this big
    min_split_bytes: int = 1 << 22        # by default, inputs at least this big (4 MiB) are candidates for splitting
    _memo: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        if self.calibration is None:
            self.calibration = machine_calibration()

    @classmethod
    def reference(cls, executor: ExecutorCosts = RAY_REFERENCE) -> "CostModel":
        return cls(REFERENCE, executor)

    def for_executor(self, executor: ExecutorCosts) -> "CostModel":
        return replace(self, executor=executor, _memo={})

    @property
    def task_overhead_s(self) -> float:
        return self.executor.task_s

    # -- one node ------------------------------------------------------------------------------------------
    def estimate(self, node: Node) -> tuple[float, float]:
        """(flops, bytes) of a node from the op registry; nested blocks count once."""
        flops = nbytes = 0.0
        for n in node.walk():
            f, b = _registry(n)
            flops += f
            nbytes += b
        return flops, nbytes

    def node_seconds(self, node: Node, threads: int | None = None, beside: int = 1) -> float:
        """Predicted seconds of a node (nested blocks once), with `threads` for BLAS and fused regions,
        while `beside` tasks (this one included) stream memory at the same time."""
        threads = max(1, min(threads or self.executor.threads, self.calibration.cores))
        return sum(self._one(n, threads, beside) for n in node.walk())

    def node_cost(self, node: Node) -> tuple[float, float, float]:
        """`estimate(node)` and `node_seconds(node)` together, reading the registry once per node."""
        threads = max(1, min(self.executor.threads, self.calibration.cores))
        flops = nbytes = seconds = 0.0
        for n in node.walk():
            f, b = reg = _registry(n)
            flops += f
            nbytes += b
            seconds += self._one(n, threads, 1, reg)
        return flops, nbytes, seconds

    def graph_seconds(self, graph, threads: int | None = None, beside: int = 1) -> float:
        return sum(self.node_seconds(n, threads, beside) for n in graph.block.nodes)

    def _one(self, n: Node, threads: int, beside: int, reg: tuple[float, float] | None = None) -> float:
        c = self.calibration
        cls = op_class(n, bool(c.native))
        if cls == "view":
            return c.call_s
        flops, nbytes = reg or _registry(n)
        # tasks side by side share the memory bus: each streams at most its share of the machine's bandwidth
        nbytes *= max(1.0, min(beside, c.cores) * c.memory_bytes_s / c.shared_bytes_s)
        size = _size(n)
        if cls == "elementwise":
            work = size * c.elem_s + max(flops - size, 0.0) * c.flop_s
            return c.call_s + max(work, nbytes / c.memory_bytes_s)
        if cls == "reduce":
            return c.call_s + max(nbytes / c.reduce_bytes_s, size * c.elem_s)
        if cls == "matmul":
            rate = c.matmul_f32_flops_s if _dtype_of(n) in ("float32", "complex64") else c.matmul_f64_flops_s
            return c.call_s + (flops / rate + nbytes / c.memory_bytes_s) / threads
        if cls in ("fused", "native"):
            return c.call_s + self._region(n, size, nbytes, cls) / threads
        rate = c.transpose_bytes_s if cls == "transpose" else c.copy_bytes_s
        return c.call_s + nbytes / rate + max(flops - size, 0.0) * c.flop_s

    def _region(self, n: Node, size: float, nbytes: float, cls: str) -> float:
        """A fused region: its inner ops per element (in cache) plus the evaluator's pass over memory."""
        c = self.calibration
        inner = n.attrs.get("graph")
        per_elem_flops, ops = self._inner(inner) if inner is not None else (1.0, 1)
        if cls == "native":
            return max(nbytes / c.native_bytes_s, size * per_elem_flops * c.native_flop_s)
        blocks = max(1.0, size / c.fused_block_elements)
        work = size * (ops * c.elem_s + max(per_elem_flops - ops, 0.0) * c.flop_s)
        return blocks * ops * c.call_s + work + nbytes / c.fused_bytes_s

    def _inner(self, graph) -> tuple[float, int]:
        """(registry flops per output element, number of kernel calls) of a fused expression."""
        key = id(graph)
        if key not in self._memo:
            flops, ops = 0.0, 0
            for n in graph.block.nodes:
                if n.op == "prim.Constant":
                    continue
                f, _ = _registry(n)
                size = _size(n)
                flops += f / size if size else 0.0    # an empty region (x[:0] ** 2): no elements, no work
                ops += 1
            self._memo[key] = (graph, (flops, max(ops, 1)))     # the graph kept alive: its id stays its own
        return self._memo[key][1]

    # -- the partitioner's old interface ------------------------------------------------------------------------
    def seconds(self, flops: float, nbytes: float) -> float:
        """Seconds of anonymous work: the slower of its flops at the elementwise rate and its bytes streamed."""
        c = self.calibration
        return max(flops * c.flop_s, nbytes / c.memory_bytes_s)


def _registry(n: Node) -> tuple[float, float]:
    try:
        c = get_op(n.op).estimate([v.type for v in n.inputs], [v.type for v in n.outputs], n.attrs)
        return float(c.flops), float(c.bytes)
    except Exception:       # an op whose cost cannot be read from its types (unknown sizes): its bytes
        return 0.0, float(sum(_nbytes(v.type) for v in [*n.inputs, *n.outputs]))


def _nbytes(t) -> float:
    if isinstance(t, TensorType):
        return float(t.nbytes if t.nbytes is not None else 1 << 20)
    return 8.0


def _dtype_of(n: Node) -> str:
    for v in n.outputs:
        if isinstance(v.type, TensorType):
            return v.type.dtype.name
    return "float64"


# ---- a Plan's run -------------------------------------------------------------------------------------------

@dataclass
class Prediction:
    """A Plan's predicted run on one executor: in total, per stage (as RunStats times them), per task."""

    seconds: float
    stages: list[float]
    tasks: list[float]           # each task's own time: overhead, transfers and compute
    compute: float               # the sum of the tasks' compute
    overhead: float              # the sum of per-task overheads
    transfers: float             # object-store puts and gets, on the driver and in tasks
    executor: str


def predict(plan, model: CostModel, slots: int | None = None) -> Prediction:
    """Replay `plan` on `model.executor` with `slots` tasks at once (default: the executor's, else the Plan's
    workers); task compute comes from each task's subgraph under `model`'s calibration."""
    ex = model.executor
    slots = max(1, slots or ex.slots or plan.workers)
    threads = ex.threads
    beside = min(slots, len(plan.tasks), model.calibration.cores)
    graph_secs: dict[int, float] = {}
    driver = 0.0
    put: set = set()
    transfers = 0.0
    own: list[float] = []
    finish: list[float] = []
    free = [0.0] * slots
    heapq.heapify(free)
    compute = 0.0
    in_place = _in_place_outputs(plan) if ex.object_store else set()
    for i, t in enumerate(plan.tasks):
        if t.subgraph not in graph_secs:
            graph_secs[t.subgraph] = model.graph_seconds(plan.subgraphs[t.subgraph], threads,
                                                         beside if t.shard is not None else 1)
        work = graph_secs[t.subgraph]
        compute += work
        moved = 0.0
        ready = 0.0
        for k, s in enumerate(t.inputs):
            if s.kind == "task":
                ready = max(ready, finish[s.index])
                if ex.object_store:
                    moved += _value_bytes(plan, s) / ex.get_bytes_s
            elif s.kind == "arg" and ex.object_store:
                key = (s.index, s.shard)
                nbytes = _nbytes(plan.subgraphs[t.subgraph].inputs[k].type)
                if key not in put and nbytes >= INLINE_BYTES:
                    put.add(key)
                    driver += nbytes / ex.put_bytes_s
                    transfers += nbytes / ex.put_bytes_s
        if ex.object_store:
            for k, v in enumerate(plan.subgraphs[t.subgraph].outputs):
                if (i, k) not in in_place:
                    moved += _nbytes(v.type) / ex.put_bytes_s
        transfers += moved
        start = max(ready, driver, heapq.heappop(free))
        end = start + ex.task_s + moved + work
        heapq.heappush(free, end)
        finish.append(end)
        own.append(end - start)
    end = max(finish, default=driver)
    fetched = 0.0
    if ex.object_store:
        for o in plan.outputs:
            for s in o.sources:
                if s.kind == "task" and (s.index, s.output) not in in_place:
                    nbytes = _value_bytes(plan, s)
                    fetched += nbytes / ex.get_bytes_s + nbytes / model.calibration.copy_bytes_s
    transfers += fetched
    total = end + fetched
    stages, previous = [], 0.0
    last: dict[int, float] = {}
    for t, f in zip(plan.tasks, finish):
        last[t.stage] = max(last.get(t.stage, 0.0), f)
    for stage in sorted(last):
        stages.append(max(0.0, last[stage] - previous))
        previous = max(previous, last[stage])
    if stages:
        stages[-1] += fetched
    return Prediction(total, stages, own, compute, ex.task_s * len(plan.tasks), transfers, ex.name)


def _value_bytes(plan, s) -> float:
    return _nbytes(plan.subgraphs[plan.tasks[s.index].subgraph].outputs[s.output].type)


def _in_place_outputs(plan) -> set:
    """Task outputs that are parts of a big split Plan output: workers on the driver's node write those
    straight into the result (scheduler/in_place.py), so they cross no object store."""
    out = set()
    for o in plan.outputs:
        if o.axis is not None and len(o.sources) > 1:
            for s in o.sources:
                if s.kind == "task" and _value_bytes(plan, s) >= INLINE_BYTES:
                    out.add((s.index, s.output))
    return out

