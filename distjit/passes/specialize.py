"""Shape specialization: facts known from static shapes become constants.

``prim.DimSize(x, axis)`` of a dim that the type knows (an int, not a symbol) is
that int. A `Ref` in an attribute whose input is a constant number becomes that
number, so a shape computed from dims (`x.reshape(n, -1)`) is static again and
inference can give the output a static type. Folding carries both further.

`concretize` makes a graph with symbolic dims static for one set of input shapes:
what the partitioner needs, since a Plan splits concrete row ranges.
"""
from __future__ import annotations

from distjit.errors import ShapeError
from distjit.ir.graph import Graph, Node
from distjit.types import Ref, TensorType, Type, iter_refs
from distjit.passes.manager import PassContext, register_pass
from distjit.passes.util import new_node, opdef

_NUMBERS = (bool, int, float, type(None))


@register_pass("specialize")
def specialize_shapes(graph: Graph, ctx: PassContext) -> None:
    """replace run-time shape queries of static dims, and constant numbers in attributes, by constants"""
    for block in list(graph.blocks()):
        new = []
        for node in block.nodes:
            dim = _static_dim(node)
            if dim is not None and not ctx.exhausted and ctx.rewrite(
                    f"%{node.output.name} = prim.DimSize(%{node.inputs[0].name}) is always {dim}"):
                const = new_node(block, "prim.Constant", [], {"value": dim}, None, node.loc)
                node.output.replace_all_uses_with(const.output)
                new.append(const)
            elif _constant_refs(node) and not ctx.exhausted and ctx.rewrite(
                    f"{node.op} -> %{', %'.join(v.name for v in node.outputs)}: constant numbers in its attributes"):
                inline_constant_refs(node)
                _retype(node)
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


def _constant_refs(node: Node) -> dict[int, object]:
    """Refs of `node` whose input is a constant Python number: index -> value."""
    found = {}
    for i in set(iter_refs(node.attrs)):
        producer = node.inputs[i].node
        if producer is not None and producer.op == "prim.Constant" and type(producer.attrs["value"]) in _NUMBERS:
            found[i] = producer.attrs["value"]
    return found


def inline_constant_refs(node: Node) -> None:
    """Put constant numbers into the attributes that referred to them, dropping those inputs."""
    constants = _constant_refs(node)
    keep = [i for i in range(len(node.inputs)) if i not in constants]
    renumber = {old: new for new, old in enumerate(keep)}

    def rewrite(a):
        if isinstance(a, Ref):
            return constants[a.index] if a.index in constants else Ref(renumber[a.index])
        if isinstance(a, tuple):
            return tuple(rewrite(x) for x in a)
        if isinstance(a, list):
            return [rewrite(x) for x in a]
        if isinstance(a, slice):
            return slice(rewrite(a.start), rewrite(a.stop), rewrite(a.step))
        return a

    inputs = list(node.inputs)
    node.attrs = {k: rewrite(v) for k, v in node.attrs.items()}
    node.drop_inputs()
    for i in keep:
        node.add_input(inputs[i])


def concretize(graph: Graph, input_types: list[Type]) -> Graph:
    """A copy of `graph` whose inputs have `input_types` (static shapes), with types inferred again.

    Only straight-line code is retyped: outputs of nodes with blocks keep their types
    (values computed under control flow stay as general as the graph made them).
    """
    from distjit.passes.manager import run_passes

    g = graph.copy()
    for value, t in zip(g.inputs, input_types):
        value.type = t
    _retype_all(g)
    # DimSize -> constants; fold the arithmetic on them; put the results into attributes.
    run_passes(g, ["specialize", "fold", "specialize", "dce"])
    _retype_all(g)
    return g


def _retype_all(graph: Graph) -> None:
    for node in graph.block.nodes:
        _retype(node)


def _retype(node: Node) -> None:
    if node.blocks:
        return
    d = opdef(node)
    if d is None or d.infer is None:
        return
    try:
        types = d.infer([v.type for v in node.inputs], node.attrs)
    except ShapeError:
        return
    if types is not None and len(types) == len(node.outputs):
        for value, t in zip(node.outputs, types):
            value.type = t
