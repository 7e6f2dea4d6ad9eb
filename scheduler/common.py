"""What both executors share: reading a Plan's sources and assembling its outputs."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from distjit.partition.plan import Plan, Source


def arg_part(plan: Plan, leaves: list, source: Source) -> Any:
    """The call argument a source names: the whole leaf, or a view of one shard of it."""
    x = leaves[source.index]
    layout = plan.inputs[source.index]
    if source.shard is None or layout.axis is None:
        return x
    start, stop = layout.bounds[source.shard]
    return x[(slice(None),) * layout.axis + (slice(start, stop),)]


def consumers(plan: Plan) -> dict[tuple[int, int], int]:
    """How many times each task output is read (by tasks and by the plan's outputs)."""
    counts: dict[tuple[int, int], int] = {}
    for t in plan.tasks:
        for s in t.inputs:
            if s.kind == "task":
                counts[(s.index, s.output)] = counts.get((s.index, s.output), 0) + 1
    for o in plan.outputs:
        for s in o.sources:
            if s.kind == "task":
                counts[(s.index, s.output)] = counts.get((s.index, s.output), 0) + 1
    return counts


def assemble(plan: Plan, fetch: Callable[[Source], Any]) -> list:
    """The graph's outputs: one value each, split outputs concatenated along their axis."""
    outs = []
    for o in plan.outputs:
        parts = [fetch(s) for s in o.sources]
        if o.axis is None:
            outs.append(parts[0])
        else:
            outs.append(np.concatenate(parts, axis=o.axis))
    return outs
