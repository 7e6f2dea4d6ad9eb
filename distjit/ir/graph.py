"""The IR's data structures: Graph, Block, Node, Value.

NOTE: [IR shape]
A `Graph` owns one top-level `Block`. The block's `params` are the graph's inputs
and its `returns` are the graph's outputs. Named parameters (a model's weights)
are `Graph.params`: values defined outside every block, bound by the `Function`
that owns the graph, never passed by callers.

A `Node` computes `outputs` from `inputs` with the op named `op` (declared in the
op registry), static `attrs`, and nested `blocks` (``prim.If``: then, else;
``prim.Loop``: body). Attribute values may contain `Ref(k)`: "the runtime value of
input k", which is how a static-looking argument (a slice bound, a shape) takes a
value computed by the graph. Every other input is an operand of the op.

A `Value` is defined exactly once (SSA): by a node (`value.node`) or as a block
parameter (`value.block`). It knows its type and its uses: `(node, input index)`
or `(block, return index)` pairs.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Iterator

from distjit.types import Type, iter_refs


@dataclass(frozen=True, slots=True)
class SourceLoc:
    """Where in the user's source a node came from."""

    file: str
    line: int

    def __str__(self):
        return f"{self.file}:{self.line}"


class Value:
    __slots__ = ("name", "type", "node", "block", "uses")

    def __init__(self, name: str, type: Type, node: Node | None = None, block: Block | None = None):
        self.name = name
        self.type = type
        self.node = node
        self.block = block
        self.uses: list[tuple[Node | Block, int]] = []

    def users(self) -> list[Node]:
        return [u for u, _ in self.uses if isinstance(u, Node)]

    def replace_all_uses_with(self, other: Value) -> None:
        for user, index in list(self.uses):
            if isinstance(user, Node):
                user.set_input(index, other)
            else:
                user.set_return(index, other)

    def __repr__(self):
        return f"%{self.name}: {self.type}"


class Node:
    __slots__ = ("op", "inputs", "outputs", "attrs", "blocks", "loc", "block", "meta")

    def __init__(self, op: str, attrs: dict[str, Any] | None = None, loc: SourceLoc | None = None):
        self.op = op
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []
        self.attrs: dict[str, Any] = dict(attrs or {})
        self.blocks: list[Block] = []
        self.loc = loc
        self.block: Block | None = None
        self.meta: dict[str, Any] = {}   # pass results (never printed, never saved)

    @property
    def output(self) -> Value:
        if len(self.outputs) != 1:
            raise ValueError(f"{self.op} has {len(self.outputs)} outputs, not one")
        return self.outputs[0]

    def add_input(self, value: Value) -> None:
        value.uses.append((self, len(self.inputs)))
        self.inputs.append(value)

    def set_input(self, index: int, value: Value) -> None:
        old = self.inputs[index]
        old.uses.remove((self, index))
        value.uses.append((self, index))
        self.inputs[index] = value

    def drop_inputs(self) -> None:
        for index, value in enumerate(self.inputs):
            value.uses.remove((self, index))
        self.inputs = []

    def add_block(self) -> Block:
        block = Block(self.block.graph if self.block else None, owner=self)
        self.blocks.append(block)
        return block

    def operand_indices(self) -> list[int]:
        """Indices of inputs that are operands, i.e. not referenced from attributes."""
        referenced = set(iter_refs(self.attrs))
        return [i for i in range(len(self.inputs)) if i not in referenced]

    def walk(self) -> Iterator[Node]:
        """This node and every node nested in its blocks, in order."""
        yield self
        if self.blocks:
            yield from _walk([iter(b.nodes) for b in reversed(self.blocks)])

    def __repr__(self):
        return f"<Node {self.op} -> {', '.join('%' + v.name for v in self.outputs)}>"


def iter_graphs(attr) -> Iterator["Graph"]:
    """Graphs held in an attribute value (a call's callee, a fused node's expression)."""
    if isinstance(attr, Graph):
        yield attr
    elif isinstance(attr, (list, tuple)):
        for item in attr:
            yield from iter_graphs(item)
    elif isinstance(attr, dict):
        for item in attr.values():
            yield from iter_graphs(item)


def _walk(stack: list) -> Iterator[Node]:
    """Pre-order over a stack of node iterators (the top one is read first), without nested generators."""
    while stack:
        for node in stack[-1]:
            yield node
            if node.blocks:
                stack.extend(iter(b.nodes) for b in reversed(node.blocks))
                break
        else:
            stack.pop()


