"""Dead code elimination: drop pure nodes whose outputs nobody reads.

Effects are the registry's: a node is dropped only when it is declared PURE and,
for prim.If/Loop/Call, everything inside or called is too (an assert in a branch
keeps the branch). Nested blocks are swept first, so a loop whose body becomes
empty and whose results are unused disappears as a whole.
"""
from __future__ import annotations

from distjit.ir.graph import Block, Graph
from distjit.passes.manager import PassContext, register_pass
from distjit.passes.util import detach, is_pure


@register_pass("dce")
def dead_code_elimination(graph: Graph, ctx: PassContext) -> None:
    """remove pure nodes whose results are unused"""
    sweep(graph.block, ctx)


def sweep(block: Block, ctx: PassContext) -> None:
    dead: list = []
    dropped: dict = {}    # value -> uses by nodes found dead in this sweep (detached in bulk at the end)

    def used(v) -> bool:
        return len(v.uses) > dropped.get(v, 0)

    for node in reversed(block.nodes):
        if ctx.exhausted:
            break
        if any(used(v) for v in node.outputs) or not is_pure(node):
            for b in node.blocks:
                sweep(b, ctx)
            continue
        if not ctx.rewrite(lambda: f"removed unused {node.op} -> {', '.join('%' + v.name for v in node.outputs) or '()'}"):
            break
        for b in node.blocks:
            b.clear()
        for v in node.inputs:
            dropped[v] = dropped.get(v, 0) + 1
        dead.append(node)
    if dead:
        gone = set(dead)
        detach(dead)
        block.nodes = [n for n in block.nodes if n not in gone]
