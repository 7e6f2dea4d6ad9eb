"""The text form of graphs: `print_graph(graph)` is what `str(graph)` shows.

NOTE: [Text form]
The text is the contract between the printer and `distjit.ir.text` (the parser):
`Graph.parse(str(g))` prints identically. One example::

    graph mlp(%x: f32[B,512], %w1: f32[512,1024]) {
      params(%fc1.bias: f32[1024])
      %0: f32[B,1024] = np.matmul(%x, %w1)  # /home/u/mlp.py:3
      %c: f64[] = prim.Constant() {value=tensor("f64[]", 1.5)}
      %1: f32[B,1024] = prim.If(%ok)  # f.py:7
        block() {
          %2: f32[B,1024] = np.negative(%0)
          -> (%2)
        }
        block() {
          -> (%0)
        }
      return (%1)
    }

A node is `outputs = op(inputs) {attrs}  # file:line`; the outputs, the attributes
and the location are left out when there are none. Names that are not made of
letters, digits, `_` and `.` are quoted (`%"a b"`), and so is a file name that
could not be read back from the end of the line.

Attribute values are a subset of Python expressions (read back with `ast`, never
`eval`): None, True, False, ints, floats (`inf`, `-inf`, `nan`, `-nan`, and
`nan(0x7ff4000000000000)` for any other NaN bit pattern), `complex(re, im)`,
double-quoted strings, tuples, lists, `...`, `slice(start, stop, step)`, `ref(k)`
(`Ref(k)`), `dtype("f32")`, `tensor("f32[2,3]", [[...], [...]])` for arrays
(`tensor("f32[1000]", b64="...")` when large or when the list would not give the
same bits back), `scalar("f32", 1.5)` for NumPy scalars, and `graph(name)` for a
`Graph`. Graphs used by attributes are printed first, as their own definitions,
each once; the graph printed last is the one `print_graph` was given.
"""
from __future__ import annotations

import base64
import json
import keyword
import math
import re
import struct
from typing import Callable

import numpy as np

from distjit.ir.graph import Block, Graph, Node, Value, iter_graphs
from distjit.types import Ref, dtype_name, parse_dtype

INDENT = "  "
# Names printed without quotes; the parser scans names with the same pattern. ASCII only: a Unicode
# letter or digit (`ﬁ`, `²`) would be read back in other forms by readers that normalize or convert it.
NAME = re.compile(r"[A-Za-z0-9_.]+")
# Arrays up to this many elements print their elements; larger ones print base64 bytes.
MAX_LISTED = 64
# CPython's float("nan") and its negation: the NaNs printed as `nan` and `-nan`.
NAN_BITS = struct.unpack("<Q", struct.pack("<d", math.nan))[0]
NEG_NAN_BITS = NAN_BITS | (1 << 63)


def print_graph(graph: Graph) -> str:
    """The text of `graph`, preceded by the graphs its attributes use (callees first)."""
    graphs = _graphs_in_print_order(graph)
    labels = _labels(graph, graphs)
    return "\n\n".join(_GraphPrinter(g, labels).text() for g in graphs)


def _graphs_in_print_order(graph: Graph) -> list[Graph]:
    """Every graph reachable through attributes, depth-first, each once, callees before callers."""
    order: list[Graph] = []
    state: dict[int, str] = {}

    def visit(g: Graph) -> None:
        state[id(g)] = "open"
        for node in g.walk():
            for value in node.attrs.values():
                for callee in iter_graphs(value):
                    if state.get(id(callee)) == "open":
                        raise ValueError(f"graph {callee.name} calls itself; recursive graphs cannot be printed")
                    if id(callee) not in state:
                        visit(callee)
        state[id(g)] = "done"
        order.append(g)

    visit(graph)
    return order


def _labels(top: Graph, graphs: list[Graph]) -> dict[int, str]:
    """A distinct name per graph: its own name, or `name.k` when another graph printed earlier has it.

    The top graph keeps its name; the others are named in print order, so labels are deterministic.
    """
    labels = {id(top): top.name}
    taken = {top.name}
    for g in graphs:
        if id(g) in labels:
            continue
        label, k = g.name, 0
        while label in taken:
            k += 1
            label = f"{g.name}.{k}"
        labels[id(g)] = label
        taken.add(label)
    return labels


