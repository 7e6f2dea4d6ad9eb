"""Functions whose output length depends on the data: np.nonzero and np.unique.

NOTE: [data-dependent lengths]
A length that only the values decide (how many elements are non-zero, how many are distinct, how
many a boolean mask selects) is a dim known only at run time, ``?n`` (`fresh_dim()`), as a
boolean-mask read ``x[x > 0]`` already is: the values are NumPy's exactly, the graph is one graph
for all inputs, and later ops infer with the unknown dim. What a run-time dim costs: the
partitioner does not split along it, and nothing that needs the size before running (a static
reshape to it, an unstack) can follow. The rest of the family is written over these two ops
(distjit/ops/composite.py): flatnonzero, extract and the Array API's unique_values/counts/inverse/all;
np.repeat with repeats given at run time has such a length too (distjit/ops/shape.py).

What stays refused is a length computed from run-time values in a way NumPy itself spells with
static arguments: np.delete/np.insert with indices computed at run time, and ufunc.reduceat with
run-time indices (the error says to pass constants, or to keep the length with np.where).
"""
from __future__ import annotations

import numpy as np

from distjit.errors import ShapeError
from distjit.types import TensorType
from distjit.ops.infer import fresh_dim, normalize_axis
from distjit.ops.registry import FRESH, Cost, OpDef, attr, operand, register


def _nonzero(a):
    found = np.nonzero(a)
    return found[0] if len(found) == 1 else found     # one output: the array itself (the calling convention)


def _nonzero_infer(in_types, attrs):
    t = in_types[0]
    ndim = t.ndim if isinstance(t, TensorType) else 0
    if ndim == 0:
        raise ShapeError("np.nonzero: calling nonzero on 0d arrays is not allowed; use np.atleast_1d(x).nonzero()")
    n = fresh_dim()
    return [TensorType(np.dtype(np.intp), (n,)) for _ in range(ndim)]


def _unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, equal_nan=True,
            sorted=True):
    return np.unique(ar, return_index, return_inverse, return_counts, axis, equal_nan=equal_nan, sorted=sorted)


def _unique_infer(in_types, attrs):
    op = "np.unique"
    t = in_types[0]
    if not isinstance(t, TensorType):
        t = TensorType(np.asarray(t.pytype(0)).dtype, ())
    n = fresh_dim()
    axis = attrs["axis"]
    if axis is None:
        values = (n,)
        inverse = t.shape     # NumPy 2 keeps the input's shape for the inverse when axis is None
    else:
        a = normalize_axis(op, axis, t.ndim)
        values = t.shape[:a] + (n,) + t.shape[a + 1:]
        inverse = (t.shape[a],)
    out = [TensorType(t.dtype, values)]
    if attrs["return_index"]:
        out.append(TensorType(np.dtype(np.intp), (n,)))
    if attrs["return_inverse"]:
        out.append(TensorType(np.dtype(np.intp), inverse))
    if attrs["return_counts"]:
        out.append(TensorType(np.dtype(np.intp), (n,)))
    return out


def _sort_cost(in_types, out_types, attrs):
    t = in_types[0]
    n = float(t.size or 1 << 20) if isinstance(t, TensorType) else 1.0
    return Cost(flops=n * max(1.0, np.log2(max(n, 2.0))), bytes=float(8 * n))


register(OpDef("np.nonzero", kernel=_nonzero, infer=_nonzero_infer, params=(operand("a"),), sources=(np.nonzero,),
               alias=FRESH, flags=frozenset({"tuple_output", "data_dependent"}),
               doc="The indices of the non-zero elements, one array per axis, of a run-time length "
                   "(see NOTE: [data-dependent lengths])."))
register(OpDef("np.unique", kernel=_unique, infer=_unique_infer,
               params=(operand("ar"), attr("return_index", False), attr("return_inverse", False),
                       attr("return_counts", False), attr("axis", None), attr("equal_nan", True, keyword_only=True),
                       attr("sorted", True, keyword_only=True)),
               sources=(np.unique,), alias=FRESH, flags=frozenset({"data_dependent"}), cost=_sort_cost,
               doc="The sorted distinct values (and indices, inverse, counts), of a run-time length "
                   "(see NOTE: [data-dependent lengths])."))
