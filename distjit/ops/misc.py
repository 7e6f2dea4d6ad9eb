"""Functions that fit no other family: where, clip, astype, copy, sort, argsort, take, round, isclose, allclose,
diff, cross, searchsorted.

NOTE: [optional array arguments]
An argument that may be an array is an operand, also when NumPy lets it be None:
``np.clip(x, None, 1.0)`` has three operands, the second of type `NoneType` (the
frontend records a literal None as a ``prim.Constant`` of value None). The kernel is
then NumPy's function itself, called with the same positional arguments, and one op
covers every combination; the alternatives (a bound as an attribute, or one op per
combination of given bounds) would need a kernel wrapper or several ops for what
NumPy does in one call. An array argument that NumPy lets one *omit* (searchsorted's
`sorter`) is an operand with a default: left out, the node has one input fewer.
"""
from __future__ import annotations

import math

import numpy as np

from distjit.errors import ShapeError
from distjit.types import BOOL, NoneType, TensorType
from distjit.ops.infer import (broadcast_shapes, default_dtype, example_dtypes, fmt_shape, fresh_dim, numel,
                               normalize_axis, shape_of)
from distjit.ops import sharding
from distjit.ops.standins import OptionalOperandsOpDef
from distjit.ops.registry import FRESH, Cost, Kind, OpDef, Param, Reduction, attr, operand, register

_UNKNOWN_SIZE = 1 << 20


def _by_example(op: str, kernel, shape_rule):
    """An infer function: shape by `shape_rule(in_types, attrs)`, dtype by running the kernel on stand-ins."""
    def infer(in_types, attrs):
        shape = shape_rule(in_types, attrs)
        return [TensorType(example_dtypes(op, kernel, in_types, attrs)[0], shape)]

    return infer


def _broadcast_all(op: str):
    def rule(in_types, attrs):
        return broadcast_shapes(op, *(shape_of(t) for t in in_types if not isinstance(t, NoneType)))

    return rule


def _same_shape(in_types, attrs):
    return shape_of(in_types[0])


# ---- clip ------------------------------------------------------------------------------------------------

def _clip_infer(in_types, attrs):
    if all(isinstance(t, NoneType) for t in in_types[1:]):
        raise ShapeError("np.clip: one of a_min or a_max must be given (not None)")
    return _by_example("np.clip", np.clip, _broadcast_all("np.clip"))(in_types, attrs)


# ---- astype, copy ----------------------------------------------------------------------------------------

def _astype_infer(in_types, attrs):
    x = in_types[0]
    if not isinstance(x, TensorType):
        raise ShapeError(f"np.astype: x must be a NumPy array or scalar, not a Python {x}")
    try:
        dtype = np.dtype(attrs["dtype"])
    except TypeError as e:
        raise ShapeError(f"np.astype: {e}") from None
    return [TensorType(dtype, x.shape)]


def _copy_infer(in_types, attrs):
    return [TensorType(default_dtype(in_types[0]), shape_of(in_types[0]))]


def _astype(x, dtype, copy=True):
    return np.astype(x, dtype, copy=copy)   # dtype is positional-only in NumPy


# ---- sort, argsort -----------------------------------------------------------------------------------------

def _sorted_shape(op: str):
    def rule(in_types, attrs):
        shape = shape_of(in_types[0])
        if attrs["axis"] is None:
            return (numel(shape),)
        normalize_axis(op, attrs["axis"], len(shape))
        return shape

    return rule


def _sort_cost(in_types, out_types, attrs):
    t = in_types[0]
    n = (t.size if t.size is not None else _UNKNOWN_SIZE) if isinstance(t, TensorType) else 1
    moved = sum((x.nbytes or 0) for x in [*in_types, *out_types] if isinstance(x, TensorType))
    return Cost(flops=float(n * max(1.0, math.log2(max(n, 1)))), bytes=float(moved))


# ---- take ------------------------------------------------------------------------------------------------------

def _take_infer(in_types, attrs):
    a, indices = in_types
    if default_dtype(indices).kind not in "iub":
        raise ShapeError(f"np.take: indices must be integers, not {default_dtype(indices)}")
    sa, si = shape_of(a), shape_of(indices)
    if attrs["axis"] is None:
        shape = si
    else:
        axis = normalize_axis("np.take", attrs["axis"], len(sa))
        shape = (*sa[:axis], *si, *sa[axis + 1:])
    return [TensorType(default_dtype(a), shape)]


# ---- isclose, allclose -------------------------------------------------------------------------------------

def _allclose_infer(in_types, attrs):
    broadcast_shapes("np.allclose", shape_of(in_types[0]), shape_of(in_types[1]))
    example_dtypes("np.allclose", np.isclose, in_types, attrs)   # same dtype checks as isclose
    return [BOOL]   # NumPy returns a Python bool


