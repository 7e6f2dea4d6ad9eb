"""Sharding: which values are split along an axis into N parts, and the dist.* nodes where data must move.

`shard_graph(graph, input_axes, parts)` returns a `ShardedGraph`: a copy of the
graph (logical types kept) in which every value of the top-level block has a
`Sharding`, propagated node by node through each op's sharding rule (`OpDef.shard`, in the
vocabulary of distjit/ops/sharding.py), with dist.Gather / dist.Shard / dist.Reshard inserted
where an op needs its operand cut differently, and reductions or contractions
over a split axis rewritten into per-shard partials and one dist.Combine.

A split value with dim n on its axis is always cut like ``np.array_split``: the
first ``n % parts`` parts have one more element (`bounds`). Every value split
along a dim of size n is cut the same way, so shards line up across ops.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from distjit.core.liveness import nested_reads
from distjit.ir.builder import Builder
from distjit.ir.clone import _next_counter, clone_node
from distjit.ir.graph import Graph, Node, Value
from distjit.types import TensorType
from distjit.ops import get_op
from distjit.ops.sharding import REPLICATED, Contract, Reduce, Split


@dataclass(frozen=True)
class Sharding:
    """How a value is laid out over the shards.

    axis      None: replicated (every task that needs it sees the whole value);
              an int: split along that axis, shard k holds part k.
    partial   True: each shard holds its own partial result (only dist.Combine reads it).
    """

    axis: int | None = None
    partial: bool = False

    @property
    def is_split(self) -> bool:
        return self.axis is not None or self.partial

    def __str__(self):
        return "partial" if self.partial else "replicated" if self.axis is None else f"split(axis={self.axis})"


WHOLE = Sharding()
PARTIAL = Sharding(partial=True)


def bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """np.array_split's cut of n elements into `parts`: [(start, stop), ...]."""
    base, extra = divmod(n, parts)
    out, start = [], 0
    for k in range(parts):
        stop = start + base + (1 if k < extra else 0)
        out.append((start, stop))
        start = stop
    return out


@dataclass
class ShardedGraph:
    """The logical graph with dist.* nodes, and the sharding of each top-level value.

    `split_dim[v]` is the size of the dim a split (or partial) value is cut along;
    its parts are `bounds(split_dim[v], parts)`.
    """

    graph: Graph
    sharding: dict[Value, Sharding]
    split_dim: dict[Value, int]
    parts: int
    shard_attrs: dict[Node, object] = field(default_factory=dict)

    def of(self, v: Value) -> Sharding:
        return self.sharding.get(v, WHOLE)

    def bounds_of(self, v: Value) -> list[tuple[int, int]]:
        return bounds(self.split_dim[v], self.parts)


def _new_graph_like(graph: Graph) -> Graph:
    new = Graph(graph.name)
    new._names = set(graph._names)
    new._counter = iter(range(_next_counter(graph), 1 << 62))
    return new