class _GraphPrinter:
    def __init__(self, graph: Graph, labels: dict[int, str]):
        self.graph = graph
        self.labels = labels
        self.lines: list[str] = []
        self.types: dict = {}   # str(type) per type: printing big graphs repeats a few types many times

    def text(self) -> str:
        g = self.graph
        self.lines.append(f"graph {format_name(self.labels[id(g)])}({self.typed(g.inputs)}) {{")
        if g.params:
            self.lines.append(f"{INDENT}params({self.typed(g.params)})")
        for value, assumed in g.guards.items():
            self.lines.append(f"{INDENT}guard {value_ref(value)} == {format_guard(assumed)}")
        self.nodes(g.block, INDENT)
        self.lines.append(f"{INDENT}return ({refs(g.outputs)})")
        self.lines.append("}")
        return "\n".join(self.lines)

    def nodes(self, block: Block, indent: str) -> None:
        for node in block.nodes:
            self.lines.append(indent + self.node_line(node))
            for b in node.blocks:
                self.lines.append(f"{indent}{INDENT}block({self.typed(b.params)}) {{")
                self.nodes(b, indent + INDENT * 2)
                self.lines.append(f"{indent}{INDENT * 2}-> ({refs(b.returns)})")
                self.lines.append(f"{indent}{INDENT}}}")

    def node_line(self, node: Node) -> str:
        line = f"{node.op}({refs(node.inputs)})"
        if node.outputs:
            line = f"{self.typed(node.outputs)} = {line}"
        attrs = _printed_attrs(node)
        if attrs:
            line += " {" + ", ".join(self.attr(node, k, v) for k, v in attrs.items()) + "}"
        if node.loc is not None:
            line += f"  # {format_loc(node.loc)}"
        return line

    def attr(self, node: Node, key, value) -> str:
        try:
            if not (isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)):
                raise TypeError("attribute names must be Python identifiers")
            return f"{key}={format_attr(value, self.label)}"
        except TypeError as e:
            raise TypeError(f"{describe_node(node)}: attribute {key!r}: {e}") from None

    def label(self, graph: Graph) -> str:
        return self.labels[id(graph)]

    def typed(self, values: list[Value]) -> str:
        return ", ".join(f"{value_ref(v)}: {self.type(v.type)}" for v in values)

    def type(self, t) -> str:
        text = self.types.get(t)
        if text is None:
            text = self.types[t] = str(t)
        return text


def value_ref(value: Value) -> str:
    return "%" + format_name(value.name)


def refs(values: list[Value]) -> str:
    return ", ".join(value_ref(v) for v in values)


def format_name(name: str) -> str:
    return name if NAME.fullmatch(name) else quote(name)


def format_loc(loc) -> str:
    """`file:line`; the file is quoted when reading it back up to the last colon would not give it."""
    file = loc.file
    if not file or file[0] == '"' or file != file.strip() or any(c < " " for c in file):
        file = quote(file)
    return f"{file}:{loc.line}"


def describe_node(node: Node) -> str:
    """A node as errors name it: `%3 = np.add(%1, %2)` (also when the node is broken, for the verifier)."""
    def names(values) -> str:
        return ", ".join(value_ref(v) if isinstance(v, Value) else f"<{type(v).__name__}>" for v in values)

    call = f"{node.op}({names(node.inputs)})"
    return f"{names(node.outputs)} = {call}" if node.outputs else call


def quote(s: str) -> str:
    """A double-quoted literal that JSON and Python both read as `s` (lone surrogates are escaped)."""
    text = json.dumps(s, ensure_ascii=False)
    return re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text)


# ---- attribute values ---------------------------------------------------------------------------

def format_attr(value, label: Callable[[Graph], str]) -> str:
    """The text of an attribute value; `label` names a graph. Raises TypeError for unsupported values."""
    for kind, fmt in _ATTR_FORMATS:
        if isinstance(value, kind):
            return fmt(value, label)
    hint = f" ({value.__name__}: normalize dtypes with np.dtype(...))" if isinstance(value, type) else ""
    raise TypeError(f"cannot print an attribute value of type {type(value).__name__}{hint}")


def format_guard(value) -> str:
    """A guard's value: a Python bool, int or float, as Python writes it (floats as attributes print them)."""
    return format_float(value) if isinstance(value, float) else repr(value)


