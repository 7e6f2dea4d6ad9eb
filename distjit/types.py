"""Types of IR values, and `Ref`, the attribute value that stands for one of a node's inputs.

This module is below every other part of distjit (the op registry types its ops with it, the IR's
values carry it), so it imports nothing of distjit.

A `TensorType` is a NumPy array (or NumPy scalar, shape ``()``) with a dtype and a
shape whose dims are ints or named symbols (``"B"``). A `ScalarType` is a Python
scalar: NumPy 2 treats Python scalars as *weak* (NEP 50: ``f32_array * 2.0`` stays
float32), so the IR keeps them apart from 0-d tensors. Types are immutable and
compare by value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Union

import numpy as np

Dim = Union[int, str]

# Short dtype names used by the text form; "bool" is the tensor dtype, the scalar is "bool" without brackets.
_DTYPE_NAMES = {
    "bool": "bool", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "float16": "f16", "float32": "f32", "float64": "f64",
    "complex64": "c64", "complex128": "c128",
}
# np.longdouble is named by its size ("float128" on x86-64 Linux); where it is only a float64, f128 does not exist.
_DTYPE_NAMES.setdefault(np.dtype(np.longdouble).name, "f128")
_DTYPES_BY_SHORT = {short: np.dtype(long) for long, short in _DTYPE_NAMES.items()}


def dtype_name(dtype) -> str:
    """The short text-form name of a dtype (``f32``); unknown dtypes keep NumPy's name."""
    dtype = np.dtype(dtype)
    return _DTYPE_NAMES.get(dtype.name, dtype.str)


def parse_dtype(name: str) -> np.dtype:
    if name in _DTYPES_BY_SHORT:
        return _DTYPES_BY_SHORT[name]
    try:
        return np.dtype(name)
    except TypeError:
        raise ValueError(f"unknown dtype {name!r}") from None


class Type:
    """Base of IR types."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class TensorType(Type):
    dtype: np.dtype
    shape: tuple[Dim, ...]

    def __post_init__(self):
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        object.__setattr__(self, "shape", tuple(d if isinstance(d, str) else int(d) for d in self.shape))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def is_static(self) -> bool:
        return str not in map(type, self.shape)      # dims are ints or strs (__post_init__)

    @property
    def size(self) -> int | None:
        """Number of elements, or None when a dim is symbolic."""
        if str in map(type, self.shape):
            return None
        return math.prod(self.shape)      # the planner asks this of every value many times: no NumPy call

    @property
    def nbytes(self) -> int | None:
        size = self.size
        return None if size is None else size * self.dtype.itemsize

    def __str__(self):
        return f"{dtype_name(self.dtype)}[{','.join(str(d) for d in self.shape)}]"


@dataclass(frozen=True, slots=True)
class ScalarType(Type):
    """A Python scalar: kind is one of "bool", "int", "float", "complex"."""

    kind: str

    def __post_init__(self):
        if self.kind not in SCALAR_KINDS:
            raise ValueError(f"unknown scalar kind {self.kind!r}")

    @property
    def pytype(self) -> type:
        return SCALAR_KINDS[self.kind]

    def __str__(self):
        return self.kind


SCALAR_KINDS = {"bool": bool, "int": int, "float": float, "complex": complex}


@dataclass(frozen=True, slots=True)
class TupleType(Type):
    elements: tuple[Type, ...]

    def __str__(self):
        inner = ", ".join(str(e) for e in self.elements)
        return f"({inner},)" if len(self.elements) == 1 else f"({inner})"


@dataclass(frozen=True, slots=True)
class NoneType(Type):
    def __str__(self):
        return "None"


@dataclass(frozen=True, slots=True)
class StrType(Type):
    """A string value (e.g. an einsum subscript passed dynamically); rarely a value, usually an attribute."""

    def __str__(self):
        return "str"


@dataclass(frozen=True, slots=True)
class AnyType(Type):
    """A Python object the IR does not look into (the payload of an escape-hatch node)."""

    def __str__(self):
        return "Any"


BOOL = ScalarType("bool")
INT = ScalarType("int")
FLOAT = ScalarType("float")
COMPLEX = ScalarType("complex")
NONE = NoneType()
STR = StrType()
ANY = AnyType()


def tensor(dtype, shape) -> TensorType:
    return TensorType(np.dtype(dtype), tuple(shape))


def type_of(value) -> Type:
    """The IR type of a concrete Python/NumPy value."""
    if isinstance(value, np.ndarray):
        return TensorType(value.dtype, value.shape)
    if isinstance(value, np.generic):
        return TensorType(value.dtype, ())
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, complex):
        return COMPLEX
    if value is None:
        return NONE
    if isinstance(value, str):
        return STR
    if isinstance(value, tuple):
        return TupleType(tuple(type_of(v) for v in value))
    raise TypeError(f"no IR type for a value of type {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Ref:
    """Inside an attribute: the runtime value of the node's input number `index`."""

    index: int

    def __repr__(self):
        return f"${self.index}"


_NO_REFS = (type(None), bool, int, float, str)    # the attribute values most nodes hold: nothing to look into


def iter_refs(attr) -> Iterator[int]:
    """The indices of the `Ref`s in an attribute value, in order (a loop, not nested generators: every pass
    and the verifier ask this of every node)."""
    stack = [attr]
    while stack:
        a = stack.pop()
        if type(a) in _NO_REFS:
            continue
        if isinstance(a, Ref):
            yield a.index
        elif isinstance(a, dict):
            stack.extend(reversed(a.values()))
        elif isinstance(a, (list, tuple)):
            stack.extend(reversed(a))
        elif isinstance(a, slice):
            stack.extend((a.step, a.stop, a.start))


def substitute_refs(attr, inputs: list):
    """`attr` with every Ref(k) replaced by inputs[k]: how a run-time value reaches an attribute."""
    if isinstance(attr, Ref):
        return inputs[attr.index]
    if isinstance(attr, tuple):
        return tuple(substitute_refs(a, inputs) for a in attr)
    if isinstance(attr, list):
        return [substitute_refs(a, inputs) for a in attr]
    if isinstance(attr, slice):
        return slice(*(substitute_refs(a, inputs) for a in (attr.start, attr.stop, attr.step)))
    if isinstance(attr, dict):
        return {k: substitute_refs(v, inputs) for k, v in attr.items()}
    return attr
