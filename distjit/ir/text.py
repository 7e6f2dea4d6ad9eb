"""Reading the text form back: `parse_graph(text)` (see NOTE: [Text form] in printer.py).

The parser is a hand-written line scanner: one node per line, so a graph of
100,000 nodes reads in about a second. Types are read by `type_text.TypeParser`
and attribute values by `attr_text.AttrReader`, the only part read with `ast`.

It keeps the printed types (nothing is inferred) and consults the op registry for
two things: an op must be declared there (an unknown name is a FormatError at its
line, as `distjit.load` refuses one: a typo must not reach a pass or a worker), and its
attributes are put in canonical form (declared defaults filled in, in declaration
order), as `Builder.op` does, because the printer leaves defaults out and a parsed
graph must equal the one that was printed. Checking that the graph makes sense is
the verifier's job: a graph that is well-formed text of known ops but broken IR
parses, and `Graph.verify` says what is wrong.

Every malformed input raises `FormatError` with the line and column and what was
expected there.
"""
from __future__ import annotations

import ast
import re
from typing import NoReturn

from distjit.ir.attr_text import AttrReader
from distjit.ir.graph import Block, Graph, Node, SourceLoc, Value
from distjit.ir.type_text import TypeParser, format_error, found_at
from distjit.types import Type
from distjit.ir.printer import NAME

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_OP = re.compile(r"[A-Za-z_][\w.]*", re.ASCII)
# The types big graphs are made of (f32[B,3], int); anything else takes TypeParser's slow path.
_SIMPLE_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\[[A-Za-z0-9_?,]*\])?")
# A node with one output of a simple type and plain value names: most lines of big graphs.
_COMMON_NODE = re.compile(r"%([\w.]+): ([A-Za-z][A-Za-z0-9_]*(?:\[[A-Za-z0-9_?,]*\])?) = "
                          r"([A-Za-z_][\w.]*)\(((?:%[\w.]+(?:, %[\w.]+)*)?)\)", re.ASCII)
_LINE_NUMBER = re.compile(r"-?[0-9]+")
_GUARD_LITERALS = {"True": True, "False": False}


def parse_graph(text: str) -> Graph:
    """The last graph defined in `text` (the ones before it are graphs its `prim.Call`s use)."""
    return _Parser(text).parse()


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
        self.attrs = AttrReader(self)

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
        raise format_error(self.lineno, pos + 1, f"expected {expected}, found {found_at(self.line, pos)}")

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
        while self.line.startswith("guard ", pos):
            self.guard(graph, pos + len("guard "))
            pos = self.next_line()
        pos = self.statements(graph.block, pos, "return")
        for value in self.returns(pos + len("return")):
            graph.block.add_return(value)
        self.graphs[name] = graph
        return graph

    def guard(self, graph: Graph, pos: int) -> None:
        """`guard %n == 5`: the Python scalar input %n was specialized on 5 (printer.format_guard)."""
        start = pos
        name, pos = self.name(self.expect(pos, "%"))
        value_of = self.values.get(name)
        if value_of is None or value_of not in graph.inputs:
            self.fail(start, "an input of the graph after 'guard'")
        pos = self.expect(self.spaces(pos), "==")
        text = self.line[pos:].strip()
        value = _GUARD_LITERALS.get(text)
        if value is None:
            for kind in (int, float):
                try:
                    value = kind(text)
                    break
                except ValueError:
                    pass
            else:
                self.fail(pos, "a Python bool, int or float")
        graph.guards[value_of] = value

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
        if opdef is None:
            raise format_error(self.lineno, self.line.find(node.op + "(") + 1,
                               f"unknown op {node.op!r}: it is not in the op registry (a custom op parses once "
                               f"distjit.custom_op has declared it in this process)")
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

def _opdef(name: str):
    """The op's declaration, or None for a name the registry does not know."""
    from distjit.ops import REGISTRY

    return REGISTRY.get(name) if name in REGISTRY else None


def canonical_attrs(opdef, attrs: dict) -> dict:
    from distjit.ops.registry import canonical_attrs as canonical

    return canonical(opdef, attrs)
