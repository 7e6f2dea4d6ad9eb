"""In-place updates: an ``a[i] = v`` whose base dies there writes into the base, loop-carried buffers too.

The frontends make every update functional (a copy with elements replaced), which costs
a copy of the whole array per scalar assignment. This pass records, with the execution
core's one ``out=`` mechanism, the updates that may write into their base instead (and the
elementwise nodes that may write over a carried array), and the loops that copy a carried
array once at entry so that the body can update it in place every iteration (NOTE: [In-place updates] in distjit/core/inplace.py has the rules).
Results are bit for bit the same: the same values are written, into memory nothing else
reads. It runs after memplan; the runtime runs both on graphs the optimizer did not plan.
"""
from __future__ import annotations

from distjit.core.inplace import plan_in_place
from distjit.ir.graph import Graph
from distjit.passes.manager import PassContext, register_pass


@register_pass("inplace")
def update_in_place(graph: Graph, ctx: PassContext) -> None:
    """let updates (a[i] = v) whose base dies there write into it, in loop bodies too"""
    plan_in_place(graph, allow=ctx.rewrite, stop=lambda: ctx.exhausted)
