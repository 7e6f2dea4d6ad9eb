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

NOTE: [How a loop is costed]
A `prim.Loop`'s body runs once per iteration, so its nodes count times the loop's trip
count (`trips`: the count evaluated from constants, static dims and scalar ops of
them, each enclosing loop's iteration variable taken at its mean, so a triangular
nest `for j in range(i)` counts half of the square; a count known only at run time,
a graph input or a `while`, counts once). A prim.If's branches count half each. A
loop the native backend will run (the runtime's own answer, `bind_native`: the same
lowering that decides it at run time, never restated here) costs one region call
(`native_call_s`) and per iteration its body's scalar ops at `native_op_s` each
(measured on a compiled loop nest) and its vector ops at the native rates; a loop
that falls back costs what its NumPy code costs, per iteration. So a plan knows a
compiled loop nest is ~1000x cheaper than the same nest as NumPy calls, and cuts
and merges tasks accordingly.

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

from distjit.core.inplace import updates_in_place
from distjit.ir.graph import Node
from distjit.ops import get_op
from distjit.partition.calibration import REFERENCE, Calibration, machine_calibration
from distjit.types import TensorType

INLINE_BYTES = 1 << 16      # smaller arguments travel inside a Ray task's spec, not through the object store
_MAX_TRIPS = 1e12           # a larger count is a `while` loop's bound, not a count
_EVAL_BUDGET = 256          # nodes read to evaluate one trip count (a count is a short expression)

_loop_lowers = None         # (graph, loop) -> bool: the loop will run natively; bound by the runtime
_fused_native = None        # (fused node) -> bool: the fused region will run as native loops; bound by the runtime


def bind_native(loop_lowers, fused_native) -> None:
    """The runtime's answers to "will this run natively?" (distjit/runtime/__init__.py binds them: the
    partitioner is below the runtime and cannot ask the native backend itself)."""
    global _loop_lowers, _fused_native
    _loop_lowers, _fused_native = loop_lowers, fused_native


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
        return "native" if native and _fused_native is not None and _fused_native(node) else "fused"
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
        """(flops, bytes) of a node from the op registry; a loop's body counts once per iteration."""
        flops = nbytes = 0.0
        for n, times, _ in self._runs(node):
            f, b = _registry(n)
            flops += f * times
            nbytes += b * times
        return flops, nbytes

    def node_seconds(self, node: Node, threads: int | None = None, beside: int = 1) -> float:
        """Predicted seconds of a node (a loop's body per iteration: NOTE: [How a loop is costed]), with
        `threads` for BLAS and fused regions, while `beside` tasks (this one included) stream memory at the
        same time."""
        threads = max(1, min(threads or self.executor.threads, self.calibration.cores))
        return sum(times * (self._native(n, native) if native else self._one(n, threads, beside))
                   for n, times, native in self._runs(node))

    def node_cost(self, node: Node) -> tuple[float, float, float]:
        """`estimate(node)` and `node_seconds(node)` together, reading the registry once per node."""
        threads = max(1, min(self.executor.threads, self.calibration.cores))
        flops = nbytes = seconds = 0.0
        for n, times, native in self._runs(node):
            f, b = reg = _registry(n)
            flops += f * times
            nbytes += b * times
            seconds += times * (self._native(n, native, reg) if native else self._one(n, threads, 1, reg))
        return flops, nbytes, seconds

    # -- loops (NOTE: [How a loop is costed]) -------------------------------------------------------------------
    def _runs(self, node: Node):
        """(node, how many times it runs, whether inside a native region) for `node` and every node nested in
        it, without recursion (a stack of the blocks still to walk)."""
        native_on = bool(self.calibration.native) and _loop_lowers is not None
        stack = [(iter([node]), 1.0, False)]
        while stack:
            nodes, times, native = stack[-1]
            n = next(nodes, None)
            if n is None:
                stack.pop()
                continue
            if n.op == "prim.Loop":
                root = not native and native_on and n.block is not None and n.block.graph is not None \
                    and _loop_lowers(n.block.graph, n)
                yield n, times, "root" if root else native
                stack.append((iter(n.blocks[0].nodes if n.blocks else ()), times * self.trips(n), native or root))
                continue
            yield n, times, native
            for b in reversed(n.blocks):     # prim.If: either branch, half the time each
                stack.append((iter(b.nodes), times / len(n.blocks), native))

    def trips(self, loop: Node) -> float:
        """The loop's estimated trip count (1 when it is known only at run time)."""
        key = ("trips", id(loop))
        if key not in self._memo:
            count = _value(loop.inputs[0], self) if loop.inputs else None
            ok = count is not None and 0 <= count <= _MAX_TRIPS
            self._memo[key] = (loop, float(count) if ok else 1.0)   # the loop kept alive: its id stays its own
        return self._memo[key][1]

    def _native(self, n: Node, where, reg: tuple[float, float] | None = None) -> float:
        """A node inside a native region: the region's call for the loop at its root (`where` "root"), one
        compiled scalar op, or a vector op (a dot, a row's elementwise expression) at the native loop's rates."""
        c = self.calibration
        if n.op == "prim.Loop":
            return c.native_call_s if where == "root" else c.native_op_s
        cls = op_class(n)
        if cls == "view" or not _has_vectors(n):
            return 0.0 if "constant" in get_op(n.op).flags else c.native_op_s
        flops, nbytes = reg or _registry(n)
        if "in_place_update" in get_op(n.op).flags:     # a region writes the value, not a copy of the base
            nbytes = 2.0 * sum(_nbytes(v.type) for v in n.inputs[1:2])
        inner = n.attrs.get("graph")
        if inner is not None:
            flops = _size(n) * self._inner(inner)[0]
        return c.native_op_s + max(flops * c.native_flop_s, nbytes / c.native_bytes_s)

    def graph_seconds(self, graph, threads: int | None = None, beside: int = 1) -> float:
        return sum(self.node_seconds(n, threads, beside) for n in graph.block.nodes)

    def _one(self, n: Node, threads: int, beside: int, reg: tuple[float, float] | None = None) -> float:
        c = self.calibration
        cls = op_class(n, bool(c.native))
        if cls == "view":
            return c.call_s
        flops, nbytes = reg or _registry(n)
        if "in_place_update" in get_op(n.op).flags and (updates_in_place(n) or _in_loop(n)):
            # written into its base's buffer (core/inplace.py; a loop's carried arrays always are, once the
            # runtime plans the loop): the cost of the part written, not of a copy of the base
            flops, nbytes = 0.0, 2.0 * sum(_nbytes(v.type) for v in n.inputs[1:2])
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


