"""Reading the text form back: `parse_graph(text)` and `TypeParser` (see NOTE: [Text form] in printer.py).

The parser is a hand-written line scanner: one node per line, so a graph of
100,000 nodes reads in about a second. Attribute values are the only part read
with `ast`, and only the node kinds the printer writes are accepted (nothing is
ever evaluated). It keeps the printed types and does not consult the op registry:
checking that the graph makes sense is the verifier's job, so a graph that is
well-formed text but broken IR parses, and `Graph.verify` says what is wrong.

Every malformed input raises `FormatError` with the line and column and what was
expected there.
"""
from __future__ import annotations

import ast
import base64
import re
import struct
from typing import NoReturn

import numpy as np

from distjit.errors import FormatError
from distjit.ir.graph import Block, Graph, Node, SourceLoc, Value
from distjit.types import (ANY, NONE, STR, _DTYPES_BY_SHORT, Ref, ScalarType, TensorType, TupleType, Type,
                           parse_dtype)
from distjit.ir.printer import NAME

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_OP = re.compile(r"[A-Za-z_][\w.]*")
_DIM = re.compile(r"[0-9]+|[A-Za-z_?][A-Za-z0-9_?]*")
# A dtype is a short name (f32) or NumPy's own string for it (<U5, |S3, <M8[ns]).
_DTYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]*|[<>|=][A-Za-z][0-9]*")
# The types big graphs are made of (f32[B,3], int); anything else takes TypeParser's slow path.
_SIMPLE_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\[[A-Za-z0-9_?,]*\])?")
# A node with one output of a simple type and plain value names: most lines of big graphs.
_COMMON_NODE = re.compile(r"%([\w.]+): ([A-Za-z][A-Za-z0-9_]*(?:\[[A-Za-z0-9_?,]*\])?) = "
                          r"([A-Za-z_][\w.]*)\(((?:%[\w.]+(?:, %[\w.]+)*)?)\)")
_LINE_NUMBER = re.compile(r"-?[0-9]+")
_MAX_TUPLE_DEPTH = 64
_UNIT = re.compile(r"\[\w+\]\[")
_NAMED_TYPES = {"int": ScalarType("int"), "float": ScalarType("float"), "bool": ScalarType("bool"),
                "complex": ScalarType("complex"), "None": NONE, "str": STR, "Any": ANY}


def parse_type(text: str) -> Type:
    """Parse the text form of a type (``f32[B,3]``, ``int``, ``(f32[], int)``)."""
    return TypeParser(text).parse_all()


def parse_graph(text: str) -> Graph:
    """The last graph defined in `text` (the ones before it are graphs its `prim.Call`s use)."""
    return _Parser(text).parse()


def format_error(line: int, column: int, message: str) -> FormatError:
    return FormatError(f"line {line}, column {column}: {message}")


def _found(text: str, pos: int) -> str:
    rest = text[pos:pos + 24]
    return repr(rest) if rest else "end of line"


