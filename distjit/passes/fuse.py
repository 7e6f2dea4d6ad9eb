"""Elementwise fusion: trees and chains of elementwise ops become one ``fused.elementwise`` node.

The fused evaluator (distjit/runtime/fused_eval.py) gives the unfused graph's
results bit for bit, on its NumPy backend and on its native loops alike. At
level 3 nodes are marked ``exact=False``: a backend may then round differently
(none does today); that is the only place results could change, so the pass is
registered as not exact.

Grouping, one forward sweep per block (linear time):
- a node is fusible when its op is declared fusible (`OpDef.fusible`: an elementwise
  op the fused evaluator can run block by block) and its single output is an array of at least one dimension;
- it joins the open groups of its fusible producers that have the same output
  shape (groups merge: union-find), or a shape that differs only in symbolic dims
  when nothing outside reads the group (`_broadcasts_inside`); otherwise it starts a group;
- a group closes as soon as a node outside it reads one of its values (a
  reduction, a matmul, a nested block): joining it later could make a cycle.
Scalar constants that members read are copied into the expression; every other
outside value becomes an input. Member values read outside the group (or returned)
become outputs. Groups of one node are left alone.
"""
from __future__ import annotations

import numpy as np

from distjit.ir.graph import Block, Graph, Node, Value
from distjit.types import TensorType, iter_refs
from distjit.passes.manager import PassContext, register_pass
from distjit.core.aliasing import ancestor_in
from distjit.core.liveness import nested_reads
from distjit.passes.util import constant_value, detach, new_node, opdef

MIN_GROUP = 2
_SCALAR_CONSTANTS = (bool, int, float, type(None), np.generic)


def _fusible(node: Node) -> bool:
    """A single array output of at least one dim, no nested blocks or Refs, and an op declared fusible."""
    if len(node.outputs) != 1 or node.blocks or any(True for _ in iter_refs(node.attrs)):
        return False
    t = node.outputs[0].type
    if not isinstance(t, TensorType) or t.ndim == 0 or t.dtype.kind not in "biufc":
        return False
    d = opdef(node)
    return d is not None and d.can_fuse(node)


@register_pass("fuse", exact=False)
def fuse_elementwise(graph: Graph, ctx: PassContext) -> None:
    """merge trees of elementwise ops into fused.elementwise nodes evaluated block by block"""
    _block(graph, graph.block, ctx, [0])


def _block(graph: Graph, block: Block, ctx: PassContext, counter: list[int]) -> None:
    for node in block.nodes:
        for b in node.blocks:
            _block(graph, b, ctx, counter)
    parent: dict[Node, Node] = {}     # union-find over group leaders
    closed: set[Node] = set()
    members: dict[Node, list[Node]] = {}   # group leader -> its nodes

    def find(n):
        root = n
        while parent[root] is not root:
            root = parent[root]
        while parent[n] is not root:
            parent[n], n = root, parent[n]
        return root

    for node in block.nodes:
        producers = {find(v.node) for v in node.inputs if v.node in parent and v.node.block is block}
        if _fusible(node):
            shape = node.outputs[0].type.shape
            joinable = [g for g in producers if g not in closed and (
                g.outputs[0].type.shape == shape or _broadcasts_inside(g, members[g], node))]
            parent[node] = node
            members[node] = [node]
            for g in joinable:
                parent[g] = node
                members[node] += members.pop(g)
            for g in producers - set(joinable):
                closed.add(g)
        else:
            closed.update(producers)
        # Reads from nested blocks (their nodes' inputs and what they return) count as reads by this node.
        for v in nested_reads(node):
            if v.node in parent and v.node.block is block:
                closed.add(find(v.node))
    groups: dict[Node, list[Node]] = {}
    for node in block.nodes:
        if node in parent:
            groups.setdefault(find(node), []).append(node)
    replaced: dict[Node, Node] = {}   # last member -> fused node
    dead: set[Node] = set()
    for members in groups.values():
        if len(members) < MIN_GROUP or ctx.exhausted:
            continue
        if not ctx.rewrite(lambda: f"fused {len(members)} ops ({_ops(members)}) -> "
                                   f"%{members[-1].outputs[0].name}"):
            break
        counter[0] += 1
        fused = _make_fused(graph, block, members, f"{graph.name}.fused{counter[0]}", ctx.level < 3)
        replaced[members[-1]] = fused
        dead.update(members)
    if not replaced:
        return
    new = []
    for node in block.nodes:
        if node in replaced:
            new.append(replaced[node])
        if node not in dead:
            new.append(node)
    detach(dead)
    block.nodes = new


def _broadcasts_inside(leader: Node, group: list[Node], node: Node) -> bool:
    """A group whose shape differs from `node`'s only in symbolic dims may join it when nothing but its own
    nodes and `node` reads its values: the expression computes every value at the node's (run-time,
    broadcast) shape, so a value of the group's own shape may not leave it. (Same rank: such dims are
    equal at run time or 1, and recomputing a broadcast value costs no more than `node` itself.)"""
    shape, target = leader.outputs[0].type.shape, node.outputs[0].type.shape
    if len(shape) != len(target) or any(a != b and not (_symbolic(a) and _symbolic(b))
                                         for a, b in zip(shape, target)):
        return False
    inside = set(group)
    inside.add(node)
    return all(isinstance(u, Node) and u in inside for m in group for u, _ in m.outputs[0].uses)


def _symbolic(d) -> bool:
    return isinstance(d, str) and d.startswith("?")


def _ops(members) -> str:
    names = [m.op.split(".")[-1] for m in members]
    text = " ".join(names)
    return text if len(text) < 60 else text[:57] + "..."


def _make_fused(graph: Graph, block: Block, members: list[Node], name: str, exact: bool) -> Node:
    member_set = set(members)
    sub = Graph(name)
    mapping: dict[Value, Value] = {}
    outer_inputs: list[Value] = []
    body = []

    def inner(v: Value) -> Value:
        if v in mapping:
            return mapping[v]
        ok, c = constant_value(v)
        if ok and isinstance(c, _SCALAR_CONSTANTS):
            n = new_node(sub.block, "prim.Constant", [], {"value": c}, [v.type])
            body.append(n)
            mapping[v] = n.output
        else:
            mapping[v] = sub.add_input(v.type)
            outer_inputs.append(v)
        return mapping[v]

    for m in members:
        ins = [inner(v) for v in m.inputs]
        n = new_node(sub.block, m.op, ins, dict(m.attrs), [m.outputs[0].type])
        body.append(n)
        mapping[m.outputs[0]] = n.output
    sub.block.nodes = body
    outs = []
    for m in members:
        v = m.outputs[0]
        if any(not isinstance(u, Node) or ancestor_in(u, block) not in member_set for u, _ in v.uses):
            outs.append(v)
    for v in outs:
        sub.add_output(mapping[v])
    attrs = {"graph": sub} if exact else {"graph": sub, "exact": False}
    fused = new_node(block, "fused.elementwise", outer_inputs, attrs, [v.type for v in outs],
                     members[-1].loc)
    for old, new in zip(outs, fused.outputs):
        old.replace_all_uses_with(new)
        new.name = old.name   # the old value leaves the graph with its node: keep the user's name
    return fused
