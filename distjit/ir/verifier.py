"""The verifier: `verify(graph)` checks the IR's invariants (NOTE: [IR shape] in graph.py).

Passes are checked by running it after every rewrite in tests, so its messages are
for the engineer who wrote the pass: each names the node as it prints
(`%3 = np.add(%1, %2)`), the user's line when the node has one, the graph, and what
is wrong. The checks:

- SSA: every value is defined once, before its uses, in its block or an enclosing
  one (or is a graph input or param); names are unique (the text form relies on
  it); back-pointers (`Value.node`, `Value.block`, `Node.block`, `Block.owner`) are
  right, and every `Value.uses` lists exactly the value's uses.
- Ops: the op is registered; attributes are the op's declared ones and the required
  ones are there; every `Ref(k)` names an input; the operands (the inputs no `Ref`
  names) come first and their number fits the op's operand parameters, so every
  reader finds the same operand at the same place (NOTE: [Calling convention]).
- Types: ops whose `infer` gives types have those output types (a dim starting with
  "?" matches any dim).
- Blocks: the shapes of `prim.If`, `prim.Loop` and `prim.Call` (see ops/control.py);
  no other op has blocks.
- Nested graphs: a callee, and a `fused.elementwise` node's expression, are verified
  like any graph (once each: `verify_all` shares one set of verified graphs, so a file's
  call graph is checked in linear time), and must fit the node: a call's types equal
  the callee's; an expression takes the node's inputs (same count, kinds, dtypes and
  ranks; sizes may differ, since one expression serves every shard), is made only of
  elementwise ops and scalar constants, and gives outputs of the node's dtypes.
"""
from __future__ import annotations

from collections import Counter
from typing import NoReturn

import numpy as np

from distjit.errors import VerifyError
from distjit.ir.graph import Block, Graph, Node, Value
from distjit.types import BOOL, INT, Ref, ScalarType, TensorType, TupleType, Type, iter_refs
from distjit.ir.printer import describe_node, value_ref
from distjit.ops import REGISTRY
from distjit.ops.infer import same_dim
from distjit.ops.registry import REQUIRED, Kind


def verify(graph: Graph) -> None:
    """Raise VerifyError naming the first node that breaks an invariant of the IR."""
    _GraphVerifier(graph, set()).run()


def verify_all(graphs) -> None:
    """Verify every graph of `graphs`, each graph (and each nested graph) once: linear in their total size."""
    done: set[int] = set()
    for g in graphs:
        if id(g) not in done:
            _GraphVerifier(g, done).run()


def types_match(a: Type, b: Type) -> bool:
    """Equal types, where a dim starting with "?" (known only at run time) matches any dim."""
    if isinstance(a, TensorType) and isinstance(b, TensorType):
        return (a.dtype == b.dtype and len(a.shape) == len(b.shape)
                and all(same_dim(x, y) for x, y in zip(a.shape, b.shape)))
    if isinstance(a, TupleType) and isinstance(b, TupleType):
        return len(a.elements) == len(b.elements) and all(map(types_match, a.elements, b.elements))
    return a == b


def _is_condition(t: Type) -> bool:
    """A branch or loop condition: a bool, or a 0-d array (read with Python truthiness)."""
    return t == BOOL or (isinstance(t, TensorType) and t.shape == ())


def _is_trip_count(t: Type) -> bool:
    return t == INT or (isinstance(t, TensorType) and t.shape == () and t.dtype.kind in "iu")