class TypeParser:
    """Reads a type from `text` at `pos`; `line` is the text's line number, for errors.

    >>> TypeParser("(f32[B,3], int)").parse_all()
    TupleType(elements=(TensorType(dtype=dtype('float32'), shape=('B', 3)), ScalarType(kind='int')))
    """

    def __init__(self, text: str, pos: int = 0, line: int = 1):
        self.text = text
        self.pos = pos
        self.line = line
        self.depth = 0   # of nested tuples: bounded, so that no input can exhaust the stack

    def parse_all(self) -> Type:
        """The type that is the whole text."""
        t = self.parse()
        self.skip_spaces()
        if self.pos != len(self.text):
            self.fail("end of type")
        return t

    def parse(self) -> Type:
        """The type at `pos`; `pos` moves past it."""
        self.skip_spaces()
        if self.text.startswith("(", self.pos):
            return self.tuple_type()
        start = self.pos
        m = _DTYPE.match(self.text, start)
        if not m:
            self.fail("a type")
        self.pos = m.end()
        if not self.text.startswith("[", self.pos):
            if m.group() not in _NAMED_TYPES:
                self.pos = start
                self.fail("a type (int, float, bool, complex, None, str, Any, a tensor like f32[B,3], or a tuple)")
            return _NAMED_TYPES[m.group()]
        dtype = self.dtype(m.group(), start)
        return TensorType(dtype, self.dims())

    def dtype(self, name: str, start: int) -> np.dtype:
        if name[0] in "<>|=" and self.unit_follows():
            close = self.text.index("]", self.pos)
            name += self.text[self.pos:close + 1]
            self.pos = close + 1
        elif name[0] not in "<>|=" and name not in _DTYPES_BY_SHORT:
            self.pos = start
            self.fail("a dtype (f32, i64, bool, ...)")
        try:
            return parse_dtype(name)
        except (TypeError, ValueError):
            self.pos = start
            self.fail("a dtype NumPy knows")

    def unit_follows(self) -> bool:
        """Whether `[...]` at pos is a datetime unit (`<M8[ns][3]`): the shape is always the last bracket."""
        return _UNIT.match(self.text, self.pos) is not None

    def dims(self) -> tuple:
        self.pos += 1  # "["
        dims: list = []
        self.skip_spaces()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return ()
        while True:
            self.skip_spaces()
            m = _DIM.match(self.text, self.pos)
            if not m:
                self.fail("a dim (an integer or a symbol like B)")
            dims.append(int(m.group()) if m.group()[0].isdigit() else m.group())
            self.pos = m.end()
            self.skip_spaces()
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return tuple(dims)
            self.expect(",")

    def tuple_type(self) -> TupleType:
        if self.depth == _MAX_TUPLE_DEPTH:
            self.fail(f"a type nested at most {_MAX_TUPLE_DEPTH} tuples deep")
        self.depth += 1
        self.pos += 1  # "("
        elements: list[Type] = []
        while True:
            self.skip_spaces()
            if self.text.startswith(")", self.pos):
                if len(elements) == 1 and not self.text.startswith(",", self.pos - 1):
                    self.fail("',' after the element of a 1-tuple")
                self.pos += 1
                self.depth -= 1
                return TupleType(tuple(elements))
            elements.append(self.parse())
            self.skip_spaces()
            if not self.text.startswith(")", self.pos):
                self.expect(",")

    def expect(self, literal: str) -> None:
        if not self.text.startswith(literal, self.pos):
            self.fail(repr(literal))
        self.pos += len(literal)

    def skip_spaces(self) -> None:
        while self.text.startswith(" ", self.pos):
            self.pos += 1

    def fail(self, expected: str) -> NoReturn:
        raise format_error(self.line, self.pos + 1, f"expected {expected}, found {_found(self.text, self.pos)}")


