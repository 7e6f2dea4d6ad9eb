"""`Model` message → Function (the reading half of the format), checking everything it reads.

The decoder trusts nothing: every index is checked against its table, every
value number against the values defined so far, every enum against its
whitelist, every tensor against the data section. It builds plain IR objects
and runs the verifier on them; pickled attributes are refused unless the caller
allows them. Each failure is a FormatError naming where it is (graph, node,
attribute).
"""
from __future__ import annotations

import math
import keyword
import pickle
import re
from typing import Any

import numpy as np

from distjit.errors import FormatError, VerifyError
from distjit.ir.clone import _next_counter
from distjit.ir.graph import Block, Graph, Node, SourceLoc, Value
from distjit.ir.calls import CallExpansionError, check_expansion
from distjit.ir.type_text import DIM_SYMBOL
from distjit.ir.verifier import verify_all
from distjit.types import ANY, NONE, STR, Ref, ScalarType, TensorType, TupleType, Type
from distjit.serialize import distjit_pb2 as pb
from distjit.serialize.dtypes import SCALAR_KINDS, SCALAR_TYPES, dtype_of
from distjit.serialize.layout import ALIGN, crc32

_MAX_BIG_INT_DIGITS = 4000      # below CPython's int/str conversion limit
_BIG_INT = re.compile(r"-?[0-9]+", re.ASCII)


