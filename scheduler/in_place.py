"""Big split outputs assembled in place: each task writes its part straight into the result array.

Concatenating a Plan's split outputs after the run costs one more pass over every
byte, made by the driver alone into freshly allocated pages (expensive on small
VMs). Instead the executor allocates each big result first and gives every task
the slice its part belongs in:

- the LocalExecutor's threads write into it in this process;
- Ray workers on the driver's node write into it too: results live in shared
  memory (scheduler/shared_result.py, a memfd the workers open through /proc,
  whose pages the next run reuses once the caller drops the result), and they
  return nothing for that output; a worker on another node returns its part as
  usual and the driver copies it in. So a one-machine cluster moves each output
  byte once, as the single-process run does, and a multi-node one is unchanged.

The node that makes a part (a fused or ufunc node) writes it with ``out=``, in a
variant of the task's subgraph that takes the destination as an extra input
(`variant`), so the task makes no temporary for it at all.
"""
from __future__ import annotations

import numpy as np

from distjit.ir.graph import Graph
from distjit.types import TensorType
from distjit.partition.plan import Plan
from distjit.core.aliasing import writes_over_input
from distjit.core.buffers import write_into
from scheduler.common import PARALLEL_COPY_BYTES, concat_buffer

def output_targets(plan: Plan, empty=np.empty):
    """The big split outputs whose parts all come from tasks with static types, allocated with
    `empty(shape, dtype)`: {output index: array} and {(task, output): [(array, index of the part)]}."""
    dests, targets = {}, {}
    for o, out in enumerate(plan.outputs):
        if out.axis is None or len(out.sources) < 2 or any(s.kind != "task" for s in out.sources):
            continue
        types = [plan.subgraphs[plan.tasks[s.index].subgraph].outputs[s.output].type for s in out.sources]
        if not all(isinstance(t, TensorType) and t.is_static and t.ndim > out.axis for t in types):
            continue
        if len({(t.dtype, t.shape[:out.axis] + t.shape[out.axis + 1:]) for t in types}) != 1:
            continue
        if sum(t.nbytes for t in types) < PARALLEL_COPY_BYTES:     # concatenated at the end: cheap
            continue
        dest, slices = concat_buffer([t.shape for t in types], types[0].dtype, out.axis, empty)
        dests[o] = dest
        for s, index in zip(out.sources, slices):
            targets.setdefault((s.index, s.output), []).append((dest, index))
    return dests, targets


def placed_outputs(targets: dict, task: int, n_outputs: int) -> tuple[int, ...]:
    """The outputs of `task` that go to exactly one contiguous place: the ones a variant can write in place."""
    return tuple(k for k in range(n_outputs) if len(targets.get((task, k), ())) == 1
                 and part_of(targets[(task, k)][0]).flags.c_contiguous)


def part_of(target) -> np.ndarray:
    """The slice of its result that a (result, index) target names."""
    dest, index = target
    return dest[index]


def deliver(value, part: np.ndarray) -> bool:
    """Put a task's output `value` into its place `part` (nothing to do when the variant wrote it there);
    False when it does not fit (a shape the Plan did not predict): the caller keeps the value instead."""
    if not (isinstance(value, np.ndarray) and value.shape == part.shape and value.dtype == part.dtype):
        return False
    if not same_buffer(value, part):
        np.copyto(part, value)
    return True


def same_buffer(a: np.ndarray, b: np.ndarray) -> bool:
    return a.__array_interface__["data"][0] == b.__array_interface__["data"][0] and a.strides == b.strides


def variant(sub: Graph, ks: tuple):
    """(outputs written in place, program) of `sub` with its outputs `ks` written with ``out=`` into extra
    trailing inputs, one per output made by a node that can take ``out=``; None when none can."""
    from distjit.runtime.executor import compile_graph

    g = Graph.parse(str(sub))
    g.verify()          # the copy must be the graph that was verified, not only print like it
    direct = []
    for k in ks:
        v = g.outputs[k]
        node = v.node
        if node is None or node.block is not g.block or not writes_over_input(node) or g.outputs.count(v) != 1 \
                or not isinstance(v.type, TensorType) or not v.type.is_static or v.type.ndim == 0:
            continue
        dest = g.add_input(v.type, g.fresh_name("dest"))
        write_into(node, node.outputs.index(v), dest)
        direct.append(k)
    if not direct:
        return None
    return tuple(direct), compile_graph(g, row_blocks=True)

