"""Constant folding and propagation, branches on constants, and unrolling of small constant loops.

- A pure node without blocks whose inputs are all constants is evaluated now, with
  the same kernel and calling convention as the runtime, and becomes a
  prim.Constant, when the result has the node's exact type and at most
  `MAX_FOLD_ELEMENTS` elements (big arrays stay computed at run time, not baked
  into the graph). A kernel that raises or warns (1/0) is left for run time, where
  the user sees the error or warning as in NumPy. Array results that a block
  returns are not folded (the caller would get the same array object every call).
- ``prim.If`` on a constant condition becomes the nodes of the branch taken.
- ``prim.Loop`` with constant trip count at most `MAX_UNROLL`, a constant True
  condition and a body that returns constant True (a ``for i in range(n)``) is
  unrolled when the copies stay under `MAX_UNROLLED_NODES` nodes.
"""
from __future__ import annotations

import warnings
from collections import deque

import numpy as np

from distjit.core.apply import apply
from distjit.ir.graph import Block, Graph, Node, Value
from distjit.types import type_of
from distjit.passes.manager import PassContext, register_pass
from distjit.passes.util import clone_into, constant_value, detach, drop_node, is_pure, new_node, opdef

MAX_FOLD_ELEMENTS = 4096
MAX_INPUT_ELEMENTS = 1 << 20
MAX_UNROLL = 8
MAX_UNROLLED_NODES = 512


@register_pass("fold")
def constant_fold(graph: Graph, ctx: PassContext) -> None:
    """evaluate pure nodes on constants; take constant branches; unroll small constant loops"""
    _block(graph, graph.block, ctx)


def _block(graph: Graph, block: Block, ctx: PassContext) -> None:
    pending = deque(block.nodes)
    new: list[Node] = []
    folded: list[Node] = []
    while pending:
        node = pending.popleft()
        if ctx.exhausted:
            new.append(node)
            continue
        if node.op == "prim.If":
            ok, cond = constant_value(node.inputs[0])
            if ok and _truth(cond) is not None and ctx.rewrite(
                    lambda: f"prim.If -> %{', %'.join(v.name for v in node.outputs)}: the condition is always "
                            f"{_truth(cond)}, kept the {'then' if _truth(cond) else 'else'} branch"):
                pending.extendleft(reversed(_take_branch(block, node, 0 if _truth(cond) else 1)))
                continue
        elif node.op == "prim.Loop" and _unrollable(node):
            trip = int(constant_value(node.inputs[0])[1])
            if ctx.rewrite(lambda: f"prim.Loop -> %{', %'.join(v.name for v in node.outputs)}: "
                                   f"unrolled {trip} iterations"):
                pending.extendleft(reversed(_unroll(graph, block, node, trip)))
                continue
        for b in node.blocks:
            _block(graph, b, ctx)
        consts = _fold_node(block, node, ctx)
        if consts is None:
            new.append(node)
        else:
            new.extend(consts)
            folded.append(node)
    detach(folded)
    block.nodes = new


def _truth(cond):
    try:
        if isinstance(cond, np.ndarray) and cond.shape != ():
            return None
        return bool(cond)
    except Exception:
        return None


def _fold_node(block: Block, node: Node, ctx: PassContext) -> list[Node] | None:
    """The constant nodes that replace `node` (already rewired), or None to keep it."""
    if node.op == "prim.Constant" or node.blocks or not any(v.uses for v in node.outputs):
        return None
    d = opdef(node)
    if d is None or d.kernel is None or "uninitialized" in d.flags or not is_pure(node):
        return
    values = []
    for v in node.inputs:
        ok, value = constant_value(v)
        if not ok or (isinstance(value, np.ndarray) and value.size > MAX_INPUT_ELEMENTS):
            return
        values.append(value)
    returned = any(isinstance(u, Block) for out in node.outputs for u, _ in out.uses)
    try:
        results = _evaluate(node, values)
    except Exception:
        return
    for out, r in zip(node.outputs, results):
        if isinstance(r, np.ndarray) and (r.size > MAX_FOLD_ELEMENTS or returned):
            return
        if isinstance(r, np.ndarray) and r.dtype.kind in "OV":
            return
        try:
            if type_of(r) != out.type:
                return
        except TypeError:
            return
    if not ctx.rewrite(lambda: f"folded %{', %'.join(v.name for v in node.outputs)} = {node.op}(constants) "
                               f"to {_short(results)}"):
        return
    consts = []
    for out, r in zip(node.outputs, results):
        if isinstance(r, np.ndarray):
            r.flags.writeable = False
        const = new_node(block, "prim.Constant", [], {"value": r}, [out.type], node.loc)
        out.replace_all_uses_with(const.output)
        consts.append(const)
    return consts


def _evaluate(node: Node, values: list) -> list:
    """The node applied to constants by the runtime's calling convention, any warning or floating-point
    error raised (such a node is left for run time)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            return apply(node, values)


def _short(results) -> str:
    text = ", ".join(repr(r) if not isinstance(r, np.ndarray) else f"array{list(r.shape)}" for r in results)
    return text if len(text) < 60 else text[:57] + "..."


def _take_branch(block: Block, node: Node, which: int) -> list[Node]:
    """Dissolve the If: returns the nodes of its block `which`, moved out (to be placed where the If was)."""
    chosen = node.blocks[which]
    moved = list(chosen.nodes)
    for n in moved:
        n.block = block
    chosen.nodes = []
    for out, ret in zip(node.outputs, chosen.returns):
        out.replace_all_uses_with(ret)
    chosen.drop_returns()
    drop_node(node)
    return moved


def _unrollable(node: Node) -> bool:
    ok_t, trip = constant_value(node.inputs[0])
    ok_c, cond = constant_value(node.inputs[1])
    if not (ok_t and ok_c) or cond is not True or isinstance(trip, bool):
        return False
    if not isinstance(trip, (int, np.integer)) or not (0 <= int(trip) <= MAX_UNROLL):
        return False
    body = node.blocks[0]
    ok_r, again = constant_value(body.returns[0])
    if not ok_r or again is not True:
        return False
    if not is_pure(node):
        return False
    size = sum(1 for _ in body.walk())
    return size * int(trip) <= MAX_UNROLLED_NODES


def _unroll(graph: Graph, block: Block, node: Node, trip: int) -> list[Node]:
    """The nodes of `trip` copies of the body (to be placed where the loop was)."""
    body = node.blocks[0]
    carried = list(node.inputs[2:])
    tmp = Block(graph)
    for it in range(trip):
        counter = new_node(block, "prim.Constant", [], {"value": it}, None, node.loc)
        tmp.nodes.append(counter)
        mapping: dict[Value, Value] = {body.params[0]: counter.output}
        mapping.update(zip(body.params[1:], carried))
        clone_into(body.nodes, tmp, len(tmp.nodes), mapping, graph)
        carried = [mapping.get(r, r) for r in body.returns[1:]]
    for out, v in zip(node.outputs, carried):
        out.replace_all_uses_with(v)
    drop_node(node)
    for n in tmp.nodes:
        n.block = block
    return tmp.nodes
