"""Shape and dtype inference shared by the op families.

Dtypes follow NumPy 2 (NEP 50) exactly because they are computed by NumPy itself:
ufunc loops by `ufunc.resolve_dtypes` (which knows weak Python scalars), other
functions by running the kernel on a tiny stand-in array (cached per input dtypes
and attributes). Shapes are computed by rules, so symbolic dims (``"B"``) flow
through.
"""
from __future__ import annotations

import functools
import itertools
import warnings

import numpy as np

from distjit.errors import ShapeError
from distjit.types import (BOOL, COMPLEX, FLOAT, INT, Dim, NoneType, Ref, ScalarType, TensorType, Type,
                           iter_refs, type_of)

_fresh = itertools.count()


def fresh_dim() -> str:
    """A symbol for a dim whose size is known only at run time (a data-dependent length)."""
    return f"?{next(_fresh)}"


def is_unknown(d: Dim) -> bool:
    return isinstance(d, str) and d.startswith("?")


def broadcast_shapes(op: str, *shapes: tuple[Dim, ...]) -> tuple[Dim, ...]:
    ndim = max((len(s) for s in shapes), default=0)
    out: list[Dim] = []
    for axis in range(ndim):
        dim: Dim = 1
        for s in shapes:
            d = s[axis - ndim + len(s)] if axis - ndim + len(s) >= 0 else 1
            if d == 1 or d == dim:
                continue
            if dim == 1:
                dim = d
            elif is_unknown(d) or is_unknown(dim):
                dim = dim if isinstance(dim, int) else d
            elif isinstance(d, str) and isinstance(dim, str):
                raise ShapeError(f"{op}: cannot broadcast symbolic dims {dim} and {d} ({_shapes(shapes)})")
            elif isinstance(d, str) or isinstance(dim, str):
                dim = d if isinstance(d, int) else dim
            else:
                raise ShapeError(f"{op}: operands could not be broadcast together with shapes {_shapes(shapes)}")
        out.append(dim)
    return tuple(out)


def _shapes(shapes) -> str:
    return " ".join("(" + ",".join(str(d) for d in s) + ")" for s in shapes)


def shape_of(t: Type) -> tuple[Dim, ...]:
    return t.shape if isinstance(t, TensorType) else ()


def dtype_arg(t: Type):
    """What `ufunc.resolve_dtypes` takes for an input: a dtype, or a Python type for a weak scalar."""
    if isinstance(t, TensorType):
        return t.dtype
    if isinstance(t, ScalarType):
        return np.dtype(bool) if t.kind == "bool" else t.pytype
    raise TypeError(f"not an array or scalar: {t}")


def ufunc_dtypes(ufunc: np.ufunc, in_types: list[Type], dtype=None) -> tuple[np.dtype, ...]:
    """Output dtypes of a ufunc call (NEP 50 rules, from NumPy itself)."""
    key = tuple(dtype_arg(t) for t in in_types)
    return _resolve(ufunc, key, None if dtype is None else np.dtype(dtype))


@functools.lru_cache(maxsize=4096)
def _resolve(ufunc, in_dtypes, dtype):
    kwargs = {} if dtype is None else {"signature": (None,) * ufunc.nin + (dtype,) * ufunc.nout}
    args = in_dtypes + (None,) * ufunc.nout
    try:
        resolved = ufunc.resolve_dtypes(args, **kwargs)
    except TypeError:
        # A loop of weak scalars only (int and float): NumPy makes them strong at call time.
        strong = tuple(np.result_type(d) if isinstance(d, type) else d for d in in_dtypes)
        resolved = ufunc.resolve_dtypes(strong + (None,) * ufunc.nout, **kwargs)
    return resolved[ufunc.nin:]


def scalar_kind(dtype: np.dtype) -> ScalarType:
    if dtype.kind == "b":
        return BOOL
    if dtype.kind in "iu":
        return INT
    if dtype.kind == "f":
        return FLOAT
    return COMPLEX


def example(t: Type):
    """A tiny stand-in value of type `t` (all dims 1) for dtype inference by evaluation."""
    if isinstance(t, TensorType):
        return np.ones((1,) * t.ndim, dtype=t.dtype)
    if isinstance(t, ScalarType):
        return t.pytype(1)
    if isinstance(t, NoneType):
        return None
    raise TypeError(f"no example value for {t}")


def dtype_by_example(kernel, in_types: list[Type], attrs: dict) -> list[np.dtype]:
    """Dtypes of what `kernel` returns on stand-ins of these types (for functions that are not ufuncs)."""
    key = (kernel, tuple(in_types), _freeze(attrs))
    try:
        return _dtype_by_example(key)
    except TypeError:  # unhashable attribute: compute without the cache
        return _compute_example(kernel, in_types, attrs)


