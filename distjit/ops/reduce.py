"""Reductions (sum, mean, max, argmax, any …) and cumulative scans (cumsum, cumprod).

Each op takes NumPy's keyword arguments except `out` (the frontend turns ``out=``
into a functional op) and `where` (not supported: binding it is a TracingError).
Arguments that follow `out` in NumPy's signature are keyword-only here, so a call
that passes `out` positionally does not bind silently to the wrong parameter.

How the partitioner combines partial results of a reduction split along a
reduced axis is a flag, ``combine:<how>``:

  sum, prod, max, min, any, all   reduce the partials with the same op
  mean                            weighted by the partial counts
  var                             partial (count, mean, M2), Chan et al.; std is its sqrt
  argmax, argmin                  (value, index) pairs, first index wins ties
The cumulative ops also carry "cumulative": a split scan adds (or multiplies) the
running total of the preceding shards.
"""
from __future__ import annotations

import numpy as np

from distjit.errors import ShapeError
from distjit.types import TensorType
from distjit.ops.infer import (example_dtypes, normalize_axes, normalize_axis, numel, reduced_shape,
                               shape_of)
from distjit.ops import sharding
from distjit.ops.registry import FRESH, MAY_ALIAS, Cost, OpDef, Reduction, attr, operand, register

_UNKNOWN_SIZE = 1 << 20   # elements assumed for a tensor with a symbolic dim (as the registry's default cost)


def _size(t) -> int:
    if not isinstance(t, TensorType):
        return 1
    return t.size if t.size is not None else _UNKNOWN_SIZE


def _bytes(types) -> float:
    return float(sum(_size(t) * t.dtype.itemsize if isinstance(t, TensorType) else 8 for t in types))


def reduce_cost(in_types, out_types, attrs) -> Cost:
    """A reduction reads every input element once: one flop per input element."""
    return Cost(flops=float(_size(in_types[0])), bytes=_bytes([*in_types, *out_types]))


def _check_axis_kind(name: str, axis, tuple_ok: bool) -> None:
    if axis is None or isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        return
    if tuple_ok and isinstance(axis, tuple):
        return
    accepted = "None, an int or a tuple of ints" if tuple_ok else "None or an int"
    raise ShapeError(f"{name}: axis must be {accepted}, not {axis!r}")


def _reduction_infer(name: str, kernel):
    def infer(in_types, attrs):
        shape = shape_of(in_types[0])
        axis = attrs.get("axis")
        _check_axis_kind(name, axis, tuple_ok=True)
        axes = normalize_axes(name, axis, len(shape))
        out_shape = reduced_shape(shape, axes, bool(attrs.get("keepdims", False)))
        return [TensorType(d, out_shape) for d in example_dtypes(name, kernel, in_types, attrs)]

    return infer


def _arg_infer(name: str, kernel):
    def infer(in_types, attrs):
        shape = shape_of(in_types[0])
        axis = attrs.get("axis")
        _check_axis_kind(name, axis, tuple_ok=False)
        axes = normalize_axes(name, axis, len(shape))
        out_shape = reduced_shape(shape, axes, bool(attrs.get("keepdims", False)))
        return [TensorType(d, out_shape) for d in example_dtypes(name, kernel, in_types, attrs)]

    return infer


def _cumulative_infer(name: str, kernel):
    def infer(in_types, attrs):
        shape = shape_of(in_types[0])
        axis = attrs.get("axis")
        _check_axis_kind(name, axis, tuple_ok=False)
        if axis is None:
            out_shape = (numel(shape),)          # NumPy flattens first
        else:
            normalize_axis(name, axis, len(shape))
            out_shape = shape
        return [TensorType(d, out_shape) for d in example_dtypes(name, kernel, in_types, attrs)]

    return infer


# NOTE: passing initial=None is not the same as leaving it out: np.sum then adds in a
# different order (no pairwise summation) and results differ in the last bit.
def _sum(a, axis=None, dtype=None, keepdims=False, initial=None):
    extra = {} if initial is None else {"initial": initial}
    return np.sum(a, axis=axis, dtype=dtype, keepdims=keepdims, **extra)


def _prod(a, axis=None, dtype=None, keepdims=False, initial=None):
    extra = {} if initial is None else {"initial": initial}
    return np.prod(a, axis=axis, dtype=dtype, keepdims=keepdims, **extra)


def _max(a, axis=None, keepdims=False, initial=None):
    extra = {} if initial is None else {"initial": initial}
    return np.max(a, axis=axis, keepdims=keepdims, **extra)


