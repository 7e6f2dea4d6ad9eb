"""Function → `Model` message and tensor list (the writing half of the format).

Everything is emitted in a stable order (graph order, node order, attribute
order as the node holds them, sorted metadata), so the same Function always
gives the same bytes. Value numbering is described in distjit.proto (Graph).
"""
from __future__ import annotations

import sys
from typing import Any, Iterator

import numpy as np

from google.protobuf.message import DecodeError

from distjit.errors import FormatError
from distjit.ir.graph import Block, Graph, Node, Value, iter_graphs
from distjit.types import AnyType, NoneType, Ref, ScalarType, StrType, TensorType, TupleType, Type
from distjit.serialize import distjit_pb2 as pb
from distjit.serialize.dtypes import SCALAR_KIND_ENUM, dtype_enum, scalar_type_name

OPSET_VERSION = 1
PRODUCER = "distjit"


class Encoder:
    """Builds one Model: a graph table (callees first) and a tensor table."""

    def __init__(self):
        self.model = pb.Model()
        self.arrays: list[np.ndarray] = []          # little-endian, C-ordered, one per tensor descriptor
        self.graph_index: dict[int, int] = {}
        self._open: set[int] = set()
        self._keep: list = []                          # keeps graphs and arrays alive while their ids are keys
        self._params: dict[tuple[int, str], int] = {}  # (id(array), name) -> tensor index

    # ---- tensors ----
    def tensor(self, arr: np.ndarray, name: str, where: str) -> int:
        if name:    # a parameter the specializations of a scripted function share is stored once
            key = (id(arr), name)
            if key in self._params:
                return self._params[key]
            self._keep.append(arr)
            self._params[key] = self._new_tensor(arr, name, where)
            return self._params[key]
        return self._new_tensor(arr, name, where)

    def _new_tensor(self, arr: np.ndarray, name: str, where: str) -> int:
        if not isinstance(arr, np.ndarray):
            arr = np.asarray(arr)
        enum = dtype_enum(arr.dtype.newbyteorder("="), where)
        little = arr.astype(arr.dtype.newbyteorder("<"), order="C", copy=False)   # (ascontiguousarray makes 0-d 1-d)
        desc = self.model.tensors.add()
        desc.name = name
        desc.dtype = enum
        desc.shape.extend(little.shape)
        desc.length = little.nbytes
        desc.crc32 = 0          # filled in by the writer; fixed32 with presence, so the size does not change
        self.arrays.append(little)
        return len(self.model.tensors) - 1

    # ---- graphs ----
    def graph(self, g: Graph) -> int:
        """Add `g` and the graphs its attributes use (first, depth first) to the table; returns its index.

        Without recursion: a chain of graphs calling graphs is as deep as the program makes it."""
        if id(g) in self.graph_index:
            return self.graph_index[id(g)]
        stack = [(g, _callees(g))]          # graphs being added, each with the callees it has left to add
        self._open.add(id(g))
        while stack:
            top, callees = stack[-1]
            for callee in callees:
                key = id(callee)
                if key in self.graph_index:
                    continue
                if key in self._open:
                    raise FormatError(f"cannot save graph {callee.name}: it calls itself (recursive graphs are "
                                      f"not supported)")
                self._open.add(key)
                stack.append((callee, _callees(callee)))
                break
            else:
                stack.pop()
                msg = GraphEncoder(self, top).encode()
                self._open.discard(id(top))
                try:
                    self.model.graphs.append(msg)
                except DecodeError:      # protobuf's nesting limit (about 50 levels of blocks in blocks)
                    raise FormatError(f"cannot save graph {top.name}: its blocks nest deeper than the format "
                                      f"allows") from None
                self._keep.append(top)
                self.graph_index[id(top)] = len(self.model.graphs) - 1
        return self.graph_index[id(g)]

    # ---- attributes ----
    def attribute(self, value: Any, out: pb.Attribute, where: str) -> None:
        for kind, fill in _ATTRIBUTE_WRITERS:
            if isinstance(value, kind):
                fill(self, value, out, where)
                return
        if callable(value):
            _pickle(self, value, out, where)
            return
        raise FormatError(f"{where}: cannot save a value of type {type(value).__name__} ({value!r:.80})")


def _callees(g: Graph) -> Iterator[Graph]:
    """The graphs `g`'s attributes hold (callees, fused expressions), in node and attribute order."""
    for node in g.walk():
        for value in node.attrs.values():
            yield from iter_graphs(value)


def _int(enc, v, out, where):
    v = int(v)
    if -(1 << 63) <= v < (1 << 63):
        out.i = v
    else:
        out.big_int = str(v)