class _GraphVerifier:
    """Walks one graph in program order, keeping the set of values in scope; `done` holds verified graphs' ids."""

    def __init__(self, graph: Graph, done: set[int]):
        self.graph = graph
        self.done = done
        self.scope: set[Value] = set()
        self.defined: set[Value] = set()
        self.names: dict[str, Value] = {}
        self.uses: dict[Value, Counter] = {}

    def run(self) -> None:
        self.done.add(id(self.graph))
        block = self.graph.block
        if block.graph is not self.graph or block.owner is not None:
            self.fail(None, "the top-level block does not point back to the graph")
        for p in self.graph.params:
            self.define(p, None, f"param {value_ref(p)}", node=None, block=None)
        self.block(block, None)
        self.check_uses()
        self.check_guards()

    def check_guards(self) -> None:
        """A guard names a Python scalar input and assumes a value of its kind (what a call is checked against)."""
        for value, assumed in self.graph.guards.items():
            if value not in self.graph.inputs:
                self.fail(None, f"guard on {value_ref(value)}, which is not an input of the graph")
            t = value.type
            if not isinstance(t, ScalarType) or type(assumed) is not t.pytype:
                self.fail(None, f"guard {value_ref(value)} == {assumed!r} does not fit the input's type {t}")

    def fail(self, node: Node | None, problem: str) -> NoReturn:
        where = f"{describe_node(node)}: " if node is not None else ""
        raise VerifyError(f"{where}{problem} (in graph {self.graph.name})", node.loc if node is not None else None)

    # ---- SSA ----

    def block(self, block: Block, owner: Node | None) -> None:
        local: list[Value] = []
        for i, p in enumerate(block.params):
            self.define(p, owner, f"block parameter {i}", node=None, block=block)
            local.append(p)
        for node in block.nodes:
            if node.block is not block:
                self.fail(node, "node.block does not point to the block that holds the node")
            self.node(node)
            local.extend(node.outputs)
        for i, r in enumerate(block.returns):
            self.use(r, block, i, owner, f"block return {i}")
        self.scope.difference_update(local)

    def define(self, value, at: Node | None, what: str, node: Node | None, block: Block | None) -> None:
        """Enter a definition; `node`/`block` are what the value's back-pointers must be, `at` the node to blame."""
        if not isinstance(value, Value):
            self.fail(at, f"{what} is not a Value but {type(value).__name__}")
        if not isinstance(value.type, Type):
            self.fail(at, f"{what} {value_ref(value)} has no IR type ({value.type!r})")
        if value in self.defined:
            self.fail(at, f"{what} {value_ref(value)} is defined twice (SSA)")
        if self.names.setdefault(value.name, value) is not value:
            self.fail(at, f"{what}: two different values are named {value_ref(value)}")
        if value.node is not node or value.block is not block:
            expected = "node" if node is not None else "block" if block is not None else "nothing (a param)"
            self.fail(at, f"{what} {value_ref(value)} has wrong back-pointers (value.node, value.block); "
                          f"it should point to its defining {expected}")
        self.defined.add(value)
        self.scope.add(value)
        self.uses[value] = Counter()

    def use(self, value, user: Node | Block, index: int, at: Node | None, what: str) -> None:
        if not isinstance(value, Value):
            self.fail(at, f"{what} is not a Value but {type(value).__name__}")
        if value not in self.scope:
            if value in self.defined:
                self.fail(at, f"{what} {value_ref(value)} is defined in a block that does not enclose this use")
            self.fail(at, f"{what} {value_ref(value)} is not defined before this use")
        self.uses[value][(user, index)] += 1

    def check_uses(self) -> None:
        """Every value's `uses` must list exactly its uses: no stale entries, none missing."""
        for value, expected in self.uses.items():
            actual = Counter(value.uses)
            if actual == expected:
                continue
            for (user, index), _ in (actual - expected).items():
                self.fail(user if isinstance(user, Node) else user.owner,
                          f"{value_ref(value)}.uses has a stale entry: {_use_name(user, index)} does not use it")
            for (user, index), _ in (expected - actual).items():
                self.fail(user if isinstance(user, Node) else user.owner,
                          f"{value_ref(value)}.uses does not record its use as {_use_name(user, index)}")

    # ---- nodes ----

    def node(self, node: Node) -> None:
        """Inputs, then nested blocks (which cannot see the node's outputs), then outputs, then the op's rules."""
        for i, v in enumerate(node.inputs):
            self.use(v, node, i, node, f"input {i}")
        if node.op not in REGISTRY:
            self.fail(node, f"unknown op {node.op!r} (not in the op registry)")
        opdef = REGISTRY.get(node.op)
        self.attrs(node, opdef)
        for b in node.blocks:
            if b.owner is not node or b.graph is not self.graph:
                self.fail(node, "a block's owner or graph does not point back to this node and graph")
            self.block(b, node)
        for i, out in enumerate(node.outputs):
            self.define(out, node, f"output {i}", node=node, block=None)
        _STRUCTURE.get(node.op, _Structure.no_blocks)(self, node)
        self.inferred_types(node, opdef)

    def attrs(self, node: Node, opdef) -> None:
        declared = {p.name: p for p in opdef.params if p.kind is Kind.ATTR}
        for key in node.attrs:
            if key not in declared:
                self.fail(node, f"{key!r} is not an attribute of {node.op} (it takes: {', '.join(declared) or 'none'})")
        for name, p in declared.items():
            if p.default is REQUIRED and name not in node.attrs:
                self.fail(node, f"required attribute {name!r} is missing")
        for k in iter_refs(node.attrs):
            if not (type(k) is int and 0 <= k < len(node.inputs)):
                self.fail(node, f"attribute refers to {Ref(k)!r} but the node has {len(node.inputs)} inputs")
        # The kernel takes the inputs no Ref names as its positional operands (NOTE: [Calling convention]):
        # their number must fit the op's operand parameters, or the call binds an input to an attribute's name.
        slots = [p for p in opdef.params if p.kind is not Kind.ATTR]
        given = len(node.operand_indices())
        least = sum(1 for p in slots if p.kind is Kind.OPERAND and p.default is REQUIRED)
        most = None if any(p.kind is Kind.OPERANDS for p in slots) else len(slots)
        if node.operand_indices() != list(range(given)):
            # every reader of a node (the lowerings, in-place planning) finds its operands first, as the
            # builder writes them: an operand after an input an attribute names would be read as another
            self.fail(node, "an input that an attribute refers to comes before an operand")
        if given < least or most is not None and given > most:
            self.fail(node, f"{given} operands (inputs no attribute refers to), but {node.op} takes "
                            f"{least if most == least else f'{least} to {most}' if most is not None else f'{least} or more'}")

    def inferred_types(self, node: Node, opdef) -> None:
        try:
            types = opdef.infer([v.type for v in node.inputs], dict(node.attrs))
        except Exception as e:  # any failure of a type rule means the node does not fit its inputs
            self.fail(node, f"type inference failed: {type(e).__name__}: {e}")
        if types is None:
            return
        self.match(node, "outputs", [v.type for v in node.outputs], types, "inferred")

    def match(self, node: Node, what: str, actual: list, expected: list, source: str) -> None:
        """`actual` types (of `what`) against `expected` ones (from `source`)."""
        if len(actual) != len(expected):
            self.fail(node, f"{len(actual)} {what}, but {len(expected)} {source} types")
        for i, (a, e) in enumerate(zip(actual, expected)):
            if not types_match(a, e):
                self.fail(node, f"{what}[{i}] has type {a}, but the {source} type is {e}")