class _Propagator:
    def __init__(self, graph: Graph, input_axes: list[int | None], parts: int):
        self.old = graph
        self.parts = parts
        self.new = _new_graph_like(graph)
        self.sg = ShardedGraph(self.new, {}, {}, parts)
        self.map: dict[Value, Value] = {}
        self.converted: dict[tuple[Value, object], Value] = {}
        self.var_keys = _var_keys(graph)                 # (value, axes) that a var or std reduces
        self.moments: dict[tuple, list[Value]] = {}      # (new value, axes) -> its var partials (n, mean, M2)
        for p in graph.params:
            v = Value(p.name, p.type)
            self.new.params.append(v)
            self.map[p] = v
        for v, axis in zip(graph.inputs, input_axes):
            nv = Value(v.name, v.type, block=self.new.block)
            self.new.block.params.append(nv)
            self.map[v] = nv
            if axis is not None:
                self._set(nv, Sharding(axis), v.type.shape[axis])

    def _set(self, v: Value, s: Sharding, dim: int | None = None) -> None:
        if s.is_split:
            self.sg.sharding[v] = s
            self.sg.split_dim[v] = dim
        # replicated: the default, not stored

    def _b(self) -> Builder:
        return Builder(self.new.block)

    # -- moving data ---------------------------------------------------------------------------------------------
    def convert(self, v: Value, want) -> Value:
        """`v` (a new value) laid out as `want`: REPLICATED or an axis."""
        have = self.sg.of(v)
        if want == REPLICATED:
            if not have.is_split:
                return v
        elif have.axis == want:
            return v
        key = (v, want)
        if key in self.converted:       # each value crosses once per layout, however many nodes use it
            return self.converted[key]
        b = self._b()
        if want == REPLICATED:
            (out,) = b.op("dist.Gather", [v], {"axis": have.axis}, names=[v.name])
        elif not have.is_split:
            (out,) = b.op("dist.Shard", [v], {"axis": want}, names=[v.name])
            self._set(out, Sharding(want), v.type.shape[want])
        else:
            (out,) = b.op("dist.Reshard", [v], {"source": have.axis, "axis": want}, names=[v.name])
            self._set(out, Sharding(want), v.type.shape[want])
        self.converted[key] = out
        return out

    # -- one node -----------------------------------------------------------------------------------------------
    def run(self) -> ShardedGraph:
        for node in self.old.block.nodes:
            self.node(node)
        for v in self.old.outputs:
            self.new.add_output(self.map[v])
        return self.sg

    def node(self, node: Node) -> None:
        ins = [self.map[v] for v in node.inputs]
        axes = [self.sg.of(v).axis for v in ins]
        if not any(a is not None for a in axes) and not node.blocks:
            self.clone(node, ins)
            return
        decision = None
        if not node.blocks and self._splittable(node):
            rule = get_op(node.op).shard
            if rule is not None:
                try:
                    decision = rule(node, axes)
                except (KeyError, IndexError, TypeError, ValueError):
                    decision = None
        if decision is None:
            self.replicated(node, ins)
        elif isinstance(decision, Split):
            need = decision.inputs or [None] * len(ins)
            ins = [self.convert(v, n) if n is not None else v for v, n in zip(ins, need)]
            new = self.clone(node, ins)
            src_dim = next((self.sg.split_dim[v] for v in ins if self.sg.of(v).axis is not None), None)
            for out, axis in zip(new.outputs, decision.outputs):
                if axis is not None:
                    self._set(out, Sharding(axis), src_dim)
            if decision.attrs is not None:
                self.sg.shard_attrs[new] = decision.attrs
        elif isinstance(decision, Contract):
            need = decision.inputs or [None] * len(ins)
            ins = [self.convert(v, n) if n is not None else v for v, n in zip(ins, need)]
            new = self.clone(node, ins)
            out = new.output
            dim = next(self.sg.split_dim[v] for v in ins if self.sg.of(v).axis is not None)
            self._set(out, PARTIAL, dim)
            (res,) = self._b().op("dist.Combine", [out], {"kind": "sum", "axis": (), "keepdims": True,
                                                          "dtype": out.type.dtype}, names=[out.name])
            self.map[node.output] = res
        elif isinstance(decision, Reduce):
            self.reduce(node, ins[0], decision)
        else:
            raise TypeError(f"sharding rule for {node.op} returned {decision!r}")

    def _splittable(self, node: Node) -> bool:
        opdef = get_op(node.op)
        return opdef.is_pure and all(isinstance(v.type, TensorType) and v.type.is_static
                                     for v in [*node.inputs, *node.outputs] if isinstance(v.type, TensorType))

    def reduce(self, node: Node, x: Value, r: Reduce) -> None:
        b = self._b()
        # A mean and a var of the same value over the same axes: one pass, the var's (n, mean, M2) partials
        shared = r.dtype is None and r.kind in ("mean", "var") and isinstance(x.type, TensorType) \
            and x.type.dtype.kind == "f" and (node.inputs[0], tuple(sorted(r.axis))) in self.var_keys
        key = (x, tuple(sorted(r.axis)))
        kind = "var" if shared else r.kind
        attrs = {"kind": kind, "axis": tuple(r.axis)}
        if r.dtype is not None:
            attrs["dtype"] = np.dtype(r.dtype)
        if shared and key in self.moments:
            partials = self.moments[key]
        else:
            partials = b.op("dist.Partial", [x], attrs, names=[x.name] * _arity(kind))
            if shared:
                self.moments[key] = partials
        dim = self.sg.split_dim[x]
        for p in partials:
            self._set(p, PARTIAL, dim)
        out = node.output
        cattrs = {"kind": r.kind, "axis": tuple(r.axis), "keepdims": r.keepdims, "dtype": out.type.dtype}
        if shared and r.kind == "mean":
            cattrs["using"] = "var"
        if r.ddof:
            cattrs["ddof"] = r.ddof
        if r.sqrt:
            cattrs["sqrt"] = True
        (res,) = b.op("dist.Combine", partials, cattrs, names=[out.name])
        self.map[out] = res

    def replicated(self, node: Node, ins: list[Value]) -> None:
        ins = [self.convert(v, REPLICATED) for v in ins]
        extra = {}
        for v in nested_reads(node):
            extra[v] = self.convert(self.map[v], REPLICATED)
        self.clone(node, ins, extra)

    def clone(self, node: Node, ins: list[Value], extra: dict | None = None) -> Node:
        mapping = dict(zip(node.inputs, ins))
        if extra:
            mapping.update(extra)
        new = clone_node(node, self.new.block, mapping)
        self.new.block.append(new)
        for old, nv in zip(node.outputs, new.outputs):
            self.map[old] = nv
        return new


def _var_keys(graph: Graph) -> set:
    """(input value, sorted axes) of every variance (np.var, np.std) of the graph's top-level block without a dtype."""
    from distjit.ops.infer import normalize_axes

    keys = set()
    for node in graph.block.nodes:
        r = get_op(node.op).reduction
        if r is not None and r.kind == "var" and node.attrs.get("dtype") is None and len(node.inputs) == 1 \
                and isinstance(node.inputs[0].type, TensorType):
            try:
                axes = normalize_axes(node.op, node.attrs.get("axis"), node.inputs[0].type.ndim)
            except Exception:
                continue
            keys.add((node.inputs[0], tuple(sorted(axes))))
    return keys


def _arity(kind: str) -> int:
    from distjit.ops.dist import PARTIAL_ARITY

    return PARTIAL_ARITY[kind]


def shard_graph(graph: Graph, input_axes: list[int | None], parts: int) -> ShardedGraph:
    """Propagate the inputs' shardings (an axis or None per graph input) through `graph`.

    With no input split nothing moves and every value is whole: the graph itself is the sharded graph
    (the partitioner only reads it), which saves a copy of a graph that can have a million nodes."""
    if all(a is None for a in input_axes):
        return ShardedGraph(graph, {}, {}, parts)
    return _Propagator(graph, input_axes, parts).run()