class TensorTable:
    """The tensor descriptors, checked against the data section; arrays are built on first use, read-only."""

    def __init__(self, model: pb.Model, data, data_offset: int, data_length: int, where: str):
        self.model = model
        self.data = data                # a buffer holding the whole file (mmap or bytes)
        self.data_offset = data_offset
        self.where = where
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
            arr = np.frombuffer(self.data, dtype=dtype, count=desc.length // dtype.itemsize, offset=start)
            arr = arr.reshape(tuple(desc.shape))
            arr.flags.writeable = False
            self.arrays[index] = arr
        return self.arrays[index]

    def check(self, index: int) -> None:
        """One streaming pass over the tensor's bytes, in chunks (NOTE: [Checksums] in files.py)."""
        desc = self.model.tensors[index]
        start = self.data_offset + desc.offset
        view = memoryview(self.data)[start:start + desc.length]
        crc = 0
        for pos in range(0, len(view), 64 << 20):
            crc = crc32(view[pos:pos + (64 << 20)], crc)
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
        self.types: dict[bytes, Type] = {}
        self.ops: dict[str, tuple] = {}          # op name -> (OpDef, {attribute: its declared rank}, holders)
        self.locs: dict[tuple[str, int], SourceLoc] = {}

    def op_info(self, op: str, unknown) -> tuple:
        """What decoding a node of `op` needs from the registry, looked up once per op (`unknown()`: its error)."""
        from distjit.ops import REGISTRY
        from distjit.ops.registry import Kind

        if op not in REGISTRY:
            raise unknown()
        opdef = REGISTRY.get(op)
        declared = {p.name for p in opdef.params if p.kind is Kind.ATTR}
        ranks = {name: i for i, name in enumerate(opdef.attr_defaults)}
        order = {name: ranks.get(name, len(ranks)) for name in declared}

        def holders() -> str:
            return ", ".join(f"{d.name}.{g}" for d in REGISTRY for g in d.graph_attrs)
        self.ops[op] = info = (opdef, order, holders)
        return info

    def loc(self, msg: pb.SourceLoc) -> SourceLoc:
        """Nodes of one source line share one SourceLoc."""
        key = (msg.file, msg.line)
        loc = self.locs.get(key)
        if loc is None:
            loc = self.locs[key] = SourceLoc(*key)
        return loc

    def fail(self, what: str) -> FormatError:
        return FormatError(f"{self.where}: {what}")

    # ---- graphs ----
    def decode_graphs(self) -> list[Graph]:
        for i, msg in enumerate(self.model.graphs):
            self.graphs.append(GraphDecoder(self, msg, i).decode())
        try:
            verify_all(self.graphs)      # one set of verified graphs for the file: linear in its size
        except VerifyError as e:
            raise self.fail(f"a graph is malformed: {e}") from None
        except RecursionError:
            raise self.fail("a graph nests too deeply") from None
        sizes: dict = {}
        for g in self.graphs:
            try:
                check_expansion(g, sizes)    # NOTE: [Call expansion budget]
            except CallExpansionError as e:
                raise self.fail(str(e)) from None
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
            if len(s) > _MAX_BIG_INT_DIGITS or not _BIG_INT.fullmatch(s):
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
    def signature(self, graph: Graph, msg: pb.Signature | None = None):
        from distjit.function import Signature

        msg = self.model.signature if msg is None else msg
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
        zero_d = tuple(msg.zero_d_arrays)
        if list(zero_d) != sorted(set(zero_d)):
            raise self.fail(f"the 0-d array outputs {list(zero_d)[:8]} are not increasing")
        for index in zero_d:
            t = graph.outputs[index].type if index < n_out else None
            if not (isinstance(t, TensorType) and t.ndim == 0):
                raise self.fail(f"0-d array output {index} is not a 0-d tensor output of the graph "
                                f"({'no such user output' if t is None else t})")
        return Signature(arg_names, in_spec, out_spec, mutations, defaults, zero_d)

    def spec(self, msg: pb.TreeSpec, where: str):
        from distjit.pytree import TreeSpec

        kinds = {pb.TreeSpec.LEAF: "leaf", pb.TreeSpec.TUPLE: "tuple", pb.TreeSpec.LIST: "list",
                 pb.TreeSpec.DICT: "dict", pb.TreeSpec.STATIC: "static", pb.TreeSpec.NAMED_TUPLE: "namedtuple"}
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
        elif kind == "namedtuple":
            static = self.attribute(msg.static_value, where, 0, "the signature") \
                if msg.HasField("static_value") else None
            names = (static, *keys)
            if len(keys) != len(children) or not all(isinstance(n, str) and n.isidentifier() and
                                                     not keyword.iskeyword(n) and not n.startswith("_")
                                                     for n in names) or len(set(keys)) != len(keys):
                raise self.fail(f"{where}: a named tuple needs a class name and one distinct field name per "
                                "child, each a Python identifier")
        elif keys:
            raise self.fail(f"{where}: a {kind} has keys")
        if kind == "static":
            static = self.attribute(msg.static_value, where, 0, "the signature") \
                if msg.HasField("static_value") else None
            if static is not None and not isinstance(static, str):
                raise self.fail(f"{where}: a constant in the structure must be None or a string")
        return TreeSpec(kind, children, keys, static)

    def params(self, graph: Graph, indices=None) -> dict[str, np.ndarray]:
        params: dict[str, np.ndarray] = {}
        for index in (self.model.params if indices is None else indices):
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

    # ---- plans (NOTE: [Plan structure] in distjit/partition/plan.py) ----
    def plans(self, graph: Graph, signature, params: dict, msgs=None) -> dict:
        """The Function's plans by key (workers, ((name, axis), ...)), every index checked."""
        plans: dict = {}
        for i, msg in enumerate(self.model.plans if msgs is None else msgs):
            key, plan = PlanDecoder(self, msg, i, graph, signature, params).decode()
            if key in plans:
                raise self.fail(f"plan {i} repeats the key workers={key[0]}, shard={dict(key[1])} of an earlier plan")
            plans[key] = plan
        return plans


_MAX_PARTS = 1 << 20


class PlanDecoder:
    """One Plan message → (key, distjit.partition.plan.Plan), against the decoded main graph and signature."""

    def __init__(self, model: ModelDecoder, msg: pb.Plan, index: int, graph: Graph, signature, params: dict):
        self.model = model
        self.msg = msg
        self.index = index
        self.graph = graph
        self.signature = signature
        self.params = params

    def fail(self, what: str) -> FormatError:
        return self.model.fail(f"plan {self.index} ({self.msg.name[:60]!r}): {what}")

    def number(self, x: float, what: str) -> float:
        if not (math.isfinite(x) and x >= 0):
            raise self.fail(f"{what} is {x}; it must be a finite number >= 0")
        return x

    def decode(self):
        from distjit.partition.plan import Output, Plan, Task

        msg = self.msg
        if not 1 <= msg.parts <= _MAX_PARTS:
            raise self.fail(f"parts is {msg.parts}; it must be between 1 and {_MAX_PARTS}")
        if msg.workers < 1:
            raise self.fail("workers is 0; a plan is made for at least one worker")
        key = (msg.workers, self.shard_key())
        paths = self.signature.input_paths()
        if list(msg.input_names) != paths:
            raise self.fail(f"its input names {list(msg.input_names)[:8]} are not the function's inputs {paths[:8]}")
        if len(msg.inputs) != len(self.graph.inputs):
            raise self.fail(f"{len(msg.inputs)} input layouts for {len(self.graph.inputs)} graph inputs")
        layouts = [self.layout(li, v, name) for li, v, name in zip(msg.inputs, self.graph.inputs, paths)]
        self.layouts = layouts
        names = list(msg.params)
        for j, name in enumerate(names):
            if name not in self.params:
                raise self.fail(f"parameter {j} is {name[:60]!r}, which the function does not have")
        if len(set(names)) != len(names):
            raise self.fail("its parameter list repeats a name")
        subgraphs = []
        for s, g in enumerate(msg.subgraphs):
            if g >= len(self.model.graphs):
                raise self.fail(f"subgraph {s} is graph {g}, which does not exist ({len(self.model.graphs)} graphs)")
            sub = self.model.graphs[g]
            if sub.params:
                raise self.fail(f"subgraph {s} (graph {sub.name}) has named parameters; plan subgraphs read "
                                f"everything as inputs")
            subgraphs.append(sub)
        self.subgraphs = subgraphs
        tasks: list = []
        self.task_outputs: list[int] = []
        for t, tm in enumerate(msg.tasks):
            where = f"task {t} ({tm.name[:60]!r})"
            if tm.subgraph >= len(subgraphs):
                raise self.fail(f"{where} runs subgraph {tm.subgraph}, which does not exist "
                                f"({len(subgraphs)} subgraphs)")
            sub = subgraphs[tm.subgraph]
            shard = tm.shard if tm.HasField("shard") else None
            if shard is not None and shard >= msg.parts:
                raise self.fail(f"{where} is shard {shard}, but the plan has {msg.parts} parts")
            if len(tm.inputs) != len(sub.inputs):
                raise self.fail(f"{where} has {len(tm.inputs)} sources for the {len(sub.inputs)} inputs of its "
                                f"subgraph {sub.name}")
            inputs = [self.source(src, f"{where}, input {k}", t) for k, src in enumerate(tm.inputs)]
            tasks.append(Task(tm.name, tm.subgraph, tm.stage, shard, inputs,
                              self.number(tm.flops, f"{where}: flops"), self.number(tm.bytes, f"{where}: bytes"),
                              self.number(tm.seconds, f"{where}: seconds"),
                              self.number(tm.bytes_in, f"{where}: bytes_in")))
            self.task_outputs.append(len(sub.outputs))
        if len(msg.outputs) != len(self.graph.outputs):
            raise self.fail(f"{len(msg.outputs)} outputs for {len(self.graph.outputs)} graph outputs")
        outputs = []
        for o, om in enumerate(msg.outputs):
            where = f"output {o}"
            axis = om.axis if om.HasField("axis") else None
            if not om.sources:
                raise self.fail(f"{where} has no source")
            if axis is None and len(om.sources) != 1:
                raise self.fail(f"{where} has {len(om.sources)} sources but no axis to concatenate them along")
            t = self.graph.outputs[o].type
            if axis is not None and not (isinstance(t, TensorType) and 0 <= axis < t.ndim):
                raise self.fail(f"{where} is concatenated along axis {axis}, which {t} does not have")
            outputs.append(Output([self.source(src, f"{where}, source {k}", len(tasks))
                                   for k, src in enumerate(om.sources)], axis))
        overhead = self.number(msg.task_overhead_s, "task_overhead_s")
        plan = Plan(msg.name, msg.parts, msg.workers, paths, layouts, names, subgraphs, tasks, outputs, overhead)
        return key, plan

    def shard_key(self) -> tuple:
        paths = self.signature.input_paths()
        choices = []
        for c in self.msg.shard:
            if not any(p == c.name or p.startswith(f"{c.name}[") for p in paths):
                raise self.fail(f"it was made for shard={{{c.name[:60]!r}: ...}}, which names no input")
            choices.append((c.name, c.axis if c.HasField("axis") else None))
        if len({n for n, _ in choices}) != len(choices):
            raise self.fail("its shard choices repeat a name")
        return tuple(sorted(choices, key=lambda c: c[0]))

    def layout(self, msg: pb.InputLayout, v: Value, name: str):
        from distjit.partition.plan import InputLayout

        where = f"the layout of input {name[:60]}"
        if not msg.HasField("axis"):
            if msg.bounds:
                raise self.fail(f"{where}: a replicated input has shard bounds")
            return InputLayout(None, [])
        t = v.type
        if not isinstance(t, TensorType) or not 0 <= msg.axis < t.ndim:
            raise self.fail(f"{where}: split along axis {msg.axis}, which its type {t} does not have")
        if len(msg.bounds) != self.msg.parts:
            raise self.fail(f"{where}: {len(msg.bounds)} shard bounds, but the plan has {self.msg.parts} parts")
        expected_start = 0
        for k, b in enumerate(msg.bounds):
            if b.start != expected_start or b.stop < b.start:
                raise self.fail(f"{where}: shard {k} is [{b.start}, {b.stop}); shards must cover the axis in "
                                f"order from 0 without gaps or overlaps")
            expected_start = b.stop
        dim = t.shape[msg.axis]
        if not isinstance(dim, int) or expected_start != dim:
            raise self.fail(f"{where}: the shards cover [0, {expected_start}) of axis {msg.axis}, whose size is {dim}")
        return InputLayout(msg.axis, [(b.start, b.stop) for b in msg.bounds])

    def source(self, msg: pb.Source, where: str, tasks_before: int):
        from distjit.partition.plan import Source

        shard = msg.shard if msg.HasField("shard") else None
        if msg.kind == pb.Source.ARG:
            if msg.index >= len(self.layouts):
                raise self.fail(f"{where} reads argument {msg.index}, which does not exist "
                                f"({len(self.layouts)} inputs)")
            if shard is not None and (shard >= self.msg.parts or self.layouts[msg.index].axis is None):
                raise self.fail(f"{where} reads shard {shard} of argument {msg.index}, which is not split into "
                                f"that many parts")
            if msg.output:
                raise self.fail(f"{where} reads output {msg.output} of an argument")
            return Source("arg", msg.index, 0, shard)
        if msg.kind == pb.Source.PARAM:
            if msg.index >= len(self.msg.params):
                raise self.fail(f"{where} reads parameter {msg.index}, which does not exist "
                                f"({len(self.msg.params)} parameters)")
            if msg.output or shard is not None:
                raise self.fail(f"{where} reads an output or a shard of a parameter")
            return Source("param", msg.index, 0, None)
        if msg.kind == pb.Source.TASK:
            if msg.index >= tasks_before:
                raise self.fail(f"{where} reads task {msg.index}, which is not before it (tasks must form a DAG "
                                f"in topological order; {tasks_before} tasks before)")
            if msg.output >= self.task_outputs[msg.index]:
                raise self.fail(f"{where} reads output {msg.output} of task {msg.index}, which has "
                                f"{self.task_outputs[msg.index]}")
            if shard is not None:
                raise self.fail(f"{where} reads a shard of a task's output")
            return Source("task", msg.index, msg.output, None)
        raise self.fail(f"{where} has an unknown source kind {msg.kind}")


class GraphDecoder:
    """One Graph message → Graph; value numbers as in distjit.proto (Graph)."""

    def __init__(self, model: ModelDecoder, msg: pb.Graph, index: int):
        self.model = model
        self.msg = msg
        self.index = index
        self.values: list[Value] = []
        self.graph = Graph(msg.name or f"graph{index}")

    def fail(self, what: str) -> FormatError:
        name = self.graph.name
        return self.model.fail(f"graph {name if name.isprintable() else ascii(name[:40])}: {what}")

    def decode(self) -> Graph:
        g = self.graph
        if not g.name.isprintable():
            raise self.fail(f"graph {self.index} has an unprintable name {g.name[:40]!r}")
        for p in self.msg.params:
            v = Value(self.name(p), self.type(p.type, p.name))
            g.params.append(v)
            self.values.append(v)
        self.block(self.msg.block, g.block)
        self.guards(g)
        g._names = {v.name for v in self.values}
        g._counter = iter(range(_next_counter(g), 1 << 62))
        return g

    def guards(self, g: Graph) -> None:
        """Graph.guards (format 1.3): each names an input once and holds a bool, int or float (the verifier
        checks that it fits the input's type)."""
        for i, guard in enumerate(self.msg.guards):
            where = f"guard {i}"
            if guard.input >= len(g.inputs):
                raise self.fail(f"{where} names input {guard.input}, but the graph has {len(g.inputs)} inputs")
            value = g.inputs[guard.input]
            if value in g.guards:
                raise self.fail(f"{where} guards input %{value.name} a second time")
            if guard.value.WhichOneof("value") not in ("b", "i", "big_int", "f"):
                raise self.fail(f"{where}: a guard's value must be a bool, int or float")
            g.guards[value] = self.model.attribute(guard.value, where, 0, "")

    def name(self, v: pb.Value) -> str:
        name = v.name
        if not name or not name.isprintable():     # control codes would reach terminals and the text form
            raise self.fail(f"value {len(self.values)} has an empty or unprintable name {name[:40]!r}")
        return name

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
        op = msg.op
        opinfo = self.model.ops.get(op)
        if opinfo is None:
            opinfo = self.model.op_info(op, lambda: self.fail(
                f"node {len(self.values)} ({op[:60]!r}): unknown op {op[:60]!r} (not in this distjit's op "
                f"registry; if it is a custom op, import the module that declares it with distjit.custom_op "
                f"first)"))
        opdef, order, holders = opinfo
        loc = self.model.loc(msg.loc) if msg.HasField("loc") else None
        node = Node(op, None, loc)
        node.block = block
        values = self.values
        defined = len(values)
        for i, number in enumerate(msg.inputs):
            if number >= defined:
                raise self.fail(f"node {defined} ({op[:60]!r}), input {i} refers to value {number}, which is not "
                                f"defined before it ({defined} values so far)")
            node.add_input(values[number])
        attrs = node.attrs
        for a in msg.attrs:
            name = a.name
            where = f"node {defined} ({op[:60]!r})"
            if name not in order:
                raise self.fail(f"{where}: {name[:60]!r} is not an attribute of {op} "
                                f"(it takes: {', '.join(sorted(order)) or 'none'})")
            if name in attrs:
                raise self.fail(f"{where}: attribute {name!r} is given twice")
            value = self.model.attribute(a.value, f"{where}, attribute {name!r}", self.index,
                                         f"graph {self.graph.name}, {where}")
            if isinstance(value, Graph) and name not in opdef.graph_attrs:    # a call's callee, a fused expression
                raise self.fail(f"{where}: attribute {name!r} holds a {type(value).__name__}; "
                                f"only these attributes hold a graph: {holders()}")
            if name == "dtype" and not (value is None or isinstance(value, np.dtype)):
                raise self.fail(f"{where}: attribute 'dtype' holds a {type(value).__name__}, not a dtype")
            attrs[name] = value
        # in declared order, as the text parser puts them, so the graph a worker parses from the text form
        # prints as this one; a file written by distjit already has this order
        if len(attrs) > 1:
            ranks = [order[k] for k in attrs]
            if ranks != sorted(ranks):
                node.attrs = dict(sorted(attrs.items(), key=lambda kv: order[kv[0]]))
        for b in msg.blocks:
            nb = Block(self.graph, owner=node)
            node.blocks.append(nb)
            self.block(b, nb)
        outputs = node.outputs
        for o in msg.outputs:
            name = self.name(o)
            v = Value(name, self.type(o.type, name), node=node)
            outputs.append(v)
            values.append(v)
        return node

    def type(self, msg: pb.Type, name: str) -> Type:
        """Types are immutable, and a file repeats a few of them many times: each distinct one is decoded once."""
        key = msg.SerializeToString()      # deterministic without asking: a Type has no map fields
        t = self.model.types.get(key)
        if t is None:
            t = self.model.types[key] = self.decode_type(msg, name)
        return t

    def decode_type(self, msg: pb.Type, name: str) -> Type:
        kind = msg.WhichOneof("kind")
        where = f"the type of %{name[:60]}"
        if kind == "tensor":
            dtype = dtype_of(msg.tensor.dtype, f"{self.model.where}: graph {self.graph.name}: {where}")
            dims = []
            for d in msg.tensor.dims:
                which = d.WhichOneof("dim")
                if which == "size" and d.size >= 0:
                    dims.append(d.size)
                elif which == "symbol" and DIM_SYMBOL.fullmatch(d.symbol):
                    dims.append(d.symbol)
                else:
                    raise self.fail(f"{where}: invalid dim {d.size if which == 'size' else d.symbol!r}")
            return TensorType(dtype, tuple(dims))
        if kind == "scalar":
            if msg.scalar not in SCALAR_KINDS:
                raise self.fail(f"{where}: unknown scalar kind {msg.scalar}")
            return ScalarType(SCALAR_KINDS[msg.scalar])
        if kind == "tuple":
            return TupleType(tuple(self.decode_type(e, name) for e in msg.tuple.elements))
        if kind == "none":
            return NONE
        if kind == "str":
            return STR
        if kind == "any":
            return ANY
        raise self.fail(f"{where}: missing or unknown type kind")
