"""The text form of types: `parse_type("f32[B,3]")` and `TypeParser` (see NOTE: [Text form] in printer.py).

Types are read inside node lines and on their own (the type string of an
attribute such as `tensor("f32[2,3]", ...)` or `dtype("f32")`, and `parse_type`),
so the grammar lives apart from the line parser. `format_error` is the one shape
of a text error, shared by every reader of the text form.
"""
from __future__ import annotations

import re
from typing import NoReturn

import numpy as np

from distjit.errors import FormatError
from distjit.types import ANY, NONE, STR, _DTYPES_BY_SHORT, ScalarType, TensorType, TupleType, Type, parse_dtype

_DIM = re.compile(r"[0-9]+|[A-Za-z_?][A-Za-z0-9_?]*")
# A symbolic dim (B, ?0): the only symbols a file may hold, so that every dim prints and reads back as itself.
DIM_SYMBOL = re.compile(r"[A-Za-z_?][A-Za-z0-9_?]{0,127}")
# A dtype is a short name (f32) or NumPy's own string for it (<U5, |S3, <M8[ns]).
_DTYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]*|[<>|=][A-Za-z][0-9]*")
_MAX_TUPLE_DEPTH = 64
_UNIT = re.compile(r"\[\w+\]\[")
_NAMED_TYPES = {"int": ScalarType("int"), "float": ScalarType("float"), "bool": ScalarType("bool"),
                "complex": ScalarType("complex"), "None": NONE, "str": STR, "Any": ANY}


def parse_type(text: str) -> Type:
    """Parse the text form of a type (``f32[B,3]``, ``int``, ``(f32[], int)``)."""
    return TypeParser(text).parse_all()


def format_error(line: int, column: int, message: str) -> FormatError:
    return FormatError(f"line {line}, column {column}: {message}")


def found_at(text: str, pos: int) -> str:
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
        raise format_error(self.line, self.pos + 1, f"expected {expected}, found {found_at(self.text, self.pos)}")