def _use_name(user, index: int) -> str:
    if isinstance(user, Node):
        return f"input {index} of {describe_node(user)}"
    return f"return {index} of a block"


class _Structure:
    """The block structure of ops that have blocks or call graphs; one function per op (see `_STRUCTURE`)."""

    @staticmethod
    def no_blocks(v: _GraphVerifier, node: Node) -> None:
        if node.blocks:
            v.fail(node, f"{node.op} takes no blocks, but has {len(node.blocks)}")

    @staticmethod
    def if_(v: _GraphVerifier, node: Node) -> None:
        if len(node.inputs) != 1 or not _is_condition(node.inputs[0].type):
            v.fail(node, "prim.If takes one condition: a bool or a 0-d array")
        if len(node.blocks) != 2:
            v.fail(node, f"prim.If has {len(node.blocks)} blocks, not 2 (then, else)")
        for i, b in enumerate(node.blocks):
            if b.params:
                v.fail(node, f"block {i} of prim.If has parameters")
            v.match(node, "outputs", [o.type for o in node.outputs], [r.type for r in b.returns],
                    f"returned by block {i}")

    @staticmethod
    def loop(v: _GraphVerifier, node: Node) -> None:
        if len(node.inputs) < 2:
            v.fail(node, "prim.Loop takes (trip_count, cond, *carried)")
        trip, cond, *carried = [x.type for x in node.inputs]
        if not _is_trip_count(trip):
            v.fail(node, f"the trip count has type {trip}, not int")
        if not _is_condition(cond):
            v.fail(node, f"the loop condition has type {cond}, not bool or a 0-d array")
        if len(node.blocks) != 1:
            v.fail(node, f"prim.Loop has {len(node.blocks)} blocks, not 1 (the body)")
        body = node.blocks[0]
        params = [p.type for p in body.params]
        if not params or params[0] != INT:
            v.fail(node, "the body's first parameter (the iteration number) must be int")
        v.match(node, "body parameters after the iteration", params[1:], carried, "carried input")
        returns = [r.type for r in body.returns]
        if not returns or not _is_condition(returns[0]):
            v.fail(node, "the body's first return (the next condition) must be a bool or a 0-d array")
        v.match(node, "body returns after the condition", returns[1:], carried, "carried input")
        v.match(node, "outputs", [o.type for o in node.outputs], carried, "carried input")

    @staticmethod
    def call(v: _GraphVerifier, node: Node) -> None:
        _Structure.no_blocks(v, node)
        callee = node.attrs.get("graph")
        if not isinstance(callee, Graph):
            v.fail(node, f"the graph attribute is a {type(callee).__name__}, not a Graph")
        if id(callee) not in v.done:
            _GraphVerifier(callee, v.done).run()
        v.match(node, "inputs", [x.type for x in node.inputs], [x.type for x in callee.inputs],
                f"graph {callee.name}'s input")
        v.match(node, "outputs", [o.type for o in node.outputs], [o.type for o in callee.outputs],
                f"graph {callee.name}'s output")


    @staticmethod
    def fused(v: _GraphVerifier, node: Node) -> None:
        """The expression is checked like a callee: the kernels run it on the node's inputs, and the
        native backend sizes its loop from them, so it must be elementwise over exactly those inputs."""
        _Structure.no_blocks(v, node)
        expr = node.attrs.get("graph")
        if not isinstance(expr, Graph):
            v.fail(node, f"the graph attribute is a {type(expr).__name__}, not a Graph")
        if not isinstance(node.attrs.get("exact", True), bool):
            v.fail(node, "the exact attribute is not a bool")
        if id(expr) not in v.done:
            _GraphVerifier(expr, v.done).run()
        if expr.params:
            v.fail(node, f"the expression {expr.name} has named parameters; it reads only the node's inputs")
        if len(expr.inputs) != len(node.inputs):
            v.fail(node, f"{len(node.inputs)} inputs, but the expression {expr.name} takes {len(expr.inputs)}")
        for i, (x, e) in enumerate(zip(node.inputs, expr.inputs)):
            if not _same_kind(x.type, e.type):
                v.fail(node, f"input {i} has type {x.type}, but the expression {expr.name} takes {e.type}")
        if len(expr.outputs) != len(node.outputs) or not expr.outputs:
            v.fail(node, f"{len(node.outputs)} outputs, but the expression {expr.name} gives {len(expr.outputs)}")
        for n in expr.block.nodes:
            if not _elementwise(n):
                v.fail(node, f"the expression {expr.name} holds {describe_node(n)}, which is not an elementwise "
                             f"op of one output or a scalar constant")
        for i, (o, e) in enumerate(zip(node.outputs, expr.outputs)):
            if not (isinstance(o.type, TensorType) and isinstance(e.type, TensorType) and o.type.dtype == e.type.dtype):
                v.fail(node, f"output {i} has type {o.type}, but the expression {expr.name} gives {e.type}")


