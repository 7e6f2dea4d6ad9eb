"""Dead code elimination: drop pure nodes whose outputs nobody reads.

Effects are the registry's: a node is dropped only when it is declared PURE and,
for prim.If/Loop/Call, everything inside or called is too (an assert in a branch
keeps the branch). Nested blocks are swept first, so a loop whose body becomes
empty and whose results are unused disappears as a whole.

A loop's carried value that nobody reads (not the body, except to carry it on, and not
after the loop) is dropped from the loop: ``col = X[:, j]`` re-bound every iteration is
carried as a view of the updated array, and a carried view keeps in-place planning
(core/inplace.py) from updating that array in place.
"""
from __future__ import annotations

from distjit.ir.graph import Block, Graph, Node
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
            if node.op == "prim.Loop":
                _drop_dead_carried(node, used, ctx)
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


def _drop_dead_carried(loop: Node, used, ctx: PassContext) -> None:
    """Remove the carried slots of `loop` whose output is unused and whose body parameter is read by
    nothing but its own return (inputs: trip count, cond, *init; params: i, *carried; returns: cond,
    *carried; outputs: *carried)."""
    (body,) = loop.blocks
    dead = []
    for k, out in enumerate(loop.outputs):
        param, ret = body.params[k + 1], body.returns[k + 1]
        if used(out) or any(u is not body or i != k + 1 for u, i in param.uses):
            continue
        if not ctx.rewrite(lambda: f"removed unused carried value %{param.name} of prim.Loop -> %{out.name}"):
            break
        dead.append(k)
    if not dead:
        return
    keep = [k for k in range(len(loop.outputs)) if k not in dead]
    inputs, returns = list(loop.inputs), list(body.returns)
    loop.drop_inputs()
    for v in inputs[:2] + [inputs[2 + k] for k in keep]:
        loop.add_input(v)
    body.drop_returns()
    for v in returns[:1] + [returns[1 + k] for k in keep]:
        body.add_return(v)
    body.params = body.params[:1] + [body.params[1 + k] for k in keep]
    loop.outputs = [loop.outputs[k] for k in keep]