def _generic(enc, v, out, where):
    arr = np.asarray(v)
    out.numpy_scalar.dtype = dtype_enum(arr.dtype.newbyteorder("="), where)
    out.numpy_scalar.data = arr.astype(arr.dtype.newbyteorder("<")).tobytes()


def _sequence(field):
    def fill(enc, v, out, where):
        items = getattr(out, field)
        items.SetInParent()
        for i, item in enumerate(v):
            enc.attribute(item, items.items.add(), f"{where}[{i}]")
    return fill


def _slice(enc, v, out, where):
    out.slice.SetInParent()
    for part in ("start", "stop", "step"):
        value = getattr(v, part)
        if value is None:
            continue
        if not isinstance(value, (int, Ref)) or isinstance(value, bool):
            raise FormatError(f"{where}: a slice {part} must be an int, None or a Ref, not {type(value).__name__}")
        enc.attribute(value, getattr(out.slice, part), where)


def _scalar_type(enc, v, out, where):
    name = scalar_type_name(v)
    if name is None:
        raise FormatError(f"{where}: cannot save the type {v!r} (only NumPy scalar types and bool/int/float/complex)")
    out.scalar_type = name


def _pickle(enc, v, out, where):
    import cloudpickle

    out.pickled_code.format = "cloudpickle"
    out.pickled_code.python_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    out.pickled_code.data = cloudpickle.dumps(v)


def _string(enc, v, out, where):
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise FormatError(f"{where}: the string {v!r:.80} is not valid UTF-8 and cannot be saved") from None
    out.s = v


# First match wins: bool before int, NumPy scalars before float and complex, `type` objects before callables.
_ATTRIBUTE_WRITERS = [
    (type(None), lambda enc, v, out, where: out.none.SetInParent()),
    (bool, lambda enc, v, out, where: setattr(out, "b", v)),
    (np.generic, _generic),
    (np.ndarray, lambda enc, v, out, where: setattr(out, "tensor", enc.tensor(v, "", where))),
    (int, _int),
    (float, lambda enc, v, out, where: setattr(out, "f", float(v))),
    (complex, lambda enc, v, out, where: (setattr(out.c, "real", v.real), setattr(out.c, "imag", v.imag),
                                          out.c.SetInParent())),
    (str, _string),
    (tuple, _sequence("tuple")),
    (list, _sequence("list")),
    (type(Ellipsis), lambda enc, v, out, where: out.ellipsis.SetInParent()),
    (slice, _slice),
    (Ref, lambda enc, v, out, where: setattr(out, "ref", v.index)),
    (np.dtype, lambda enc, v, out, where: setattr(out, "dtype", dtype_enum(v, where))),
    (Graph, lambda enc, v, out, where: setattr(out, "graph", enc.graph(v))),
    (type, _scalar_type),
]


# ---- types ---------------------------------------------------------------------------------------

def encode_type(t: Type, out: pb.Type, where: str) -> None:
    if isinstance(t, TensorType):
        out.tensor.dtype = dtype_enum(t.dtype, where)
        out.tensor.SetInParent()
        for d in t.shape:
            dim = out.tensor.dims.add()
            if isinstance(d, str):
                dim.symbol = d
            else:
                dim.size = d
    elif isinstance(t, ScalarType):
        out.scalar = SCALAR_KIND_ENUM[t.kind]
    elif isinstance(t, TupleType):
        out.tuple.SetInParent()
        for e in t.elements:
            encode_type(e, out.tuple.elements.add(), where)
    elif isinstance(t, NoneType):
        out.none.SetInParent()
    elif isinstance(t, StrType):
        out.str.SetInParent()
    elif isinstance(t, AnyType):
        out.any.SetInParent()
    else:
        raise FormatError(f"{where}: cannot save the type {t!r}")


