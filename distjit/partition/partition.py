"""`distjit.partition(f, workers=N, shard=None)`: choose the inputs' shardings and build the Plan."""
from __future__ import annotations

from distjit.errors import DistJitError
from distjit.types import TensorType
from distjit.partition.plan import Plan
from distjit.partition.cost import CostModel, predict
from distjit.partition.stages import partition_graph


def partition(f, workers: int = 2, shard: dict | None = None, *, cost: CostModel | None = None) -> Plan:
    """The Plan of `f` (a distjit.Function) for `workers` workers.

    By default the batch axis (axis 0) of every array input of at least
    `cost.min_split_bytes` may be split, parameters and small inputs are replicated,
    and the number of shards (1, 2, 4, ... up to `workers`) is the one whose Plan is
    predicted fastest on the target executor (`cost.executor`, Ray's costs unless
    told): a graph cheaper than the per-task overhead stays one task. `plan.why`
    (printed by `explain()`) says what was compared. `shard` overrides per input:
    ``{"x": 0}`` splits x along axis 0 into `workers` parts, ``{"w": None}``
    replicates w; a key is an argument's name or a flattened path (``"batch['x']"``).

    A `shard` that splits a symbolic dim gets a `PlanPerShape` (a Plan made and cached per call shape).

    >>> plan = distjit.partition(f, workers=4, shard={"x": 0})
    >>> print(plan.explain())
    """
    from distjit.partition.per_shape import PlanPerShape, splits_symbolic

    if splits_symbolic(f, shard):         # split per call shape (distjit/partition/per_shape.py)
        return PlanPerShape(f, workers, shard, cost)
    cost = cost or CostModel()
    if workers < 1:
        raise DistJitError(f"partition: workers must be at least 1, got {workers}")
    graph = f.graph
    names = f.signature.input_paths()
    axes = _default_axes(graph, workers, cost)
    forced = bool(shard) and any(a is not None for a in shard.values())
    if shard:
        axes = _apply_overrides(f, names, axes, shard)
    split_dims = [v.type.shape[a] for v, a in zip(graph.inputs, axes) if a is not None]
    most = max(1, min(workers, *split_dims)) if split_dims else 1
    if forced or most == 1:
        plan = _build(graph, axes, most, names, workers, cost, warn=True)
        plan.why = ("split as shard= asks" if forced and most > 1 else
                    "one task: 1 worker" if workers == 1 else "one task: no input is big enough to split")
        return _predicted(plan, cost)
    whole = _build(graph, axes, 1, names, workers, cost, warn=False)
    predictions = {id(whole): predict(whole, cost)}
    compute = sum(t.seconds for t in whole.tasks)
    if compute < cost.task_overhead_s:
        whole.why = (f"one task: the graph's compute ({_ms(compute)}) is below one {cost.executor.name} task's "
                     f"overhead ({_ms(cost.task_overhead_s)}), so splitting cannot pay")
        return _predicted(whole, cost, predictions[id(whole)])
    tried = [(predictions[id(whole)].seconds, 1, whole)]
    for parts in sorted({most} | {1 << k for k in range(1, most.bit_length()) if 1 << k < most}):
        plan = _build(graph, axes, parts, names, workers, cost, warn=False)
        predictions[id(plan)] = predict(plan, cost)
        tried.append((predictions[id(plan)].seconds, parts, plan))
    # more shards only when clearly faster: predictions within 10% are a tie, and fewer tasks are simpler
    best = tried[0]
    for entry in tried[1:]:
        if entry[0] < 0.9 * best[0]:
            best = entry
    seconds, parts, plan = best
    compared = ", ".join(f"{p} shard(s) {_ms(t)}" for t, p, _ in tried)
    if parts == 1:
        plan.why = (f"one task: splitting is not predicted faster on {cost.executor.name} ({compared}); "
                    f"the per-task overhead ({_ms(cost.task_overhead_s)}) and transfers exceed the gain")
    else:
        plan.why = f"{parts} shards: predicted fastest on {cost.executor.name} ({compared})"
    return _predicted(plan, cost, predictions[id(plan)])


def _build(graph, axes, parts, names, workers, cost, warn):
    axes = axes if parts > 1 else [None] * len(axes)
    return partition_graph(graph, axes, parts, input_names=names, workers=workers, cost=cost, warn=warn)


def _predicted(plan: Plan, cost: CostModel, p=None) -> Plan:
    """Record the prediction `p` on the target (made now if None) on the Plan and its tasks (what explain()
    and timelines show)."""
    p = p or predict(plan, cost)
    plan.predicted = p
    for t, s in zip(plan.tasks, p.tasks):
        t.predicted_seconds = s
    return plan


def _ms(s: float) -> str:
    return f"{s * 1e3:.2f} ms"


def _default_axes(graph, workers: int, cost: CostModel) -> list[int | None]:
    if workers == 1:
        return [None] * len(graph.inputs)
    axes = []
    for v in graph.inputs:
        t = v.type
        big = (isinstance(t, TensorType) and t.is_static and t.ndim >= 1 and t.shape[0] >= 2
               and t.nbytes >= cost.min_split_bytes)
        axes.append(0 if big else None)
    return axes


def check_overrides(f, names: list[str], shard: dict) -> None:
    """DistJitError unless every key of `shard` names an input and every axis is one of its axes
    (symbolic dims included: a per-shape Plan splits them once the call's shapes are known)."""
    _apply_overrides(f, names, [None] * len(names), shard, symbolic=True)


def _apply_overrides(f, names: list[str], axes: list, shard: dict, symbolic: bool = False) -> list:
    axes = list(axes)
    for key, axis in shard.items():
        hits = [i for i, n in enumerate(names) if n == key or n.startswith(f"{key}[")]
        if not hits:
            raise DistJitError(f"{f.name}: shard={{{key!r}: ...}} names no input; its inputs are {', '.join(names)}")
        for i in hits:
            t = f.graph.inputs[i].type
            if axis is None:
                axes[i] = None
                continue
            if not isinstance(t, TensorType) or not isinstance(axis, int) or not -t.ndim <= axis < t.ndim:
                raise DistJitError(f"{f.name}: cannot split input {names[i]} ({t}) along axis {axis!r}")
            axis %= t.ndim
            if not symbolic and not isinstance(t.shape[axis], int):
                raise DistJitError(f"{f.name}: cannot split input {names[i]} along its symbolic dim "
                                   f"{t.shape[axis]} (trace it with a static shape)")
            axes[i] = axis
    return axes