def _min(a, axis=None, keepdims=False, initial=None):
    extra = {} if initial is None else {"initial": initial}
    return np.min(a, axis=axis, keepdims=keepdims, **extra)


def _std(a, axis=None, dtype=None, ddof=0, keepdims=False, correction=None):
    return np.std(a, axis=axis, dtype=dtype, ddof=ddof if correction is None else correction, keepdims=keepdims)


def _var(a, axis=None, dtype=None, ddof=0, keepdims=False, correction=None):
    return np.var(a, axis=axis, dtype=dtype, ddof=ddof if correction is None else correction, keepdims=keepdims)


# The parameter lists, by NumPy's signatures less `out` and `where`.
_SUM = (operand("a"), attr("axis", None), attr("dtype", None), attr("keepdims", False, keyword_only=True),
        attr("initial", None, keyword_only=True))
_MEAN = (operand("a"), attr("axis", None), attr("dtype", None), attr("keepdims", False, keyword_only=True))
_VAR = (operand("a"), attr("axis", None), attr("dtype", None), attr("ddof", 0, keyword_only=True),
        attr("keepdims", False, keyword_only=True), attr("correction", None, keyword_only=True))
_MAX = (operand("a"), attr("axis", None), attr("keepdims", False, keyword_only=True),
        attr("initial", None, keyword_only=True))
_ARG = (operand("a"), attr("axis", None), attr("keepdims", False, keyword_only=True))
_ANY = (operand("a"), attr("axis", None), attr("keepdims", False, keyword_only=True))
_CUM = (operand("a"), attr("axis", None), attr("dtype", None))

# name, NumPy callables that record it, kernel, params, shape rule, combine
_TABLE = [
    ("sum", (np.sum,), _sum, _SUM, _reduction_infer, "sum"),
    ("prod", (np.prod,), _prod, _SUM, _reduction_infer, "prod"),
    ("mean", (np.mean,), np.mean, _MEAN, _reduction_infer, "mean"),
    ("std", (np.std,), _std, _VAR, _reduction_infer, "var"),
    ("var", (np.var,), _var, _VAR, _reduction_infer, "var"),
    ("max", (np.max, np.amax), _max, _MAX, _reduction_infer, "max"),
    ("min", (np.min, np.amin), _min, _MAX, _reduction_infer, "min"),
    ("argmax", (np.argmax,), np.argmax, _ARG, _arg_infer, "argmax"),
    ("argmin", (np.argmin,), np.argmin, _ARG, _arg_infer, "argmin"),
    ("any", (np.any,), np.any, _ANY, _reduction_infer, "any"),
    ("all", (np.all,), np.all, _ANY, _reduction_infer, "all"),
    ("cumsum", (np.cumsum,), np.cumsum, _CUM, _cumulative_infer, "sum"),
    ("cumprod", (np.cumprod,), np.cumprod, _CUM, _cumulative_infer, "prod"),
]


# The neutral element of each way of combining (None: there is none, as for the max of nothing).
IDENTITY = {"sum": 0, "prod": 1, "any": False, "all": True}
# The ufunc whose .reduce (and, for the scans, .accumulate) is this op under another name.
UFUNC_OF = {"sum": np.add, "prod": np.multiply, "max": np.maximum, "min": np.minimum,
            "all": np.logical_and, "any": np.logical_or, "cumsum": np.add, "cumprod": np.multiply}


def _declare(fname, sources, kernel, params, rule, combine) -> OpDef:
    name = f"np.{fname}"
    flags = {"reduction", f"combine:{combine}"}
    cumulative = rule is _cumulative_infer
    if cumulative:
        flags.add("cumulative")
    unique_sources = tuple({id(s): s for s in sources}.values())   # np.amax is np.max in some NumPy versions
    if fname in UFUNC_OF:
        unique_sources += ((UFUNC_OF[fname], "accumulate" if cumulative else "reduce"),)
    return register(OpDef(
        name=name, kernel=kernel, infer=rule(name, kernel), params=params, flags=frozenset(flags),
        sources=unique_sources, cost=reduce_cost,
        shard=sharding.along_other_axis if cumulative else sharding.reduction,
        alias=MAY_ALIAS if cumulative else FRESH,
        reduction=Reduction(combine, IDENTITY.get(combine), partials=not cumulative, sqrt=fname == "std",
                            cumulative=cumulative),
        doc=f"NumPy's {fname}; partial results combine by {combine}.",
    ))


REDUCE_OPS = {row[0]: _declare(*row) for row in _TABLE}
