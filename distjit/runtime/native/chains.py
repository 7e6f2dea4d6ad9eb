"""Chains of elementwise nodes inside a region computed in one loop nest, without their intermediate arrays.

NOTE: [Elementwise chains]
The fuse pass groups elementwise ops only when their symbolic shapes are equal, and the
views of a stencil (`A[1:-1, :-2] + A[1:-1, 2:] + ...`) each have their own symbols, so
a region often sees a chain of elementwise nodes, each of which would fill a fresh array
read by the next one only. A node whose one result is read by exactly one later
elementwise node of the same block, with nothing between them that writes (no setitem,
no nested loop or branch), is not materialized: its reader's loop computes its element
from the same operands (`_Lowering.expression`). The result is the same: broadcasting is
associative (the reader's loop runs over the broadcast of every leaf operand, which is
the broadcast of the producer's shape with the reader's other operands, and incompatible
lengths still raise NumPy's ValueError, before anything is written), each element is
cast to the producer's dtype as its array would have stored it, and the operands are
unchanged between the two nodes, so they are read as the producer would have read them.
"""
from __future__ import annotations

from distjit.ir.graph import Node, Value
from distjit.types import TensorType

SETITEM = "array.setitem"


def leaves(lw, node: Node) -> list[Value]:
    """The operands a node's loop reads: its inputs, with deferred producers replaced by their own operands."""
    out: list[Value] = []
    for v in node.inputs:
        producer = lw.deferred.get(v)
        out += leaves(lw, producer) if producer is not None else [v]
    return out


def defer(lw, node: Node, rank: int, at: Node | None = None) -> bool:
    """Whether `node` (an elementwise node of this rank, already checked) is computed in its reader's loop;
    `at` is the graph's node it stands for when it is the lowering's own (np.outer's product: products.py)."""
    at = node if at is None else at
    if len(node.outputs) != 1 or node.block is None:
        return False
    v = node.output
    if len(v.uses) != 1 or not isinstance(v.uses[0][0], Node):
        return False
    reader, slot = v.uses[0]
    if reader.block is not node.block or not (_elementwise_reader(reader, rank) or _view_write(reader, slot)):
        return False
    nodes = node.block.nodes
    between = nodes[nodes.index(at) + 1:nodes.index(reader)]
    if any(n.op == SETITEM or n.blocks for n in between):
        return False
    lw.deferred[v] = node
    return True


def _view_write(reader: Node, slot: int) -> bool:
    """Whether `reader` writes the value (its input `slot`) into a view, whose loops then compute it
    (NOTE: [Fused writes] in views.py)."""
    from distjit.runtime.native import views

    return reader.op == SETITEM and slot == 1 and views.is_view(reader.inputs[0], reader.attrs["index"])


def _elementwise_reader(reader: Node, rank: int) -> bool:
    from distjit.runtime.native import products, vectors
    from distjit.runtime.native.lower import _VECTOR_OPS, GETITEM

    if reader.op in _VECTOR_OPS or vectors.may_lower(reader.op) or products.may_lower(reader.op) or \
            reader.op in (GETITEM, SETITEM) or reader.blocks:
        return False
    outs = [o.type for o in reader.outputs]
    return bool(outs) and all(isinstance(t, TensorType) and t.ndim >= rank for t in outs) and \
        (reader.op == "fused.elementwise" or all(t.ndim > 0 for t in outs))
