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
from distjit.passes.util import clone_nodes


@register_pass("inline")
def inline_calls(graph: Graph, ctx: PassContext) -> None:
    """replace prim.Call nodes by the nodes of the graph they call"""
    check_expansion(graph)
    _block(graph, graph.block, ctx)


def _block(graph: Graph, block: Block, ctx: PassContext) -> None:
    """The block's node list is rebuilt in one pass: inserting each copy in place would move the rest of
    the list, quadratic in a big graph of many calls."""
    todo = block.nodes[::-1]     # a stack: the next node last; a call's copies are pushed to be seen next
    block.nodes = []
    while todo:
        node = todo.pop()
        callee = node.attrs.get("graph") if node.op == "prim.Call" else None
        if isinstance(callee, Graph) and not callee.params and not ctx.exhausted and ctx.rewrite(
                lambda: f"inlined {callee.name} ({callee.node_count()} nodes) at "
                        f"%{', %'.join(v.name for v in node.outputs) or '()'}"):
            mapping = dict(zip(callee.inputs, node.inputs))
            copies = clone_nodes(callee.block.nodes, block, mapping, graph)
            for out, ret in zip(node.outputs, callee.outputs):
                out.replace_all_uses_with(mapping.get(ret, ret))
            node.drop_inputs()
            node.block = None
            todo.extend(reversed(copies))   # calls among the copies are inlined next
            continue
        for b in node.blocks:
            _block(graph, b, ctx)
        block.nodes.append(node)
