"""Memory planning: an elementwise node writes its result into the buffer of an input that dies there.

Eager NumPy allocates a fresh array for every intermediate; on big arrays the page
faults of fresh memory cost as much as the arithmetic. This pass records, with the
execution core's one ``out=`` mechanism (distjit/core/buffers.py, NOTE: [One out=
mechanism]), where an elementwise node that takes ``out=`` writes into a dying input;
the code generator emits ``k(a, b, out=(a,))``. Results are bit for bit the same (the
same kernel, in place). The rules are `distjit.core.buffers.plan_reuse`'s; the runtime
runs the same analysis on graphs the optimizer did not plan.
"""
from __future__ import annotations

from distjit.core.buffers import plan_reuse
from distjit.ir.graph import Graph
from distjit.passes.manager import PassContext, register_pass


@register_pass("memplan")
def plan_memory(graph: Graph, ctx: PassContext) -> None:
    """let elementwise nodes write into the buffers of inputs that die there (out=)"""
    plan_reuse(graph, allow=ctx.rewrite, stop=lambda: ctx.exhausted)
