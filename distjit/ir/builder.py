"""The builder: how frontends and passes add nodes, with types inferred from the op registry."""
from __future__ import annotations

from typing import Any, Sequence

from distjit.errors import ShapeError
from distjit.ir.graph import Block, Node, SourceLoc, Value
from distjit.types import Type


class Builder:
    """Appends nodes to `block` (or inserts them at `index`), inferring output types.

    >>> b = Builder(graph.block)
    >>> y, = b.op("np.add", [x, one])
    """

    def __init__(self, block: Block, loc: SourceLoc | None = None, index: int | None = None):
        self.block = block
        self.loc = loc
        self.index = index

    @property
    def graph(self):
        return self.block.graph

    def op(self, name: str, inputs: Sequence[Value], attrs: dict[str, Any] | None = None,
           loc: SourceLoc | None = None, names: Sequence[str | None] | None = None) -> list[Value]:
        """Add a node of op `name`; returns its outputs. Types come from the op's `infer`."""
        from distjit.ops import get_op

        from distjit.ops.registry import canonical_attrs

        opdef = get_op(name)
        attrs = canonical_attrs(opdef, attrs or {})
        loc = loc or self.loc
        try:
            types = opdef.infer([v.type for v in inputs], attrs)
        except ShapeError as e:
            if e.loc is None and loc is not None:
                raise ShapeError(str(e), loc) from None
            raise
        if types is None:
            raise ValueError(f"{name} has no type rule; use Builder.create with explicit output types")
        return self.create(name, inputs, attrs, types, loc, names).outputs

    def create(self, name: str, inputs: Sequence[Value], attrs: dict[str, Any] | None,
               out_types: Sequence[Type], loc: SourceLoc | None = None,
               names: Sequence[str | None] | None = None) -> Node:
        """Add a node with explicit output types (ops with blocks, or when the types are known)."""
        node = Node(name, attrs, loc or self.loc)
        for value in inputs:
            node.add_input(value)
        names = names or [None] * len(out_types)
        for t, hint in zip(out_types, names):
            node.outputs.append(Value(self.graph.fresh_name(hint), t, node=node))
        if self.index is None:
            self.block.append(node)
        else:
            self.block.insert(self.index, node)
            self.index += 1
        return node

    def constant(self, value: Any, loc: SourceLoc | None = None, name: str | None = None) -> Value:
        return self.op("prim.Constant", [], {"value": value}, loc, [name])[0]
