"""Reading attribute values `{k=v, ...}` of the text form (see NOTE: [Text form] in printer.py).

The values are a subset of Python expressions, so they are parsed with `ast` and
only the node kinds the printer writes are accepted: nothing is ever evaluated,
and a hostile file cannot build objects NumPy or Python would run code for.
"""
from __future__ import annotations

import ast
import base64
import re
import struct

import numpy as np

from distjit.errors import FormatError
from distjit.ir.type_text import TypeParser, format_error
from distjit.types import Ref, TensorType

_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[(\[{]|[)\]}]')


class _AttrError(Exception):
    """An attribute value that is not one the printer writes; `node` is the ast node at fault."""

    def __init__(self, node, message: str):
        self.node = node
        self.message = message


class AttrReader:
    """Reads `{k=v, ...}` by parsing it as the call `_(k=v, ...)` and evaluating only whitelisted ast nodes.

    `parser` is the line parser (text.py) reading the node: its `line`, `lineno`
    and `fail` place errors, and its `graphs` are the ones `graph(name)` may name.
    """

    def __init__(self, parser):
        self.parser = parser
        # Big graphs repeat a few attribute dicts ({dtype=None}); immutable results are shared.
        self.cache: dict[str, dict] = {}

    def read(self, pos: int) -> tuple[dict, int]:
        line = self.parser.line
        end = self.closing(pos)
        inner = line[pos + 1:end]
        cached = self.cache.get(inner)
        if cached is not None:
            return dict(cached), end + 1
        source = f"_({inner})"
        try:
            call = ast.parse(source, mode="eval").body
        except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
            column = pos + e.offset - 1 if isinstance(e, SyntaxError) and e.offset and e.lineno == 1 else pos + 1
            raise format_error(self.parser.lineno, column, f"malformed attributes: {getattr(e, 'msg', e)}") from None
        try:
            attrs = self.keywords(call)
        except _AttrError as e:
            column = pos + _char_offset(source, getattr(e.node, "col_offset", 2))
            raise format_error(self.parser.lineno, column, e.message) from None
        if all(_immutable(v) for v in attrs.values()):
            self.cache[inner] = attrs
        return dict(attrs), end + 1

    def closing(self, pos: int) -> int:
        """The index of the `}` that closes the `{` at pos (brackets inside strings do not count)."""
        depth = 0
        for m in _BRACKETS.finditer(self.parser.line, pos):
            token = m.group()
            if token in "([{":
                depth += 1
            elif token in ")]}":
                depth -= 1
                if depth == 0:
                    return m.start()
        self.parser.fail(len(self.parser.line), "'}' closing the attributes")

    def keywords(self, call) -> dict:
        if not isinstance(call, ast.Call) or call.args:
            raise _AttrError(call, "expected attributes as {name=value, ...}")
        attrs: dict = {}
        for kw in call.keywords:
            if kw.arg is None:
                raise _AttrError(kw, "expected name=value")
            if kw.arg in attrs:
                raise _AttrError(kw, f"attribute {kw.arg!r} is given twice")
            attrs[kw.arg] = self.value(kw.value)
        return attrs

    def value(self, node):
        reader = _READERS.get(type(node))
        if reader is None:
            raise _AttrError(node, f"expected an attribute value, found Python {type(node).__name__}")
        return reader(self, node)

    def constant(self, node):
        v = node.value
        if v is None or v is Ellipsis or type(v) in (bool, int, float, str):
            return v
        raise _AttrError(node, f"expected an attribute value, found {type(v).__name__} {v!r}")

    def negative(self, node):
        v = self.value(node.operand)
        if not isinstance(node.op, ast.USub) or type(v) not in (int, float):
            raise _AttrError(node, "expected a number after '-'")
        return -v

    def name(self, node):
        if node.id == "inf":
            return float("inf")
        if node.id == "nan":
            return float("nan")
        raise _AttrError(node, f"unknown name {node.id!r}")

    def call(self, node):
        reader = _CALLS.get(node.func.id) if isinstance(node.func, ast.Name) else None
        if reader is None:
            raise _AttrError(node, "unknown constructor (expected complex, slice, ref, dtype, tensor, scalar, graph or nan)")
        if any(kw.arg is None for kw in node.keywords) or any(isinstance(a, ast.Starred) for a in node.args):
            raise _AttrError(node, "unexpected * or ** argument")
        return reader(self, node)

    # ---- constructors ----

    def args(self, node, count: int) -> list:
        if len(node.args) != count or node.keywords:
            raise _AttrError(node, f"{node.func.id}() takes {count} argument{'s' if count != 1 else ''}")
        return [self.value(a) for a in node.args]

    def number(self, node, value) -> float:
        if type(value) not in (int, float):
            raise _AttrError(node, "expected a number")
        try:
            return float(value)
        except OverflowError:
            raise _AttrError(node, "number too large for a float") from None

    def complex_(self, node):
        re_, im = self.args(node, 2)
        return complex(self.number(node.args[0], re_), self.number(node.args[1], im))

    def slice_(self, node):
        return slice(*self.args(node, 3))

    def ref(self, node):
        (index,) = self.args(node, 1)
        if type(index) is not int or index < 0:
            raise _AttrError(node, "ref() takes an input index >= 0")
        return Ref(index)

    def nan(self, node):
        (bits,) = self.args(node, 1)
        if type(bits) is not int or not 0 <= bits < 1 << 64 or (bits >> 52) & 0x7FF != 0x7FF or not bits & (1 << 52) - 1:
            raise _AttrError(node, "nan() takes the 64 bits of a NaN")
        return struct.unpack("<d", struct.pack("<Q", bits))[0]

    def dtype(self, node):
        (name,) = self.args(node, 1)
        return self.dtype_named(node, name)

    def dtype_named(self, node, name) -> np.dtype:
        if type(name) is not str:
            raise _AttrError(node, "expected a dtype name")
        try:
            t = TypeParser(name + "[]").parse_all()
        except FormatError:
            raise _AttrError(node, f"unknown dtype {name!r}") from None
        return _value_dtype(node, t.dtype)

    def tensor(self, node):
        type_text, dtype, shape = self.tensor_type(node)
        if len(node.args) == 2 and not node.keywords:
            data = self.value(node.args[1])
            _check_elements(node.args[1], data)
            arr = _array(node, data, dtype)
            if arr.shape != shape and not (arr.size == 0 and 0 in shape):
                raise _AttrError(node, f"elements of shape {arr.shape} do not fit {type_text}")
            return arr.reshape(shape)
        return self.from_b64(node, dtype, shape)

    def tensor_type(self, node):
        if not node.args or type(type_text := self.value(node.args[0])) is not str:
            raise _AttrError(node, 'expected tensor("f32[2,3]", elements) or tensor("f32[2,3]", b64="...")')
        try:
            t = TypeParser(type_text).parse_all()
        except FormatError:
            t = None
        if not isinstance(t, TensorType) or not t.is_static:
            raise _AttrError(node.args[0], f"expected a tensor type with static shape, found {type_text!r}")
        return type_text, _value_dtype(node.args[0], t.dtype), t.shape

    def scalar(self, node):
        if not node.args:
            raise _AttrError(node, 'expected scalar("f32", value) or scalar("f32", b64="...")')
        dtype = self.dtype_named(node.args[0], self.value(node.args[0]))
        if len(node.args) == 2 and not node.keywords:
            value = self.value(node.args[1])
            _check_elements(node.args[1], value)
            if isinstance(value, list):
                raise _AttrError(node.args[1], "expected one value")
            return _array(node, value, dtype)[()]
        return self.from_b64(node, dtype, ())[()]

    def from_b64(self, node, dtype: np.dtype, shape: tuple) -> np.ndarray:
        if len(node.args) != 1 or len(node.keywords) != 1 or node.keywords[0].arg != "b64":
            raise _AttrError(node, f"expected {node.func.id}(type, elements) or {node.func.id}(type, b64=\"...\")")
        text = self.value(node.keywords[0].value)
        try:
            raw = base64.b64decode(text, validate=True) if type(text) is str else None
        except ValueError:
            raw = None
        size = int(np.prod(shape, dtype=np.int64))
        if raw is None or len(raw) != size * dtype.itemsize:
            raise _AttrError(node.keywords[0].value, f"expected base64 of {size} {dtype} values")
        return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)

    def graph(self, node):
        if len(node.args) != 1 or node.keywords:
            raise _AttrError(node, "graph() takes a graph name")
        arg = node.args[0]
        name = arg.id if isinstance(arg, ast.Name) else arg.value if isinstance(arg, ast.Constant) else None
        graph = self.parser.graphs.get(name) if isinstance(name, str) else None
        if graph is None:
            raise _AttrError(arg, f"expected the name of a graph defined above, found {ast.unparse(arg)}")
        return graph


