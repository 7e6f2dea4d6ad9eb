"""`distjit.partition(f, workers=N, shard=None)`: choose the inputs' shardings and build the Plan."""
from __future__ import annotations

from distjit.errors import DistJitError
from distjit.types import TensorType
from distjit.partition.plan import Plan
from distjit.partition.stages import CostModel, partition_graph


def partition(f, workers: int = 2, shard: dict | None = None, *, cost: CostModel | None = None) -> Plan:
    """The Plan of `f` (a distjit.Function) for `workers` workers.

    By default the batch axis (axis 0) of every array input of at least
    `cost.min_split_bytes` is split into `workers` parts, and parameters and small
    inputs are replicated; when the whole graph is estimated cheaper than the
    per-task overhead of its shards, nothing is split. `shard` overrides per input:
    ``{"x": 0}`` splits x along axis 0, ``{"w": None}`` replicates w; a key is an
    argument's name or a flattened path (``"batch['x']"``).

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
    if shard:
        axes = _apply_overrides(f, names, axes, shard)
    split_dims = [v.type.shape[a] for v, a in zip(graph.inputs, axes) if a is not None]
    parts = max(1, min(workers, *split_dims)) if split_dims else 1
    if parts == 1:
        axes = [None] * len(axes)
    return partition_graph(graph, axes, parts, input_names=names, workers=workers, cost=cost)


def _default_axes(graph, workers: int, cost: CostModel) -> list[int | None]:
    if workers == 1:
        return [None] * len(graph.inputs)
    axes = []
    for v in graph.inputs:
        t = v.type
        big = (isinstance(t, TensorType) and t.is_static and t.ndim >= 1 and t.shape[0] >= workers
               and t.nbytes >= cost.min_split_bytes)
        axes.append(0 if big else None)
    if any(a is not None for a in axes):
        total = sum(cost.seconds(*cost.estimate(n)) for n in graph.block.nodes)
        if total < 4 * workers * cost.task_overhead_s:
            return [None] * len(axes)
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
