"""NumPy's static-shaped array functions beyond the core families: triangles and diagonals, grids,
products of shapes (kron), gathers and scatters along an axis, counting, partial sorts, set membership,
index arithmetic, static inserts and deletes, and the Array API's own names.

Each op is one `_decl`: its kernel is NumPy's function (so values are NumPy's bit for bit), its
shape follows by a rule from the operands' shapes and the static attributes (so symbolic dims flow
through), and its dtype is what NumPy returns on stand-ins (`dtype_by_example`), unless the rule says.
None of these results share memory with an input (NumPy's diagonal is a read-only view; the kernel
copies it), so every op here is FRESH.

NOTE: [in-place NumPy functions]
`np.put_along_axis`, `np.put`, `np.place`, `np.putmask` and `np.fill_diagonal` write into their
first argument and return None. Their ops are functional, like array.setitem: the kernel returns
an updated copy and the op carries the "updates_first" flag, on which the tracer rebinds the first
argument to the result (an input so updated is written back to the caller's array, as for `a[i] = v`).
"""
from __future__ import annotations

import operator

import numpy as np

from distjit.errors import ShapeError
from distjit.types import BOOL, INT, Ref, ScalarType, TensorType
from distjit.ops.creation import shape_attr
from distjit.ops.infer import (broadcast_shapes, example_dtypes, fmt_shape, fresh_dim, normalize_axes,
                               normalize_axis, numel, reduced_shape, shape_of, ufunc_dtypes)
from distjit.ops import sharding
from distjit.ops.sharding_numeric import follows_first, stacked_matrices
from distjit.ops.registry import FRESH, Cost, OpDef, Reduction, attr, operand, operands, register


def _tensor(op: str, t) -> TensorType:
    if isinstance(t, TensorType):
        return t
    if isinstance(t, ScalarType):
        return TensorType(np.asarray(t.pytype(0)).dtype, ())
    raise ShapeError(f"{op}: expected an array, got {t}")


def _int(op: str, v, what: str) -> int:
    if isinstance(v, Ref):
        raise ShapeError(f"{op}: {what} must be a constant (it decides the output shape)")
    try:
        return operator.index(v)
    except TypeError:
        raise ShapeError(f"{op}: {what} must be an int, not {v!r}") from None


def _add(a, b):
    return a + b if isinstance(a, int) and isinstance(b, int) else fresh_dim()


def _diag_len(rows, cols, k: int):
    if isinstance(rows, int) and isinstance(cols, int):
        return max(0, min(rows + min(k, 0), cols - max(k, 0)))
    return rows if k == 0 and rows == cols else fresh_dim()


def _data_cost(in_types, out_types, attrs):
    moved = sum(t.nbytes if t.nbytes is not None else 1 << 20 for t in [*in_types, *out_types]
                if isinstance(t, TensorType))
    return Cost(flops=float(sum(t.size or 1 for t in out_types if isinstance(t, TensorType))), bytes=float(moved))


def one_or_tuple(kernel):
    """A kernel of a tuple-returning function for the calling convention: a node with one output takes
    the value itself (np.meshgrid of one array returns a 1-tuple; the tracer makes it one again)."""
    def k(*args, **kwargs):
        out = kernel(*args, **kwargs)
        return out[0] if len(out) == 1 else out
    k.__name__ = getattr(kernel, "__name__", "kernel")
    return k


def _decl(name, kernel, shapes, params, sources, *, dtypes=None, shard=None, flags=(), doc="",
          reduction=None, cost=None):
    """One op: `shapes(in_types, attrs)` gives the output shapes (a list), `dtypes` the output dtypes
    (default: NumPy's on stand-ins); a shape of None stands for a Python scalar output of that dtype."""
    if "tuple_output" in flags:
        kernel = one_or_tuple(kernel)
    def infer(in_types, attrs):
        out_shapes = shapes(in_types, attrs)
        kinds = dtypes(in_types, attrs) if dtypes is not None else example_dtypes(name, kernel, in_types, attrs)
        out = []
        for shape, dtype in zip(out_shapes, kinds):
            if shape is None:
                out.append(BOOL if np.dtype(dtype) == np.bool_ else INT)
            else:
                out.append(TensorType(np.dtype(dtype), tuple(shape)))
        return out

    return register(OpDef(name, kernel=kernel, infer=infer, params=params, flags=frozenset(flags),
                          sources=tuple(sources), shard=shard, alias=FRESH, doc=doc, reduction=reduction,
                          cost=cost or _data_cost))


