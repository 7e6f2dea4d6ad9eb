"""Common subexpression elimination: equal pure nodes compute once.

Two nodes are equal when they have the same op, the same inputs (operands of a
commutative op in a canonical order: by definition order, never by name), the
same attributes (compared exactly: floats by their bits, arrays by dtype, shape
and bytes) and the same output types (up to the names of symbolic dims the node introduces,
when no other value mentions them). A node in a nested block reuses an equal
node of an enclosing block defined before it (scoped value numbering); nodes in
sibling blocks never merge. Impure, random and uninitialized ops (np.empty) are
never merged, and neither are nodes with blocks.
"""
from __future__ import annotations

from collections import Counter

from distjit.ir.graph import Block, Graph
from distjit.types import TensorType, iter_refs
from distjit.passes.manager import PassContext, register_pass
from distjit.passes.util import attr_key, detach, flags, is_mergeable

@register_pass("cse")
def common_subexpression_elimination(graph: Graph, ctx: PassContext) -> None:
    """compute equal pure expressions once"""
    order: dict = {}
    for v in graph.params:
        order[v] = len(order)
    mentions: Counter = Counter()        # symbolic dim -> how many values' types mention it
    values = [*graph.inputs, *graph.params]
    for b in graph.blocks():
        values += b.params
        values += [v for n in b.nodes for v in n.outputs]
    for v in dict.fromkeys(values):
        if _has_symbols(v.type):
            mentions.update(_symbols(v.type))
    _block(graph.block, [{}], order, ctx, mentions)


def _block(block: Block, scopes: list[dict], order: dict, ctx: PassContext, mentions: Counter) -> None:
    table: dict = {}
    scopes.append(table)
    for p in block.params:
        order[p] = len(order)
    dead = []
    for node in block.nodes:
        for b in node.blocks:
            _block(b, scopes, order, ctx, mentions)
        if is_mergeable(node) and not ctx.exhausted:
            key = _key(node, order)
            found = None
            for scope in reversed(scopes):
                found = scope.get(key)
                if found is not None:
                    break
            if found is not None and not _renamable(node, found, mentions):
                found = None
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
    return (node.op, tuple(ins), attr_key(node.attrs), _output_types(node))


def _has_symbols(t) -> bool:
    return isinstance(t, TensorType) and any(isinstance(d, str) and d.startswith("?") for d in t.shape)


def _symbols(t) -> set[str]:
    if not isinstance(t, TensorType):
        return set()
    return {d for d in t.shape if isinstance(d, str) and d.startswith("?")}


def _fresh(node) -> set[str]:
    """The symbolic dims the node's outputs introduce (a length known only once it runs, as np.convolve's)."""
    inputs = set().union(*(_symbols(v.type) for v in node.inputs))
    return set().union(*(_symbols(v.type) for v in node.outputs)) - inputs


def _output_types(node) -> tuple:
    """The output types with the symbols the node introduces numbered in order of appearance: two equal
    nodes give each result its own fresh symbol (np.convolve(x, h) twice: f64[?0] and f64[?3])."""
    types = tuple(v.type for v in node.outputs)
    if not any(_has_symbols(t) for t in types):        # nothing to introduce: the common case
        return types
    fresh = _fresh(node)
    if not fresh:
        return tuple(v.type for v in node.outputs)
    number: dict = {}
    return tuple((v.type.dtype, tuple(("fresh", number.setdefault(d, len(number))) if d in fresh else d
                                      for d in v.type.shape)) if isinstance(v.type, TensorType) else v.type
                 for v in node.outputs)


def _renamable(node, found, mentions: Counter) -> bool:
    """`node`'s results may be replaced by `found`'s: their types are equal, or differ only in symbols
    `node` introduces that no other value's type mentions (so no type is left naming a vanished symbol)."""
    if all(a.type == b.type for a, b in zip(node.outputs, found.outputs)):
        return True
    return all(mentions[d] == sum(d in _symbols(v.type) for v in node.outputs) for d in _fresh(node))
