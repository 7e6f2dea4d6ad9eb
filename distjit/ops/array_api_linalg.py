"""The Array API's linalg extension as NumPy spells it: np.linalg.matrix_norm, vector_norm, vecdot, outer, cross,
diagonal, matrix_transpose, tensordot, trace and matmul.

They are separate functions from the main namespace's (np.linalg.outer takes 1-D
vectors only, np.linalg.cross 3-vectors along `axis`, np.linalg.trace and diagonal
work on the last two axes), so each is its own op with NumPy's function as kernel;
the shape rules of the main namespace's twins are reused where they agree.
"""
from __future__ import annotations

import math

import numpy as np

from distjit.errors import ShapeError
from distjit.types import TensorType
from distjit.ops.infer import (broadcast_shapes, fmt_shape, fresh_dim, normalize_axes, normalize_axis,
                               reduced_shape, shape_of, unify_dims)
from distjit.ops.linalg import _bytes, _matmul_cost, _matmul_shape, _prod, _tensordot_cost, _tensordot_shape
from distjit.ops.reduce import reduce_cost
from distjit.ops import sharding
from distjit.ops.registry import FRESH, Cost, OpDef, Reduction, ViewOf, attr, operand, register
from distjit.ops.sharding_numeric import stacked_matrices
from distjit.ops.standins import standin_dtypes

L = np.linalg


def _tensor(op, t, ndim: int):
    if not isinstance(t, TensorType) or t.ndim < ndim:
        raise ShapeError(f"{op}: needs an array of at least {ndim} dimension(s), got {t}")
    return t.shape


def _infer(op, kernel, shape_rule):
    def infer(in_types, attrs):
        shape = shape_rule(in_types, attrs)
        return [TensorType(standin_dtypes(op, kernel, in_types, attrs, side=3)[0], shape)]
    return infer


