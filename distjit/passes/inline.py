"""Inlining of prim.Call: the callee's nodes replace the call, so the other passes see through it.

The callee graph is shared (a Graph attribute), so its nodes are copied with fresh
names, never moved. Calls inside the callee are inlined in turn (the text form
rules out recursive graphs). A callee with named parameters of its own is left as a
call: its weights are bound by the callee, not by the graph being optimized.

Before copying anything the pass checks the size of the full expansion (NOTE: [Call expansion
budget] in distjit/ir/calls.py): a small call DAG can stand for 2^40 nodes.
"""
from __future__ import annotations

from distjit.ir.calls import check_expansion
from distjit.ir.graph import Block, Graph
from distjit.passes.manager import PassContext, register_pass
from distjit.passes.util import clone_into


@register_pass("inline")
def inline_calls(graph: Graph, ctx: PassContext) -> None:
    """replace prim.Call nodes by the nodes of the graph they call"""
    check_expansion(graph)
    _block(graph, graph.block, ctx)


def _block(graph: Graph, block: Block, ctx: PassContext) -> None:
    i = 0
    while i < len(block.nodes):
        node = block.nodes[i]
        callee = node.attrs.get("graph") if node.op == "prim.Call" else None
        if isinstance(callee, Graph) and not callee.params and not ctx.exhausted and ctx.rewrite(
                lambda: f"inlined {callee.name} ({callee.node_count()} nodes) at "
                        f"%{', %'.join(v.name for v in node.outputs) or '()'}"):
            mapping = dict(zip(callee.inputs, node.inputs))
            clone_into(callee.block.nodes, block, i, mapping, graph)
            for out, ret in zip(node.outputs, callee.outputs):
                out.replace_all_uses_with(mapping.get(ret, ret))
            node.drop_inputs()
            block.nodes.remove(node)
            node.block = None
            continue   # the copies start at i: calls among them are inlined next
        for b in node.blocks:
            _block(graph, b, ctx)
        i += 1