class GraphEncoder:
    """One graph: values are numbered in definition order (see distjit.proto, Graph)."""

    def __init__(self, enc: Encoder, graph: Graph):
        self.enc = enc
        self.graph = graph
        self.numbers: dict[Value, int] = {}

    def encode(self) -> pb.Graph:
        msg = pb.Graph(name=self.graph.name)
        for p in self.graph.params:
            self.value(p, msg.params.add())
        msg.block.SetInParent()
        self.block(self.graph.block, msg.block)
        for i, v in enumerate(self.graph.inputs):
            if v in self.graph.guards:
                guard = msg.guards.add(input=i)
                self.enc.attribute(self.graph.guards[v], guard.value, f"graph {self.graph.name}, guard on %{v.name}")
        return msg

    def value(self, v: Value, out: pb.Value) -> None:
        if v in self.numbers:
            raise FormatError(f"cannot save graph {self.graph.name}: value %{v.name} is defined twice")
        self.numbers[v] = len(self.numbers)
        out.name = v.name
        encode_type(v.type, out.type, f"graph {self.graph.name}, value %{v.name}")

    def ref(self, v: Value, where: str) -> int:
        try:
            return self.numbers[v]
        except KeyError:
            raise FormatError(f"cannot save graph {self.graph.name}: {where} uses %{v.name} before it is "
                              f"defined (run graph.verify())") from None

    def block(self, block: Block, out: pb.Block) -> None:
        for p in block.params:
            self.value(p, out.params.add())
        for node in block.nodes:
            self.node(node, out.nodes.add())
        out.returns.extend(self.ref(r, "a block return") for r in block.returns)

    def node(self, node: Node, out: pb.Node) -> None:
        out.op = node.op
        numbers = self.numbers
        try:
            out.inputs.extend([numbers[v] for v in node.inputs])
        except KeyError:                    # say which input (the message is built only for a failure)
            for v in node.inputs:
                self.ref(v, _where(self.graph, node))
        where = _where(self.graph, node) if node.attrs else ""
        for key, value in node.attrs.items():
            attr = out.attrs.add()
            attr.name = key
            attr.value.SetInParent()
            self.enc.attribute(value, attr.value, f"{where}, attribute {key!r}")
        for b in node.blocks:
            self.block(b, out.blocks.add())
        for o in node.outputs:
            self.value(o, out.outputs.add())
        if node.loc is not None:
            out.loc.file = node.loc.file
            out.loc.line = node.loc.line


def _where(graph: Graph, node: Node) -> str:
    return f"graph {graph.name}, node {node.op} -> {', '.join('%' + o.name for o in node.outputs)}"


# ---- the Function ----------------------------------------------------------------------------------

def encode_function(f, metadata: dict[str, str] | None = None) -> tuple[pb.Model, list[np.ndarray]]:
    """The Model message (tensor crc32s still zero) and the tensors' little-endian arrays."""
    return encode_functions([f], getattr(f, "metadata", None), metadata)


def encode_functions(functions: list, own_metadata: dict | None, metadata: dict[str, str] | None = None
                     ) -> tuple[pb.Model, list[np.ndarray]]:
    """One file holding `functions` (the signatures of one scripted function, or one Function): the first in
    the Model's own fields, the others in `Model.functions` (format 1.2), sharing the graph and tensor tables."""
    from distjit.version import __version__

    enc = Encoder()
    m = enc.model
    from distjit.serialize.layout import FORMAT_MAJOR, FORMAT_MINOR

    m.format_major = FORMAT_MAJOR
    m.format_minor = FORMAT_MINOR
    m.producer_name = PRODUCER
    m.producer_version = __version__
    m.opset_version = OPSET_VERSION
    meta = dict(own_metadata or {})
    meta.update(metadata or {})
    for key in sorted(meta):
        if not isinstance(key, str) or not isinstance(meta[key], str):
            raise FormatError(f"metadata must map strings to strings, got {key!r}: {meta[key]!r:.80}")
        m.metadata.add(key=key, value=meta[key])
    first, *others = functions
    m.name = first.name
    m.main_graph = encode_one(enc, first, m.params, m.signature, m.plans)
    for f in others:
        entry = m.functions.add(name=f.name)
        entry.main_graph = encode_one(enc, f, entry.params, entry.signature, entry.plans)
    return m, enc.arrays


def encode_one(enc: Encoder, f, params_out, signature_out: pb.Signature, plans_out) -> int:
    """Function `f`'s parameters, graph, signature and plans into the given fields; returns its graph's index."""
    for name, arr in f.params.items():
        params_out.append(enc.tensor(arr, name, f"parameter {name!r}"))
    main_graph = enc.graph(f.graph)
    encode_signature(enc, f.signature, signature_out)
    plans = getattr(f, "plans", None) or {}
    for key in sorted(plans, key=plan_sort_key):
        plan = plans[key]
        if list(plan.input_names) != f.signature.input_paths() or len(plan.outputs) != len(f.graph.outputs):
            raise FormatError(f"cannot save the plan for workers={key[0]}, shard={dict(key[1])}: it was made for "
                              f"another graph (inputs {plan.input_names}, {len(plan.outputs)} outputs)")
        encode_plan(enc, key, plan, plans_out.add())
    return main_graph


# ---- plans (distjit/partition/plan.py, NOTE: [Plan structure]) -------------------------------------

