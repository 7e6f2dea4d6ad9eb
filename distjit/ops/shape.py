"""Shape ops: reshape, transpose, joining, splitting, padding, tiling, repeating …

Each op is one row of `SHAPE_OPS`: its name, kernel, shape rule, parameters,
flags, the NumPy function that records it, and its other facts (sharding rule,
inverse view, aliasing). Every op keeps its input's dtype except the joins (concatenate, stack,
hstack, vstack), whose dtype is NumPy's promotion or the `dtype` given. Ops whose
NumPy result is a view carry the "view" flag (the memory planner reads it;
ravel and reshape may copy, so read it as "may alias its input").

Integer attributes that the program computes at run time are `Ref`s (see
NOTE: [Refs in attributes] in distjit/ops/index.py): reshape's and broadcast_to's
shape entries, tile's reps, pad's pad_width and constant_values, roll's shift,
split's indices, repeat's repeats (an int). A dim that depends on one is a fresh
dim. Shape entries may also name a symbolic dim of the input (``"B"``).
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from distjit.errors import ShapeError
from distjit.types import Dim, Ref, ScalarType, TensorType, Type
from distjit.ops.index import operand_types, with_refs
from distjit.ops.infer import fresh_dim, is_unknown, normalize_axes, normalize_axis
from distjit.ops import sharding
from distjit.ops.registry import FRESH, Cost, InverseView, OpDef, ViewOf, attr, operand, operands, register

# ----------------------------------------------------------------- helpers


def _tensor(op: str, t: Type) -> TensorType:
    """An operand as a tensor: a Python scalar is the 0-d array NumPy makes of it."""
    if isinstance(t, TensorType):
        return t
    if isinstance(t, ScalarType):
        return TensorType(np.dtype(t.pytype), ())
    raise ShapeError(f"{op}: expected an array, got {t}")


def _the_operand(op: str, in_types, attrs) -> TensorType:
    ts = operand_types(in_types, attrs)
    if len(ts) != 1:
        raise ShapeError(f"{op}: expected one array operand, got {len(ts)}")
    return _tensor(op, ts[0])


def _fmt(shape) -> str:
    return "(" + ",".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _product(dims) -> Dim:
    """Product of dims: an int when all are ints (or one is 0), a symbol times 1 is the symbol, else fresh."""
    ints = 1
    syms = []
    for d in dims:
        if isinstance(d, int):
            ints *= d
        else:
            syms.append(d)
    if ints == 0 or not syms:
        return ints
    if ints == 1 and len(syms) == 1:
        return syms[0]
    return fresh_dim()


def _mul(d: Dim, k) -> Dim:
    if isinstance(k, Ref):
        return fresh_dim()
    return _product((d, int(k)))


def _add(*dims) -> Dim:
    """Sum of dims: an int when all are ints, the dim itself when the rest are 0, else fresh."""
    nonzero = [d for d in dims if d != 0]
    if all(isinstance(d, int) for d in nonzero):
        return sum(nonzero)
    return nonzero[0] if len(nonzero) == 1 else fresh_dim()


def _as_tuple(v) -> tuple:
    if isinstance(v, np.ndarray):
        return tuple(v.tolist())
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _same(op: str, a: Dim, b: Dim, what: str) -> Dim:
    """Two dims that must be equal: the better-known one, or ShapeError when they cannot be."""
    if a == b or is_unknown(b):
        return a
    if is_unknown(a):
        return b
    if isinstance(a, int) and isinstance(b, int):
        raise ShapeError(f"{op}: {what}")
    if isinstance(a, str) and isinstance(b, str):
        raise ShapeError(f"{op}: {what} (symbolic dims {a} and {b})")
    return a if isinstance(a, int) else b


def _data_cost(in_types, out_types, attrs):
    moved = sum(t.nbytes if t.nbytes is not None else 1 << 20 for t in out_types if isinstance(t, TensorType))
    return Cost(flops=0.0, bytes=float(moved))


def _view_cost(in_types, out_types, attrs):
    return Cost(flops=0.0, bytes=0.0)


# ----------------------------------------------------------------- reshape family


def _reshape_infer(in_types, attrs):
    op = "np.reshape"
    x = _the_operand(op, in_types, attrs)
    return [TensorType(x.dtype, _reshaped(op, x.shape, attrs["shape"]))]


def _reshaped(op: str, in_shape: tuple[Dim, ...], shape) -> tuple[Dim, ...]:
    entries = _as_tuple(shape)
    out: list[Dim | None] = []
    unknown_at = None
    for e in entries:
        if isinstance(e, Ref):
            out.append(fresh_dim())
        elif isinstance(e, str):
            out.append(e)
        elif _is_int(e) and int(e) == -1:
            if unknown_at is not None:
                raise ShapeError(f"{op}: can only specify one unknown dimension (-1) in shape {_fmt(entries)}")
            unknown_at = len(out)
            out.append(None)
        elif _is_int(e) and e >= 0:
            out.append(int(e))
        else:
            raise ShapeError(f"{op}: shape entries must be non-negative ints or -1, got {_fmt(entries)}")
    in_syms = Counter(d for d in in_shape if isinstance(d, str))
    in_ints = int(np.prod([d for d in in_shape if isinstance(d, int)], dtype=np.int64))
    known = [d for d in out if d is not None]
    out_syms = Counter(d for d in known if isinstance(d, str))
    out_ints = int(np.prod([d for d in known if isinstance(d, int)], dtype=np.int64))
    shown = _fmt(tuple("-1" if d is None else d for d in out))
    size = in_ints if not in_syms else _fmt(in_shape)
    mismatch = ShapeError(f"{op}: cannot reshape array of {'size' if not in_syms else 'shape'} {size} into shape {shown}")
    if unknown_at is None:
        if in_syms == out_syms and in_ints != out_ints:
            raise mismatch
        return tuple(out)
    if out_syms <= in_syms and out_ints != 0:
        rest = in_syms - out_syms
        if not rest:
            if in_ints % out_ints:
                raise mismatch
            out[unknown_at] = in_ints // out_ints
        elif sum(rest.values()) == 1 and in_ints == out_ints:
            out[unknown_at] = next(iter(rest))
        else:
            out[unknown_at] = fresh_dim()
    elif out_ints == 0 and not in_syms:
        raise mismatch
    else:
        out[unknown_at] = fresh_dim()
    return tuple(out)


def _reshape(a, shape, order="C", copy=None):
    return np.reshape(a, shape, order=order, copy=copy)


def _ravel_infer(in_types, attrs):
    x = _the_operand("np.ravel", in_types, attrs)
    return [TensorType(x.dtype, (_product(x.shape),))]


def _transpose_infer(in_types, attrs):
    op = "np.transpose"
    x = _the_operand(op, in_types, attrs)
    axes = attrs["axes"]
    if axes is None:
        return [TensorType(x.dtype, x.shape[::-1])]
    axes = _as_tuple(axes)
    if len(axes) != x.ndim:
        raise ShapeError(f"{op}: axes {_fmt(axes)} don't match array of dimension {x.ndim}")
    perm = [normalize_axis(op, a, x.ndim) for a in axes]
    if len(set(perm)) != len(perm):
        raise ShapeError(f"{op}: repeated axis in transpose axes {_fmt(axes)}")
    return [TensorType(x.dtype, tuple(x.shape[p] for p in perm))]


def _swapaxes_infer(in_types, attrs):
    op = "np.swapaxes"
    x = _the_operand(op, in_types, attrs)
    a1 = normalize_axis(op, attrs["axis1"], x.ndim)
    a2 = normalize_axis(op, attrs["axis2"], x.ndim)
    shape = list(x.shape)
    shape[a1], shape[a2] = shape[a2], shape[a1]
    return [TensorType(x.dtype, tuple(shape))]


def _moveaxis_infer(in_types, attrs):
    op = "np.moveaxis"
    x = _the_operand(op, in_types, attrs)
    source = [normalize_axis(op, a, x.ndim) for a in _as_tuple(attrs["source"])]
    destination = [normalize_axis(op, a, x.ndim) for a in _as_tuple(attrs["destination"])]
    if len(set(source)) != len(source) or len(set(destination)) != len(destination):
        raise ShapeError(f"{op}: repeated axis in `source` or `destination`")
    if len(source) != len(destination):
        raise ShapeError(f"{op}: `source` and `destination` arguments must have the same number of elements")
    order = [n for n in range(x.ndim) if n not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return [TensorType(x.dtype, tuple(x.shape[i] for i in order))]


def _expand_dims_infer(in_types, attrs):
    op = "np.expand_dims"
    x = _the_operand(op, in_types, attrs)
    axes = _as_tuple(attrs["axis"])
    ndim = x.ndim + len(axes)
    new = normalize_axes(op, axes, ndim)
    rest = iter(x.shape)
    return [TensorType(x.dtype, tuple(1 if i in new else next(rest) for i in range(ndim)))]


def _squeeze_infer(in_types, attrs):
    op = "np.squeeze"
    x = _the_operand(op, in_types, attrs)
    axis = attrs["axis"]
    if axis is None:
        if any(isinstance(d, str) for d in x.shape):
            raise ShapeError(f"{op}: which dims of shape {_fmt(x.shape)} are 1 is known only at run time; "
                             f"pass axis= to say which to remove")
        return [TensorType(x.dtype, tuple(d for d in x.shape if d != 1))]
    axes = normalize_axes(op, axis, x.ndim)
    for a in axes:
        if isinstance(x.shape[a], int) and x.shape[a] != 1:
            raise ShapeError(f"{op}: cannot select an axis to squeeze out which has size not equal to one "
                             f"(axis {a} of shape {_fmt(x.shape)})")
    return [TensorType(x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in axes))]


def _broadcast_to_infer(in_types, attrs):
    op = "np.broadcast_to"
    x = _the_operand(op, in_types, attrs)
    target = []
    for e in _as_tuple(attrs["shape"]):
        if isinstance(e, Ref):
            target.append(fresh_dim())
        elif isinstance(e, str) or (_is_int(e) and e >= 0):
            target.append(e if isinstance(e, str) else int(e))
        else:
            raise ShapeError(f"{op}: all elements of broadcast shape must be non-negative, got {attrs['shape']!r}")
    error = ShapeError(f"{op}: cannot broadcast an array of shape {_fmt(x.shape)} to shape {_fmt(target)}")
    if x.ndim > len(target):
        raise error
    for d, t in zip(reversed(x.shape), reversed(target)):
        if d == 1 or d == t or isinstance(d, str) or isinstance(t, str):
            continue
        raise error
    return [TensorType(x.dtype, tuple(target))]


def _atleast_infer(n: int):
    def infer(in_types, attrs):
        x = _the_operand(f"np.atleast_{n}d", in_types, attrs)
        return [TensorType(x.dtype, _atleast(x.shape, n))]

    return infer


def _atleast(shape, n: int) -> tuple[Dim, ...]:
    if len(shape) >= n:
        return tuple(shape)
    if n == 3:
        return {0: (1, 1, 1), 1: (1, *shape, 1), 2: (*shape, 1)}[len(shape)]
    return (1,) * (n - len(shape)) + tuple(shape)


# ----------------------------------------------------------------- joining


def _join_dtype(op: str, ts: list[TensorType], attrs) -> np.dtype:
    dtype = attrs.get("dtype")
    if dtype is None:
        return np.result_type(*(t.dtype for t in ts))
    dtype = np.dtype(dtype)
    casting = attrs.get("casting", "same_kind")
    for t in ts:
        if not np.can_cast(t.dtype, dtype, casting):
            raise ShapeError(f"{op}: Cannot cast array data from {t.dtype!r} to {dtype!r} according to the rule {casting!r}")
    return dtype


def _joined_shape(op: str, shapes: list[tuple[Dim, ...]], axis) -> tuple[Dim, ...]:
    """The shape np.concatenate gives for arrays of these shapes."""
    if not shapes:
        raise ShapeError(f"{op}: need at least one array to concatenate")
    if axis is None:
        return (_add(*(_product(s) for s in shapes)),)
    ndim = len(shapes[0])
    if ndim == 0:
        raise ShapeError(f"{op}: zero-dimensional arrays cannot be concatenated")
    axis = normalize_axis(op, axis, ndim)
    out = list(shapes[0])
    for i, s in enumerate(shapes[1:], 1):
        if len(s) != ndim:
            raise ShapeError(f"{op}: all the input arrays must have same number of dimensions, but the array at "
                             f"index 0 has {ndim} dimension(s) and the array at index {i} has {len(s)} dimension(s)")
        for k in range(ndim):
            if k != axis:
                out[k] = _same(op, out[k], s[k], f"all the input array dimensions except for the concatenation axis "
                                                 f"must match exactly, but along dimension {k}, the array at index 0 "
                                                 f"has size {shapes[0][k]} and the array at index {i} has size {s[k]}")
    out[axis] = _add(*(s[axis] for s in shapes))
    return tuple(out)


def _concatenate_infer(in_types, attrs):
    op = "np.concatenate"
    ts = [_tensor(op, t) for t in in_types]
    return [TensorType(_join_dtype(op, ts, attrs), _joined_shape(op, [t.shape for t in ts], attrs["axis"]))]


def _stack_infer(in_types, attrs):
    op = "np.stack"
    ts = [_tensor(op, t) for t in in_types]
    if not ts:
        raise ShapeError(f"{op}: need at least one array to stack")
    shape = list(ts[0].shape)
    for t in ts[1:]:
        if len(t.shape) != len(shape):
            raise ShapeError(f"{op}: all input arrays must have the same shape")
        shape = [_same(op, a, b, "all input arrays must have the same shape") for a, b in zip(shape, t.shape)]
    axis = normalize_axis(op, attrs["axis"], len(shape) + 1)
    shape.insert(axis, len(ts))
    return [TensorType(_join_dtype(op, ts, attrs), tuple(shape))]


def _hstack_infer(in_types, attrs):
    op = "np.hstack"
    ts = [_tensor(op, t) for t in in_types]
    shapes = [_atleast(t.shape, 1) for t in ts]
    axis = 0 if shapes and len(shapes[0]) == 1 else 1
    return [TensorType(_join_dtype(op, ts, attrs), _joined_shape(op, shapes, axis))]


def _vstack_infer(in_types, attrs):
    op = "np.vstack"
    ts = [_tensor(op, t) for t in in_types]
    return [TensorType(_join_dtype(op, ts, attrs), _joined_shape(op, [_atleast(t.shape, 2) for t in ts], 0))]


def _concatenate(*arrays, axis=0, dtype=None, casting="same_kind"):
    return np.concatenate(arrays, axis=axis, dtype=dtype, casting=casting)


def _stack(*arrays, axis=0, dtype=None, casting="same_kind"):
    return np.stack(arrays, axis=axis, dtype=dtype, casting=casting)


def _hstack(*tup, dtype=None, casting="same_kind"):
    return np.hstack(tup, dtype=dtype, casting=casting)


def _vstack(*tup, dtype=None, casting="same_kind"):
    return np.vstack(tup, dtype=dtype, casting=casting)


# ----------------------------------------------------------------- splitting


def _split_sizes(op: str, dim: Dim, sections, equal: bool) -> list[Dim]:
    if isinstance(sections, Ref):
        raise ShapeError(f"{op}: the number of sections must be a constant (it fixes the number of outputs)")
    if _is_int(sections):
        n = int(sections)
        if n <= 0:
            raise ShapeError(f"{op}: number sections must be larger than 0.")
        if not isinstance(dim, int):
            part = fresh_dim()
            return [part] * n if equal else [fresh_dim() for _ in range(n)]
        if equal and dim % n:
            raise ShapeError(f"{op}: array split does not result in an equal division ({dim} into {n})")
        each, extra = divmod(dim, n)
        return [each + 1] * extra + [each] * (n - extra)
    bounds = [0, *_as_tuple(sections), None]
    sizes: list[Dim] = []
    for start, stop in zip(bounds, bounds[1:]):
        if isinstance(start, Ref) or isinstance(stop, Ref) or not isinstance(dim, int):
            sizes.append(fresh_dim())
        elif not (_is_int(start) and (stop is None or _is_int(stop))):
            raise ShapeError(f"{op}: indices_or_sections must be an int or a sequence of ints")
        else:
            sizes.append(len(range(dim)[slice(start, stop)]))
    return sizes


def _split_infer_for(op: str, equal: bool):
    def infer(in_types, attrs):
        x = _the_operand(op, in_types, attrs)
        if x.ndim == 0:
            raise ShapeError(f"{op}: cannot split a 0-d array")
        axis = normalize_axis(op, attrs["axis"], x.ndim)
        sizes = _split_sizes(op, x.shape[axis], attrs["indices_or_sections"], equal)
        return [TensorType(x.dtype, x.shape[:axis] + (s,) + x.shape[axis + 1:]) for s in sizes]

    return infer


def _split(ary, indices_or_sections, axis=0):
    return list(np.split(ary, indices_or_sections, axis=axis))


def _array_split(ary, indices_or_sections, axis=0):
    return list(np.array_split(ary, indices_or_sections, axis=axis))


# ----------------------------------------------------------------- same shape: flip, roll


def _flip_infer(in_types, attrs):
    op = "np.flip"
    x = _the_operand(op, in_types, attrs)
    normalize_axes(op, attrs["axis"], x.ndim)
    return [x]


def _roll_infer(in_types, attrs):
    op = "np.roll"
    x = _the_operand(op, in_types, attrs)
    axis, shift = attrs["axis"], attrs["shift"]
    if axis is not None:
        axes = [normalize_axis(op, a, x.ndim) for a in _as_tuple(axis)]
        shifts = _as_tuple(shift)
        if len(shifts) != 1 and len(axes) != 1 and len(shifts) != len(axes):
            raise ShapeError(f"{op}: 'shift' and 'axis' should be scalars or 1D sequences of the same length")
    elif isinstance(shift, (tuple, list)) and len(shift) != 1:
        raise ShapeError(f"{op}: with axis=None, shift must be a single int")
    return [x]


# ----------------------------------------------------------------- pad, tile, repeat

PAD_MODES = {   # mode -> the keyword arguments np.pad accepts with it
    "constant": ("constant_values",), "edge": (), "wrap": (), "empty": (),
    "reflect": ("reflect_type",), "symmetric": ("reflect_type",), "linear_ramp": ("end_values",),
    "maximum": ("stat_length",), "minimum": ("stat_length",), "mean": ("stat_length",), "median": ("stat_length",),
}
_PAD_DEFAULTS = {"constant_values": 0, "end_values": 0, "reflect_type": "even", "stat_length": None}


def _pad_widths(op: str, pad_width, ndim: int) -> list[tuple]:
    """pad_width as ((before, after),) * ndim, entries ints or Refs, the way NumPy broadcasts it."""
    if isinstance(pad_width, Ref):
        return [(pad_width, pad_width)] * ndim
    arr = np.empty(0, dtype=object)
    try:
        arr = np.array(pad_width, dtype=object)
        arr = np.broadcast_to(arr, (ndim, 2))
    except ValueError:
        raise ShapeError(f"{op}: pad_width {pad_width!r} does not fit an array of dimension {ndim}") from None
    for v in arr.flat:
        if isinstance(v, Ref):
            continue
        if not _is_int(v):
            raise ShapeError(f"{op}: `pad_width` must be of integral type, got {pad_width!r}")
        if v < 0:
            raise ShapeError(f"{op}: index can't contain negative values (pad_width {pad_width!r})")
    return [tuple(int(v) if _is_int(v) else v for v in row) for row in arr]


def _pad_infer(in_types, attrs):
    op = "np.pad"
    x = _the_operand(op, in_types, attrs)
    mode = attrs["mode"]
    if mode not in PAD_MODES:
        raise ShapeError(f"{op}: mode {mode!r} is not supported (supported: {', '.join(sorted(PAD_MODES))})")
    unused = sorted(k for k, d in _PAD_DEFAULTS.items()
                    if k not in PAD_MODES[mode] and not _equal_attr(attrs.get(k, d), d))
    if unused:
        raise ShapeError(f"{op}: unsupported keyword arguments for mode {mode!r}: {unused}")
    shape = []
    for axis, (d, (before, after)) in enumerate(zip(x.shape, _pad_widths(op, attrs["pad_width"], x.ndim))):
        if isinstance(before, Ref) or isinstance(after, Ref):
            shape.append(fresh_dim())
            continue
        if d == 0 and (before or after) and mode not in ("constant", "empty"):
            raise ShapeError(f"{op}: can't extend empty axis {axis} using modes other than 'constant' or 'empty'")
        shape.append(_add(d, before, after))
    return [TensorType(x.dtype, tuple(shape))]


def _equal_attr(a, b) -> bool:
    return a is b or (type(a) is type(b) and not isinstance(a, np.ndarray) and a == b)


def _pad(array, pad_width, mode="constant", constant_values=0, end_values=0, reflect_type="even", stat_length=None):
    given = {"constant_values": constant_values, "end_values": end_values,
             "reflect_type": reflect_type, "stat_length": stat_length}
    return np.pad(array, pad_width, mode=mode, **{k: given[k] for k in PAD_MODES[mode]})


def _tile_infer(in_types, attrs):
    op = "np.tile"
    x = _the_operand(op, in_types, attrs)
    reps = _as_tuple(attrs["reps"])
    for r in reps:
        if not (isinstance(r, Ref) or _is_int(r) and r >= 0):
            raise ShapeError(f"{op}: reps must be non-negative ints, got {attrs['reps']!r}")
    n = max(len(reps), x.ndim)
    shape = (1,) * (n - x.ndim) + x.shape
    reps = (1,) * (n - len(reps)) + reps
    return [TensorType(x.dtype, tuple(_mul(d, r) for d, r in zip(shape, reps)))]


def _repeat_infer(in_types, attrs):
    op = "np.repeat"
    x = _the_operand(op, in_types, attrs)
    repeats, axis = attrs["repeats"], attrs["axis"]
    if isinstance(repeats, Ref):
        t = in_types[repeats.index]
        if isinstance(t, TensorType) and t.ndim > 1:
            raise ShapeError(f"{op}: repeats must be an int or a 1-D array, got {t}")
        repeats_dim = None   # a run-time int or array: the length is known at run time (NOTE: [data-dependent lengths])
    else:
        reps = _as_tuple(repeats)
        if not all(_is_int(r) for r in reps):
            raise ShapeError(f"{op}: repeats must be an int or a sequence of ints, got {repeats!r}")
        if any(r < 0 for r in reps):
            raise ShapeError(f"{op}: negative dimensions are not allowed (repeats {repeats!r})")
        repeats_dim = reps
    if axis is None:
        shape, axis = (_product(x.shape),), 0
    else:
        shape, axis = x.shape, normalize_axis(op, axis, x.ndim)
    d = shape[axis]
    if repeats_dim is None:
        new = fresh_dim()
    elif len(repeats_dim) == 1:
        new = _mul(d, repeats_dim[0])
    else:
        if isinstance(d, int) and d != len(repeats_dim):
            raise ShapeError(f"{op}: operands could not be broadcast together with shape ({d},) ({len(repeats_dim)},)")
        new = sum(int(r) for r in repeats_dim)
    return [TensorType(x.dtype, shape[:axis] + (new,) + shape[axis + 1:])]


# ----------------------------------------------------------------- inverse views (functionalization)

def _reshape_back(attrs, base_t):
    return InverseView("np.reshape", {"shape": base_t.shape})


def _transpose_back(attrs, base_t):
    axes = attrs.get("axes")
    if axes is None:
        return InverseView("np.transpose", {"axes": None})
    axes = [a % base_t.ndim for a in axes]
    return InverseView("np.transpose", {"axes": tuple(int(i) for i in np.argsort(axes))})


def _moveaxis_back(attrs, base_t):
    return InverseView("np.moveaxis", {"source": attrs["destination"], "destination": attrs["source"]})


def _self_inverse(op: str):
    """swapaxes and flip undo themselves."""
    return lambda attrs, base_t: InverseView(op, dict(attrs))


# ----------------------------------------------------------------- the table

VIEW = frozenset({"view", "shape"})
COPY = frozenset({"shape"})

#        name              kernel             infer                     params                                                             flags  source
SHAPE_OPS = [
    ("np.reshape",      _reshape,          _reshape_infer,           (operand("a"), attr("shape"), attr("order", "C"), attr("copy", None, True)), VIEW, np.reshape, dict(shard=sharding.reshape, inverse_view=_reshape_back)),
    ("np.ravel",        np.ravel,          _ravel_infer,             (operand("a"), attr("order", "C")),                                VIEW, np.ravel, dict(shard=sharding.ravel, inverse_view=_reshape_back)),
    ("np.transpose",    np.transpose,      _transpose_infer,         (operand("a"), attr("axes", None)),                                VIEW, np.transpose, dict(shard=sharding.permute_axes, inverse_view=_transpose_back)),
    ("np.swapaxes",     np.swapaxes,       _swapaxes_infer,          (operand("a"), attr("axis1"), attr("axis2")),                      VIEW, np.swapaxes, dict(shard=sharding.swap_axes, inverse_view=_self_inverse("np.swapaxes"))),
    ("np.moveaxis",     np.moveaxis,       _moveaxis_infer,          (operand("a"), attr("source"), attr("destination")),               VIEW, np.moveaxis, dict(shard=sharding.move_axes, inverse_view=_moveaxis_back)),
    ("np.expand_dims",  np.expand_dims,    _expand_dims_infer,       (operand("a"), attr("axis")),                                      VIEW, np.expand_dims, dict(shard=sharding.expand_dims, inverse_view=_reshape_back)),
    ("np.squeeze",      np.squeeze,        _squeeze_infer,           (operand("a"), attr("axis", None)),                                VIEW, np.squeeze, dict(shard=sharding.squeeze, inverse_view=_reshape_back)),
    ("np.broadcast_to", np.broadcast_to,   _broadcast_to_infer,      (operand("array"), attr("shape"), attr("subok", False)),           VIEW, np.broadcast_to, dict(shard=sharding.broadcast_to)),
    ("np.atleast_1d",   np.atleast_1d,     _atleast_infer(1),        (operand("ary"),),                                                 VIEW, np.atleast_1d, dict(shard=sharding.same_rank)),
    ("np.atleast_2d",   np.atleast_2d,     _atleast_infer(2),        (operand("ary"),),                                                 VIEW, np.atleast_2d, dict(shard=sharding.same_rank)),
    ("np.atleast_3d",   np.atleast_3d,     _atleast_infer(3),        (operand("ary"),),                                                 VIEW, np.atleast_3d, dict(shard=sharding.same_rank)),
    ("np.flip",         np.flip,           _flip_infer,              (operand("m"), attr("axis", None)),                                VIEW, np.flip, dict(shard=sharding.flip_roll, inverse_view=_self_inverse("np.flip"))),
    ("np.concatenate",  _concatenate,      _concatenate_infer,       (operands("arrays"), attr("axis", 0), attr("dtype", None, True), attr("casting", "same_kind", True)), COPY, np.concatenate, dict(shard=sharding.concatenate, alias=FRESH)),
    ("np.stack",        _stack,            _stack_infer,             (operands("arrays"), attr("axis", 0), attr("dtype", None, True), attr("casting", "same_kind", True)), COPY, np.stack, dict(shard=sharding.stack, alias=FRESH)),
    ("np.hstack",       _hstack,           _hstack_infer,            (operands("tup"), attr("dtype", None, True), attr("casting", "same_kind", True)), COPY, np.hstack, {}),
    ("np.vstack",       _vstack,           _vstack_infer,            (operands("tup"), attr("dtype", None, True), attr("casting", "same_kind", True)), COPY, np.vstack, {}),
    ("np.split",        _split,            _split_infer_for("np.split", True),        (operand("ary"), attr("indices_or_sections"), attr("axis", 0)), VIEW | {"multi_output"}, np.split, {}),
    ("np.array_split",  _array_split,      _split_infer_for("np.array_split", False), (operand("ary"), attr("indices_or_sections"), attr("axis", 0)), VIEW | {"multi_output"}, np.array_split, {}),
    ("np.roll",         np.roll,           _roll_infer,              (operand("a"), attr("shift"), attr("axis", None)),                 COPY, np.roll, dict(shard=sharding.flip_roll)),
    ("np.pad",          _pad,              _pad_infer,               (operand("array"), attr("pad_width"), attr("mode", "constant"),
                                                                      *(attr(k, d, True) for k, d in _PAD_DEFAULTS.items())),          COPY, np.pad, {}),
    ("np.tile",         np.tile,           _tile_infer,              (operand("A"), attr("reps")),                                      COPY, np.tile, {}),
    ("np.repeat",       np.repeat,         _repeat_infer,            (operand("a"), attr("repeats"), attr("axis", None)),               COPY, np.repeat, {}),
]


def _declare(name, kernel, infer, params, flags, source, facts) -> OpDef:
    if "view" in flags:
        facts = {"alias": ViewOf(0), **facts}
    return register(OpDef(
        name=name, kernel=with_refs(kernel), infer=infer, params=params, flags=flags, sources=(source,), **facts,
        cost=_view_cost if "view" in flags and name not in ("np.reshape", "np.ravel") else _data_cost,
        doc=f"NumPy's {name[3:]}" + (" (a view of its input)" if "view" in flags else "") + ".",
    ))


OPS = {row[0]: _declare(*row) for row in SHAPE_OPS}
