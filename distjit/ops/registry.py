"""The op registry: one declaration per op, read by every stage of the pipeline.

An `OpDef` says everything the compiler may assume about an op: how a NumPy call
binds to operands and attributes (`params`), how output types follow from input
types (`infer`), the kernel that computes it, its effects, its aliasing, whether it
writes into a given buffer, whether it fuses, how it reduces, a cost model, a
sharding rule, the templates of the backends that generate code for it, and the
inverse of a view. Passes, the runtime, the partitioner, the frontends and the
serializer ask these facts rather than keep tables of op names, so that an op,
a user's custom op included (distjit/ops/custom.py), is one declaration.
Passes trust `effect`: an op whose effect is not declared is treated as impure,
so CSE and DCE never touch it; and they trust `alias`: an op not declared to
return fresh memory is assumed to alias its inputs.
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
    variadic: bool = False   # OPERANDS given as *args (np.meshgrid(x, y), np.broadcast_arrays(a, b))


def operand(name: str) -> Param:
    return Param(name, Kind.OPERAND)


def operands(name: str, variadic: bool = False) -> Param:
    return Param(name, Kind.OPERANDS, variadic=variadic)


def attr(name: str, default: Any = REQUIRED, keyword_only: bool = False) -> Param:
    return Param(name, Kind.ATTR, default, keyword_only)


@dataclass(frozen=True)
class Cost:
    flops: float
    bytes: float


# Aliasing: what the memory planner, scratch assignment and row blocks may assume about an op's outputs.
FRESH = "fresh"            # the outputs never share memory with the inputs
MAY_ALIAS = "may alias"    # the outputs may share memory with any input (the safe default)


@dataclass(frozen=True)
class ViewOf:
    """The outputs are (or, as NumPy decides by layout, may be) views of input `input`: writing through
    them writes into it. Functionalization reads this, with `OpDef.inverse_view`."""
    input: int = 0


@dataclass(frozen=True)
class Reduction:
    """How an op reduces. `kind` is how partial results over a split reduced axis combine (sum, prod, max,
    min, mean, var, argmax, argmin, any, all; see NOTE: [Partial reductions] in distjit/ops/dist.py), or None
    when they do not. `identity` is the reduction's neutral element (None: it has none, as max of an empty
    array). `partials`: the partitioner may compute it as per-shard dist.Partial + dist.Combine of `kind`.
    `sqrt`: the result is the square root of `kind`'s (std of var). `cumulative`: a scan (cumsum) that
    keeps the reduced axis."""
    kind: str | None
    identity: Any = None
    partials: bool = False
    sqrt: bool = False
    cumulative: bool = False


@dataclass(frozen=True)
class InverseView:
    """How a write through a view goes back into its base: `op(value, **attrs)` is the base's new contents
    (`onto_base`: `op(base, value, *dynamic, **attrs)`, as array.setitem)."""
    op: str
    attrs: dict
    onto_base: bool = False


@dataclass
class OpDef:
    """Everything about one op.

    kernel        `kernel(*operands, **attrs)` computes it eagerly (attributes equal to their defaults are
                  left out; see distjit/core/apply.py for the calling convention). None for the ops
                  the runtime gives their meaning (prim.If, prim.Loop, prim.Call, prim.Constant).
    infer         `infer(input_types, attrs)` returns the output types, or raises ShapeError.
    params        how a NumPy-style call binds to operands and attributes.
    effect        PURE, RANDOM or STATEFUL; None (undeclared) is treated as impure.
    flags         descriptive words ("elementwise", "ufunc", "commutative", "reduction", "view",
                  "uninitialized", "multi_output", ...): CSE reads "commutative", fold and CSE
                  "uninitialized", the tracer "multi_output" (the op returns a list), "tuple_output"
                  (it returns a tuple, also of one array) and "updates_first" (NumPy's function writes
                  into its first argument and returns None: the tracer rebinds that array to the result),
                  "in_place_update" (output 0 is input 0 with some elements replaced, and the kernel given
                  ``out=(input 0,)`` writes there: in-place planning, distjit/core/inplace.py).
    sources       the NumPy callables whose calls record this op; a `(ufunc, method)` pair stands for a
                  ufunc method (``(np.add, "reduce")`` records np.sum).
    cost          `cost(input_types, output_types, attrs) -> Cost(flops, bytes)`, the work and the bytes
                  read and written; `estimate` gives a default (one flop per output element, every byte
                  once) for an op without one. The partitioner and the cost model read it.
    shard         the sharding rule, `rule(node, ins) -> Split | Reduce | Contract | None` (its vocabulary
                  is distjit/ops/sharding.py); None: the op only runs replicated.
    alias         FRESH, MAY_ALIAS or ViewOf(k) (see above); the memory planner, scratch buffers and
                  row blocks read it.
    fresh_when    `fresh_when(attrs, input_types) -> bool`: for an op that may alias, the nodes whose
                  outputs are fresh all the same (``x[i, j]`` of a 2-D x is a scalar, not a view); None: never.
    takes_out     the kernel accepts ``out=`` (a tuple, one buffer per output) and writes its result there.
    fusible       the op may join a fused elementwise expression (distjit/passes/fuse.py), evaluated block
                  by block: True, or a predicate on the node (np.where: only with a bool condition).
    reduction     a `Reduction`, or None.
    templates     what a backend that generates code needs, by backend: "numpy" a kernel
                  `k(*operands, out=None, **attrs)` writing into the one array `out` when given, for an
                  op whose own kernel takes no out=; "numba" the scalar expression of one element (a
                  format string over the operands' expressions); "python" the op as Python syntax for
                  the generated code (a format string over the operands' and attributes' sources:
                  ``"{0}[{index}]"``), used when every attribute is a literal; "python_in_place" the
                  statement of an update planned in place (``"{0}[{index}] = {1}"``).
    inverse_view  for a view op, `inverse_view(attrs, base_type) -> InverseView`: how functionalization
                  writes an update of the view back into its base; None: such writes are refused.
    graph_attrs   the attributes that hold a Graph (prim.Call's callee, a fused node's expression): the
                  serializer accepts a graph in these only.
    named_result  `named_result(attrs)` gives the named tuple NumPy's function returns for those attributes
                  (np.linalg.qr's QRResult; None for mode='raw', a plain tuple): the tracer rebuilds it around
                  the op's outputs so that `r.Q` works. None: the op never returns a named tuple.
    custom        for an op a user declared with `distjit.custom_op`, what was declared (a CustomDef, which
                  travels to Ray workers: distjit/ops/custom.py); None for distjit's own ops.
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
    alias: Any = MAY_ALIAS
    fresh_when: Callable[[dict, list[Type]], bool] | None = None
    takes_out: bool = False
    fusible: bool | Callable = False
    reduction: Reduction | None = None
    templates: dict = field(default_factory=dict)
    inverse_view: Callable | None = None
    graph_attrs: tuple[str, ...] = ()
    named_result: Callable[[dict], type | None] | None = None
    custom: Any = None
    signature: inspect.Signature = field(init=False, repr=False)

    def __post_init__(self):
        self.flags = frozenset(self.flags)
        parameters = []
        after_varargs = False
        for p in self.params:
            if p.variadic:
                parameters.append(inspect.Parameter(p.name, inspect.Parameter.VAR_POSITIONAL))
                after_varargs = True
                continue
            keyword_only = p.keyword_only or after_varargs
            kind = inspect.Parameter.KEYWORD_ONLY if keyword_only else inspect.Parameter.POSITIONAL_OR_KEYWORD
            parameters.append(inspect.Parameter(p.name, kind, default=p.default))
        self.signature = inspect.Signature(parameters)
        # What `bind` and `canonical_attrs` need per recorded node, computed once: tracing an unrolled loop
        # binds the same few ops hundreds of thousands of times.
        self._defaults = {p.name: p.default for p in self.params if p.kind is Kind.ATTR}
        simple = not any(p.variadic or (p.keyword_only and p.default is REQUIRED) for p in self.params)
        positional = tuple(p.name for p in self.params if not p.keyword_only) if simple else None
        self._positional = positional
        self._required = sum(1 for p in self.params if not p.keyword_only and p.default is REQUIRED)

    @property
    def attr_defaults(self) -> dict[str, Any]:
        return dict(self._defaults)

    @property
    def is_pure(self) -> bool:
        return self.effect is Effect.PURE

    @property
    def returns_fresh(self) -> bool:
        return self.alias == FRESH

    @property
    def view_of(self) -> int | None:
        """The input whose view the outputs are, or None."""
        return self.alias.input if isinstance(self.alias, ViewOf) else None

    def can_fuse(self, node) -> bool:
        return self.fusible(node) if callable(self.fusible) else bool(self.fusible)

    def bind(self, args: Sequence, kwargs: dict) -> tuple[list, dict]:
        """Split a NumPy-style call into (operands, attributes); a keyword the op does not take is a TracingError."""
        positional = self._positional
        if not kwargs and positional is not None and self._required <= len(args) <= len(positional):
            arguments = dict(zip(positional, args))     # what signature.bind gives, without its cost
        else:
            try:
                arguments = self.signature.bind(*args, **kwargs).arguments
            except TypeError as e:
                accepted = ", ".join(p.name for p in self.params)
                raise TracingError(f"{self.name}: {e} (it accepts: {accepted})") from None
        ops: list = []
        attrs: dict = {}
        for p in self.params:
            if p.name not in arguments:
                if p.kind is Kind.ATTR:
                    attrs[p.name] = p.default
                continue
            value = arguments[p.name]
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
        self._by_source: dict = {}
        self._sources: list = []   # keeps source callables alive so ids stay unique

    def register(self, opdef: OpDef) -> OpDef:
        if opdef.name in self._by_name:
            raise ValueError(f"op {opdef.name} is declared twice")
        keys = [_source_key(src) for src in opdef.sources]
        for src, key in zip(opdef.sources, keys):
            if key in self._by_source:
                raise ValueError(f"{src!r} records both {self._by_source[key].name} and {opdef.name}")
        self._by_name[opdef.name] = opdef
        for src, key in zip(opdef.sources, keys):
            self._by_source[key] = opdef
            self._sources.append(src)
        return opdef

    def unregister(self, name: str) -> None:
        """Forget a custom op (tests declare and drop their own); built-in ops stay."""
        opdef = self._by_name.get(name)
        if opdef is None or opdef.custom is None:
            raise ValueError(f"{name} is not a custom op")
        del self._by_name[name]
        for src in opdef.sources:
            self._by_source.pop(_source_key(src), None)
            self._sources = [s for s in self._sources if s is not src]

    def get(self, name: str) -> OpDef:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"unknown op {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def for_source(self, fn, method: str | None = None) -> OpDef | None:
        """The op that a call of `fn` (or of the ufunc method `fn.<method>`) records."""
        return self._by_source.get(_source_key((fn, method) if method else fn))

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def __iter__(self):
        return iter(sorted(self._by_name.values(), key=lambda d: d.name))

    def __len__(self):
        return len(self._by_name)


def _source_key(src):
    if isinstance(src, tuple):
        fn, method = src
        return (id(fn), method)
    return id(src)


REGISTRY = Registry()


def register(opdef: OpDef) -> OpDef:
    return REGISTRY.register(opdef)


def get_op(name: str) -> OpDef:
    return REGISTRY.get(name)


def explicit_attrs(opdef: OpDef, attrs: dict) -> dict:
    """The attributes that differ from the op's declared defaults: what is printed and passed to kernels."""
    defaults = opdef._defaults
    return {k: v for k, v in attrs.items() if k not in defaults or not same_attr(v, defaults[k])}


def canonical_attrs(opdef: OpDef, attrs: dict) -> dict:
    """Every declared attribute, defaults filled in, in declaration order (then any undeclared ones, for the verifier)."""
    out = {name: attrs.get(name, default) for name, default in opdef._defaults.items()}
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