def plan_sort_key(key) -> tuple:
    """The order plans are written in: by workers, then by the shard choices (None before any axis)."""
    workers, shard = key
    return (workers, tuple((name, -1 << 40 if axis is None else axis) for name, axis in shard))


_SOURCE_KINDS = {"arg": pb.Source.ARG, "param": pb.Source.PARAM, "task": pb.Source.TASK}


def encode_plan(enc: Encoder, key, plan, out: pb.Plan) -> None:
    """One Plan, attached to its Function under `key` = (workers, ((name, axis), ...) sorted)."""
    workers, shard = key
    where = f"plan {plan.name} (workers={workers})"
    if workers != plan.workers:
        raise FormatError(f"cannot save {where}: it is attached for workers={workers} but was planned for "
                          f"{plan.workers}")
    out.name = plan.name
    out.parts = plan.parts
    out.workers = plan.workers
    for name, axis in shard:
        if not isinstance(name, str) or not (axis is None or isinstance(axis, int)):
            raise FormatError(f"cannot save {where}: shard={{{name!r}: {axis!r}}} must name an input and an "
                              f"axis (an int) or None")
        choice = out.shard.add(name=name)
        if axis is not None:
            choice.axis = int(axis)
    out.input_names.extend(plan.input_names)
    for layout in plan.inputs:
        li = out.inputs.add()
        if layout.axis is not None:
            li.axis = layout.axis
        for start, stop in layout.bounds:
            li.bounds.add(start=start, stop=stop)
    out.params.extend(plan.params)
    for s, g in enumerate(plan.subgraphs):
        if g.params:
            raise FormatError(f"cannot save {where}: subgraph {s} ({g.name}) has named parameters "
                              f"(plan subgraphs read everything as inputs)")
        out.subgraphs.append(enc.graph(g))
    for t in plan.tasks:
        msg = out.tasks.add(name=t.name, subgraph=t.subgraph, stage=t.stage, flops=t.flops, bytes=t.bytes,
                            seconds=t.seconds, bytes_in=t.bytes_in)
        if t.shard is not None:
            msg.shard = t.shard
        for src in t.inputs:
            encode_source(src, msg.inputs.add(), where)
    for o in plan.outputs:
        msg = out.outputs.add()
        if o.axis is not None:
            msg.axis = o.axis
        for src in o.sources:
            encode_source(src, msg.sources.add(), where)
    out.task_overhead_s = plan.task_overhead_s


def encode_source(src, out: pb.Source, where: str) -> None:
    if src.kind not in _SOURCE_KINDS:
        raise FormatError(f"cannot save {where}: a source of kind {src.kind!r}")
    out.kind = _SOURCE_KINDS[src.kind]
    out.index = src.index
    out.output = src.output
    if src.shard is not None:
        out.shard = src.shard


def encode_signature(enc: Encoder, sig, out: pb.Signature) -> None:
    out.arg_names.extend(sig.arg_names)
    encode_spec(enc, sig.in_spec, out.in_spec)
    encode_spec(enc, sig.out_spec, out.out_spec)
    for leaf, output in sig.mutations:
        out.mutations.add(input_leaf=leaf, output=output)
    out.zero_d_arrays.extend(sorted(sig.zero_d_arrays))
    for name, value in sig.defaults.items():
        d = out.defaults.add(name=name)
        d.value.SetInParent()
        enc.attribute(value, d.value, f"the default of argument {name!r}")


_SPEC_KINDS = {"leaf": pb.TreeSpec.LEAF, "tuple": pb.TreeSpec.TUPLE, "list": pb.TreeSpec.LIST,
               "dict": pb.TreeSpec.DICT, "static": pb.TreeSpec.STATIC, "namedtuple": pb.TreeSpec.NAMED_TUPLE}


def encode_spec(enc: Encoder, spec, out: pb.TreeSpec) -> None:
    if spec.kind not in _SPEC_KINDS:
        raise FormatError(f"cannot save a tree spec of kind {spec.kind!r}")
    out.kind = _SPEC_KINDS[spec.kind]
    for child in spec.children:
        encode_spec(enc, child, out.children.add())
    for key in spec.keys:
        k = out.keys.add()
        k.SetInParent()
        enc.attribute(key, k, "a dict key of the signature")
    if spec.kind == "static":
        out.static_value.SetInParent()
        enc.attribute(spec.static, out.static_value, "a constant of the signature")
    elif spec.kind == "namedtuple":
        out.static_value.SetInParent()
        enc.attribute(spec.type_name, out.static_value, "a named tuple's class name")
