"""`Model` message → Function (the reading half of the format), checking everything it reads.

The decoder trusts nothing: every index is checked against its table, every
value number against the values defined so far, every enum against its
whitelist, every tensor against the data section. It builds plain IR objects
and runs the verifier on them; pickled attributes are refused unless the caller
allows them. Each failure is a FormatError naming where it is (graph, node,
attribute).
"""
from __future__ import annotations

import pickle
import zlib
from typing import Any

import numpy as np

from distjit.errors import FormatError, VerifyError
from distjit.ir.clone import _next_counter
from distjit.ir.graph import Block, Graph, Node, Ref, SourceLoc, Value
from distjit.ir.types import (ANY, NONE, STR, ScalarType, TensorType, TupleType, Type)
from distjit.serialize import distjit_pb2 as pb
from distjit.serialize.dtypes import SCALAR_KINDS, SCALAR_TYPES, dtype_of
from distjit.serialize.layout import ALIGN

_MAX_BIG_INT_DIGITS = 4000      # below CPython's int/str conversion limit


class TensorTable:
    """The tensor descriptors, checked against the data section; arrays are built on first use, read-only."""

    def __init__(self, model: pb.Model, data, data_offset: int, data_length: int, where: str,
                 verify_checksums: bool):
        self.model = model
        self.data = data                # a buffer holding the whole file (mmap or bytes)
        self.data_offset = data_offset
        self.where = where
        self.verify_checksums = verify_checksums
        self.arrays: dict[int, np.ndarray] = {}
        spans = []
        for i, desc in enumerate(model.tensors):
            what = f"{where}: tensor {i} ({desc.name or 'a constant'})"
            dtype = dtype_of(desc.dtype, what)
            count = 1
            for d in desc.shape:
                if d < 0:
                    raise FormatError(f"{what}: negative dimension {d} in shape {tuple(desc.shape)}")
                count *= d       # Python ints: no overflow; checked against the length below
            if len(desc.shape) > 64:
                raise FormatError(f"{what}: {len(desc.shape)} dimensions (at most 64)")
            if count * dtype.itemsize != desc.length:
                raise FormatError(f"{what}: shape {tuple(desc.shape)} of {dtype} needs {count * dtype.itemsize} "
                                  f"bytes, but the descriptor says {desc.length}")
            if desc.offset % ALIGN:
                raise FormatError(f"{what}: offset {desc.offset} is not a multiple of {ALIGN}")
            if desc.offset + desc.length > data_length:
                raise FormatError(f"{what}: bytes [{desc.offset}, {desc.offset + desc.length}) lie outside the "
                                  f"data section ({data_length} bytes; truncated?)")
            if not desc.HasField("crc32"):
                raise FormatError(f"{what}: no checksum")
            if desc.length:
                spans.append((desc.offset, desc.offset + desc.length, i))
        spans.sort()
        for (s0, e0, i0), (s1, e1, i1) in zip(spans, spans[1:]):
            if s1 < e0:
                raise FormatError(f"{where}: tensors {i0} and {i1} overlap in the data section")

    def __len__(self):
        return len(self.model.tensors)

    def array(self, index: int, what: str) -> np.ndarray:
        if not 0 <= index < len(self.model.tensors):
            raise FormatError(f"{what}: tensor {index} does not exist (the file has {len(self.model.tensors)})")
        if index not in self.arrays:
            desc = self.model.tensors[index]
            dtype = dtype_of(desc.dtype, what).newbyteorder("<")
            start = self.data_offset + desc.offset
            if self.verify_checksums:
                self.check(index)
            arr = np.frombuffer(self.data, dtype=dtype, count=desc.length // dtype.itemsize, offset=start)
            arr = arr.reshape(tuple(desc.shape))
            arr.flags.writeable = False
            self.arrays[index] = arr
        return self.arrays[index]

    def check(self, index: int) -> None:
        desc = self.model.tensors[index]
        start = self.data_offset + desc.offset
        view = memoryview(self.data)[start:start + desc.length]
        crc = 0
        for pos in range(0, len(view), 64 << 20):
            crc = zlib.crc32(view[pos:pos + (64 << 20)], crc)
        if crc != desc.crc32:
            raise FormatError(f"{self.where}: tensor {index} ({desc.name or 'a constant'}) fails its checksum "
                              f"(crc32 {crc:#010x}, expected {desc.crc32:#010x}): the file is corrupt")


class ModelDecoder:
    def __init__(self, model: pb.Model, tensors: TensorTable, where: str, allow_pickle: bool):
        self.model = model
        self.tensors = tensors
        self.where = where
        self.allow_pickle = allow_pickle
        self.graphs: list[Graph] = []

    def fail(self, what: str) -> FormatError:
        return FormatError(f"{self.where}: {what}")

    # ---- graphs ----
    def decode_graphs(self) -> list[Graph]:
        for i, msg in enumerate(self.model.graphs):
            self.graphs.append(GraphDecoder(self, msg, i).decode())
        for g in self.graphs:
            try:
                g.verify()
            except VerifyError as e:
                raise self.fail(f"graph {g.name} is malformed: {e}") from None
            except RecursionError:
                raise self.fail(f"graph {g.name} nests too deeply") from None
        return self.graphs

    # ---- attributes ----
    def attribute(self, a: pb.Attribute, where: str, graph_limit: int, node: str) -> Any:
        kind = a.WhichOneof("value")
        if kind is None:
            raise self.fail(f"{where}: attribute value of an unknown kind (written by a newer distjit?)")
        if kind == "none":
            return None
        if kind == "b":
            return a.b
        if kind == "i":
            return a.i
        if kind == "big_int":
            s = a.big_int
            if not (0 < len(s) <= _MAX_BIG_INT_DIGITS) or not s.lstrip("-").isdigit() or not s.isascii():
                raise self.fail(f"{where}: invalid integer {s[:40]!r}")
            return int(s)
        if kind == "f":
            return a.f
        if kind == "c":
            return complex(a.c.real, a.c.imag)
        if kind == "s":
            return a.s
        if kind == "dtype":
            return dtype_of(a.dtype, f"{self.where}: {where}")
        if kind == "scalar_type":
            try:
                return SCALAR_TYPES[a.scalar_type]
            except KeyError:
                raise self.fail(f"{where}: unknown scalar type {a.scalar_type[:60]!r}") from None
        if kind in ("tuple", "list"):
            items = [self.attribute(x, f"{where}[{i}]", graph_limit, node)
                     for i, x in enumerate(getattr(a, kind).items)]
            return tuple(items) if kind == "tuple" else items
        if kind == "slice":
            parts = []
            for name in ("start", "stop", "step"):
                if not a.slice.HasField(name):
                    parts.append(None)
                    continue
                part = getattr(a.slice, name)
                if part.WhichOneof("value") not in ("none", "i", "ref"):
                    raise self.fail(f"{where}: a slice {name} must be an int, None or a ref, "
                                    f"not {part.WhichOneof('value')}")
                parts.append(self.attribute(part, where, graph_limit, node))
            return slice(*parts)
        if kind == "ellipsis":
            return Ellipsis
        if kind == "ref":
            return Ref(a.ref)
        if kind == "tensor":
            return self.tensors.array(a.tensor, f"{self.where}: {where}")
        if kind == "numpy_scalar":
            dtype = dtype_of(a.numpy_scalar.dtype, f"{self.where}: {where}")
            if len(a.numpy_scalar.data) != dtype.itemsize:
                raise self.fail(f"{where}: a {dtype} scalar needs {dtype.itemsize} bytes, "
                                f"not {len(a.numpy_scalar.data)}")
            return np.frombuffer(a.numpy_scalar.data, dtype=dtype.newbyteorder("<"))[0]
        if kind == "graph":
            if a.graph >= graph_limit:
                raise self.fail(f"{where}: refers to graph {a.graph}, but only graphs listed before this one "
                                f"(0..{graph_limit - 1}) may be called (this also rules out cycles)")
            return self.graphs[a.graph]
        if kind == "pickled_code":
            if not self.allow_pickle:
                raise self.fail(f"{node} holds pickled Python code ({where}); loading it would run code from "
                                f"the file. Pass allow_pickle=True only if you trust the file's author")
            try:
                return pickle.loads(a.pickled_code.data)
            except Exception as e:
                raise self.fail(f"{where}: cannot unpickle: {type(e).__name__}: {e}") from None
        raise self.fail(f"{where}: attribute kind {kind!r} is not supported")

    # ---- signature ----
    def signature(self, graph: Graph):
        from distjit.function import Signature

        msg = self.model.signature
        arg_names = tuple(msg.arg_names)
        if len(set(arg_names)) != len(arg_names):
            raise self.fail("the signature repeats an argument name")
        in_spec = self.spec(msg.in_spec, "the input spec")
        out_spec = self.spec(msg.out_spec, "the output spec")
        if in_spec.kind != "tuple" or len(in_spec.children) != len(arg_names):
            raise self.fail(f"the input spec {in_spec} does not have one entry per argument ({len(arg_names)})")
        if in_spec.num_leaves != len(graph.inputs):
            raise self.fail(f"the signature has {in_spec.num_leaves} input leaves, the graph "
                            f"{len(graph.inputs)} inputs")
        mutations = tuple((m.input_leaf, m.output) for m in msg.mutations)
        n_out = out_spec.num_leaves
        if n_out + len(mutations) != len(graph.outputs):
            raise self.fail(f"the signature has {n_out} outputs and {len(mutations)} mutations, the graph "
                            f"{len(graph.outputs)} outputs")
        for leaf, out in mutations:
            if leaf >= len(graph.inputs) or not n_out <= out < len(graph.outputs):
                raise self.fail(f"mutation ({leaf}, {out}) refers to an input or output that does not exist")
        defaults = {}
        for d in msg.defaults:
            if d.name not in arg_names or d.name in defaults:
                raise self.fail(f"a default for {d.name!r}, which is not an argument (or given twice)")
            defaults[d.name] = self.attribute(d.value, f"the default of {d.name!r}", 0, "the signature")
        return Signature(arg_names, in_spec, out_spec, mutations, defaults)

    def spec(self, msg: pb.TreeSpec, where: str):
        from distjit.pytree import TreeSpec

        kinds = {pb.TreeSpec.LEAF: "leaf", pb.TreeSpec.TUPLE: "tuple", pb.TreeSpec.LIST: "list",
                 pb.TreeSpec.DICT: "dict", pb.TreeSpec.STATIC: "static"}
        kind = kinds.get(msg.kind)
        if kind is None:
            raise self.fail(f"{where}: unknown tree kind {msg.kind}")
        children = tuple(self.spec(c, where) for c in msg.children)
        keys = tuple(self.attribute(k, f"{where} key", 0, "the signature") for k in msg.keys)
        static = None
        if kind in ("leaf", "static") and children:
            raise self.fail(f"{where}: a {kind} has children")
        if kind == "dict":
            if len(keys) != len(children):
                raise self.fail(f"{where}: a dict with {len(keys)} keys and {len(children)} children")
            try:
                if len(set(keys)) != len(keys):
                    raise self.fail(f"{where}: a dict repeats a key")
            except TypeError:
                raise self.fail(f"{where}: a dict key is not hashable") from None
        elif keys:
            raise self.fail(f"{where}: a {kind} has keys")
        if kind == "static":
            static = self.attribute(msg.static_value, where, 0, "the signature") \
                if msg.HasField("static_value") else None
            if static is not None and not isinstance(static, str):
                raise self.fail(f"{where}: a constant in the structure must be None or a string")
        return TreeSpec(kind, children, keys, static)

    def params(self, graph: Graph) -> dict[str, np.ndarray]:
        params: dict[str, np.ndarray] = {}
        for index in self.model.params:
            arr = self.tensors.array(index, f"{self.where}: parameter table")
            name = self.model.tensors[index].name
            if not name or name in params:
                raise self.fail(f"parameter tensor {index} has an empty or repeated name {name!r}")
            params[name] = arr
        for p in graph.params:
            if p.name not in params:
                raise self.fail(f"graph {graph.name} uses parameter %{p.name}, which the file does not contain")
            arr = params[p.name]
            t = p.type
            if not (isinstance(t, TensorType) and t.dtype == arr.dtype and t.shape == arr.shape):
                raise self.fail(f"parameter %{p.name} has type {t} in the graph but the stored tensor is "
                                f"{arr.dtype}{list(arr.shape)}")
        return params

    def check_plan(self) -> None:
        """Indices in the Plan must point into the graph, subgraph and task tables (the scheduler reads the rest)."""
        if not self.model.HasField("plan"):
            return
        plan = self.model.plan
        for s, g in enumerate(plan.subgraphs):
            if g >= len(self.graphs):
                raise self.fail(f"plan subgraph {s} is graph {g}, which does not exist")
        for t, task in enumerate(plan.tasks):
            if task.subgraph >= len(plan.subgraphs):
                raise self.fail(f"plan task {t} runs subgraph {task.subgraph}, which does not exist")
            for src in task.inputs:
                if src.kind == pb.Source.TASK and src.index >= t:
                    raise self.fail(f"plan task {t} reads task {src.index}, which is not before it")
        for o in plan.outputs:
            for src in o.sources:
                if src.kind == pb.Source.TASK and src.index >= len(plan.tasks):
                    raise self.fail("a plan output names a task that does not exist")


class GraphDecoder:
    """One Graph message → Graph; value numbers as in distjit.proto (Graph)."""

    def __init__(self, model: ModelDecoder, msg: pb.Graph, index: int):
        self.model = model
        self.msg = msg
        self.index = index
        self.values: list[Value] = []
        self.graph = Graph(msg.name or f"graph{index}")

    def fail(self, what: str) -> FormatError:
        return self.model.fail(f"graph {self.graph.name}: {what}")

    def decode(self) -> Graph:
        g = self.graph
        for p in self.msg.params:
            v = Value(self.name(p), self.type(p.type, p.name))
            g.params.append(v)
            self.values.append(v)
        self.block(self.msg.block, g.block)
        g._names = {v.name for v in self.values}
        g._counter = iter(range(_next_counter(g), 1 << 62))
        return g

    def name(self, v: pb.Value) -> str:
        if not v.name or any(c < " " for c in v.name):
            raise self.fail(f"value {len(self.values)} has an empty or unprintable name {v.name[:40]!r}")
        return v.name

    def value(self, number: int, where: str) -> Value:
        if number >= len(self.values):
            raise self.fail(f"{where} refers to value {number}, which is not defined before it "
                            f"({len(self.values)} values so far)")
        return self.values[number]

    def block(self, msg: pb.Block, block: Block) -> None:
        for p in msg.params:
            v = Value(self.name(p), self.type(p.type, p.name), block=block)
            block.params.append(v)
            self.values.append(v)
        for n in msg.nodes:
            block.append(self.node(n, block))
        for i, r in enumerate(msg.returns):
            block.add_return(self.value(r, f"return {i} of a block"))

    def node(self, msg: pb.Node, block: Block) -> Node:
        where = f"node {len(self.values)} ({msg.op[:60]!r})"
        from distjit.ops import REGISTRY
        from distjit.ops.registry import Kind

        if msg.op not in REGISTRY:
            raise self.fail(f"{where}: unknown op {msg.op[:60]!r} (not in this distjit's op registry)")
        opdef = REGISTRY.get(msg.op)
        declared = {p.name for p in opdef.params if p.kind is Kind.ATTR}
        loc = SourceLoc(msg.loc.file, msg.loc.line) if msg.HasField("loc") else None
        node = Node(msg.op, None, loc)
        node.block = block
        for i, number in enumerate(msg.inputs):
            node.add_input(self.value(number, f"{where}, input {i}"))
        for a in msg.attrs:
            if a.name not in declared:
                raise self.fail(f"{where}: {a.name[:60]!r} is not an attribute of {msg.op} "
                                f"(it takes: {', '.join(sorted(declared)) or 'none'})")
            if a.name in node.attrs:
                raise self.fail(f"{where}: attribute {a.name!r} is given twice")
            value = self.model.attribute(a.value, f"{where}, attribute {a.name!r}", self.index,
                                         f"graph {self.graph.name}, {where}")
            if isinstance(value, Graph) and not (a.name == "graph" and msg.op == "prim.Call"):
                raise self.fail(f"{where}: attribute {a.name!r} holds a {type(value).__name__}; "
                                f"only prim.Call's `graph` attribute holds a graph")
            node.attrs[a.name] = value
        for b in msg.blocks:
            nb = Block(self.graph, owner=node)
            node.blocks.append(nb)
            self.block(b, nb)
        for o in msg.outputs:
            v = Value(self.name(o), self.type(o.type, o.name), node=node)
            node.outputs.append(v)
            self.values.append(v)
        return node

    def type(self, msg: pb.Type, name: str) -> Type:
        kind = msg.WhichOneof("kind")
        where = f"the type of %{name[:60]}"
        if kind == "tensor":
            dtype = dtype_of(msg.tensor.dtype, f"{self.model.where}: graph {self.graph.name}: {where}")
            dims = []
            for d in msg.tensor.dims:
                which = d.WhichOneof("dim")
                if which == "size" and d.size >= 0:
                    dims.append(d.size)
                elif which == "symbol" and d.symbol and d.symbol.isprintable():
                    dims.append(d.symbol)
                else:
                    raise self.fail(f"{where}: invalid dim {d.size if which == 'size' else d.symbol!r}")
            return TensorType(dtype, tuple(dims))
        if kind == "scalar":
            if msg.scalar not in SCALAR_KINDS:
                raise self.fail(f"{where}: unknown scalar kind {msg.scalar}")
            return ScalarType(SCALAR_KINDS[msg.scalar])
        if kind == "tuple":
            return TupleType(tuple(self.type(e, name) for e in msg.tuple.elements))
        if kind == "none":
            return NONE
        if kind == "str":
            return STR
        if kind == "any":
            return ANY
        raise self.fail(f"{where}: missing or unknown type kind")
