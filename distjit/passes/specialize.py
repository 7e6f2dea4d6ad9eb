"""Shape specialization: facts known from static shapes become constants.

``prim.DimSize(x, axis)`` of a dim that the type knows (an int, not a symbol) is
that int. Folding then carries it into the arithmetic that used it.
"""
from __future__ import annotations

from distjit.ir.builder import Builder
from distjit.ir.graph import Graph
from distjit.ir.types import TensorType
from distjit.passes.manager import PassContext, register_pass
from distjit.passes.util import all_blocks


@register_pass("specialize")
def specialize_shapes(graph: Graph, ctx: PassContext) -> None:
    """replace run-time shape queries of static dims by constants"""
    for block in list(all_blocks(graph)):
        for node in list(block.nodes):
            if node.op != "prim.DimSize" or ctx.exhausted:
                continue
            t = node.inputs[0].type
            if not isinstance(t, TensorType):
                continue
            axis = node.attrs["axis"]
            try:
                dim = t.shape[axis]
            except (IndexError, TypeError):
                continue
            if isinstance(dim, int) and ctx.rewrite(f"%{node.output.name} = prim.DimSize(%{node.inputs[0].name}) "
                                                    f"is always {dim}"):
                const = Builder(block, loc=node.loc, index=block.nodes.index(node)).constant(dim)
                node.output.replace_all_uses_with(const)