class Block:
    __slots__ = ("graph", "owner", "params", "nodes", "returns")

    def __init__(self, graph: Graph | None, owner: Node | None = None):
        self.graph = graph
        self.owner = owner
        self.params: list[Value] = []
        self.nodes: list[Node] = []
        self.returns: list[Value] = []

    def add_param(self, type: Type, name: str | None = None) -> Value:
        value = Value(self._graph().fresh_name(name), type, block=self)
        self.params.append(value)
        return value

    def append(self, node: Node) -> Node:
        node.block = self
        self._adopt(node)
        self.nodes.append(node)
        return node

    def insert(self, index: int, node: Node) -> Node:
        node.block = self
        self._adopt(node)
        self.nodes.insert(index, node)
        return node

    def _adopt(self, node: Node) -> None:
        for block in node.blocks:
            block.graph = self.graph

    def add_return(self, value: Value) -> None:
        value.uses.append((self, len(self.returns)))
        self.returns.append(value)

    def set_return(self, index: int, value: Value) -> None:
        self.returns[index].uses.remove((self, index))
        value.uses.append((self, index))
        self.returns[index] = value

    def drop_returns(self) -> None:
        for index, value in enumerate(self.returns):
            value.uses.remove((self, index))
        self.returns = []

    def remove(self, node: Node) -> None:
        """Remove a node whose outputs are unused (its inputs lose a use)."""
        for out in node.outputs:
            if out.uses:
                raise ValueError(f"cannot remove {node!r}: %{out.name} is still used")
        node.drop_inputs()
        for block in node.blocks:
            block.clear()
        self.nodes.remove(node)
        node.block = None

    def clear(self) -> None:
        self.drop_returns()
        for node in reversed(self.nodes):
            node.drop_inputs()
            for block in node.blocks:
                block.clear()
        self.nodes = []

    def walk(self) -> Iterator[Node]:
        """Every node of the block, nested ones included, in program order (pre-order)."""
        return _walk([iter(self.nodes)])

    def _graph(self) -> Graph:
        if self.graph is None:
            raise ValueError("block is not attached to a graph")
        return self.graph


class Graph:
    """A function in the IR: typed inputs, named parameters, outputs, one top-level block."""

    def __init__(self, name: str = "graph"):
        self.name = name
        self._names: set[str] = set()
        self._counter = itertools.count()
        self.block = Block(self)
        self.params: list[Value] = []
        # Python scalar inputs this graph was specialized on: {input value: the value it assumes}. A tracer
        # that needs a scalar argument's value (a trip count, a size) uses the example's and records it here,
        # as torch.compile guards a specialized SymInt; a call with another value must not run this graph.
        self.guards: dict[Value, bool | int | float] = {}

    @property
    def inputs(self) -> list[Value]:
        return self.block.params

    @property
    def outputs(self) -> list[Value]:
        return self.block.returns

    @property
    def nodes(self) -> list[Node]:
        return self.block.nodes

    def add_input(self, type: Type, name: str | None = None) -> Value:
        return self.block.add_param(type, name)

    def add_param(self, name: str, type: Type) -> Value:
        """A named parameter; its name is the value's name, so it must be unique and stable."""
        if name in self._names:
            raise ValueError(f"name {name!r} is already used in graph {self.name}")
        self._names.add(name)
        value = Value(name, type)
        self.params.append(value)
        return value

    def add_output(self, value: Value) -> None:
        self.block.add_return(value)

    def fresh_name(self, hint: str | None = None) -> str:
        """A name not used yet in this graph; `hint` (a user's variable name) is kept when free."""
        if hint is not None:
            hint = _clean_name(hint)
        if hint and hint not in self._names and not hint.isdigit():
            self._names.add(hint)
            return hint
        while True:
            name = f"{hint}.{next(self._counter)}" if hint else str(next(self._counter))
            if name not in self._names:
                self._names.add(name)
                return name

    def reserve_name(self, name: str) -> None:
        if name in self._names:
            raise ValueError(f"value %{name} is defined twice")
        self._names.add(name)

    def walk(self) -> Iterator[Node]:
        """Every node, nested ones included, in program order."""
        return self.block.walk()

    def blocks(self) -> Iterator[Block]:
        """Every block, the top one first, nested ones after their owners (pre-order, without recursion)."""
        stack = [self.block]
        while stack:
            b = stack.pop()
            yield b
            for n in reversed(b.nodes):
                stack.extend(reversed(n.blocks))

    def node_count(self) -> int:
        count, stack = 0, [self.block]
        while stack:
            block = stack.pop()
            count += len(block.nodes)
            for node in block.nodes:
                if node.blocks:
                    stack.extend(node.blocks)
        return count

    def copy(self) -> Graph:
        from distjit.ir.clone import clone_graph

        return clone_graph(self)

    def __str__(self):
        from distjit.ir.printer import print_graph

        return print_graph(self)

    def __repr__(self):
        return f"<Graph {self.name}: {len(self.inputs)} inputs, {self.node_count()} nodes>"

    @staticmethod
    def parse(text: str) -> Graph:
        """Parse the text form printed by `str(graph)`; the result prints identically."""
        from distjit.ir.text import parse_graph

        return parse_graph(text)

    def verify(self) -> None:
        from distjit.ir.verifier import verify

        verify(self)


def _clean_name(hint: str) -> str:
    return "".join(c if c.isalnum() or c in "_." else "_" for c in hint).strip(".")