_MATRIX_ORDS = {"fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf}


def _matrix_norm_shape(in_types, attrs):
    shape = _tensor("np.linalg.matrix_norm", in_types[0], 2)
    if attrs["ord"] not in _MATRIX_ORDS:
        raise ShapeError(f"np.linalg.matrix_norm: invalid norm order {attrs['ord']!r} for matrices")
    return (*shape[:-2], 1, 1) if attrs["keepdims"] else shape[:-2]


def _vector_norm_shape(in_types, attrs):
    op = "np.linalg.vector_norm"
    shape = shape_of(in_types[0])
    if isinstance(attrs["ord"], str):
        raise ShapeError(f"{op}: invalid norm order {attrs['ord']!r} for vectors")
    axes = normalize_axes(op, attrs["axis"], len(shape))
    return reduced_shape(shape, axes, bool(attrs["keepdims"]))


def _vecdot_shape(in_types, attrs):
    op = "np.linalg.vecdot"
    sa, sb = _tensor(op, in_types[0], 1), _tensor(op, in_types[1], 1)
    shape = broadcast_shapes(op, sa, sb)
    axis = normalize_axis(op, attrs["axis"], len(shape))
    ia, ib = axis - (len(shape) - len(sa)), axis - (len(shape) - len(sb))
    if ia < 0 or ib < 0 or unify_dims(sa[ia], sb[ib]) is None:
        raise ShapeError(f"{op}: the contracted axis {attrs['axis']} differs: {fmt_shape(sa)} and {fmt_shape(sb)}")
    return shape[:axis] + shape[axis + 1:]


def _outer_shape(in_types, attrs):
    sa, sb = shape_of(in_types[0]), shape_of(in_types[1])
    if len(sa) != 1 or len(sb) != 1:
        raise ShapeError(f"np.linalg.outer: both operands must be 1-D, got {fmt_shape(sa)} and {fmt_shape(sb)}")
    return (sa[0], sb[0])


def _cross_shape(in_types, attrs):
    op = "np.linalg.cross"
    sa, sb = _tensor(op, in_types[0], 1), _tensor(op, in_types[1], 1)
    ia, ib = normalize_axis(op, attrs["axis"], len(sa)), normalize_axis(op, attrs["axis"], len(sb))
    if sa[ia] != 3 or sb[ib] != 3:
        raise ShapeError(f"{op}: both operands must have 3 elements along axis {attrs['axis']}, "
                         f"got {fmt_shape(sa)} and {fmt_shape(sb)}")
    return broadcast_shapes(op, sa, sb)


def _diagonal_shape(in_types, attrs):
    *batch, m, n = _tensor("np.linalg.diagonal", in_types[0], 2)
    k = attrs["offset"]
    if isinstance(m, int) and isinstance(n, int):
        length = max(0, min(m, n - k) if k >= 0 else min(m + k, n))
    elif k == 0 and m == n:
        length = m
    else:
        length = fresh_dim()
    return (*batch, length)


def _transpose_shape(in_types, attrs):
    shape = _tensor("np.linalg.matrix_transpose", in_types[0], 2)
    return (*shape[:-2], shape[-1], shape[-2])


def _tensordot_shape_rule(in_types, attrs):
    return _tensordot_shape("np.linalg.tensordot", shape_of(in_types[0]), shape_of(in_types[1]), attrs["axes"])[0]


def _trace_shape(in_types, attrs):
    return _tensor("np.linalg.trace", in_types[0], 2)[:-2]


def _matmul_shape_rule(in_types, attrs):
    return _matmul_shape("np.linalg.matmul", shape_of(in_types[0]), shape_of(in_types[1]))[0]


def _vecdot_cost(in_types, out_types, attrs):
    return Cost(flops=2.0 * max(_prod(shape_of(in_types[0])), _prod(shape_of(in_types[1]))),
                bytes=_bytes([*in_types, *out_types]))


def _decl(name, kernel, shape_rule, params, doc, **facts):
    return register(OpDef(name, kernel=kernel, infer=_infer(name, kernel, shape_rule), params=params,
                          sources=(kernel,), doc=doc, **facts))


_KW = dict(keyword_only=True)
ARRAY_API_LINALG_OPS = {op.name: op for op in [
    _decl("np.linalg.matrix_norm", L.matrix_norm, _matrix_norm_shape,
          (operand("x"), attr("keepdims", False, **_KW), attr("ord", "fro", **_KW)),
          "Norm of each matrix of a stack (the last two axes).", alias=FRESH, cost=reduce_cost,
          shard=stacked_matrices, flags={"reduction"}, reduction=Reduction(None)),
    _decl("np.linalg.vector_norm", L.vector_norm, _vector_norm_shape,
          (operand("x"), attr("axis", None, **_KW), attr("keepdims", False, **_KW), attr("ord", 2, **_KW)),
          "Vector norm over axis (None: over every element).", alias=FRESH, cost=reduce_cost,
          shard=sharding.reduction, flags={"reduction"}, reduction=Reduction(None)),
    _decl("np.linalg.vecdot", L.vecdot, _vecdot_shape, (operand("x1"), operand("x2"), attr("axis", -1, **_KW)),
          "Dot product of broadcast vectors along axis, conjugating x1. A split does not carry: replicated.",
          alias=FRESH, cost=_vecdot_cost, flags={"contraction"}),
    _decl("np.linalg.outer", L.outer, _outer_shape, (operand("x1"), operand("x2")),
          "Outer product of two 1-D vectors.", alias=FRESH),
    _decl("np.linalg.cross", L.cross, _cross_shape, (operand("x1"), operand("x2"), attr("axis", -1, **_KW)),
          "Cross product of broadcast 3-vectors along axis.", alias=FRESH),
    _decl("np.linalg.diagonal", L.diagonal, _diagonal_shape, (operand("x"), attr("offset", 0, **_KW)),
          "The diagonal of each matrix of a stack (a read-only view, as NumPy's).", alias=ViewOf(0), flags={"view"},
          shard=stacked_matrices),
    _decl("np.linalg.matrix_transpose", L.matrix_transpose, _transpose_shape, (operand("x"),),
          "Each matrix of a stack transposed (a view; writes through it are refused).", alias=ViewOf(0), flags={"view"}, shard=stacked_matrices),
    _decl("np.linalg.tensordot", L.tensordot, _tensordot_shape_rule,
          (operand("x1"), operand("x2"), attr("axes", 2, **_KW)),
          "np.tensordot with the Array API's keyword-only axes.", alias=FRESH, cost=_tensordot_cost,
          flags={"contraction"}),
    _decl("np.linalg.trace", L.trace, _trace_shape,
          (operand("x"), attr("offset", 0, **_KW), attr("dtype", None, **_KW)),
          "Sum along a diagonal of each matrix of a stack (the last two axes).", alias=FRESH,
          shard=stacked_matrices),
    _decl("np.linalg.matmul", L.matmul, _matmul_shape_rule, (operand("x1"), operand("x2")),
          "np.matmul as the Array API's linalg extension names it.", alias=FRESH, cost=_matmul_cost,
          shard=sharding.matmul, flags={"contraction"}),
]}
