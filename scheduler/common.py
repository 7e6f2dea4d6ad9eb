"""What both executors share: reading a Plan's sources and assembling its outputs."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from distjit.partition.plan import Plan, Source
from distjit.runtime.blas import _openblas, blas_threads  # noqa: F401  (re-exported: executors and the bench use it)


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


def assemble(outputs: list, fetch: Callable[[Source], Any], pool=None) -> list:
    """The values of a Plan's `outputs`: one each, split outputs concatenated along their axis.

    With `pool` (a concurrent.futures executor), the parts of big split outputs are
    copied into one preallocated array by the pool's threads in parallel (NumPy's copy
    releases the GIL): the same result as np.concatenate, one copy, spread over cores.
    """
    outs, copies = [], []
    for o in outputs:
        parts = [fetch(s) for s in o.sources]
        if o.axis is None:
            outs.append(parts[0])
        elif pool is not None and len(parts) > 1 and _same_kind(parts, o.axis) \
                and sum(p.nbytes for p in parts) >= PARALLEL_COPY_BYTES:
            dest, slices = concat_buffer([p.shape for p in parts], parts[0].dtype, o.axis)
            copies += [pool.submit(np.copyto, dest[sl], p) for sl, p in zip(slices, parts)]
            outs.append(dest)
        else:
            outs.append(np.concatenate(parts, axis=o.axis))
    for c in copies:
        c.result()
    return outs


PARALLEL_COPY_BYTES = 1 << 22


def _same_kind(parts: list, axis: int) -> bool:
    first = parts[0]
    return all(isinstance(p, np.ndarray) and p.dtype == first.dtype and p.ndim == first.ndim and p.ndim > axis
               and p.shape[:axis] == first.shape[:axis] and p.shape[axis + 1:] == first.shape[axis + 1:]
               for p in parts)


def concat_buffer(shapes: list, dtype, axis: int, empty=np.empty):
    """An empty array (made by `empty(shape, dtype)`) that np.concatenate of parts of these shapes along
    `axis` would return, and the index of each part in it."""
    shape = list(shapes[0])
    shape[axis] = sum(s[axis] for s in shapes)
    dest = empty(tuple(shape), dtype)
    slices, start = [], 0
    for s in shapes:
        slices.append((slice(None),) * axis + (slice(start, start + s[axis]),))
        start += s[axis]
    return dest, slices
