"""Buffers: where a node writes its outputs (``out=``), and which temporaries share memory.

NOTE: [One out= mechanism]
A node that takes ``out=`` (`OpDef.takes_out`) may be given the buffer of a value for
output k, recorded in ``node.meta["out"]`` = {k: value} (`write_into`); the generated
code passes that value's array as ``out=``. The value is either
- an input of the node that dies there (memory planning, `plan_reuse`: eager NumPy's
  temporary elision, made explicit), or
- a graph input that is the caller's destination for that output (a task writing its
  part of a split result in place, scheduler/in_place.py; row blocks, block by block), or
- the base of an update (array.setitem) that owns its buffer and dies there (in-place
  updates, inplace.py, which also records the loops that copy a carried array at entry).
Buffers that are not values of the graph (scratch sets kept from call to call,
runtime/scratch.py; block-sized buffers of row blocks) are chosen at code generation
time for outputs that have no entry here, with one lifetime analysis (`lives`, over
aliasing.py's reads) and one slot assignment (`share`).

Results are bit for bit the same as with fresh arrays: the same kernels write the same
values, only into older memory.
"""
from __future__ import annotations

from typing import Callable

from distjit.core.aliasing import OUT, alias_reads, last_read, returns_fresh, takes_out, writes_over_input, written_into
from distjit.ir.graph import Block, Graph, Node, Value
from distjit.types import TensorType

__all__ = ["written_into", "write_into", "reused_input", "destination", "is_planned", "plan_reuse", "fused_order_ok", "lives",
           "share"]


def write_into(node: Node, k: int, value: Value) -> None:
    """Output k of `node` is written into `value`'s buffer."""
    node.meta.setdefault(OUT, {})[k] = value


def reused_input(node: Node, k: int) -> int | None:
    """The index of the input whose buffer output k is written into, when it is one of the node's inputs."""
    target = written_into(node).get(k)
    return node.inputs.index(target) if target is not None and target in node.inputs else None


def destination(graph: Graph, node: Node, k: int) -> Value | None:
    """The input of `graph` that output k of `node` is written into (the caller's destination), if any."""
    target = written_into(node).get(k)
    return target if target is not None and target in graph.inputs else None


def is_planned(graph: Graph) -> bool:
    """Whether memory planning already chose dying inputs for some node (a plan is kept as it is)."""
    return any(reused_input(node, k) is not None for node in graph.walk() for k in written_into(node))


def _forget_reuse(node: Node) -> None:
    out = {k: v for k, v in written_into(node).items() if v not in node.inputs}
    if out:
        node.meta[OUT] = out
    else:
        node.meta.pop(OUT, None)


def plan_reuse(graph: Graph, allow: Callable[[Callable[[], str]], bool] | None = None,
               stop: Callable[[], bool] | None = None) -> None:
    """Let nodes that may write over an input write into the buffer of one that dies there.

    An input `a` may give its buffer to output `o` of node `n` only when:
    - `a` and `o` have the same type (dtype and shape), with at least one dimension;
    - `a` is produced in the same block by an op declared to return fresh memory
      (`OpDef.alias`): never a graph input or parameter (the caller's arrays), a
      constant, a block parameter (a loop's carried value), or a view;
    - nothing reads `a` after `n` (reads in nested blocks count as reads by their
      owner), and no block returns it;
    - every value that may alias `a` is dead before `n`;
    - for a node that evaluates an expression graph (a fused node), the expression
      reads `a` for the last time no later than it computes `o` (and only an op that
      writes element by element may read and write the same buffer at once).

    `allow(message)` is asked before each choice (the pass manager's rewrite budget and
    report); `stop()` ends planning early.
    """
    for block in graph.blocks():
        _plan_block(block, allow, stop)