_READERS = {
    ast.Constant: AttrReader.constant,
    ast.UnaryOp: AttrReader.negative,
    ast.Name: AttrReader.name,
    ast.Tuple: lambda self, node: tuple(self.value(e) for e in node.elts),
    ast.List: lambda self, node: [self.value(e) for e in node.elts],
    ast.Call: AttrReader.call,
}

_CALLS = {
    "complex": AttrReader.complex_,
    "slice": AttrReader.slice_,
    "ref": AttrReader.ref,
    "nan": AttrReader.nan,
    "dtype": AttrReader.dtype,
    "tensor": AttrReader.tensor,
    "scalar": AttrReader.scalar,
    "graph": AttrReader.graph,
}

_ELEMENT_TYPES = (bool, int, float, complex, str)


def _check_elements(node, data) -> None:
    """Tensor elements are nested lists of numbers, bools or strings (nothing NumPy would make objects of)."""
    if isinstance(data, list):
        for item in data:
            _check_elements(node, item)
    elif type(data) not in _ELEMENT_TYPES:
        raise _AttrError(node, f"expected tensor elements, found {type(data).__name__}")


def _value_dtype(node, dtype: np.dtype) -> np.dtype:
    """Attribute arrays hold plain values: no objects, no records (NumPy cannot read those from bytes)."""
    if dtype.kind in "OV" or dtype.itemsize == 0:
        raise _AttrError(node, f"dtype {dtype} cannot hold attribute values")
    return dtype


def _array(node, data, dtype: np.dtype) -> np.ndarray:
    try:
        with np.errstate(all="ignore"):
            return np.array(data, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as e:
        raise _AttrError(node, f"elements do not fit dtype {dtype}: {e}") from None


def _immutable(value) -> bool:
    if isinstance(value, (tuple, slice)):
        items = (value.start, value.stop, value.step) if isinstance(value, slice) else value
        return all(_immutable(v) for v in items)
    return not isinstance(value, (list, np.ndarray))


def _char_offset(source: str, byte_offset: int) -> int:
    """ast column offsets count UTF-8 bytes; errors count characters."""
    return len(source.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))