def _first_dtype(in_types, attrs):
    return [_tensor("", in_types[0]).dtype]


# ---- triangles and diagonals ----------------------------------------------------------------------------------

def _tri_part(fn):
    def kernel(m, k=0):
        return fn(m, k)
    kernel.__name__ = fn.__name__
    return kernel


def _tri_part_shape(op):
    def rule(in_types, attrs):
        x = _tensor(op, in_types[0])
        _int(op, attrs["k"], "k")
        if x.ndim == 0:
            raise ShapeError(f"{op}: input must be at least 1-D")
        return [(x.shape[0], x.shape[0]) if x.ndim == 1 else x.shape]
    return rule


def _tri(N, M=None, k=0, dtype=float):
    return np.tri(N, M, k, dtype=dtype)


def _tri_shape(in_types, attrs):
    n = shape_attr("np.tri", attrs["N"], in_types)[0]
    m = n if attrs["M"] is None else shape_attr("np.tri", attrs["M"], in_types)[0]
    return [(n, m)]


def _diag(v, k=0):
    # A matrix's diagonal is a read-only view in NumPy; the op is declared fresh (the memory planner
    # may write into its result), so it hands out a copy, as np.diagonal's kernel does.
    out = np.diag(v, k)
    return out.copy() if np.ndim(v) == 2 else out


def _diag_shape(in_types, attrs):
    x = _tensor("np.diag", in_types[0])
    k = _int("np.diag", attrs["k"], "k")
    if x.ndim == 1:
        n = _add(x.shape[0], abs(k))
        return [(n, n)]
    if x.ndim == 2:
        return [(_diag_len(x.shape[0], x.shape[1], k),)]
    raise ShapeError("np.diag: input must be 1- or 2-d")


def _diagflat(v, k=0):
    return np.diagflat(v, k)


def _diagflat_shape(in_types, attrs):
    x = _tensor("np.diagflat", in_types[0])
    n = _add(numel(x.shape), abs(_int("np.diagflat", attrs["k"], "k")))
    return [(n, n)]


def _diagonal(a, offset=0, axis1=0, axis2=1):
    return np.diagonal(a, offset, axis1, axis2).copy()


def _diagonal_shape(in_types, attrs):
    op = "np.diagonal"
    x = _tensor(op, in_types[0])
    if x.ndim < 2:
        raise ShapeError(f"{op}: diag requires an array of at least two dimensions")
    a1, a2 = normalize_axis(op, attrs["axis1"], x.ndim), normalize_axis(op, attrs["axis2"], x.ndim)
    if a1 == a2:
        raise ShapeError(f"{op}: axis1 and axis2 cannot be the same")
    rest = tuple(d for i, d in enumerate(x.shape) if i not in (a1, a2))
    return [rest + (_diag_len(x.shape[a1], x.shape[a2], _int(op, attrs["offset"], "offset")),)]


def _trace_batch(node, ins):
    """diagonal of a stack: a split along a batch axis (not axis1/axis2) stays, on its place among the rest."""
    if ins[0] is None or any(a is not None for a in ins[1:]):
        return None
    ndim = node.inputs[0].type.ndim
    a1 = node.attrs.get("axis1", 0) % ndim
    a2 = node.attrs.get("axis2", 1) % ndim
    if ins[0] in (a1, a2):
        return None
    return sharding.Split([ins[0] - sum(1 for a in (a1, a2) if a < ins[0])])


# ---- grids ------------------------------------------------------------------------------------------------------

def _indices(dimensions, dtype=int):
    return np.indices(dimensions, dtype=dtype)


def _indices_shape(in_types, attrs):
    dims = shape_attr("np.indices", attrs["dimensions"], in_types)
    return [(len(dims), *dims)]


def _indices_dtype(in_types, attrs):
    return [np.dtype(attrs["dtype"])]


def _meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    return tuple(np.meshgrid(*xi, copy=True, sparse=sparse, indexing=indexing))