def format_float(x: float) -> str:
    if x == x:
        return repr(float(x))
    bits = struct.unpack("<Q", struct.pack("<d", x))[0]
    if bits == NAN_BITS:
        return "nan"
    if bits == NEG_NAN_BITS:
        return "-nan"
    return f"nan(0x{bits:016x})"


def _format_sequence(items, label, open_, close) -> str:
    inner = ", ".join(format_attr(v, label) for v in items)
    if open_ == "(" and len(items) == 1:
        inner += ","
    return f"{open_}{inner}{close}"


def _format_tensor(arr: np.ndarray, label) -> str:
    arr, dtype = _native(arr)
    type_text = f"{dtype_name(dtype)}[{','.join(str(d) for d in arr.shape)}]"
    if arr.size <= MAX_LISTED and _lists_exactly(arr):
        return f"tensor({quote(type_text)}, {format_attr(arr.tolist(), label)})"
    return f"tensor({quote(type_text)}, b64={quote(_b64(arr))})"


def _format_scalar(x: np.generic, label) -> str:
    arr, dtype = _native(np.asarray(x))
    if _lists_exactly(arr):
        return f"scalar({quote(dtype_name(dtype))}, {format_attr(arr.item(), label)})"
    return f"scalar({quote(dtype_name(dtype))}, b64={quote(_b64(arr))})"


def _native(arr: np.ndarray) -> tuple[np.ndarray, np.dtype]:
    """C-ordered, native byte order; the dtype must be one the text can name (no objects, no records)."""
    dtype = arr.dtype.newbyteorder("=")
    if dtype.kind in "OV" or parse_dtype(dtype_name(dtype)) != dtype:
        raise TypeError(f"arrays of dtype {arr.dtype} cannot be printed")
    return arr.astype(dtype, order="C", copy=False), dtype


_LISTABLE = (bool, int, float, complex, str)


def _lists_exactly(arr: np.ndarray) -> bool:
    """Whether the elements, printed and read back into this dtype, give the same bytes."""
    items = arr.ravel().tolist()
    if not all(isinstance(v, _LISTABLE) for v in items):
        return False
    try:
        back = np.array(items, dtype=arr.dtype)
    except (TypeError, ValueError, OverflowError):
        return False
    return back.tobytes() == arr.tobytes()


def _b64(arr: np.ndarray) -> str:
    little = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    return base64.b64encode(little.tobytes()).decode("ascii")


def _format_dtype(d: np.dtype, label) -> str:
    if d.kind in "OV" or parse_dtype(dtype_name(d)) != d:
        raise TypeError(f"dtype {d} cannot be printed")
    return f"dtype({quote(dtype_name(d))})"


def _format_slice(s: slice, label) -> str:
    return f"slice({format_attr(s.start, label)}, {format_attr(s.stop, label)}, {format_attr(s.step, label)})"


def _format_graph(g: Graph, label) -> str:
    name = label(g)
    bare = name.isidentifier() and not keyword.iskeyword(name)
    return f"graph({name if bare else quote(name)})"


# First match wins: bool before int, NumPy scalars before float and complex (np.float64 is a float).
_ATTR_FORMATS = [
    (type(None), lambda v, label: "None"),
    (bool, lambda v, label: repr(v)),
    (np.generic, _format_scalar),
    (np.ndarray, _format_tensor),
    (int, lambda v, label: repr(int(v))),
    (float, lambda v, label: format_float(v)),
    (complex, lambda v, label: f"complex({format_float(v.real)}, {format_float(v.imag)})"),
    (str, lambda v, label: quote(v)),
    (tuple, lambda v, label: _format_sequence(v, label, "(", ")")),
    (list, lambda v, label: _format_sequence(v, label, "[", "]")),
    (type(Ellipsis), lambda v, label: "..."),
    (slice, _format_slice),
    (Ref, lambda v, label: f"ref({v.index})"),
    (np.dtype, _format_dtype),
    (Graph, _format_graph),
]


def _printed_attrs(node: Node) -> dict:
    """Attributes equal to the op's declared defaults are left out (the parser fills them back in)."""
    from distjit.ops import REGISTRY
    from distjit.ops.registry import explicit_attrs

    if node.op in REGISTRY:
        return explicit_attrs(REGISTRY.get(node.op), node.attrs)
    return node.attrs
