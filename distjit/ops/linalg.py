"""Linear algebra: matmul, dot, einsum, tensordot, outer, inner, vdot, trace, and np.linalg's norm, inv, solve, det.

Shapes follow NumPy's rules, written out so that symbolic dims flow through; a
contracted pair of dims must be equal (`unify_dims`: an int and a named symbol are
taken to be equal, two different named symbols are not). Dtypes come from NumPy:
`matmul` is a ufunc (its loops), the others are evaluated on stand-ins.

NOTE: [einsum binding]
NumPy's ``np.einsum(subscripts, *operands, **kw)`` is variadic. Its OpDef keeps the
registry's `operands` parameter (a sequence) and overrides `bind` to collect the
positional operands into it, so the frontend binds it like any other op. Only the
subscripts form is supported; the interleaved form ``einsum(a, [0, 1], b, [1, 2])``
is a TracingError.
"""
from __future__ import annotations

import math

import numpy as np

from distjit.errors import ShapeError, TracingError
from distjit.types import TensorType
from distjit.ops.infer import (broadcast_shapes, example_dtypes, fmt_shape, numel,
                               normalize_axis, reduced_shape, shape_of, ufunc_dtypes, unify_dims)
from distjit.ops.reduce import reduce_cost
from distjit.ops import sharding
from distjit.ops.sharding_numeric import stacked_matrices, stacked_solve
from distjit.ops.registry import FRESH, Cost, OpDef, Reduction, attr, operand, operands, register

_UNKNOWN_DIM = 1 << 10   # a symbolic dim's assumed size in cost estimates


def _n(d) -> int:
    return d if isinstance(d, int) else _UNKNOWN_DIM


def _prod(dims) -> int:
    return math.prod(_n(d) for d in dims)


def _bytes(types) -> float:
    return float(sum(_prod(t.shape) * t.dtype.itemsize if isinstance(t, TensorType) else 8 for t in types))


def _contract(op: str, sa, sb, ia: int, ib: int):
    """The dim sa[ia] == sb[ib] of a contraction, or the NumPy-like 'not aligned' ShapeError."""
    d = unify_dims(sa[ia], sb[ib])
    if d is None:
        raise ShapeError(f"{op}: shapes {fmt_shape(sa)} and {fmt_shape(sb)} not aligned: "
                         f"{sa[ia]} (dim {ia % len(sa)}) != {sb[ib]} (dim {ib % len(sb)})")
    return d


def _tensors_only(op: str, in_types, min_ndim: int = 0):
    for i, t in enumerate(in_types):
        if not isinstance(t, TensorType) or t.ndim < min_ndim:
            nd = t.ndim if isinstance(t, TensorType) else 0
            raise ShapeError(f"{op}: operand {i} has {nd} dimension(s), at least {min_ndim} needed")


# ---- matmul --------------------------------------------------------------------------------------

def _matmul(x1, x2, dtype=None, out=None):
    """np.matmul. A product of two 2-D float or complex arrays that BLAS can read as they are runs as np.dot:
    the same BLAS call, bit for bit the same result, but with the GIL released. np.matmul's loop runs once
    for 2-D operands, below NumPy's threshold for releasing the GIL, so two threads' products (the
    LocalExecutor's tasks) would run one at a time."""
    target = out[0] if isinstance(out, tuple) else out
    if (dtype is None and type(x1) is np.ndarray and type(x2) is np.ndarray and x1.ndim == 2 == x2.ndim
            and x1.dtype == x2.dtype and x1.dtype.char in "fdFD" and _blas_layout(x1) and _blas_layout(x2)
            and (target is None or target.dtype == x1.dtype and target.flags.c_contiguous
                 and target.shape == (x1.shape[0], x2.shape[1]))):
        return np.dot(x1, x2, out=target)
    if dtype is not None:
        return np.matmul(x1, x2, dtype=dtype, out=out)
    return np.matmul(x1, x2, out=out)