def _meshgrid_shape(in_types, attrs):
    op = "np.meshgrid"
    if attrs["indexing"] not in ("xy", "ij"):
        raise ShapeError(f"{op}: Valid values for `indexing` are 'xy' and 'ij'.")
    lengths = [numel(shape_of(t)) for t in in_types]
    n = len(lengths)
    full = list(lengths)
    if attrs["indexing"] == "xy" and n > 1:
        full[0], full[1] = full[1], full[0]
    if not attrs["sparse"]:
        return [tuple(full)] * n
    out = []
    for i in range(n):
        axis = i
        if attrs["indexing"] == "xy" and n > 1 and i < 2:
            axis = 1 - i
        out.append(tuple(full[j] if j == axis else 1 for j in range(n)))
    return out


def _meshgrid_dtypes(in_types, attrs):
    return [_tensor("np.meshgrid", t).dtype for t in in_types]


def _kron_shape(in_types, attrs):
    a, b = shape_of(in_types[0]), shape_of(in_types[1])
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    return [tuple(x * y if isinstance(x, int) and isinstance(y, int) else fresh_dim() for x, y in zip(a, b))]


def _vander(x, N=None, increasing=False):
    return np.vander(x, N, increasing)


def _vander_shape(in_types, attrs):
    x = shape_of(in_types[0])
    if len(x) != 1:
        raise ShapeError("np.vander: x must be a one-dimensional array or sequence.")
    n = x[0] if attrs["N"] is None else _int("np.vander", attrs["N"], "N")
    return [(x[0], n)]


# ---- along an axis ------------------------------------------------------------------------------------------------

def _take_along_axis(arr, indices, axis=-1):
    return np.take_along_axis(arr, indices, axis)


def _along_axis_shape(op, data=0, index=1):
    def rule(in_types, attrs):
        a, i = _tensor(op, in_types[data]), _tensor(op, in_types[index])
        if i.dtype.kind not in "iu":
            raise ShapeError(f"{op}: `indices` must be an integer array")
        if attrs["axis"] is None:
            if i.ndim != 1:
                raise ShapeError(f"{op}: when axis=None, `indices` must have a single dimension.")
            return [i.shape] if op == "np.take_along_axis" else [(numel(a.shape),)]
        if a.ndim != i.ndim:
            raise ShapeError(f"{op}: `indices` and `arr` must have the same number of dimensions")
        axis = normalize_axis(op, attrs["axis"], a.ndim)
        a_rest = tuple(1 if k == axis else d for k, d in enumerate(a.shape))
        i_rest = tuple(1 if k == axis else d for k, d in enumerate(i.shape))
        rest = broadcast_shapes(op, a_rest, i_rest)
        if op == "np.take_along_axis":
            return [rest[:axis] + (i.shape[axis],) + rest[axis + 1:]]
        return [a.shape]
    return rule


def _put_along_axis(arr, indices, values, axis):
    out = np.array(arr, copy=True)
    np.put_along_axis(out, indices, values, axis)
    return out


def _put(a, ind, v, mode="raise"):
    out = np.array(a, copy=True)
    np.put(out, ind, v, mode=mode)
    return out


def _place(arr, mask, vals):
    out = np.array(arr, copy=True)
    np.place(out, mask, vals)
    return out


def _putmask(a, mask, values):
    out = np.array(a, copy=True)
    np.putmask(out, mask, values)
    return out


def _fill_diagonal(a, val, wrap=False):
    out = np.array(a, copy=True)
    np.fill_diagonal(out, val, wrap)
    return out


def _same_as_first(in_types, attrs):
    return [_tensor("", in_types[0]).shape]


def _fill_diagonal_shape(in_types, attrs):
    a = _tensor("np.fill_diagonal", in_types[0])
    if a.ndim < 2:
        raise ShapeError("np.fill_diagonal: array must be at least 2-d")
    if a.ndim > 2 and len({d for d in a.shape}) != 1:
        raise ShapeError("np.fill_diagonal: All dimensions of input must be of equal length")
    return [a.shape]


# ---- counting, cumulative, partial sorts, membership ------------------------------------------------------------

