"""Ufunc methods without a NumPy function of their own: `np.maximum.accumulate`, `np.add.at`, `np.minimum.reduce`.

The ufunc is named by the `ufunc` attribute. `ufunc.at` is functional: it returns
an updated copy (the tracer rebinds the array, as for `a[i] = v`); its `index`
attribute follows array.setitem's Ref convention (x is input 0, values input 1). Like array.setitem it is
an "in_place_update": where x dies there, in-place planning has it write into x's buffer (no copy of x).
"""
from __future__ import annotations

import numpy as np

from distjit.errors import ShapeError
from distjit.types import NoneType, TensorType
from distjit.ops.infer import normalize_axes, reduced_shape, shape_of, ufunc_dtypes
from distjit.ops import sharding
from distjit.ops.registry import FRESH, OpDef, Reduction, attr, operand, register


def _ufunc(name: str, nin: int = 2) -> np.ufunc:
    u = getattr(np, name, None)
    if not isinstance(u, np.ufunc) or u.nin != nin or u.nout != 1:
        raise ShapeError(f"{name} is not a {'binary' if nin == 2 else 'unary'} NumPy ufunc")
    return u


def _reduce_kernel(x, ufunc, axis=0, dtype=None, keepdims=False):
    return _ufunc(ufunc).reduce(x, axis=axis, dtype=dtype, keepdims=keepdims)


def _reduce_infer(in_types, attrs):
    (x,) = in_types
    u = _ufunc(attrs["ufunc"])
    axes = normalize_axes("ufunc.reduce", attrs["axis"], x.ndim)
    dtype = ufunc_dtypes(u, [x, x], attrs["dtype"])[0]
    return [TensorType(dtype, reduced_shape(shape_of(x), axes, attrs["keepdims"]))]


def _accumulate_kernel(x, ufunc, axis=0, dtype=None):
    return _ufunc(ufunc).accumulate(x, axis=axis, dtype=dtype)


def _accumulate_infer(in_types, attrs):
    (x,) = in_types
    normalize_axes("ufunc.accumulate", attrs["axis"], x.ndim)
    dtype = ufunc_dtypes(_ufunc(attrs["ufunc"]), [x, x], attrs["dtype"])[0]
    return [TensorType(dtype, x.shape)]


def _at_kernel(x, values, ufunc, index, out=None):
    # out=(x,): the update is in place (distjit/core/inplace.py), as the user's np.add.at(x, ...) is; else a copy
    target = out[0] if out is not None else None
    if target is None or target is x and not (isinstance(x, np.ndarray) and x.flags.writeable):
        target = np.array(x, copy=True)
    elif target is not x:
        np.copyto(target, x)
    if values is None:      # a unary ufunc: np.negative.at(x, index)
        _ufunc(ufunc, 1).at(target, index)
    elif not _native_at(target, index, values, ufunc):
        _ufunc(ufunc).at(target, index, values)
    return target


def _no_native_at(target, index, values, ufunc) -> bool:
    return False


_native_at = _no_native_at


def bind_native_at(scatter) -> None:
    """Make `scatter(target, index, values, ufunc) -> bool` the native path of ufunc.at (late binding, as
    fused.elementwise's evaluator: distjit/runtime/scatter_native.py); it returns False where NumPy's runs."""
    global _native_at
    _native_at = scatter


def _at_infer(in_types, attrs):
    _ufunc(attrs["ufunc"], 1 if isinstance(in_types[1], NoneType) else 2)
    return [in_types[0]]


register(OpDef("ufunc.reduce", kernel=_reduce_kernel, infer=_reduce_infer,
               params=(operand("x"), attr("ufunc"), attr("axis", 0), attr("dtype", None), attr("keepdims", False)),
               flags={"reduction"}, shard=sharding.reduction, alias=FRESH, reduction=Reduction(None),
               doc="`np.<ufunc>.reduce` for ufuncs without a named reduction."))
register(OpDef("ufunc.accumulate", kernel=_accumulate_kernel, infer=_accumulate_infer,
               params=(operand("x"), attr("ufunc"), attr("axis", 0), attr("dtype", None)),
               flags={"cumulative"}, reduction=Reduction(None, cumulative=True),
               doc="`np.<ufunc>.accumulate`, e.g. a running maximum."))
register(OpDef("ufunc.at", kernel=_at_kernel, infer=_at_infer, flags={"in_place_update"}, alias=FRESH,
               params=(operand("x"), operand("values"), attr("ufunc"), attr("index")), doc="`np.<ufunc>.at(x, index, values)` without mutation: returns the updated copy."))