class _Parser:
    """Reads graph definitions line by line; `line`, `lineno` are the line being read (for errors)."""

    def __init__(self, text: str):
        self.lines = text.split("\n")
        self.next_index = 0
        self.line = ""
        self.lineno = 0
        self.graphs: dict[str, Graph] = {}
        self.graph: Graph | None = None
        self.values: dict[str, Value] = {}
        self.types: dict[str, Type] = {}
        self.attrs = _AttrReader(self)

    # ---- lines ----

    def next_line(self) -> int:
        """Move to the next non-blank line; returns the column where its text starts."""
        while self.next_index < len(self.lines):
            raw = self.lines[self.next_index].rstrip()
            self.next_index += 1
            if raw:
                self.line, self.lineno = raw, self.next_index
                return len(raw) - len(raw.lstrip())
        self.line, self.lineno = "", len(self.lines)
        return -1

    def peek(self) -> str:
        """The text of the next non-blank line, without moving to it ("" at the end)."""
        for index in range(self.next_index, len(self.lines)):
            text = self.lines[index].strip()
            if text:
                return text
        return ""

    def fail(self, pos: int, expected: str) -> NoReturn:
        if pos < 0:
            raise format_error(self.lineno, len(self.line) + 1, f"unexpected end of text, expected {expected}")
        raise format_error(self.lineno, pos + 1, f"expected {expected}, found {_found(self.line, pos)}")

    def expect(self, pos: int, literal: str) -> int:
        if not self.line.startswith(literal, pos):
            self.fail(pos, repr(literal))
        return pos + len(literal)

    def spaces(self, pos: int) -> int:
        while self.line.startswith(" ", pos):
            pos += 1
        return pos

    def end_of_line(self, pos: int) -> None:
        if pos != len(self.line):
            self.fail(pos, "end of line")

    # ---- graphs and blocks ----

    def parse(self) -> Graph:
        graph = None
        while (pos := self.next_line()) >= 0:
            graph = self.graph_def(pos)
        if graph is None:
            self.fail(-1, "'graph'")
        return graph

    def graph_def(self, pos: int) -> Graph:
        start = self.spaces(self.expect(pos, "graph "))
        name, pos = self.name(start)
        if name in self.graphs:
            self.fail(start, f"a new graph name (graph {name} is defined twice)")
        self.graph = graph = Graph(name)
        self.values = {}
        pos = self.expect(pos, "(")
        params, pos = self.typed_values(pos)
        for value_name, t, col in params:
            graph.block.params.append(self.define(value_name, t, col, block=graph.block))
        self.end_of_line(self.expect(self.spaces(pos), "{"))
        pos = self.next_line()
        if self.line.startswith("params(", pos):
            params, pos = self.typed_values(pos + len("params("))
            self.end_of_line(pos)
            graph.params.extend(self.define(value_name, t, col) for value_name, t, col in params)
            pos = self.next_line()
        pos = self.statements(graph.block, pos, "return")
        for value in self.returns(pos + len("return")):
            graph.block.add_return(value)
        self.graphs[name] = graph
        return graph

    def statements(self, block: Block, pos: int, end: str) -> int:
        """Read nodes into `block` up to the line starting with `end`; returns where that line's text starts."""
        while True:
            if pos < 0:
                self.fail(pos, f"{end!r}")
            if self.line.startswith(end, pos):
                return pos
            if self.line.startswith("}", pos):
                self.fail(pos, f"{end!r} before '}}'")
            node = self.node(pos)
            block.append(node)
            while (text := self.peek()).startswith("block(") and text.endswith("{"):
                self.block(node, self.next_line())
            pos = self.next_line()

    def block(self, node: Node, pos: int) -> None:
        block = Block(self.graph, owner=node)
        node.blocks.append(block)
        params, pos = self.typed_values(pos + len("block("))
        for value_name, t, col in params:
            block.params.append(self.define(value_name, t, col, block=block))
        self.end_of_line(self.expect(self.spaces(pos), "{"))
        pos = self.statements(block, self.next_line(), "->")
        for value in self.returns(pos + len("->")):
            block.add_return(value)

    def returns(self, pos: int) -> list[Value]:
        """` (%a, %b)` after `return` or `->`, and the `}` line that closes the block."""
        values, pos = self.uses(self.expect(self.spaces(pos), "("))
        self.end_of_line(pos)
        self.end_of_line(self.expect(self.next_line(), "}"))
        return values

    # ---- nodes ----

    def node(self, pos: int) -> Node:
        """A node line; its blocks, if any, are the lines after it."""
        node, outputs, pos = self.common_node(pos) or self.any_node(pos)
        pos = self.spaces(pos)
        if self.line.startswith("{", pos):
            node.attrs, pos = self.attrs.read(pos)
            pos = self.spaces(pos)
        opdef = _opdef(node.op)
        if opdef is not None:
            node.attrs = canonical_attrs(opdef, node.attrs)
        if self.line.startswith("#", pos):
            node.loc = self.loc(self.spaces(pos + 1))
        else:
            self.end_of_line(pos)
        for value_name, t, col in outputs:
            node.outputs.append(self.define(value_name, t, col, node=node))
        return node

    def common_node(self, pos: int) -> tuple | None:
        """The fast path for the usual `%y: f32[B,3] = op(%a, %b)`, or None to take the general path."""
        m = _COMMON_NODE.match(self.line, pos)
        if m is None:
            return None
        name, type_text, op, inputs = m.groups()
        t = self.types.get(type_text)
        values = [self.values.get(ref[1:]) for ref in inputs.split(", ")] if inputs else []
        if t is None or None in values:
            return None
        node = Node(op)
        for value in values:
            node.add_input(value)
        return node, [(name, t, pos)], m.end()

    def any_node(self, pos: int) -> tuple:
        outputs: list = []
        if self.line.startswith("%", pos):
            outputs, pos = self.typed_values(pos, end="=")
        pos = self.spaces(pos)
        m = _OP.match(self.line, pos)
        if not m:
            self.fail(pos, "an op name")
        node = Node(m.group())
        inputs, pos = self.uses(self.expect(m.end(), "("))
        for value in inputs:
            node.add_input(value)
        return node, outputs, pos

    def loc(self, pos: int) -> SourceLoc:
        """`file:line` up to the end of the line; the file is either quoted or everything before the last colon."""
        if self.line.startswith('"', pos):
            file, pos = self.string(pos)
            pos = self.expect(pos, ":")
        else:
            colon = self.line.rfind(":", pos)
            if colon < 0:
                self.fail(pos, "a source location (file:line)")
            file, pos = self.line[pos:colon], colon + 1
        if not _LINE_NUMBER.fullmatch(self.line, pos):
            self.fail(pos, "a line number")
        return SourceLoc(file, int(self.line[pos:]))

    # ---- values ----

    def typed_values(self, pos: int, end: str = ")") -> tuple[list, int]:
        """`%a: t, %b: u` up to `end` (consumed); returns (name, type, column) triples and the position after `end`."""
        out = []
        pos = self.spaces(pos)
        if self.line.startswith(end, pos):
            return out, pos + len(end)
        while True:
            col = pos
            name, pos = self.name(self.expect(pos, "%"))
            pos = self.spaces(self.expect(pos, ":"))
            t, pos = self.type(pos)
            out.append((name, t, col))
            pos = self.spaces(pos)
            if self.line.startswith(end, pos):
                return out, pos + len(end)
            if not self.line.startswith(",", pos):
                self.fail(pos, f"',' or {end!r}")
            pos = self.spaces(pos + 1)

    def uses(self, pos: int) -> tuple[list[Value], int]:
        """`%a, %b)`: the values named (defined earlier), and the position after `)`."""
        out = []
        pos = self.spaces(pos)
        if not self.line.startswith(")", pos):
            while True:
                start = pos
                name, pos = self.name(self.expect(pos, "%"))
                value = self.values.get(name)
                if value is None:
                    self.fail(start, f"a defined value (%{name} is not defined before this line)")
                out.append(value)
                pos = self.spaces(pos)
                if self.line.startswith(")", pos):
                    break
                pos = self.spaces(self.expect(pos, ","))
        return out, pos + 1

    def define(self, name: str, t: Type, col: int, node: Node | None = None, block: Block | None = None) -> Value:
        try:
            self.graph.reserve_name(name)
        except ValueError:
            self.fail(col, f"a new value name (%{name} is defined twice)")
        value = self.values[name] = Value(name, t, node=node, block=block)
        return value

    def name(self, pos: int) -> tuple[str, int]:
        if self.line.startswith('"', pos):
            return self.string(pos)
        m = NAME.match(self.line, pos)
        if not m:
            self.fail(pos, "a name")
        return m.group(), m.end()

    def string(self, pos: int) -> tuple[str, int]:
        m = _STRING.match(self.line, pos)
        value = _unquote(m.group()) if m else None
        if value is None:
            self.fail(pos, "a double-quoted string")
        return value, m.end()

    def type(self, pos: int) -> tuple[Type, int]:
        m = _SIMPLE_TYPE.match(self.line, pos)
        simple = m is not None and not self.line.startswith("[", m.end())
        if simple and m.group() in self.types:
            return self.types[m.group()], m.end()
        parser = TypeParser(self.line, pos, self.lineno)
        t = parser.parse()
        if simple and parser.pos == m.end():
            self.types[m.group()] = t
        return t, parser.pos