def _count_nonzero(a, axis=None, keepdims=False):
    return np.count_nonzero(a, axis=axis, keepdims=keepdims)


def _count_nonzero_shape(in_types, attrs):
    x = _tensor("np.count_nonzero", in_types[0])
    axes = normalize_axes("np.count_nonzero", attrs["axis"], x.ndim)
    return [reduced_shape(x.shape, axes, attrs["keepdims"])]


def _count_nonzero_dtype(in_types, attrs):
    return [np.dtype(np.intp)]


def _cumulative(fn):
    def kernel(x, axis=None, dtype=None, include_initial=False):
        return fn(x, axis=axis, dtype=dtype, include_initial=include_initial)
    kernel.__name__ = fn.__name__
    return kernel


def _cumulative_shape(op):
    def rule(in_types, attrs):
        x = _tensor(op, in_types[0])
        if attrs["axis"] is None:
            if x.ndim > 1:
                raise ShapeError(f"{op}: axis must be specified for an array of more than one dimension")
            axis = 0
            shape = x.shape or (1,)
        else:
            axis = normalize_axis(op, attrs["axis"], x.ndim)
            shape = x.shape
        if attrs["include_initial"]:
            shape = shape[:axis] + (_add(shape[axis], 1),) + shape[axis + 1:]
        return [shape]
    return rule


def _partition(fn):
    def kernel(a, kth, axis=-1, kind="introselect"):
        return fn(a, kth, axis=axis, kind=kind)
    kernel.__name__ = fn.__name__
    return kernel


def _partition_shape(op):
    def rule(in_types, attrs):
        x = _tensor(op, in_types[0])
        kth = attrs["kth"]
        for k in (kth if isinstance(kth, (tuple, list)) else (kth,)):
            _int(op, k, "kth")
        if attrs["axis"] is None:
            return [(numel(x.shape),)]
        normalize_axis(op, attrs["axis"], x.ndim)
        return [x.shape]
    return rule


def _isin(element, test_elements, assume_unique=False, invert=False, kind=None):
    return np.isin(element, test_elements, assume_unique=assume_unique, invert=invert, kind=kind)


def _array_equal(a1, a2, equal_nan=False):
    return np.array_equal(a1, a2, equal_nan=equal_nan)


def _python_bool(in_types, attrs):
    return [None]


def _bool_dtype(in_types, attrs):
    return [np.dtype(bool)]


# ---- index arithmetic ------------------------------------------------------------------------------------------

def _unravel_index(indices, shape, order="C"):
    return tuple(np.unravel_index(indices, shape, order=order))


def _unravel_shape(in_types, attrs):
    i = _tensor("np.unravel_index", in_types[0])
    if i.dtype.kind not in "iu":
        raise ShapeError("np.unravel_index: only int indices permitted")
    dims = attrs["shape"]
    n = len(dims) if isinstance(dims, (tuple, list)) else 1
    return [i.shape] * n


def _intp(in_types, attrs):
    dims = attrs["shape"]
    return [np.dtype(np.intp)] * (len(dims) if isinstance(dims, (tuple, list)) else 1)


def _ravel_multi_index(*multi_index, dims, mode="raise", order="C"):
    return np.ravel_multi_index(multi_index, dims, mode=mode, order=order)


def _ravel_multi_index_shape(in_types, attrs):
    op = "np.ravel_multi_index"
    dims = attrs["dims"]
    n = len(dims) if isinstance(dims, (tuple, list)) else 1
    if len(in_types) != n:
        raise ShapeError(f"{op}: parameter multi_index must be a sequence of length {n}")
    return [broadcast_shapes(op, *(shape_of(t) for t in in_types))]


# ---- static inserts and deletes ---------------------------------------------------------------------------------

def _static_index(op: str, obj):
    if isinstance(obj, Ref):
        raise ShapeError(f"{op}: indices computed at run time make the output length depend on their values; "
                         f"pass them as constants, or keep the length and select with np.where(mask, x, fill)")
    return obj


def _probe(shape, dtype):
    """A zero-strided stand-in of a static shape: NumPy's own function then computes the result's shape."""
    if any(not isinstance(d, int) for d in shape):
        return None
    return np.broadcast_to(np.zeros((), dtype), shape)