# ---- diff ---------------------------------------------------------------------------------------------------------

def _diff_shape(in_types, attrs):
    shape = shape_of(in_types[0])
    n = attrs["n"]
    if n < 0:
        raise ShapeError(f"np.diff: order must be non-negative but got {n}")
    if not shape:
        raise ShapeError("np.diff: requires input that is at least one dimensional")
    axis = normalize_axis("np.diff", attrs["axis"], len(shape))
    d = shape[axis]
    for extra in in_types[1:]:          # prepend, append: a scalar adds one, an array its length along axis
        if isinstance(extra, NoneType):
            continue
        es = shape_of(extra)
        e = 1 if not es else es[axis] if len(es) == len(shape) else None
        if e is None:
            raise ShapeError(f"np.diff: prepend/append of shape {fmt_shape(es)} must be a scalar or have "
                             f"{len(shape)} dimensions like a {fmt_shape(shape)}")
        d = d + e if isinstance(d, int) and isinstance(e, int) else fresh_dim()
    new = max(d - n, 0) if isinstance(d, int) else (d if n == 0 else fresh_dim())
    return (*shape[:axis], new, *shape[axis + 1:])


def _diff(a, prepend=None, append=None, n=1, axis=-1):
    extra = {k: v for k, v in (("prepend", prepend), ("append", append)) if v is not None}
    return np.diff(a, n=n, axis=axis, **extra)


# ---- cross ------------------------------------------------------------------------------------------------------

def _cross_infer(in_types, attrs):
    op = "np.cross"
    sa, sb = shape_of(in_types[0]), shape_of(in_types[1])
    axisa, axisb, axisc = attrs["axisa"], attrs["axisb"], attrs["axisc"]
    if attrs["axis"] is not None:
        axisa = axisb = axisc = attrs["axis"]
    if not sa or not sb:
        raise ShapeError(f"{op}: operands must be arrays of vectors, got shapes {fmt_shape(sa)} and {fmt_shape(sb)}")
    ia, ib = normalize_axis(op, axisa, len(sa)), normalize_axis(op, axisb, len(sb))
    va, vb = sa[ia], sb[ib]
    if va != 3 or vb != 3:
        raise ShapeError(f"{op}: incompatible dimensions for cross product (dimension must be 3, got {va} and {vb}; "
                         "NumPy 2 deprecates 2-D vectors)")
    rest = broadcast_shapes(op, sa[:ia] + sa[ia + 1:], sb[:ib] + sb[ib + 1:])
    ic = normalize_axis(op, axisc, len(rest) + 1)
    shape = (*rest[:ic], 3, *rest[ic:])
    da, db = default_dtype(in_types[0]), default_dtype(in_types[1])
    try:
        dtype = np.cross(np.ones(3, da), np.ones(3, db)).dtype
    except TypeError as e:
        raise ShapeError(f"{op}: not supported for {da} and {db}: {e}") from None
    return [TensorType(dtype, shape)]


# ---- searchsorted -----------------------------------------------------------------------------------------------

def _searchsorted(a, v, sorter=None, side="left"):
    return np.searchsorted(a, v, side=side, sorter=sorter)


def _searchsorted_infer(in_types, attrs):
    a = shape_of(in_types[0])
    if len(a) != 1:
        raise ShapeError(f"np.searchsorted: a must be 1-D, got shape {fmt_shape(a)}")
    if attrs["side"] not in ("left", "right"):
        raise ShapeError(f"np.searchsorted: side must be 'left' or 'right', not {attrs['side']!r}")
    if len(in_types) > 2 and not isinstance(in_types[2], NoneType) and shape_of(in_types[2]) != a:
        raise ShapeError(f"np.searchsorted: sorter of shape {fmt_shape(shape_of(in_types[2]))} "
                         f"does not match a {fmt_shape(a)}")
    return [TensorType(np.intp, shape_of(in_types[1]))]


# ---- the declarations -------------------------------------------------------------------------------------------

def _decl(name, kernel, infer, params, sources, flags=(), cost=None, doc="", cls=OpDef, **facts) -> OpDef:
    return register(cls(name, kernel=kernel, infer=infer, params=params, flags=frozenset(flags),
                          sources=tuple({id(s): s for s in sources}.values()), cost=cost, doc=doc, **facts))


# Out-taking kernels for the fused NumPy backend (distjit/runtime/fused_eval.py): np.where and astype
# take no out=, so a fused expression writes their results into its scratch buffers this way.
def _where_out(condition, x, y, out=None):
    if out is None:
        return np.where(condition, x, y)
    np.copyto(out, y, casting="unsafe")
    np.copyto(out, x, casting="unsafe", where=condition)
    return out


def _astype_out(x, dtype, copy=True, out=None):
    if out is None:
        return np.astype(x, np.dtype(dtype))
    np.copyto(out, x, casting="unsafe")
    return out