def _same_kind(a: Type, b: Type) -> bool:
    """Same dtype and rank for arrays (the sizes of a shard may differ from the expression's), else equal types."""
    if isinstance(a, TensorType) or isinstance(b, TensorType):
        return isinstance(a, TensorType) and isinstance(b, TensorType) and a.dtype == b.dtype and a.ndim == b.ndim
    return a == b


_SCALAR_CONSTANTS = (bool, int, float, complex, type(None), np.generic)    # what fusion copies into an expression


def _elementwise(n: Node) -> bool:
    if n.blocks or len(n.outputs) != 1 or any(True for _ in iter_refs(n.attrs)):
        return False
    if n.op == "prim.Constant":
        return isinstance(n.attrs.get("value"), _SCALAR_CONSTANTS)
    d = REGISTRY.get(n.op)
    # The registry's fact (`OpDef.fusible`: what the fuse pass may put in an expression) covers custom
    # elementwise ops too; the ufunc flag and the two named ops are what older files' expressions hold.
    return d.can_fuse(n) or "ufunc" in d.flags or n.op in ("np.where", "np.astype")


_STRUCTURE = {
    "prim.If": _Structure.if_,
    "prim.Loop": _Structure.loop,
    "prim.Call": _Structure.call,
    "fused.elementwise": _Structure.fused,
}