def _delete(arr, obj, axis=None):
    return np.delete(arr, obj, axis)


def _insert(arr, values, obj, axis=None):
    return np.insert(arr, obj, values, axis)


def _delete_shape(in_types, attrs):
    op = "np.delete"
    x = _tensor(op, in_types[0])
    obj = _static_index(op, attrs["obj"])
    axis = attrs["axis"]
    shape = (numel(x.shape),) if axis is None else x.shape
    axis = 0 if axis is None else normalize_axis(op, axis, x.ndim)
    n = shape[axis]
    if not isinstance(n, int):
        return [shape[:axis] + (fresh_dim(),) + shape[axis + 1:]]
    try:
        kept = np.delete(np.arange(n), obj).shape[0]
    except (IndexError, ValueError, TypeError) as e:
        raise ShapeError(f"{op}: {e}") from None
    return [shape[:axis] + (kept,) + shape[axis + 1:]]


def _insert_shape(in_types, attrs):
    op = "np.insert"
    x, v = _tensor(op, in_types[0]), _tensor(op, in_types[1])
    obj = _static_index(op, attrs["obj"])
    probe_x, probe_v = _probe(x.shape, x.dtype), _probe(v.shape, v.dtype)
    if probe_x is None or probe_v is None:
        raise ShapeError(f"{op}: needs static shapes (got {fmt_shape(x.shape)} and {fmt_shape(v.shape)})")
    try:
        return [np.insert(probe_x, obj, probe_v, attrs["axis"]).shape]
    except (IndexError, ValueError, TypeError) as e:
        raise ShapeError(f"{op}: {e}") from None


# ---- ufunc methods ----------------------------------------------------------------------------------------------

def _ufunc(name: str) -> np.ufunc:
    u = getattr(np, name, None)
    if not isinstance(u, np.ufunc) or u.nin != 2:
        raise ShapeError(f"{name} is not a binary NumPy ufunc")
    return u


def _outer(a, b, ufunc):
    return _ufunc(ufunc).outer(a, b)


def _outer_infer(in_types, attrs):
    u = _ufunc(attrs["ufunc"])
    shape = shape_of(in_types[0]) + shape_of(in_types[1])
    return [TensorType(d, shape) for d in ufunc_dtypes(u, in_types)]


def _reduceat(x, ufunc, indices, axis=0, dtype=None):
    return _ufunc(ufunc).reduceat(x, list(indices), axis=axis, dtype=dtype)


def _reduceat_infer(in_types, attrs):
    x = _tensor("ufunc.reduceat", in_types[0])
    u = _ufunc(attrs["ufunc"])
    indices = attrs["indices"]
    if isinstance(indices, Ref) or not isinstance(indices, (tuple, list)):
        raise ShapeError("ufunc.reduceat: indices must be a constant list of ints")
    axis = normalize_axis("ufunc.reduceat", attrs["axis"], x.ndim)
    dtype = ufunc_dtypes(u, [x, x], attrs["dtype"])[0]
    return [TensorType(dtype, x.shape[:axis] + (len(indices),) + x.shape[axis + 1:])]


register(OpDef("ufunc.outer", kernel=_outer, infer=_outer_infer,
               params=(operand("a"), operand("b"), attr("ufunc")), alias=FRESH, shard=None, cost=_data_cost,
               doc="`np.<ufunc>.outer(a, b)`: the ufunc of every pair, shape a.shape + b.shape."))
register(OpDef("ufunc.reduceat", kernel=_reduceat, infer=_reduceat_infer,
               params=(operand("x"), attr("ufunc"), attr("indices"), attr("axis", 0), attr("dtype", None)),
               alias=FRESH, cost=_data_cost, shard=sharding.along_other_axis,
               doc="`np.<ufunc>.reduceat(x, indices)` with constant indices: reductions over slices."))


# ---- Array API names with a NumPy spelling of their own --------------------------------------------------------

def _broadcast_arrays(*args):
    # NumPy's results are views of the inputs (and broadcast ones must not be written); the op is
    # declared fresh, so each is materialized.
    return tuple(np.array(a) for a in np.broadcast_arrays(*args))


