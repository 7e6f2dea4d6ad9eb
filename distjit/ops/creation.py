"""Array creation: zeros, ones, full, empty, arange, linspace, eye, identity, the *_like family and the
window functions (bartlett, blackman, hamming, hanning, kaiser: a length M, no array argument).

NOTE: [creation shapes]
A shape is an attribute: an int, a tuple of ints, or either with `Ref(k)` where a
dim is computed at run time (``np.zeros((n, 3))`` in a script where `n` is a
value). A Ref'd dim has no size at compile time, so it becomes a fresh symbol
(`fresh_dim()`); a whole shape that is a Ref to a tuple value becomes one fresh
dim per element. The same holds for arange's bounds, linspace's `num` and eye's
N and M. Ops whose inputs are all attributes have no operands; `fill_value` (full,
full_like), the prototype of the *_like ops and linspace's start and stop may be
arrays, so they are operands.

Dtypes are computed by rule or on tiny calls, never by running the op at its real
size: inference must not allocate what the program will.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from distjit.errors import ShapeError
from distjit.types import Ref, ScalarType, TensorType, TupleType
from distjit.ops.infer import (attr_type, broadcast_shapes, default_dtype, example_dtypes, fmt_shape,
                               fresh_dim, normalize_axis, operand_types, shape_of)
from distjit.ops import sharding
from distjit.ops.registry import FRESH, Cost, OpDef, attr, operand, register


def _dim(op: str, d, in_types):
    if isinstance(d, Ref):
        t = in_types[d.index]
        if isinstance(t, ScalarType) and t.kind == "int" or isinstance(t, TensorType) and t.ndim == 0:
            return fresh_dim()
        raise ShapeError(f"{op}: a dim computed at run time must be an int, not {t}")
    try:
        n = operator.index(d)
    except TypeError:
        raise ShapeError(f"{op}: dims must be ints, not {d!r}") from None
    if n < 0:
        raise ShapeError(f"{op}: negative dimensions are not allowed ({n})")
    return n


def shape_attr(op: str, shape, in_types) -> tuple:
    """The dims of a shape attribute (see NOTE: [creation shapes])."""
    if isinstance(shape, Ref):
        t = in_types[shape.index]
        if isinstance(t, TupleType):
            return tuple(fresh_dim() for _ in t.elements)
        if isinstance(t, TensorType) and t.ndim == 1 and isinstance(t.shape[0], int):
            return tuple(fresh_dim() for _ in range(t.shape[0]))
        return (_dim(op, shape, in_types),)
    if isinstance(shape, (tuple, list)):
        return tuple(_dim(op, d, in_types) for d in shape)
    return (_dim(op, shape, in_types),)


def _creation_cost(in_types, out_types, attrs):
    t = out_types[0]
    size = t.size if t.size is not None else 1 << 20
    return Cost(flops=float(size), bytes=float(size * t.dtype.itemsize))


def _dtype_attr(op: str, dtype, default) -> np.dtype:
    try:
        return np.dtype(default if dtype is None else dtype)
    except TypeError as e:
        raise ShapeError(f"{op}: {e}") from None


# ---- zeros, ones, empty, full --------------------------------------------------------------------------

def _filled_infer(op: str):
    def infer(in_types, attrs):
        return [TensorType(_dtype_attr(op, attrs["dtype"], float), shape_attr(op, attrs["shape"], in_types))]

    return infer


def _zeros(shape, dtype=None, order="C"):
    return np.zeros(shape, dtype=dtype, order=order)


def _ones(shape, dtype=None, order="C"):
    return np.ones(shape, dtype=dtype, order=order)


def _empty(shape, dtype=None, order="C"):
    return np.empty(shape, dtype=dtype, order=order)


def _full(fill_value, shape, dtype=None, order="C"):
    return np.full(shape, fill_value, dtype=dtype, order=order)


def _check_fill(op: str, fill, shape) -> None:
    fs = shape_of(fill)
    try:
        ok = len(fs) <= len(shape) and broadcast_shapes(op, shape, fs) == shape
    except ShapeError:
        ok = False
    if not ok:
        raise ShapeError(f"{op}: could not broadcast fill_value of shape {fmt_shape(fs)} to {fmt_shape(shape)}")


def _full_infer(in_types, attrs):
    fill, = operand_types(in_types, attrs)
    shape = shape_attr("np.full", attrs["shape"], in_types)
    _check_fill("np.full", fill, shape)
    dtype = default_dtype(fill) if attrs["dtype"] is None else _dtype_attr("np.full", attrs["dtype"], None)
    return [TensorType(dtype, shape)]


# ---- *_like ---------------------------------------------------------------------------------------------

def _like_kernel(fn):
    def kernel(a, dtype=None, order="K", shape=None):
        return fn(a, dtype=dtype, order=order, shape=shape)

    kernel.__name__ = fn.__name__
    return kernel


def _full_like(a, fill_value, dtype=None, order="K", shape=None):
    return np.full_like(a, fill_value, dtype=dtype, order=order, shape=shape)


def _like_infer(op: str):
    def infer(in_types, attrs):
        ops = operand_types(in_types, attrs)
        proto = ops[0]
        shape = shape_of(proto) if attrs["shape"] is None else shape_attr(op, attrs["shape"], in_types)
        if len(ops) > 1:
            _check_fill(op, ops[1], shape)
        dtype = default_dtype(proto) if attrs["dtype"] is None else _dtype_attr(op, attrs["dtype"], None)
        return [TensorType(dtype, shape)]

    return infer


# ---- arange, linspace -----------------------------------------------------------------------------------

def _arange(start, stop=None, step=None, dtype=None):
    return np.arange(start, stop, step, dtype=dtype)


def _stand_in(value, in_types, n):
    """A value of the same type as `value` (a bound of arange) but equal to n, for a tiny dtype probe."""
    if value is None:
        return None
    t = attr_type(value, in_types)
    if isinstance(t, TensorType):
        return np.asarray(n, dtype=t.dtype)[()]
    if isinstance(t, ScalarType):
        return t.pytype(n)
    raise ShapeError(f"np.arange: bounds must be numbers, not {t}")


def _arange_infer(in_types, attrs):
    start, stop, step, dtype = attrs["start"], attrs["stop"], attrs["step"], attrs["dtype"]
    try:
        if stop is None:   # arange(n): the same call on a stand-in n = 1
            probe = _arange(_stand_in(start, in_types, 1), None, _stand_in(step, in_types, 1), dtype=dtype)
        else:
            probe = _arange(_stand_in(start, in_types, 0), _stand_in(stop, in_types, 1),
                            _stand_in(step, in_types, 1), dtype=dtype)
    except (TypeError, ValueError) as e:
        raise ShapeError(f"np.arange: {e}") from None
    if stop is None:
        start, stop = 0, start
    if step is None:
        step = 1
    if any(isinstance(v, Ref) for v in (start, stop, step)):
        return [TensorType(probe.dtype, (fresh_dim(),))]
    values = [v.item() if isinstance(v, np.generic) else v for v in (start, stop, step)]
    if isinstance(values[2], (int, float, complex)) and values[2] == 0:
        raise ShapeError("np.arange: step must not be zero (maximum allowed size exceeded)")
    if all(isinstance(v, int) for v in values):
        n = len(range(*values))
    else:
        n = max(0, math.ceil((values[1] - values[0]) / values[2]))   # NumPy's own rule, in doubles
    return [TensorType(probe.dtype, (n,))]


def _linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    return np.linspace(start, stop, num, endpoint=endpoint, retstep=retstep, dtype=dtype, axis=axis)


def _linspace_infer(in_types, attrs):
    op = "np.linspace"
    start, stop = operand_types(in_types, attrs)
    num = attrs["num"]
    n = _dim(op, num, in_types)
    base = broadcast_shapes(op, shape_of(start), shape_of(stop))
    axis = normalize_axis(op, attrs["axis"], len(base) + 1)
    shape = (*base[:axis], n, *base[axis:])
    dtypes = example_dtypes(op, _linspace, [start, stop], {**attrs, "num": 2})
    out = [TensorType(dtypes[0], shape)]
    if attrs["retstep"]:
        out.append(TensorType(dtypes[1], base))
    return out


# ---- eye, identity --------------------------------------------------------------------------------------

def _eye(N, M=None, k=0, dtype=None, order="C"):
    return np.eye(N, M, k, dtype=float if dtype is None else dtype, order=order)


def _eye_infer(in_types, attrs):
    n = _dim("np.eye", attrs["N"], in_types)
    m = n if attrs["M"] is None else _dim("np.eye", attrs["M"], in_types)   # M=None: square, same symbol
    return [TensorType(_dtype_attr("np.eye", attrs["dtype"], float), (n, m))]


def _identity(n, dtype=None):
    return np.identity(n, dtype=dtype)


def _identity_infer(in_types, attrs):
    n = _dim("np.identity", attrs["n"], in_types)
    return [TensorType(_dtype_attr("np.identity", attrs["dtype"], float), (n, n))]


# ---- windows ---------------------------------------------------------------------------------------------

def _window_length(op: str, m, in_types):
    """M values; NumPy gives an empty window for M < 1, where a shape attribute would be refused."""
    if isinstance(m, Ref):
        return _dim(op, m, in_types)
    try:
        return max(operator.index(m), 0)
    except TypeError:
        raise ShapeError(f"{op}: M must be an int, not {m!r}") from None


def _window_infer(op: str):
    def infer(in_types, attrs):
        return [TensorType(np.dtype(np.float64), (_window_length(op, attrs["M"], in_types),))]

    return infer


def _kaiser_infer(in_types, attrs):
    (beta,) = operand_types(in_types, attrs)
    if not (isinstance(beta, ScalarType) and beta.kind in ("bool", "int", "float")
            or isinstance(beta, TensorType) and beta.ndim == 0 and beta.dtype.kind in "biuf"):
        raise ShapeError(f"np.kaiser: beta must be a real number, not {beta}")
    return [TensorType(np.dtype(np.float64), (_window_length("np.kaiser", attrs["M"], in_types),))]


def _window_cost(in_types, out_types, attrs):
    """A handful of cosines (or a Bessel function's series) per value."""
    size = out_types[0].size if out_types[0].size is not None else 1 << 20
    return Cost(flops=float(30 * size), bytes=float(8 * size))


def _window(name: str, fn, doc: str) -> OpDef:
    return _decl(name, lambda M: fn(M), _window_infer(name), (attr("M"),), fn, cost=_window_cost, doc=doc)


# ---- the declarations -------------------------------------------------------------------------------------

_SHAPE_DTYPE_ORDER = (attr("shape"), attr("dtype", None), attr("order", "C"))
_LIKE = (attr("dtype", None), attr("order", "K"), attr("shape", None))   # subok is meaningless without subclasses


def _decl(name, kernel, infer, params, source, flags=(), doc="", cost=_creation_cost) -> OpDef:
    like = name.endswith("_like")      # the result has the operand's sharding (unless a new shape is given)
    # A new array: its buffer is its own, so an update of it in a loop body can write in place
    # (distjit/core/inplace.py), as `u = np.zeros_like(v); u[1:-1] = ...` does in eager NumPy.
    return register(OpDef(name, kernel=kernel, infer=infer, params=params, flags=frozenset({"creation", *flags}),
                          sources=(source,), cost=cost, doc=doc, shard=sharding.like if like else None,
                          alias=FRESH))


CREATION_OPS = {op.name: op for op in [
    _decl("np.zeros", _zeros, _filled_infer("np.zeros"), _SHAPE_DTYPE_ORDER, np.zeros, doc="An array of zeros."),
    _decl("np.ones", _ones, _filled_infer("np.ones"), _SHAPE_DTYPE_ORDER, np.ones, doc="An array of ones."),
    _decl("np.empty", _empty, _filled_infer("np.empty"), _SHAPE_DTYPE_ORDER, np.empty, flags={"uninitialized"},
          doc="An array whose contents are unspecified: pure, but deterministic only in its type."),
    _decl("np.full", _full, _full_infer,
          (attr("shape"), operand("fill_value"), attr("dtype", None), attr("order", "C")), np.full,
          doc="An array filled with fill_value (an operand: it may be an array that broadcasts to shape)."),
    _decl("np.zeros_like", _like_kernel(np.zeros_like), _like_infer("np.zeros_like"), (operand("a"), *_LIKE),
          np.zeros_like, doc="Zeros with the type of a (dtype and shape may be overridden)."),
    _decl("np.ones_like", _like_kernel(np.ones_like), _like_infer("np.ones_like"), (operand("a"), *_LIKE),
          np.ones_like, doc="Ones with the type of a (dtype and shape may be overridden)."),
    _decl("np.empty_like", _like_kernel(np.empty_like), _like_infer("np.empty_like"), (operand("a"), *_LIKE),
          np.empty_like, flags={"uninitialized"},
          doc="Uninitialized, with the type of a: pure, but deterministic only in its type."),
    _decl("np.full_like", _full_like, _like_infer("np.full_like"),
          (operand("a"), operand("fill_value"), *_LIKE), np.full_like,
          doc="fill_value (an operand) with the type of a."),
    _decl("np.arange", _arange, _arange_infer,
          (attr("start"), attr("stop", None), attr("step", None), attr("dtype", None)), np.arange,
          doc="Evenly spaced values; np.arange(n) binds n to start and means arange(0, n)."),
    _decl("np.linspace", _linspace, _linspace_infer,
          (operand("start"), operand("stop"), attr("num", 50), attr("endpoint", True), attr("retstep", False),
           attr("dtype", None), attr("axis", 0)), np.linspace,
          doc="num values from start to stop (operands: they may be arrays); retstep=True adds the step."),
    _decl("np.eye", _eye, _eye_infer,
          (attr("N"), attr("M", None), attr("k", 0), attr("dtype", None), attr("order", "C")), np.eye,
          doc="A 2-D array with ones on the k-th diagonal."),
    _decl("np.identity", _identity, _identity_infer, (attr("n"), attr("dtype", None)), np.identity,
          doc="The n x n identity."),
    _window("np.bartlett", np.bartlett, "The Bartlett (triangular) window of M points (empty for M < 1)."),
    _window("np.blackman", np.blackman, "The Blackman window of M points (empty for M < 1)."),
    _window("np.hamming", np.hamming, "The Hamming window of M points (empty for M < 1)."),
    _window("np.hanning", np.hanning, "The Hann window of M points (empty for M < 1)."),
    _decl("np.kaiser", lambda beta, M: np.kaiser(M, beta), _kaiser_infer, (attr("M"), operand("beta")), np.kaiser,
          cost=_window_cost, doc="The Kaiser window of M points with shape parameter beta (an operand: it may "
                                 "be computed); empty for M < 1."),
]}