def _blas_layout(x: np.ndarray) -> bool:
    return x.flags.c_contiguous or x.flags.f_contiguous


def _matmul_shape(op, sa, sb):
    if not sa or not sb:
        raise ShapeError(f"{op}: operand {0 if not sa else 1} is 0-dimensional (use np.multiply for scalars)")
    a = (1, *sa) if len(sa) == 1 else sa
    b = (*sb, 1) if len(sb) == 1 else sb
    k_a, k_b = len(a) - 1, len(b) - 2
    if unify_dims(a[k_a], b[k_b]) is None:
        raise ShapeError(f"{op}: shapes {fmt_shape(sa)} and {fmt_shape(sb)} not aligned: "
                         f"{sa[-1]} (dim {len(sa) - 1}) != {sb[k_b if len(sb) > 1 else 0]} "
                         f"(dim {max(len(sb) - 2, 0)})")
    batch = broadcast_shapes(op, a[:-2], b[:-2])
    out = [*batch]
    if len(sa) > 1:
        out.append(a[-2])
    if len(sb) > 1:
        out.append(b[-1])
    return tuple(out), a[-1]


def _matmul_infer(in_types, attrs):
    for t in in_types:
        if not isinstance(t, TensorType):
            raise ShapeError("np.matmul: operands must be arrays, not Python scalars (use np.multiply)")
    shape, _ = _matmul_shape("np.matmul", in_types[0].shape, in_types[1].shape)
    try:
        dtypes = ufunc_dtypes(np.matmul, in_types, attrs.get("dtype"))
    except TypeError as e:
        raise ShapeError(f"np.matmul: {e}") from None
    return [TensorType(dtypes[0], shape)]


def _matmul_cost(in_types, out_types, attrs):
    _, k = _matmul_shape("np.matmul", in_types[0].shape, in_types[1].shape)
    return Cost(flops=2.0 * _prod(out_types[0].shape) * _n(k), bytes=_bytes([*in_types, *out_types]))


# ---- dot, inner, outer, vdot -------------------------------------------------------------------------

def _dot_shape(op, sa, sb):
    if not sa or not sb:
        return broadcast_shapes(op, sa, sb), 1
    if len(sb) == 1:
        return sa[:-1], _contract(op, sa, sb, -1, 0)
    return (*sa[:-1], *sb[:-2], sb[-1]), _contract(op, sa, sb, -1, -2)


def _dot_infer(in_types, attrs):
    shape, _ = _dot_shape("np.dot", shape_of(in_types[0]), shape_of(in_types[1]))
    return [TensorType(example_dtypes("np.dot", np.dot, in_types, attrs)[0], shape)]


def _dot_cost(in_types, out_types, attrs):
    _, k = _dot_shape("np.dot", shape_of(in_types[0]), shape_of(in_types[1]))
    return Cost(flops=2.0 * _prod(shape_of(out_types[0])) * _n(k), bytes=_bytes([*in_types, *out_types]))


def _inner_infer(in_types, attrs):
    sa, sb = shape_of(in_types[0]), shape_of(in_types[1])
    if not sa or not sb:
        shape = broadcast_shapes("np.inner", sa, sb)
    else:
        _contract("np.inner", sa, sb, -1, -1)
        shape = (*sa[:-1], *sb[:-1])
    return [TensorType(example_dtypes("np.inner", np.inner, in_types, attrs)[0], shape)]


def _inner_cost(in_types, out_types, attrs):
    sa = shape_of(in_types[0])
    k = sa[-1] if sa and shape_of(in_types[1]) else 1
    return Cost(flops=2.0 * _prod(shape_of(out_types[0])) * _n(k), bytes=_bytes([*in_types, *out_types]))


def _outer_infer(in_types, attrs):
    shape = (numel(shape_of(in_types[0])), numel(shape_of(in_types[1])))
    return [TensorType(example_dtypes("np.outer", np.outer, in_types, attrs)[0], shape)]


