"""The op registry: one declaration per op, read by every stage of the pipeline.

An `OpDef` says everything the compiler may assume about an op: how a NumPy call
binds to operands and attributes (`params`), how output types follow from input
types (`infer`), the kernel that computes it, its effects, flags, a cost model for
the partitioner, and a sharding rule. Passes trust `effect`: an op whose effect is
not declared is treated as impure, so CSE and DCE never touch it.
"""
from __future__ import annotations

import enum
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from distjit.errors import ShapeError, TracingError
from distjit.types import TensorType, Type

REQUIRED = inspect.Parameter.empty


class Effect(enum.Enum):
    PURE = "pure"          # a function of its inputs: may be reordered, merged (CSE) or dropped (DCE)
    RANDOM = "random"      # reads and advances a random state: never merged, never dropped
    STATEFUL = "stateful"  # reads or writes state outside the graph: kept in program order


class Kind(enum.Enum):
    OPERAND = "operand"    # one array-like input: becomes an IR value
    OPERANDS = "operands"  # a sequence of array-like inputs (np.concatenate's first argument): many IR values
    ATTR = "attr"          # a static keyword argument: becomes an attribute


@dataclass(frozen=True)
class Param:
    name: str
    kind: Kind
    default: Any = REQUIRED
    keyword_only: bool = False


def operand(name: str) -> Param:
    return Param(name, Kind.OPERAND)


def operands(name: str) -> Param:
    return Param(name, Kind.OPERANDS)


def attr(name: str, default: Any = REQUIRED, keyword_only: bool = False) -> Param:
    return Param(name, Kind.ATTR, default, keyword_only)


@dataclass(frozen=True)
class Cost:
    flops: float
    bytes: float


@dataclass
class OpDef:
    """Everything about one op. `kernel(*operands, **attrs)` computes it eagerly.

    `infer(input_types, attrs)` returns the output types, or raises ShapeError.
    `sources` are the NumPy callables (ufuncs, functions) whose calls record this op.
    `flags` is a set of words: "elementwise", "commutative", "reduction", "view" …
    `shard` is the sharding rule the partitioner reads (None: the op only runs replicated).
    """

    name: str
    kernel: Callable
    infer: Callable[[list[Type], dict], list[Type]]
    params: tuple[Param, ...]
    effect: Effect | None = Effect.PURE
    flags: frozenset[str] = frozenset()
    sources: tuple = ()
    cost: Callable[[list[Type], list[Type], dict], Cost] | None = None
    shard: Callable | None = None
    doc: str = ""
    signature: inspect.Signature = field(init=False, repr=False)

    def __post_init__(self):
        self.flags = frozenset(self.flags)
        parameters = []
        for p in self.params:
            kind = inspect.Parameter.KEYWORD_ONLY if p.keyword_only else inspect.Parameter.POSITIONAL_OR_KEYWORD
            parameters.append(inspect.Parameter(p.name, kind, default=p.default))
        self.signature = inspect.Signature(parameters)

    @property
    def attr_defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params if p.kind is Kind.ATTR}

    @property
    def is_pure(self) -> bool:
        return self.effect is Effect.PURE

    def bind(self, args: Sequence, kwargs: dict) -> tuple[list, dict]:
        """Split a NumPy-style call into (operands, attributes); a keyword the op does not take is a TracingError."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as e:
            accepted = ", ".join(p.name for p in self.params)
            raise TracingError(f"{self.name}: {e} (it accepts: {accepted})") from None
        ops: list = []
        attrs: dict = {}
        for p in self.params:
            if p.name not in bound.arguments:
                if p.kind is Kind.ATTR:
                    attrs[p.name] = p.default
                continue
            value = bound.arguments[p.name]
            if p.kind is Kind.OPERAND:
                ops.append(value)
            elif p.kind is Kind.OPERANDS:
                if not isinstance(value, (list, tuple)):
                    raise TracingError(f"{self.name}: {p.name} must be a sequence of arrays")
                ops.extend(value)
            else:
                attrs[p.name] = value
        return ops, attrs

    def infer_types(self, input_types: list[Type], attrs: dict) -> list[Type]:
        return self.infer(input_types, attrs)

    def estimate(self, input_types: list[Type], output_types: list[Type], attrs: dict) -> Cost:
        """Flops and bytes moved; the default is one flop per output element and every byte read and written once."""
        if self.cost is not None:
            return self.cost(input_types, output_types, attrs)
        return Cost(flops=sum(_size(t) for t in output_types),
                    bytes=sum(_nbytes(t) for t in [*input_types, *output_types]))


def _size(t: Type) -> float:
    if isinstance(t, TensorType):
        return float(t.size if t.size is not None else 1 << 20)
    return 1.0


def _nbytes(t: Type) -> float:
    if isinstance(t, TensorType):
        return _size(t) * t.dtype.itemsize
    return 8.0


class Registry:
    """Ops by name, and by the NumPy callable that records them."""

    def __init__(self):
        self._by_name: dict[str, OpDef] = {}
        self._by_source: dict[int, OpDef] = {}
        self._sources: list = []   # keeps source callables alive so ids stay unique

    def register(self, opdef: OpDef) -> OpDef:
        if opdef.name in self._by_name:
            raise ValueError(f"op {opdef.name} is declared twice")
        self._by_name[opdef.name] = opdef
        for src in opdef.sources:
            if id(src) in self._by_source:
                raise ValueError(f"{src!r} records both {self._by_source[id(src)].name} and {opdef.name}")
            self._by_source[id(src)] = opdef
            self._sources.append(src)
        return opdef

    def get(self, name: str) -> OpDef:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"unknown op {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def for_source(self, fn) -> OpDef | None:
        return self._by_source.get(id(fn))

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def __iter__(self):
        return iter(sorted(self._by_name.values(), key=lambda d: d.name))

    def __len__(self):
        return len(self._by_name)


REGISTRY = Registry()


def register(opdef: OpDef) -> OpDef:
    return REGISTRY.register(opdef)


def get_op(name: str) -> OpDef:
    return REGISTRY.get(name)


def explicit_attrs(opdef: OpDef, attrs: dict) -> dict:
    """The attributes that differ from the op's declared defaults: what is printed and passed to kernels."""
    defaults = opdef.attr_defaults
    return {k: v for k, v in attrs.items() if k not in defaults or not same_attr(v, defaults[k])}


def canonical_attrs(opdef: OpDef, attrs: dict) -> dict:
    """Every declared attribute, defaults filled in, in declaration order (then any undeclared ones, for the verifier)."""
    out = {name: attrs.get(name, default) for name, default in opdef.attr_defaults.items()}
    out.update((k, v) for k, v in attrs.items() if k not in out)
    if out.get("dtype") is not None:
        try:
            out["dtype"] = np.dtype(out["dtype"])
        except TypeError:
            pass   # not a dtype: inference reports it with the op's own message
    return out


def same_attr(a, b) -> bool:
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except Exception:
        return False


def shape_error(op: str, message: str) -> ShapeError:
    return ShapeError(f"{op}: {message}")