def _in_loop(n: Node) -> bool:
    """`n` is in the body of a loop (however deep)."""
    b = n.block
    while b is not None and b.owner is not None:
        if b.owner.op == "prim.Loop":
            return True
        b = b.owner.block
    return False


def _has_vectors(n: Node) -> bool:
    """Some value the node reads or makes is an array of at least one axis (not a scalar in a register);
    of an update, only the value it writes counts (the region writes into its base's buffer)."""
    values = n.inputs[1:2] if "in_place_update" in get_op(n.op).flags else [*n.inputs, *n.outputs]
    return any(isinstance(v.type, TensorType) and v.type.ndim >= 1 for v in values)


def _value(v, model: CostModel) -> float | None:
    """The value of a scalar `v` as the plan can know it: constants, static dims, pure scalar ops of known
    values (applied by the execution core's calling convention), an enclosing loop's iteration at its mean;
    None when it depends on run-time data. Iterative and bounded (a count is a short expression)."""
    from distjit.core.apply import apply

    known: dict = {}
    stack, budget = [v], _EVAL_BUDGET
    while stack:
        budget -= 1
        if budget < 0:
            return None
        x = stack[-1]
        if x in known:
            stack.pop()
            continue
        node = x.node
        if node is None:                        # a block's parameter: an iteration counter, or unknown
            owner = x.block.owner if x.block is not None else None
            if owner is None or owner.op != "prim.Loop" or not x.block.params or x.block.params[0] is not x:
                return None
            known[x] = (model.trips(owner) - 1.0) / 2.0
            stack.pop()
            continue
        if node.op == "prim.Constant":
            value = node.attrs.get("value")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None
            known[x] = value
        elif node.op == "prim.DimSize":
            t = node.inputs[0].type
            dim = t.shape[node.attrs["axis"]] if isinstance(t, TensorType) else None
            if not isinstance(dim, int):
                return None
            known[x] = dim
        else:
            opdef = get_op(node.op)
            if not opdef.is_pure or node.blocks or len(node.outputs) != 1 or "scalar" not in opdef.flags:
                return None
            missing = [i for i in node.inputs if i not in known]
            if missing:
                stack.extend(missing)
                continue
            try:
                (out,) = apply(node, [known[i] for i in node.inputs])
            except Exception:                   # noqa: BLE001 - a mean the op refuses (a float index): unknown
                return None
            if isinstance(out, bool) or not isinstance(out, (int, float)):
                return None
            known[x] = out
        stack.pop()
    return known[v]


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