def _vdot_infer(in_types, attrs):
    sa, sb = shape_of(in_types[0]), shape_of(in_types[1])
    na, nb = numel(sa), numel(sb)
    if unify_dims(na, nb) is None:
        raise ShapeError(f"np.vdot: shapes {fmt_shape(sa)} and {fmt_shape(sb)} have different sizes ({na} != {nb})")
    return [TensorType(example_dtypes("np.vdot", np.vdot, in_types, attrs)[0], ())]


# ---- einsum -------------------------------------------------------------------------------------------

class EinsumOpDef(OpDef):
    """np.einsum's declaration: `bind` takes NumPy's variadic call (see NOTE: [einsum binding])."""

    def bind(self, args, kwargs):
        if "operands" in kwargs:
            raise TracingError(f"{self.name}: pass the operands positionally, as NumPy does")
        if args and not isinstance(args[0], str) or not args and not isinstance(kwargs.get("subscripts"), str):
            raise TracingError(f"{self.name}: only the subscripts form einsum('ij,jk->ik', a, b) is supported")
        if args:
            args = (args[0], list(args[1:]))
        else:
            kwargs = {**kwargs, "operands": []}
        return super().bind(args, kwargs)


def _einsum(*operands, subscripts, dtype=None, order="K", casting="safe", optimize=False):
    return np.einsum(subscripts, *operands, dtype=dtype, order=order, casting=casting, optimize=optimize)


def parse_einsum(op: str, subscripts: str, shapes) -> tuple[tuple, dict]:
    """(output shape, {label: dim}) of an einsum; "..." broadcasts, implicit mode sorts the single labels."""
    spec = subscripts.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ShapeError(f"{op}: {subscripts!r} names {len(terms)} operand(s), {len(shapes)} given")
    sizes: dict[str, object] = {}
    ellipsis_shapes = []
    counts: dict[str, int] = {}
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        labels = term.replace("...", "")
        if not all(c.isalpha() for c in labels):
            raise ShapeError(f"{op}: invalid subscript in {term!r} (letters and '...' only)")
        if "..." in term:
            n_ell = len(shape) - len(labels)
            if n_ell < 0:
                raise ShapeError(f"{op}: operand {i} has {len(shape)} dims, fewer than subscripts {term!r}")
            before = term.index("...")
            dims = list(shape[:before]) + list(shape[before + n_ell:])
            ellipsis_shapes.append(tuple(shape[before:before + n_ell]))
        else:
            if len(labels) != len(shape):
                raise ShapeError(f"{op}: operand {i} of shape {fmt_shape(shape)} does not match subscripts "
                                 f"{term!r} ({len(labels)} labels, {len(shape)} dims)")
            dims = list(shape)
        for c, d in zip(labels, dims):
            counts[c] = counts.get(c, 0) + 1
            if c not in sizes or sizes[c] == 1:
                sizes[c] = d
            elif d != 1:
                unified = unify_dims(sizes[c], d)
                if unified is None:
                    raise ShapeError(f"{op}: label {c!r} has size {sizes[c]} and {d} in {subscripts!r}")
                sizes[c] = unified
    ell = broadcast_shapes(op, *ellipsis_shapes) if ellipsis_shapes else ()
    if not arrow:
        output = ("..." if ellipsis_shapes else "") + "".join(sorted(c for c, n in counts.items() if n == 1))
    elif ell and "..." not in output:
        raise ShapeError(f"{op}: {subscripts!r} has broadcast dims {fmt_shape(ell)} but no '...' in the output")
    out_shape = []
    rest = output
    while rest:
        if rest.startswith("..."):
            out_shape.extend(ell)
            rest = rest[3:]
            continue
        c, rest = rest[0], rest[1:]
        if c not in sizes:
            raise ShapeError(f"{op}: output label {c!r} does not appear in the inputs of {subscripts!r}")
        out_shape.append(sizes[c])
    return tuple(out_shape), {**sizes, "...": ell}