def _unquote(literal: str) -> str | None:
    """The string a double-quoted literal stands for, or None when it is not a valid one."""
    try:
        value = ast.literal_eval(literal)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, str) else None


# ---- attributes ---------------------------------------------------------------------------------

_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[(\[{]|[)\]}]')


class _AttrError(Exception):
    """An attribute value that is not one the printer writes; `node` is the ast node at fault."""

    def __init__(self, node, message: str):
        self.node = node
        self.message = message


class _AttrReader:
    """Reads `{k=v, ...}` by parsing it as the call `_(k=v, ...)` and evaluating only whitelisted ast nodes."""

    def __init__(self, parser: _Parser):
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
    ast.Constant: _AttrReader.constant,
    ast.UnaryOp: _AttrReader.negative,
    ast.Name: _AttrReader.name,
    ast.Tuple: lambda self, node: tuple(self.value(e) for e in node.elts),
    ast.List: lambda self, node: [self.value(e) for e in node.elts],
    ast.Call: _AttrReader.call,
}

_CALLS = {
    "complex": _AttrReader.complex_,
    "slice": _AttrReader.slice_,
    "ref": _AttrReader.ref,
    "nan": _AttrReader.nan,
    "dtype": _AttrReader.dtype,
    "tensor": _AttrReader.tensor,
    "scalar": _AttrReader.scalar,
    "graph": _AttrReader.graph,
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


def _opdef(name: str):
    """The op's declaration, if the op is known (unknown ops still parse; the verifier reports them)."""
    from distjit.ops import REGISTRY

    return REGISTRY.get(name) if name in REGISTRY else None


def canonical_attrs(opdef, attrs: dict) -> dict:
    from distjit.ops.registry import canonical_attrs as canonical

    return canonical(opdef, attrs)