def _where_fusible(node) -> bool:
    """Fused where is evaluated by copyto(where=cond): only with a bool condition (an array or a scalar)."""
    c = node.inputs[0].type
    return len(node.inputs) == 3 and (not isinstance(c, TensorType) or c.dtype == np.bool_)


_SORT = (operand("a"), attr("axis", -1), attr("kind", None), attr("stable", None, keyword_only=True))

MISC_OPS = {op.name: op for op in [
    _decl("np.where", np.where, _by_example("np.where", np.where, _broadcast_all("np.where")),
          (operand("condition"), operand("x"), operand("y")), (np.where,), {"select", "elementwise"},
          doc="x where condition else y, broadcast (the 1-argument form is np.nonzero's, not this op).",
          alias=FRESH, shard=sharding.elementwise, fusible=_where_fusible,
          templates={"numpy": _where_out, "numba": "({1} if {0} else {2})"}),
    _decl("np.clip", np.clip, _clip_infer, (operand("a"), operand("a_min"), operand("a_max")), (np.clip,),
          {"elementwise"}, doc="a limited to [a_min, a_max]; a bound may be None (see NOTE: [optional array arguments]).",
          alias=FRESH, shard=sharding.elementwise),
    _decl("np.astype", _astype, _astype_infer,
          (operand("x"), attr("dtype"), attr("copy", True, keyword_only=True)), (np.astype,), {"elementwise"},
          doc="x cast to dtype (unsafe casting, as ndarray.astype).",
          shard=sharding.elementwise, fusible=True, templates={"numpy": _astype_out},
          fresh_when=lambda attrs, in_types: attrs.get("copy", True) is True),     # copy=True: always a copy
    _decl("np.copy", np.copy, _copy_infer, (operand("a"), attr("order", "K")), (np.copy,),
          doc="A copy of a (order only changes the memory layout).", alias=FRESH, shard=sharding.identity),
    _decl("np.sort", np.sort, _by_example("np.sort", np.sort, _sorted_shape("np.sort")), _SORT, (np.sort,),
          cost=_sort_cost, doc="Sorted along axis (None: flattened).", shard=sharding.along_other_axis),
    _decl("np.argsort", np.argsort, _by_example("np.argsort", np.argsort, _sorted_shape("np.argsort")), _SORT,
          (np.argsort,), cost=_sort_cost, doc="Indices that sort along axis (None: flattened).",
          shard=sharding.along_other_axis),
    _decl("np.take", np.take, _take_infer,
          (operand("a"), operand("indices"), attr("axis", None), attr("mode", "raise", keyword_only=True)),
          (np.take,), {"gather"}, doc="Elements of a at indices along axis (None: of the flattened a)."),
    _decl("np.round", np.round, _by_example("np.round", np.round, _same_shape),
          (operand("a"), attr("decimals", 0)), (np.round, np.around), {"elementwise"},
          doc="Rounded to `decimals` (half to even); integers stay integers.", shard=sharding.elementwise),
    _decl("np.isclose", np.isclose, _by_example("np.isclose", np.isclose, _broadcast_all("np.isclose")),
          (operand("a"), operand("b"), attr("rtol", 1e-05), attr("atol", 1e-08), attr("equal_nan", False)),
          (np.isclose,), {"elementwise"}, doc="Elementwise |a - b| <= atol + rtol * |b|.", shard=sharding.elementwise),
    _decl("np.allclose", np.allclose, _allclose_infer,
          (operand("a"), operand("b"), attr("rtol", 1e-05), attr("atol", 1e-08), attr("equal_nan", False)),
          (np.allclose,), {"reduction", "combine:all"}, doc="All of isclose, as a Python bool.",
          alias=FRESH, shard=sharding.reduction, reduction=Reduction("all", True)),
    _decl("np.diff", _diff, _by_example("np.diff", _diff, _diff_shape),
          (operand("a"), attr("n", 1), attr("axis", -1), Param("prepend", Kind.OPERAND, None),
           Param("append", Kind.OPERAND, None)), (np.diff,),
          doc="n-th discrete difference along axis, after prepend and append (optional operands).",
          shard=sharding.along_other_axis, cls=OptionalOperandsOpDef),
    _decl("np.cross", np.cross, _cross_infer,
          (operand("a"), operand("b"), attr("axisa", -1), attr("axisb", -1), attr("axisc", -1), attr("axis", None)),
          (np.cross,), doc="Cross product of (broadcast arrays of) 3-vectors."),
    _decl("np.searchsorted", _searchsorted, _searchsorted_infer,
          (operand("a"), operand("v"), attr("side", "left"), Param("sorter", Kind.OPERAND, None)),
          (np.searchsorted,), doc="Insertion indices of v into the sorted 1-D a (sorter: an optional operand)."),
]}