def _einsum_infer(in_types, attrs):
    subscripts = attrs["subscripts"]
    shape, _ = parse_einsum("np.einsum", subscripts, [shape_of(t) for t in in_types])
    return [TensorType(example_dtypes("np.einsum", _einsum, in_types, attrs)[0], shape)]


def _einsum_cost(in_types, out_types, attrs):
    _, sizes = parse_einsum("np.einsum", attrs["subscripts"], [shape_of(t) for t in in_types])
    ell = sizes.pop("...")
    work = _prod([*sizes.values(), *ell])
    return Cost(flops=float(work * max(len(in_types) - 1, 1)), bytes=_bytes([*in_types, *out_types]))


# ---- tensordot ----------------------------------------------------------------------------------------

def _tensordot_axes(op, axes, na, nb):
    if isinstance(axes, (int, np.integer)):
        if axes < 0 or axes > min(na, nb):
            raise ShapeError(f"{op}: axes={axes} out of range for operands of {na} and {nb} dims")
        return tuple(range(na - axes, na)), tuple(range(axes))
    try:
        ax_a, ax_b = axes
    except (TypeError, ValueError):
        raise ShapeError(f"{op}: axes must be an int or a pair of axis sequences, not {axes!r}") from None
    ax_a = tuple(ax_a) if isinstance(ax_a, (list, tuple)) else (ax_a,)
    ax_b = tuple(ax_b) if isinstance(ax_b, (list, tuple)) else (ax_b,)
    if len(ax_a) != len(ax_b):
        raise ShapeError(f"{op}: shape-mismatch for sum: {len(ax_a)} axes of a, {len(ax_b)} axes of b")
    return tuple(normalize_axis(op, a, na) for a in ax_a), tuple(normalize_axis(op, b, nb) for b in ax_b)


def _tensordot_shape(op, sa, sb, axes):
    ax_a, ax_b = _tensordot_axes(op, axes, len(sa), len(sb))
    k = []
    for i, j in zip(ax_a, ax_b):
        if unify_dims(sa[i], sb[j]) is None:
            raise ShapeError(f"{op}: shape-mismatch for sum: {fmt_shape(sa)} axis {i} is {sa[i]}, "
                             f"{fmt_shape(sb)} axis {j} is {sb[j]}")
        k.append(sa[i])
    out = tuple(d for i, d in enumerate(sa) if i not in ax_a) + tuple(d for j, d in enumerate(sb) if j not in ax_b)
    return out, k


def _tensordot_infer(in_types, attrs):
    shape, _ = _tensordot_shape("np.tensordot", shape_of(in_types[0]), shape_of(in_types[1]), attrs["axes"])
    return [TensorType(example_dtypes("np.tensordot", np.tensordot, in_types, attrs)[0], shape)]


def _tensordot_cost(in_types, out_types, attrs):
    shape, k = _tensordot_shape("np.tensordot", shape_of(in_types[0]), shape_of(in_types[1]), attrs["axes"])
    return Cost(flops=2.0 * _prod(shape) * _prod(k), bytes=_bytes([*in_types, *out_types]))


# ---- trace --------------------------------------------------------------------------------------------

def _trace_infer(in_types, attrs):
    shape = shape_of(in_types[0])
    if len(shape) < 2:
        raise ShapeError(f"np.trace: needs an array of at least two dimensions, got {fmt_shape(shape)}")
    a1 = normalize_axis("np.trace", attrs["axis1"], len(shape))
    a2 = normalize_axis("np.trace", attrs["axis2"], len(shape))
    if a1 == a2:
        raise ShapeError(f"np.trace: axis1 and axis2 cannot be the same ({a1})")
    out = tuple(d for i, d in enumerate(shape) if i not in (a1, a2))
    return [TensorType(example_dtypes("np.trace", np.trace, in_types, attrs)[0], out)]


# ---- np.linalg ----------------------------------------------------------------------------------------

