"""Common subexpression elimination: equal pure nodes compute once.

Two nodes are equal when they have the same op, the same inputs (operands of a
commutative op in a canonical order: by definition order, never by name), the
same attributes (compared exactly: floats by their bits, arrays by dtype, shape
and bytes) and the same output types. A node in a nested block reuses an equal
node of an enclosing block defined before it (scoped value numbering); nodes in
sibling blocks never merge. Impure, random and uninitialized ops (np.empty) are
never merged, and neither are nodes with blocks.
"""
from __future__ import annotations

from distjit.ir.graph import Block, Graph
from distjit.types import iter_refs
from distjit.passes.manager import PassContext, register_pass
from distjit.passes.util import attr_key, detach, flags, is_mergeable

@register_pass("cse")
def common_subexpression_elimination(graph: Graph, ctx: PassContext) -> None:
    """compute equal pure expressions once"""
    order: dict = {}
    for v in graph.params:
        order[v] = len(order)
    _block(graph.block, [{}], order, ctx)


def _block(block: Block, scopes: list[dict], order: dict, ctx: PassContext) -> None:
    table: dict = {}
    scopes.append(table)
    for p in block.params:
        order[p] = len(order)
    dead = []
    for node in block.nodes:
        for b in node.blocks:
            _block(b, scopes, order, ctx)
        if is_mergeable(node) and not ctx.exhausted:
            key = _key(node, order)
            found = None
            for scope in reversed(scopes):
                found = scope.get(key)
                if found is not None:
                    break
            if found is not None and ctx.rewrite(
                    lambda: f"%{', %'.join(v.name for v in node.outputs)} = {node.op}(...) is a duplicate of "
                            f"%{', %'.join(v.name for v in found.outputs)}"):
                for old, new in zip(node.outputs, found.outputs):
                    old.replace_all_uses_with(new)
                dead.append(node)
                continue
            table[key] = node
        for v in node.outputs:
            order[v] = len(order)
    scopes.pop()
    if dead:
        gone = set(dead)
        detach(dead)
        block.nodes = [n for n in block.nodes if n not in gone]


def _key(node, order: dict):
    ins = [order.get(v, -1 - id(v)) for v in node.inputs]
    if "commutative" in flags(node) and len(ins) == 2 and not any(True for _ in iter_refs(node.attrs)):
        ins.sort()
    return (node.op, tuple(ins), attr_key(node.attrs), tuple(v.type for v in node.outputs))
