"""Liveness: which values each node is the last to read, per block, and what a nested block reads from outside.

A use inside a nested block counts as a use by the node that owns the block, so a
value defined outside a loop lives as long as the loop does, and one defined
inside a body dies inside it. Block returns are read after the last node.

The interpreter and the generated code drop values after their last use with it,
fused evaluation frees its slots with it, and row blocks and the partitioner read
`free_values` to see what a node's nested blocks depend on. Liveness of memory,
which also follows views, is in aliasing.py.
"""
from __future__ import annotations

from distjit.ir.graph import Block, Node, Value


def last_uses(block: Block) -> dict[Node, list[Value]]:
    """For each node of `block`, the values it reads for the last time in this block.

    Values the block returns, and values defined outside `block`, are never listed:
    they outlive it.
    """
    defined_here = set(block.params)
    for node in block.nodes:
        defined_here.update(node.outputs)
    returned = set(block.returns)
    seen: set[Value] = set()
    result: dict[Node, list[Value]] = {}
    for node in reversed(block.nodes):
        dying = []
        for value in _reads(node):
            if value in defined_here and value not in seen and value not in returned:
                seen.add(value)
                dying.append(value)
        result[node] = dying
    return result


def unused_outputs(node: Node) -> list[Value]:
    return [v for v in node.outputs if not v.uses]


def nested_reads(node: Node) -> list[Value]:
    """Values the node's nested blocks read but that are defined outside the node, in first-read order."""
    inner: set[Value] = set()
    out: list[Value] = []
    for block in node.blocks:
        for v in free_values(block):
            if v not in inner:
                inner.add(v)
                out.append(v)
    return out


def _reads(node: Node) -> list[Value]:
    """Values the node reads, its nested blocks' free reads included, in first-read order."""
    direct = list(dict.fromkeys(node.inputs))
    seen = set(direct)
    return direct + [v for v in nested_reads(node) if v not in seen]


def free_values(block: Block) -> list[Value]:
    """Values read inside `block` (nested blocks included) but defined outside it."""
    inner: set[Value] = set(block.params)
    out: list[Value] = []
    seen: set[Value] = set()

    def visit(b: Block):
        inner.update(b.params)
        for node in b.nodes:
            for v in node.inputs:
                if v not in inner and v not in seen:
                    seen.add(v)
                    out.append(v)
            for nested in node.blocks:
                visit(nested)
            inner.update(node.outputs)
        for v in b.returns:
            if v not in inner and v not in seen:
                seen.add(v)
                out.append(v)

    visit(block)
    return out
