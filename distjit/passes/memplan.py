"""Memory planning: an elementwise node writes its result into the buffer of an input that dies there.

Eager NumPy allocates a fresh array for every intermediate; on big arrays the page
faults of fresh memory cost as much as the arithmetic. This pass marks, in
``node.meta["reuse"]`` (output index -> input index), where an ufunc or fused node
may write with ``out=``; the code generator emits ``k(a, b, out=(a,))``. Results
are bit for bit the same (the same kernel, in place).

An input `a` may give its buffer to output `o` of node `n` only when:
- `a` and `o` have the same type (dtype and shape), with at least one dimension;
- `a` is produced in the same block by an op declared to return fresh memory
  (`OpDef.alias`): never a graph input or parameter (the caller's arrays), a
  constant, a block parameter (a loop's carried value), or a view;
- nothing reads `a` after `n` (reads in nested blocks count as reads by their
  owner), and no block returns it;
- every value that may alias `a` (the result of any op other than the fresh ones
  above reading `a`: views, reshapes, If/Loop/Call results ...) is dead before `n`;
- for a fused node, the expression reads `a` for the last time no later than it
  computes `o` (and only an ufunc may read and write the same buffer at once).
"""
from __future__ import annotations

from distjit.ir.graph import Block, Graph, Node, Value
from distjit.types import TensorType, iter_refs
from distjit.passes.manager import PassContext, register_pass
from distjit.passes.util import all_blocks, ancestor_in, opdef

def returns_fresh(node: Node) -> bool:
    """The node's outputs never share memory with its inputs (the op declares it: `OpDef.alias`)."""
    d = opdef(node)
    return d is not None and d.returns_fresh


def writes_out(node: Node) -> bool:
    """Nodes that can write their result over an input that dies there: elementwise ops that take ``out=``
    (each element is read before it is written)."""
    if node.blocks or any(True for _ in iter_refs(node.attrs)):
        return False
    d = opdef(node)
    return d is not None and d.takes_out and "elementwise" in d.flags


@register_pass("memplan")
def plan_memory(graph: Graph, ctx: PassContext) -> None:
    """let elementwise nodes write into the buffers of inputs that die there (out=)"""
    for block in list(all_blocks(graph)):
        _block(block, ctx)


def _block(block: Block, ctx: PassContext) -> None:
    position = {node: i for i, node in enumerate(block.nodes)}
    for i, node in enumerate(block.nodes):
        node.meta.pop("reuse", None)
        if not writes_out(node) or ctx.exhausted:
            continue
        reuse: dict[int, int] = {}
        taken: set[Value] = set()
        for k, out in enumerate(node.outputs):
            if not _array(out):
                continue
            for j, a in enumerate(node.inputs):
                if a in taken or a.type != out.type or not _array(a):
                    continue
                p = a.node
                if p is None or p.block is not block or not returns_fresh(p):
                    continue
                if not _dead_after(a, block, position, i, node) or not _fused_order_ok(node, j, k):
                    continue
                if not ctx.rewrite(lambda: f"%{out.name} = {node.op}(...) writes into the buffer of %{a.name}"):
                    return
                reuse[k] = j
                taken.add(a)
                break
        if reuse:
            node.meta["reuse"] = reuse


def _array(v: Value) -> bool:
    t = v.type
    return (isinstance(t, TensorType) and t.ndim >= 1
            and not any(isinstance(d, str) and d.startswith("?") for d in t.shape))


def _dead_after(a: Value, block: Block, position: dict, i: int, node: Node) -> bool:
    """No read of `a` (or of anything that may alias it) after node `i`; alias reads only before it."""
    stack, seen = [(a, True)], set()
    while stack:
        v, is_a = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        for user, _ in v.uses:
            if isinstance(user, Block):
                return False          # returned: lives on
            owner = ancestor_in(user, block)
            if owner is None:
                return False
            at = position[owner]
            if at > i or (at == i and not (is_a and owner is node)):
                return False
            if owner is not node and not returns_fresh(owner):
                stack.extend((o, False) for o in owner.outputs)
    return True


def _fused_order_ok(node: Node, j: int, k: int) -> bool:
    """For a node that evaluates an expression graph (a fused node), the expression must read input j for
    the last time no later than it computes output k."""
    graph_attrs = opdef(node).graph_attrs
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
    last = max((idx[u] for u, _ in x.uses if isinstance(u, Node)), default=-1)
    if any(not isinstance(u, Node) for u, _ in x.uses):
        return False
    if last > at:
        return False
    # Reading and writing the same buffer inside one op is safe for ops that write element by element into out=.
    return last < at or opdef(target.node).takes_out