def _broadcast_arrays_shape(in_types, attrs):
    shape = broadcast_shapes("np.broadcast_arrays", *(shape_of(t) for t in in_types))
    return [shape] * len(in_types)


def _unstack(x, axis=0):
    return tuple(a.copy() for a in np.unstack(x, axis=axis))      # views in NumPy; the op is declared fresh


def _unstack_shape(in_types, attrs):
    x = _tensor("np.unstack", in_types[0])
    if x.ndim == 0:
        raise ShapeError("np.unstack: Input array must be at least 1-d.")
    axis = normalize_axis("np.unstack", attrs["axis"], x.ndim)
    n = x.shape[axis]
    if not isinstance(n, int):
        raise ShapeError(f"np.unstack: the number of results is the length of axis {axis}, which must be static "
                         f"(got {n})")
    return [x.shape[:axis] + x.shape[axis + 1:]] * n


def _unstack_dtypes(in_types, attrs):
    x = _tensor("np.unstack", in_types[0])
    n = x.shape[normalize_axis("np.unstack", attrs["axis"], x.ndim)]
    return [x.dtype] * (n if isinstance(n, int) else 0)


def _vecdot(x1, x2, axis=-1):
    return np.vecdot(x1, x2, axis=axis)


def _vecdot_shape(in_types, attrs):
    op = "np.vecdot"
    a, b = _tensor(op, in_types[0]), _tensor(op, in_types[1])
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"{op}: inputs must be at least 1-D")
    ia, ib = normalize_axis(op, attrs["axis"], a.ndim), normalize_axis(op, attrs["axis"], b.ndim)
    if isinstance(a.shape[ia], int) and isinstance(b.shape[ib], int) and a.shape[ia] != b.shape[ib]:
        raise ShapeError(f"{op}: the vector lengths differ ({a.shape[ia]} and {b.shape[ib]})")
    return [broadcast_shapes(op, a.shape[:ia] + a.shape[ia + 1:], b.shape[:ib] + b.shape[ib + 1:])]


def _matvec_shape(op, vec_first):
    def rule(in_types, attrs):
        a, b = _tensor(op, in_types[0]), _tensor(op, in_types[1])
        m, v = (b, a) if vec_first else (a, b)
        if m.ndim < 2 or v.ndim < 1:
            raise ShapeError(f"{op}: needs a stack of matrices and a stack of vectors")
        inner = m.shape[-2] if vec_first else m.shape[-1]
        if isinstance(inner, int) and isinstance(v.shape[-1], int) and inner != v.shape[-1]:
            raise ShapeError(f"{op}: the vector length {v.shape[-1]} does not match the matrix {fmt_shape(m.shape)}")
        outer = m.shape[-1] if vec_first else m.shape[-2]
        return [broadcast_shapes(op, m.shape[:-2], v.shape[:-1]) + (outer,)]
    return rule


# ---- the declarations -------------------------------------------------------------------------------------------

_K = attr("k", 0)