def _plan_block(block: Block, allow, stop) -> None:
    position = {node: i for i, node in enumerate(block.nodes)}
    for i, node in enumerate(block.nodes):
        if not writes_over_input(node):
            continue            # (an update's in-place record is core/inplace.py's)
        _forget_reuse(node)
        if stop is not None and stop():
            continue
        chosen: dict[int, Value] = {}
        for k, out in enumerate(node.outputs):
            if not _array(out):
                continue
            for j, a in enumerate(node.inputs):
                if a in chosen.values() or a.type != out.type or not _array(a):
                    continue
                p = a.node
                if p is None or p.block is not block or not returns_fresh(p):
                    continue
                if not _dead_after(a, block, position, i, node) or not fused_order_ok(node, j, k):
                    continue
                if allow is not None and not allow(
                        lambda: f"%{out.name} = {node.op}(...) writes into the buffer of %{a.name}"):
                    return
                chosen[k] = a
                break
        for k, a in chosen.items():
            write_into(node, k, a)


def _array(v: Value) -> bool:
    t = v.type
    return (isinstance(t, TensorType) and t.ndim >= 1
            and not any(isinstance(d, str) and d.startswith("?") for d in t.shape))


def _dead_after(a: Value, block: Block, position: dict, i: int, node: Node) -> bool:
    """No read of `a`'s buffer after node `i`; at node `i`, only `node`'s own read of `a` itself."""
    reads = alias_reads(a, block)
    if reads is None:
        return False
    for owner, value, _ in reads:
        at = position[owner]
        if at > i or (at == i and not (value is a and owner is node)):
            return False
    return True


def fused_order_ok(node: Node, j: int, k: int) -> bool:
    """Output k of `node` may be written over its input j as far as an expression graph is concerned (a node
    without one: always): the expression reads input j for the last time no later than it computes output k."""
    from distjit.ops import get_op

    graph_attrs = get_op(node.op).graph_attrs
    if not graph_attrs:
        return True
    sub = node.attrs[graph_attrs[0]]
    x = sub.inputs[j]
    target = sub.outputs[k]
    nodes = sub.block.nodes
    idx = {n: t for t, n in enumerate(nodes)}
    if target.node is None:
        return False
    at = idx[target.node]
    if any(not isinstance(u, Node) for u, _ in x.uses):
        return False
    last = max((idx[u] for u, _ in x.uses), default=-1)
    if last > at:
        return False
    # Reading and writing the same buffer inside one op is safe for ops that write element by element into out=.
    return last < at or get_op(target.node.op).takes_out


def lives(block: Block, nodes, size: Callable[[Node, int, Value], int | None]) -> list[tuple[int, int, Value, int]]:
    """(start, end, value, bytes) of the temporaries of `nodes` (nodes of `block` that take ``out=``) that
    `size(node, k, value)` wants a buffer of that many bytes for: a value lives from the node that makes it to
    the last read of its buffer. Outputs with a `write_into` buffer, and buffers that escape, are left out."""
    position = {node: i for i, node in enumerate(block.nodes)}
    found = []
    for node in nodes:
        if not takes_out(node):
            continue
        planned = written_into(node)
        for k, v in enumerate(node.outputs):
            if k in planned:
                continue
            nbytes = size(node, k, v)
            if nbytes is None:
                continue
            end = last_read(v, block, position)
            if end is not None:
                found.append((position[node], end, v, nbytes))
    return found


def share(lives: list[tuple[int, int, Value, int]]) -> tuple[dict[Value, int], list[int]]:
    """Byte slots for (start, end, value, bytes): values live from node `start` to node `end` (inclusive) whose
    lifetimes do not overlap share one, chosen best fit; (slot of each value, each slot's size in bytes)."""
    slot_of: dict[Value, int] = {}
    slots: list[int] = []
    busy_until: list[int] = []
    for start, end, v, nbytes in sorted(lives, key=lambda life: life[0]):
        free = [s for s in range(len(slots)) if busy_until[s] < start]
        fits = [s for s in free if slots[s] >= nbytes]
        if fits:
            s = min(fits, key=lambda s: slots[s])          # the smallest that fits
        elif free:
            s = max(free, key=lambda s: slots[s])          # grow the biggest free one
            slots[s] = nbytes
        else:
            s = len(slots)
            slots.append(nbytes)
            busy_until.append(end)
        busy_until[s] = end
        slot_of[v] = s
    return slot_of, slots