_MATRIX_ORDS = {None, "fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf}


def _norm_infer(in_types, attrs):
    op = "np.linalg.norm"
    shape = shape_of(in_types[0])
    ord_, axis, keepdims = attrs["ord"], attrs["axis"], bool(attrs["keepdims"])
    if axis is None:
        if ord_ is not None and len(shape) not in (1, 2):
            raise ShapeError(f"{op}: improper number of dimensions to norm: ord={ord_!r} needs a 1-D or 2-D array "
                             f"(or axis=), got {fmt_shape(shape)}")
        axes = tuple(range(len(shape)))
    else:
        axes = axis if isinstance(axis, tuple) else (axis,)
        if len(axes) > 2:
            raise ShapeError(f"{op}: improper number of dimensions to norm: axis={axis!r}")
        axes = tuple(normalize_axis(op, a, len(shape)) for a in axes)
        if len(axes) == 2 and axes[0] == axes[1]:
            raise ShapeError(f"{op}: duplicate axes given: {axis!r}")
    if ord_ is not None:
        if len(axes) == 1 and isinstance(ord_, str):
            raise ShapeError(f"{op}: invalid norm order {ord_!r} for vectors")
        if len(axes) == 2 and ord_ not in _MATRIX_ORDS:
            raise ShapeError(f"{op}: invalid norm order {ord_!r} for matrices "
                             "(None, 'fro', 'nuc', 1, -1, 2, -2, inf, -inf)")
    out = reduced_shape(shape, tuple(sorted(axes)), keepdims)
    return [TensorType(example_dtypes(op, np.linalg.norm, in_types, attrs)[0], out)]


def _square(op: str, t) -> tuple:
    shape = shape_of(t)
    if len(shape) < 2:
        raise ShapeError(f"{op}: {len(shape)}-dimensional array given. Array must be at least two-dimensional")
    if unify_dims(shape[-1], shape[-2]) is None:
        raise ShapeError(f"{op}: last 2 dimensions of the array must be square, got {fmt_shape(shape)}")
    return shape


def _inv_infer(in_types, attrs):
    shape = _square("np.linalg.inv", in_types[0])
    return [TensorType(example_dtypes("np.linalg.inv", np.linalg.inv, in_types, attrs)[0], shape)]


def _det_infer(in_types, attrs):
    shape = _square("np.linalg.det", in_types[0])
    return [TensorType(example_dtypes("np.linalg.det", np.linalg.det, in_types, attrs)[0], shape[:-2])]


def _solve_infer(in_types, attrs):
    op = "np.linalg.solve"
    sa = _square(op, in_types[0])
    sb = shape_of(in_types[1])
    if len(sb) == 0:
        raise ShapeError(f"{op}: b must be at least one-dimensional")
    if len(sb) == 1:   # NumPy 2: b is a vector only when it is 1-D
        _contract(op, sa, sb, -1, 0)
        shape = (*sa[:-1],)
    else:
        _contract(op, sa, sb, -1, -2)
        shape = (*broadcast_shapes(op, sa[:-2], sb[:-2]), sa[-2], sb[-1])
    return [TensorType(example_dtypes(op, np.linalg.solve, in_types, attrs)[0], shape)]


def _cubic_cost(in_types, out_types, attrs):
    shape = shape_of(in_types[0])
    return Cost(flops=float(_prod(shape[:-2]) * _n(shape[-1]) ** 3), bytes=_bytes([*in_types, *out_types]))


# ---- the declarations ---------------------------------------------------------------------------------

LINALG_OPS = {op.name: op for op in [
    register(OpDef("np.matmul", kernel=_matmul, infer=_matmul_infer,
                   params=(operand("x1"), operand("x2"), attr("dtype", None, keyword_only=True)),
                   flags={"contraction"}, sources=(np.matmul,), cost=_matmul_cost,
                   shard=sharding.matmul, alias=FRESH, takes_out=True,
                   doc="Matrix product with broadcast batch dims; 1-D operands are promoted and the dim dropped.")),
    register(OpDef("np.dot", kernel=np.dot, infer=_dot_infer, params=(operand("a"), operand("b")),
                   flags={"contraction"}, sources=(np.dot,), cost=_dot_cost, shard=sharding.dot, alias=FRESH,
                   doc="np.dot: sum over the last axis of a and the second-to-last of b.")),
    register(OpDef("np.inner", kernel=np.inner, infer=_inner_infer, params=(operand("a"), operand("b")),
                   flags={"contraction"}, sources=(np.inner,), cost=_inner_cost, alias=FRESH,
                   doc="Sum over the last axes of a and b.")),
    register(OpDef("np.outer", kernel=np.outer, infer=_outer_infer, params=(operand("a"), operand("b")),
                   sources=(np.outer,), doc="Outer product of the flattened operands.")),
    register(OpDef("np.vdot", kernel=np.vdot, infer=_vdot_infer, params=(operand("a"), operand("b")),
                   flags={"contraction"}, sources=(np.vdot,), cost=reduce_cost, alias=FRESH,
                   doc="Dot product of the flattened operands, conjugating the first.")),
    register(EinsumOpDef("np.einsum", kernel=_einsum, infer=_einsum_infer,
                         params=(attr("subscripts"), operands("operands"), attr("dtype", None, keyword_only=True),
                                 attr("order", "K", keyword_only=True), attr("casting", "safe", keyword_only=True),
                                 attr("optimize", False, keyword_only=True)),
                         flags={"contraction"}, sources=(np.einsum,), cost=_einsum_cost,
                         shard=sharding.einsum,  # "ij->ji" and "i->i" return views of the operand: may alias
                         doc="Einstein summation; `subscripts` is an attribute, the operands are variadic.")),
    register(OpDef("np.tensordot", kernel=np.tensordot, infer=_tensordot_infer,
                   params=(operand("a"), operand("b"), attr("axes", 2)),
                   flags={"contraction"}, sources=(np.tensordot,), cost=_tensordot_cost, alias=FRESH,
                   doc="Sum over the given axes: an int N (last N of a, first N of b) or a pair of sequences.")),
    register(OpDef("np.trace", kernel=np.trace, infer=_trace_infer,
                   params=(operand("a"), attr("offset", 0), attr("axis1", 0), attr("axis2", 1), attr("dtype", None)),
                   flags={"reduction", "combine:sum"}, sources=(np.trace,), shard=sharding.reduction, alias=FRESH,
                   reduction=Reduction("sum", 0),
                   doc="Sum along a diagonal.")),
    register(OpDef("np.linalg.norm", kernel=np.linalg.norm, infer=_norm_infer,
                   params=(operand("x"), attr("ord", None), attr("axis", None), attr("keepdims", False)),
                   flags={"reduction"}, sources=(np.linalg.norm,), cost=reduce_cost, shard=sharding.reduction, alias=FRESH,
                   reduction=Reduction(None),
                   doc="Vector norm (axis an int) or matrix norm (axis a pair, or a 2-D array with ord given).")),
    register(OpDef("np.linalg.inv", kernel=np.linalg.inv, infer=_inv_infer, params=(operand("a"),),
                   sources=(np.linalg.inv,), cost=_cubic_cost, alias=FRESH, shard=stacked_matrices,
                   doc="Inverse of (a stack of) square matrices.")),
    register(OpDef("np.linalg.det", kernel=np.linalg.det, infer=_det_infer, params=(operand("a"),),
                   sources=(np.linalg.det,), cost=_cubic_cost, alias=FRESH, shard=stacked_matrices,
                   doc="Determinant of (a stack of) square matrices.")),
    register(OpDef("np.linalg.solve", kernel=np.linalg.solve, infer=_solve_infer, params=(operand("a"), operand("b")),
                   sources=(np.linalg.solve,), cost=_cubic_cost, alias=FRESH, shard=stacked_solve,
                   doc="Solves a x = b; b is a vector only when it is 1-D (NumPy 2).")),
]}