ARRAY_OPS = {op.name: op for op in [
    _decl("np.triu", _tri_part(np.triu), _tri_part_shape("np.triu"), (operand("m"), _K), (np.triu,),
          dtypes=_first_dtype, shard=stacked_matrices, doc="The upper triangle (on and above the k-th diagonal)."),
    _decl("np.tril", _tri_part(np.tril), _tri_part_shape("np.tril"), (operand("m"), _K), (np.tril,),
          dtypes=_first_dtype, shard=stacked_matrices, doc="The lower triangle (on and below the k-th diagonal)."),
    _decl("np.tri", _tri, _tri_shape, (attr("N"), attr("M", None), _K, attr("dtype", float)), (np.tri,),
          dtypes=lambda in_types, attrs: [np.dtype(attrs["dtype"])], flags={"creation"},
          doc="Ones at and below the k-th diagonal."),
    _decl("np.diag", _diag, _diag_shape, (operand("v"), _K), (np.diag,), dtypes=_first_dtype,
          doc="The k-th diagonal of a 2-D array, or a 2-D array with v on its k-th diagonal."),
    _decl("np.diagflat", _diagflat, _diagflat_shape, (operand("v"), _K), (np.diagflat,), dtypes=_first_dtype,
          doc="A 2-D array with the flattened v on its k-th diagonal."),
    _decl("np.diagonal", _diagonal, _diagonal_shape,
          (operand("a"), attr("offset", 0), attr("axis1", 0), attr("axis2", 1)), (np.diagonal,),
          dtypes=_first_dtype, shard=_trace_batch, doc="Diagonals over axis1 and axis2, appended as the last axis."),
    _decl("np.indices", _indices, _indices_shape, (attr("dimensions"), attr("dtype", int)), (np.indices,),
          dtypes=_indices_dtype, flags={"creation"}, doc="The index grid of a shape, stacked (sparse=False only)."),
    _decl("np.meshgrid", _meshgrid, _meshgrid_shape,
          (operands("xi", variadic=True), attr("copy", True), attr("sparse", False), attr("indexing", "xy")),
          (np.meshgrid,), dtypes=_meshgrid_dtypes, flags={"tuple_output"},
          doc="Coordinate grids of 1-D coordinates (copies always: NumPy's copy=False views are read-only)."),
    _decl("np.kron", np.kron, _kron_shape, (operand("a"), operand("b")), (np.kron,),
          doc="The Kronecker product: blocks of b scaled by each element of a."),
    _decl("np.vander", _vander, _vander_shape, (operand("x"), attr("N", None), attr("increasing", False)),
          (np.vander,), shard=follows_first, doc="Powers of x as columns (decreasing unless increasing=True)."),
    _decl("np.take_along_axis", _take_along_axis, _along_axis_shape("np.take_along_axis"),
          (operand("arr"), operand("indices"), attr("axis", -1)), (np.take_along_axis,), dtypes=_first_dtype,
          doc="arr's elements at indices along axis (the gather argsort's result feeds)."),
    _decl("np.put_along_axis", _put_along_axis, _along_axis_shape("np.put_along_axis"),
          (operand("arr"), operand("indices"), operand("values"), attr("axis")), (np.put_along_axis,),
          dtypes=_first_dtype, flags={"updates_first"},
          doc="arr with values written at indices along axis (see NOTE: [in-place NumPy functions])."),
    _decl("np.put", _put, _same_as_first, (operand("a"), operand("ind"), operand("v"), attr("mode", "raise")),
          (np.put,), dtypes=_first_dtype, flags={"updates_first"}, doc="a with v written at flat indices ind."),
    _decl("np.place", _place, _same_as_first, (operand("arr"), operand("mask"), operand("vals")), (np.place,),
          dtypes=_first_dtype, flags={"updates_first"}, doc="arr with vals (cycled) where mask is True."),
    _decl("np.putmask", _putmask, _same_as_first, (operand("a"), operand("mask"), operand("values")),
          (np.putmask,), dtypes=_first_dtype, flags={"updates_first"},
          doc="a with values[i] (values repeated over a) where mask is True."),
    _decl("np.fill_diagonal", _fill_diagonal, _fill_diagonal_shape,
          (operand("a"), operand("val"), attr("wrap", False)), (np.fill_diagonal,), dtypes=_first_dtype,
          flags={"updates_first"}, doc="a with val on its main diagonal."),
    _decl("np.count_nonzero", _count_nonzero, _count_nonzero_shape,
          (operand("a"), attr("axis", None), attr("keepdims", False, keyword_only=True)), (np.count_nonzero,),
          dtypes=_count_nonzero_dtype, shard=sharding.reduction, flags={"reduction", "combine:sum"},
          reduction=Reduction("sum", 0, partials=False),
          doc="The number of non-zero elements (along axis)."),
    _decl("np.cumulative_sum", _cumulative(np.cumulative_sum), _cumulative_shape("np.cumulative_sum"),
          (operand("x"), attr("axis", None, keyword_only=True), attr("dtype", None, keyword_only=True),
           attr("include_initial", False, keyword_only=True)), (np.cumulative_sum,),
          shard=sharding.along_other_axis, doc="The Array API's cumsum (include_initial prepends the 0)."),
    _decl("np.cumulative_prod", _cumulative(np.cumulative_prod), _cumulative_shape("np.cumulative_prod"),
          (operand("x"), attr("axis", None, keyword_only=True), attr("dtype", None, keyword_only=True),
           attr("include_initial", False, keyword_only=True)), (np.cumulative_prod,),
          shard=sharding.along_other_axis, doc="The Array API's cumprod (include_initial prepends the 1)."),
    _decl("np.partition", _partition(np.partition), _partition_shape("np.partition"),
          (operand("a"), attr("kth"), attr("axis", -1), attr("kind", "introselect")), (np.partition,),
          dtypes=_first_dtype, shard=sharding.along_other_axis,
          doc="a with its kth element in sorted position, smaller before it and larger after."),
    _decl("np.argpartition", _partition(np.argpartition), _partition_shape("np.argpartition"),
          (operand("a"), attr("kth"), attr("axis", -1), attr("kind", "introselect")), (np.argpartition,),
          dtypes=lambda t, a: [np.dtype(np.intp)], shard=sharding.along_other_axis,
          doc="The indices that partition a."),
    _decl("np.isin", _isin, lambda t, a: [shape_of(t[0])],
          (operand("element"), operand("test_elements"), attr("assume_unique", False), attr("invert", False),
           attr("kind", None, keyword_only=True)), (np.isin,), dtypes=_bool_dtype, shard=follows_first,
          doc="Whether each element is in test_elements."),
    _decl("np.array_equal", _array_equal, _python_bool,
          (operand("a1"), operand("a2"), attr("equal_nan", False)), (np.array_equal,), dtypes=_bool_dtype,
          doc="Same shape and elements, as a Python bool."),
    _decl("np.array_equiv", np.array_equiv, _python_bool, (operand("a1"), operand("a2")), (np.array_equiv,),
          dtypes=_bool_dtype, doc="Broadcastable and equal, as a Python bool."),
    _decl("np.unravel_index", _unravel_index, _unravel_shape,
          (operand("indices"), attr("shape"), attr("order", "C")), (np.unravel_index,), dtypes=_intp,
          flags={"tuple_output"}, shard=sharding.elementwise,
          doc="Flat indices as a tuple of coordinate arrays of a static shape."),
    _decl("np.ravel_multi_index", _ravel_multi_index, _ravel_multi_index_shape,
          (operands("multi_index"), attr("dims"), attr("mode", "raise"), attr("order", "C")),
          (np.ravel_multi_index,), dtypes=lambda t, a: [np.dtype(np.intp)], shard=sharding.elementwise,
          doc="Coordinate arrays as flat indices into a static shape."),
    _decl("np.delete", _delete, _delete_shape, (operand("arr"), attr("obj"), attr("axis", None)), (np.delete,),
          dtypes=_first_dtype, doc="arr without the sub-arrays at the constant indices obj."),
    _decl("np.insert", _insert, _insert_shape,
          (operand("arr"), attr("obj"), operand("values"), attr("axis", None)), (np.insert,), dtypes=_first_dtype,
          doc="arr with values inserted before the constant indices obj."),
    _decl("np.broadcast_arrays", _broadcast_arrays, _broadcast_arrays_shape,
          (operands("args", variadic=True),), (np.broadcast_arrays,),
          dtypes=lambda t, a: [_tensor("np.broadcast_arrays", x).dtype for x in t], flags={"tuple_output"},
          doc="Every operand broadcast to their common shape (read-only views in NumPy)."),
    _decl("np.unstack", _unstack, _unstack_shape, (operand("x"), attr("axis", 0, keyword_only=True)),
          (np.unstack,), dtypes=_unstack_dtypes, flags={"tuple_output"},
          doc="The sub-arrays along a static-length axis, as a tuple."),
    _decl("np.vecdot", _vecdot, _vecdot_shape, (operand("x1"), operand("x2"), attr("axis", -1, keyword_only=True)),
          (np.vecdot,), doc="Dot products of vectors along axis (conjugating x1), broadcast over the rest."),
    _decl("np.matvec", np.matvec, _matvec_shape("np.matvec", False), (operand("x1"), operand("x2")),
          (np.matvec,), shard=stacked_matrices, doc="Matrix-vector products over stacks."),
    _decl("np.vecmat", np.vecmat, _matvec_shape("np.vecmat", True), (operand("x1"), operand("x2")),
          (np.vecmat,), doc="Vector-matrix products over stacks (conjugating the vector)."),
]}
