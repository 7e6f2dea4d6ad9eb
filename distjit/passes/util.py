"""Helpers shared by the passes: effects of nodes (nested blocks included), constants, rewiring."""
from __future__ import annotations

from typing import Any

import numpy as np

from distjit.ir.graph import Block, Graph, Node, Value
from distjit.ops import REGISTRY
from distjit.ops.registry import Effect

def opdef(node: Node):
    return REGISTRY.get(node.op) if node.op in REGISTRY else None


def flags(node: Node) -> frozenset:
    d = opdef(node)
    return d.flags if d is not None else frozenset()


def is_pure(node: Node, _seen: set | None = None) -> bool:
    """Whether the node (and everything it contains or calls) is declared PURE.

    prim.If/Loop/Call are pure only when their blocks or callee are; an op without
    an effect declaration is impure (the registry's rule: passes trust declarations).
    """
    d = opdef(node)
    if d is None or d.effect is not Effect.PURE:
        return False
    if node.op == "prim.Call":
        callee = node.attrs.get("graph")
        if not isinstance(callee, Graph):
            return False
        return graph_is_pure(callee, _seen)
    for block in node.blocks:
        if not all(is_pure(n, _seen) for n in block.nodes):
            return False
    return True


def graph_is_pure(graph: Graph, _seen: set | None = None) -> bool:
    seen = _seen if _seen is not None else set()
    if id(graph) in seen:
        return True
    seen.add(id(graph))
    return all(is_pure(n, seen) for n in graph.block.nodes)


def is_mergeable(node: Node) -> bool:
    """May two equal nodes share one result? Pure, not uninitialized memory, no blocks."""
    if node.blocks or not node.outputs:
        return False
    f = flags(node)
    if "uninitialized" in f:
        return False
    return is_pure(node)


def constant_value(value: Value) -> tuple[bool, Any]:
    """(True, v) when `value` is the output of a prim.Constant."""
    node = value.node
    if node is not None and node.op == "prim.Constant":
        return True, node.attrs["value"]
    return False, None


def replace(old: Value, new: Value) -> None:
    old.replace_all_uses_with(new)


def remove_nodes(block: Block, dead: set[Node]) -> None:
    """Remove `dead` nodes from `block` in one sweep (their outputs must be unused by survivors)."""
    if not dead:
        return
    for node in reversed(block.nodes):
        if node in dead:
            node.drop_inputs()
            for b in node.blocks:
                b.clear()
            node.block = None
    block.nodes = [n for n in block.nodes if n not in dead]


_PLAIN = (bool, int, str, type(None))


def attr_key(value: Any) -> Any:
    """A hashable, exact key for an attribute value (arrays by dtype, shape and bytes; floats by bits)."""
    if type(value) in _PLAIN:       # the common case first: CSE asks this of every node's attributes
        return (type(value).__name__, value)
    if isinstance(value, np.ndarray):
        return ("nd", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, np.generic):
        return ("np", value.dtype.str, value.tobytes())
    if isinstance(value, float):
        return ("f", np.float64(value).tobytes())
    if isinstance(value, complex):
        return ("c", np.complex128(value).tobytes())
    if isinstance(value, (bool, int, str, type(None))):
        return (type(value).__name__, value)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(attr_key(v) for v in value))
    if isinstance(value, dict):
        return ("d", tuple(sorted((k, attr_key(v)) for k, v in value.items())))
    if isinstance(value, slice):
        return ("s", attr_key(value.start), attr_key(value.stop), attr_key(value.step))
    if isinstance(value, np.dtype):
        return ("dt", value.str)
    # Graphs, ufunc objects, Refs and anything else: by identity (equal only to itself).
    return ("id", type(value).__name__, id(value)) if not _hashable(value) else ("h", type(value).__name__, value)


def _hashable(v) -> bool:
    try:
        hash(v)
        return not isinstance(v, Graph)
    except TypeError:
        return False


def clone_into(nodes, block: Block, index: int, mapping: dict, graph: Graph) -> int:
    """Copy `nodes` (with their nested blocks) into `block` at `index`, with fresh value names.

    `mapping` maps the values the nodes read to the values the copies read, and gets
    the copies' outputs added. Returns the index after the last copy.
    """
    for node in nodes:
        block.insert(index, _clone_node(node, block, mapping, graph))
        index += 1
    return index


def clone_nodes(nodes, block: Block, mapping: dict, graph: Graph) -> list[Node]:
    """Copies of `nodes` made for `block` as `clone_into` makes them, left for the caller to place."""
    return [_clone_node(node, block, mapping, graph) for node in nodes]


def _fresh(graph: Graph, name: str) -> str:
    return graph.fresh_name(name.split(".")[0] if not name.split(".")[0].isdigit() else None)


def _clone_node(node: Node, block: Block, mapping: dict, graph: Graph) -> Node:
    new = Node(node.op, dict(node.attrs), node.loc)
    new.block = block
    for v in node.inputs:
        new.add_input(mapping.get(v, v))
    for b in node.blocks:
        nb = Block(graph, owner=new)
        new.blocks.append(nb)
        for p in b.params:
            q = Value(_fresh(graph, p.name), p.type, block=nb)
            nb.params.append(q)
            mapping[p] = q
        for inner in b.nodes:
            nb.append(_clone_node(inner, nb, mapping, graph))
        for r in b.returns:
            nb.add_return(mapping.get(r, r))
    for out in node.outputs:
        v = Value(_fresh(graph, out.name), out.type, node=new)
        mapping[out] = v
        new.outputs.append(v)
    return new


def new_node(block: Block, op: str, inputs, attrs: dict | None, types=None, loc=None, names=None) -> Node:
    """A node for `block` with fresh output names, *not yet placed* in `block.nodes` (the caller places it).

    Passes that rewrite a block build its new node list in one sweep; inserting one
    node at a time into a long list would make them quadratic.
    """
    node = Node(op, attrs, loc)
    for v in inputs:
        node.add_input(v)
    if types is None:
        types = REGISTRY.get(op).infer([v.type for v in inputs], dict(node.attrs))
    graph = block.graph
    names = names or [None] * len(types)
    for t, hint in zip(types, names):
        node.outputs.append(Value(graph.fresh_name(hint), t, node=node))
    node.block = block
    return node


def drop_node(node: Node) -> None:
    """Detach a node whose outputs are unused (the caller rebuilds the block's node list)."""
    node.drop_inputs()
    for b in node.blocks:
        b.clear()
    node.block = None


def detach(nodes) -> None:
    """Detach many dead nodes at once: each input's use list is filtered once.

    `Node.drop_inputs` removes one use at a time, which is linear in the value's
    uses; a constant shared by 50k nodes (after CSE) would make dropping them quadratic.
    """
    dead = set(nodes)
    if not dead:
        return
    touched: dict[int, Value] = {}
    for node in dead:
        for b in node.blocks:
            b.clear()
        for v in node.inputs:
            touched[id(v)] = v
        node.inputs = []
        node.block = None
    for v in touched.values():
        v.uses = [(u, i) for u, i in v.uses if u not in dead]
