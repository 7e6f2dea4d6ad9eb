"""Shape specialization: facts known from static shapes become constants.

``prim.DimSize(x, axis)`` of a dim that the type knows (an int, not a symbol) is
that int. Folding then carries it into the arithmetic that used it.
"""
from __future__ import annotations

from distjit.ir.graph import Graph
from distjit.ir.types import TensorType
from distjit.passes.manager import PassContext, register_pass
from distjit.passes.util import all_blocks, new_node


@register_pass("specialize")
def specialize_shapes(graph: Graph, ctx: PassContext) -> None:
    """replace run-time shape queries of static dims by constants"""
    for block in list(all_blocks(graph)):
        new = []
        for node in block.nodes:
            dim = _static_dim(node)
            if dim is not None and not ctx.exhausted and ctx.rewrite(
                    f"%{node.output.name} = prim.DimSize(%{node.inputs[0].name}) is always {dim}"):
                const = new_node(block, "prim.Constant", [], {"value": dim}, None, node.loc)
                node.output.replace_all_uses_with(const.output)
                new.append(const)
            new.append(node)
        block.nodes = new


def _static_dim(node):
    if node.op != "prim.DimSize" or not isinstance(node.inputs[0].type, TensorType):
        return None
    try:
        dim = node.inputs[0].type.shape[node.attrs["axis"]]
    except (IndexError, TypeError):
        return None
    return dim if isinstance(dim, int) else None
