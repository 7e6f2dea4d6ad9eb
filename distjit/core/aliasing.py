"""Aliasing: which values may share memory, and how long a buffer stays in use.

A buffer is in use while its value, or any value that may alias it, can still be
read. What may alias is read from the op registry (`OpDef.alias`): the outputs of an
op declared FRESH never share memory with its inputs; every other op's outputs (views,
reshapes, an op without a declaration) may; a node whose nested blocks read a value
may return it (an If's result), and a node that writes its output into the buffer of
one of its inputs (buffers.py) makes that output an alias of the input.

Memory planning (which dying input a node may write over), scratch buffers and row
blocks (which temporaries may share one buffer) all ask `alias_reads`; nothing else
follows aliases.
"""
from __future__ import annotations

from distjit.ir.graph import Block, Node, Value
from distjit.ops import REGISTRY
from distjit.types import iter_refs


def returns_fresh(node: Node) -> bool:
    """The node's outputs never share memory with its inputs (its op declares it: `OpDef.alias`, or
    `OpDef.fresh_when` for this node's attributes and input types)."""
    if node.op not in REGISTRY:
        return False
    opdef = REGISTRY.get(node.op)
    if opdef.returns_fresh:
        return True
    return opdef.fresh_when is not None and opdef.fresh_when(node.attrs, [v.type for v in node.inputs])


def takes_out(node: Node) -> bool:
    """The node's results can be written into given buffers (``out=``): its op declares `takes_out`."""
    if node.blocks or any(True for _ in iter_refs(node.attrs)):
        return False
    return node.op in REGISTRY and REGISTRY.get(node.op).takes_out


def writes_over_input(node: Node) -> bool:
    """The node may write its result over one of its inputs: an elementwise op that takes ``out=`` reads
    each element before it writes it."""
    return takes_out(node) and "elementwise" in REGISTRY.get(node.op).flags


def written_into(node: Node) -> dict[int, Value]:
    """{output index: the value whose buffer the node writes that output into} (see buffers.py): such an
    output is an alias of that value."""
    return node.meta.get(OUT, {})


OUT = "out"     # the node.meta key of `written_into`; buffers.py is the only writer


def ancestor_in(node: Node, block: Block) -> Node | None:
    """The node of `block` that is `node` or contains it (None when `node` is not inside `block`)."""
    while node is not None and node.block is not block:
        owner = node.block.owner if node.block is not None else None
        node = owner
    return node


def alias_reads(v: Value, block: Block) -> list[tuple[Node, Value, bool]] | None:
    """Every read of `v`'s buffer in `block`: (the node of `block` that reads, the value it reads, whether it
    reads it directly rather than from a nested block), for `v` and every value that may alias it; None when
    the buffer escapes `block` (a block returns `v` or an alias, or it is read where `block` cannot see).
    """
    reads: list[tuple[Node, Value, bool]] = []
    stack, seen = [v], set()
    while stack:
        a = stack.pop()
        if a in seen:
            continue
        seen.add(a)
        for user, _ in a.uses:
            if isinstance(user, Block):
                return None                        # returned: the caller (or a loop) keeps it
            owner = ancestor_in(user, block)
            if owner is None:
                return None
            direct = owner is user
            reads.append((owner, a, direct))
            if not direct or not returns_fresh(owner):
                stack.extend(owner.outputs)        # a view, a reshape, an If or Loop result ... may alias it
            else:
                stack.extend(owner.outputs[k] for k, t in written_into(owner).items() if t is a)
    return reads


def last_read(v: Value, block: Block, position: dict[Node, int]) -> int | None:
    """The position of the last node of `block` that reads `v`'s buffer (see `alias_reads`), at least the
    position of the node that makes `v`; None when the buffer escapes."""
    reads = alias_reads(v, block)
    if reads is None:
        return None
    return max((position[owner] for owner, _, _ in reads), default=position[v.node])