def _freeze(attrs: dict):
    return tuple(sorted((k, _freeze_value(v)) for k, v in attrs.items()))


def _freeze_value(v):
    if isinstance(v, list):
        return ("list", tuple(_freeze_value(x) for x in v))
    if isinstance(v, tuple):
        return ("tuple", tuple(_freeze_value(x) for x in v))
    if isinstance(v, slice):
        return ("slice", v.start, v.stop, v.step)
    if isinstance(v, np.ndarray):
        raise TypeError("arrays are not hashable")
    return v


@functools.lru_cache(maxsize=4096)
def _dtype_by_example(key):
    kernel, in_types, attrs = key
    return _compute_example(kernel, list(in_types), {k: _thaw(v) for k, v in attrs})


def _thaw(v):
    if isinstance(v, tuple) and len(v) == 2 and v[0] in ("list", "tuple"):
        items = [_thaw(x) for x in v[1]]
        return items if v[0] == "list" else tuple(items)
    if isinstance(v, tuple) and len(v) == 4 and v[0] == "slice":
        return slice(v[1], v[2], v[3])
    return v


def _compute_example(kernel, in_types, attrs):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        out = kernel(*[example(t) for t in in_types], **attrs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [np.asarray(o).dtype for o in outs]


def normalize_axis(op: str, axis: int, ndim: int) -> int:
    if isinstance(axis, Ref):
        raise ShapeError(f"{op}: axis must be a constant")
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{op}: axis {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim


def normalize_axes(op: str, axis, ndim: int) -> tuple[int, ...]:
    """`axis` as NumPy's reductions take it (None, an int or a tuple) -> sorted distinct axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = tuple(normalize_axis(op, a, ndim) for a in axes)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def reduced_shape(shape: tuple[Dim, ...], axes: tuple[int, ...], keepdims: bool) -> tuple[Dim, ...]:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def same_dim(a: Dim, b: Dim) -> bool:
    return a == b or is_unknown(a) or is_unknown(b)


def mul_dims(dims) -> Dim:
    """Product of dims: an int when all are ints, else a fresh symbol."""
    total = 1
    for d in dims:
        if not isinstance(d, int):
            return fresh_dim()
        total *= d
    return total


def example_dtypes(op: str, kernel, in_types: list[Type], attrs: dict) -> list[np.dtype]:
    """`dtype_by_example`, but a combination NumPy rejects (no loop, bad cast) is a ShapeError naming `op`."""
    try:
        return dtype_by_example(kernel, in_types, attrs)
    except (TypeError, ValueError) as e:
        types = ", ".join(str(t) for t in in_types)
        raise ShapeError(f"{op}: not supported for inputs ({types}): {e}") from None


def operand_types(in_types: list[Type], attrs: dict) -> list[Type]:
    """The types of a node's operands: its inputs less those that attributes reference by `Ref`."""
    referenced = set(iter_refs(attrs))
    return [t for i, t in enumerate(in_types) if i not in referenced]


def attr_type(value, in_types: list[Type]) -> Type:
    """The type of an attribute's value: a `Ref`'s is its input's type."""
    return in_types[value.index] if isinstance(value, Ref) else type_of(value)


def default_dtype(t: Type) -> np.dtype:
    """The dtype NumPy gives `np.asarray(v)` for a value of type `t` (Python scalars: bool, int64, float64, complex128)."""
    if isinstance(t, TensorType):
        return t.dtype
    if isinstance(t, ScalarType):
        return np.asarray(t.pytype(0)).dtype
    raise ShapeError(f"not an array or a scalar: {t}")


def unify_dims(a: Dim, b: Dim) -> Dim | None:
    """The dim two dims that must be equal stand for, or None when they cannot be equal.

    Unknown dims (``?3``) match anything; a named symbol matches an int (the int is
    kept); two different named symbols do not match (as in `broadcast_shapes`).
    """
    if a == b or is_unknown(b):
        return a
    if is_unknown(a):
        return b
    if isinstance(a, int) and isinstance(b, int):
        return None
    if isinstance(a, str) and isinstance(b, str):
        return None
    return a if isinstance(a, int) else b


def fmt_shape(shape) -> str:
    """A shape as NumPy prints it in messages: ``(3,4)``, ``(3,)``, ``()``."""
    inner = ",".join(str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def numel(shape) -> Dim:
    """The number of elements of a shape, as a dim: like `mul_dims`, but a zero dim gives 0 and a
    single symbolic dim among ones is kept (``("B", 1)`` -> ``"B"``), so flattening keeps symbols."""
    if 0 in shape:
        return 0
    rest = [d for d in shape if d != 1]
    if len(rest) == 1:
        return rest[0]
    return mul_dims(rest)
