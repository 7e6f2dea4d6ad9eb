"""Inlining of prim.Call: the callee's nodes replace the call, so the other passes see through it.

The callee graph is shared (a Graph attribute), so its nodes are copied with fresh
names, never moved. Calls inside the callee are inlined in turn (the text form
rules out recursive graphs). A callee with named parameters of its own is left as a
call: its weights are bound by the callee, not by the graph being optimized.

Before copying anything the pass checks the size of the full expansion (NOTE: [Call expansion
budget] in distjit/ir/calls.py): a small call DAG can stand for 2^40 nodes.

A callee whose full expansion passes MAX_INLINED_NODES stays a call: inlined, a recursion of
one graph per signature (NOTE: [Recursive calls] in frontend/script.py) would be unrolled again
into 2N-1 bodies, each of them to optimize and compile, where the call runs the callee's graph.
Such a callee is optimized in turn (a copy, with the caller's level), once for all its calls.
The bound is where a call stops costing anything worth saving: a call of the callee's compiled
graph is one generated function call, next to the run time of a thousand nodes (a microsecond
each at least), while each inlined copy is that many nodes more to optimize and compile.
"""
from __future__ import annotations

from distjit.ir.calls import check_expansion
from distjit.ir.graph import Block, Graph
from distjit.passes.manager import PassContext, register_pass
from distjit.passes.util import clone_nodes


MAX_INLINED_NODES = 1_000


@register_pass("inline")
def inline_calls(graph: Graph, ctx: PassContext) -> None:
    """replace prim.Call nodes by the nodes of the graph they call"""
    sizes: dict = {}            # id(graph) -> (expanded nodes, call depth): check_expansion's
    check_expansion(graph, sizes)
    _block(graph, graph.block, ctx, sizes, {})


def _small(callee: Graph, sizes: dict) -> bool:
    if id(callee) not in sizes:
        check_expansion(callee, sizes)
    return sizes[id(callee)][0] <= MAX_INLINED_NODES


def _optimized(callee: Graph, ctx: PassContext, done: dict) -> Graph:
    """A callee left as a call, optimized as the caller is (its own pipeline, on a copy: the graph is shared),
    once per inline run however many calls share it (a recursion's two halves)."""
    from distjit.passes.manager import PIPELINES, run_passes

    g = done.get(id(callee))
    if g is None:
        g = callee.copy()
        if ctx.level in PIPELINES:
            run_passes(g, PIPELINES[ctx.level], ctx.level, keep_messages=False)
        done[id(callee)] = g
    return g


def _block(graph: Graph, block: Block, ctx: PassContext, sizes: dict, done: dict) -> None:
    """The block's node list is rebuilt in one pass: inserting each copy in place would move the rest of
    the list, quadratic in a big graph of many calls."""
    todo = block.nodes[::-1]     # a stack: the next node last; a call's copies are pushed to be seen next
    block.nodes = []
    while todo:
        node = todo.pop()
        callee = node.attrs.get("graph") if node.op == "prim.Call" else None
        if isinstance(callee, Graph) and not callee.params and not ctx.exhausted and _small(callee, sizes) and ctx.rewrite(
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
        if isinstance(callee, Graph) and not callee.params and not ctx.exhausted and not _small(callee, sizes):
            node.attrs["graph"] = _optimized(callee, ctx, done)
        for b in node.blocks:
            _block(graph, b, ctx, sizes, done)
        block.nodes.append(node)
