"""Indexing: ``x[index]`` (array.getitem) and its functional update (array.setitem).

NOTE: [Refs in attributes]
An attribute may hold ``Ref(k)``, "the run-time value of input k" (see distjit.ir.graph).
Ops whose attributes contain Refs get ALL their inputs positionally, with the
attributes exactly as stored (Refs still in them), and substitute: ``Ref(k)`` ->
``inputs[k]`` (`substitute_refs`). Inputs that no attribute refers to are the op's
operands (`Node.operand_indices`). `with_refs` turns a plain kernel
``fn(*operands, **attrs)`` into one that follows this convention; `operand_types`
is the same split for shape inference.

NOTE: [The index attribute]
``array.getitem(x, *dynamic) {index}`` computes ``x[index]``; input 0 is x, so the
first dynamic piece is ``Ref(1)``. ``array.setitem(x, value, *dynamic) {index}``
computes ``out = x.copy(); out[index] = value; out`` (given ``out=(x,)``, an update
planned in place by distjit/core/inplace.py, it writes into x); inputs 0 and 1 are x and
value, so the first dynamic piece is ``Ref(2)``. `index` is a tuple of items:

    int                       drops the dim (bounds-checked when the dim is concrete)
    slice(start, stop, step)  each bound an int, None, or Ref(k) (a run-time int)
    None                      a new axis of length 1
    Ellipsis                  as many full slices as the other items leave
    bool                      a scalar mask: a new axis of length 1 (True) or 0 (False)
    Ref(k)                    input k: an integer array, a boolean mask, or a run-time int

For example ``x[1:n, idx, None]``, where n and idx are computed by the graph, is
``array.getitem(x, n, idx) {index=(slice(1, $1, None), $2, None)}``.

Shapes follow NumPy's rules exactly: integer and boolean arrays are advanced
indices; once there is one, ints are advanced indices too (of shape ``()``);
the advanced indices broadcast together, and their dims replace the indexed dims
in place when the advanced items are next to each other in `index`, or go first
when a slice, None or Ellipsis separates them. A boolean mask's count is known
only at run time: a fresh dim. The result is a view when the index is basic and
a copy otherwise; the op carries the "view" flag (it may alias its input).
Augmented assignment ``x[i] += v`` is recorded as getitem, np.add, setitem.
"""
from __future__ import annotations

import functools

import numpy as np

from distjit.errors import ShapeError
from distjit.types import Dim, Ref, ScalarType, TensorType, Type, iter_refs, substitute_refs
from distjit.ops.infer import broadcast_shapes, fresh_dim, is_unknown
from distjit.ops import sharding
from distjit.ops.registry import FRESH, Cost, InverseView, OpDef, ViewOf, attr, operand, operands, register

GETITEM_NAME = "array.getitem"
SETITEM_NAME = "array.setitem"

# ----------------------------------------------------------------- the Ref convention


def with_refs(fn):
    """A kernel taking every input positionally from ``fn(*operands, **attrs)`` (see NOTE: [Refs in attributes])."""

    @functools.wraps(fn)
    def kernel(*inputs, **attrs):
        referenced = set(iter_refs(attrs))
        if not referenced:
            return fn(*inputs, **attrs)
        operands_ = [v for i, v in enumerate(inputs) if i not in referenced]
        return fn(*operands_, **substitute_refs(attrs, inputs))

    kernel.without_refs = fn        # for callers that substitute the Refs themselves (the generated code)
    return kernel


def operand_types(in_types: list[Type], attrs: dict) -> list[Type]:
    """The types of the inputs no attribute refers to: the op's operands."""
    referenced = set(iter_refs(attrs))
    return [t for i, t in enumerate(in_types) if i not in referenced]


# ----------------------------------------------------------------- shape inference

_VALID = ("only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) "
          "and integer or boolean arrays are valid indices")


def _classify(op: str, item, in_types: list[Type]):
    """(kind, payload) of one index item; kinds: int, dynint, slice, none, ellipsis, boolscalar, intarray, mask."""
    if isinstance(item, Ref):
        if not 0 <= item.index < len(in_types):
            raise ShapeError(f"{op}: index refers to input {item.index}, but the node has {len(in_types)} inputs")
        t = in_types[item.index]
        if isinstance(t, ScalarType):
            if t.kind == "int":
                return "dynint", None
            if t.kind == "bool":
                return "boolscalar", None
            raise ShapeError(f"{op}: {_VALID} (input {item.index} is a Python {t.kind})")
        if isinstance(t, TensorType):
            if t.dtype.kind == "b":
                return ("boolscalar", None) if t.ndim == 0 else ("mask", t.shape)
            if t.dtype.kind in "iu":
                return ("dynint", None) if t.ndim == 0 else ("intarray", t.shape)
            raise ShapeError(f"{op}: arrays used as indices must be of integer (or boolean) type, "
                             f"not {t.dtype} (input {item.index})")
        raise ShapeError(f"{op}: {_VALID} (input {item.index} is {t})")
    if isinstance(item, (bool, np.bool_)):
        return "boolscalar", bool(item)
    if isinstance(item, (int, np.integer)):
        return "int", int(item)
    if isinstance(item, slice):
        if item.step is not None and not isinstance(item.step, Ref) and item.step == 0:
            raise ShapeError(f"{op}: slice step cannot be zero")
        for bound in (item.start, item.stop, item.step):
            if not (bound is None or isinstance(bound, (Ref, int, np.integer)) and not isinstance(bound, bool)):
                raise ShapeError(f"{op}: slice indices must be integers or None, not {bound!r}")
        return "slice", item
    if item is None:
        return "none", None
    if item is Ellipsis:
        return "ellipsis", None
    raise ShapeError(f"{op}: {_VALID} (got {item!r})")


_CONSUMES = {"int": 1, "dynint": 1, "slice": 1, "intarray": 1, "none": 0, "ellipsis": 0, "boolscalar": 0}
_ADVANCED_ARRAYS = {"intarray", "mask", "boolscalar"}


def _slice_dim(s: slice, dim: Dim) -> Dim:
    if any(isinstance(b, Ref) for b in (s.start, s.stop, s.step)):
        return fresh_dim()
    if isinstance(dim, int):
        return len(range(*s.indices(dim)))
    step = 1 if s.step is None else int(s.step)
    whole = (s.start is None and s.stop is None and step in (1, -1)) or \
            (step == 1 and s.start in (None, 0) and s.stop is None)
    return dim if whole else fresh_dim()


def index_shape(op: str, shape: tuple[Dim, ...], index, in_types: list[Type]) -> tuple[Dim, ...]:
    """The shape of ``x[index]`` for x of this shape (NumPy's basic and advanced indexing rules)."""
    items = _items(index)
    kinds = [_classify(op, item, in_types) for item in items]
    consumed = sum(len(p) if k == "mask" else _CONSUMES[k] for k, p in kinds)
    n_ellipsis = sum(k == "ellipsis" for k, _ in kinds)
    if n_ellipsis > 1:
        raise ShapeError(f"{op}: an index can only have a single ellipsis ('...')")
    ndim = len(shape)
    if consumed > ndim:
        raise ShapeError(f"{op}: too many indices for array: array is {ndim}-dimensional, "
                         f"but {consumed} were indexed")
    if n_ellipsis == 0:
        kinds.append(("ellipsis", None))
    advanced_mode = any(k in _ADVANCED_ARRAYS for k, _ in kinds)

    out: list[Dim] = []
    adv_shapes: list[tuple[Dim, ...]] = []
    adv_positions: list[int] = []   # item positions of the advanced items
    adv_insert = None               # where in `out` the advanced dims go when they stay in place
    axis = 0
    for pos, (kind, payload) in enumerate(kinds):
        if kind == "ellipsis":
            n = ndim - consumed
            out.extend(shape[axis:axis + n])
            axis += n
        elif kind == "none":
            out.append(1)
        elif kind == "slice":
            out.append(_slice_dim(payload, shape[axis]))
            axis += 1
        elif kind in ("int", "dynint") and not advanced_mode:
            if kind == "int":
                _check_bounds(op, payload, shape[axis], axis)
            axis += 1
        else:
            if adv_insert is None:
                adv_insert = len(out)
            adv_positions.append(pos)
            if kind in ("int", "dynint"):
                if kind == "int":
                    _check_bounds(op, payload, shape[axis], axis)
                adv_shapes.append(())
                axis += 1
            elif kind == "intarray":
                adv_shapes.append(payload)
                axis += 1
            elif kind == "mask":
                _check_mask(op, payload, shape[axis:axis + len(payload)], axis)
                adv_shapes.append((fresh_dim(),))
                axis += len(payload)
            else:  # boolscalar: payload is True/False, or None when known only at run time
                adv_shapes.append((fresh_dim() if payload is None else int(payload),))
    if not adv_shapes:
        return tuple(out)
    try:
        adv = broadcast_shapes(op, *adv_shapes)
    except ShapeError:
        shapes = " ".join("(" + ",".join(str(d) for d in s) + ("," if len(s) == 1 else "") + ")" for s in adv_shapes)
        raise ShapeError(f"{op}: shape mismatch: indexing arrays could not be broadcast together "
                         f"with shapes {shapes}") from None
    consecutive = adv_positions[-1] - adv_positions[0] == len(adv_positions) - 1
    at = adv_insert if consecutive else 0
    return tuple(out[:at]) + adv + tuple(out[at:])


def _check_bounds(op: str, i: int, dim: Dim, axis: int) -> None:
    if isinstance(dim, int) and not -dim <= i < dim:
        raise ShapeError(f"{op}: index {i} is out of bounds for axis {axis} with size {dim}")


def _check_mask(op: str, mask_shape, dims, axis: int) -> None:
    for k, (m, d) in enumerate(zip(mask_shape, dims)):
        if isinstance(m, int) and isinstance(d, int) and m != d:
            raise ShapeError(f"{op}: boolean index did not match indexed array along axis {axis + k}; "
                             f"size of axis is {d} but size of corresponding boolean axis is {m}")


def _indexed(op: str, in_types: list[Type]) -> TensorType:
    x = in_types[0] if in_types else None
    if not isinstance(x, TensorType):
        raise ShapeError(f"{op}: only arrays can be indexed, not {x}")
    return x


def _getitem_infer(in_types, attrs):
    x = _indexed(GETITEM_NAME, in_types)
    return [TensorType(x.dtype, index_shape(GETITEM_NAME, x.shape, attrs["index"], in_types))]


def _setitem_infer(in_types, attrs):
    op = SETITEM_NAME
    x = _indexed(op, in_types)
    if len(in_types) < 2:
        raise ShapeError(f"{op}: needs x and value")
    target = index_shape(op, x.shape, attrs["index"], in_types)
    value = in_types[1]
    if isinstance(value, ScalarType):
        if value.kind == "complex" and x.dtype.kind != "c":
            raise ShapeError(f"{op}: cannot assign a Python complex to an array of {x.dtype}")
    elif isinstance(value, TensorType):
        # (a bool element takes the truth value of a size-1 array, as bool() does)
        single = x.dtype.kind == "b" and all(d == 1 for d in value.shape)
        if value.ndim and not single and _selects_one_element(attrs["index"], in_types, x.ndim):
            raise ShapeError(f"{op}: setting an array element with a sequence (a value of shape {_fmt(value.shape)} "
                             f"assigned to a single element)")
        if value.ndim > 1 and _is_whole_mask(attrs["index"], in_types, x.ndim):
            raise ShapeError(f"{op}: NumPy boolean array indexing assignment requires a 0 or 1-dimensional input, "
                             f"input has {value.ndim} dimensions")
        _check_assignable(op, value.shape, target)
    else:
        raise ShapeError(f"{op}: the assigned value must be an array or a scalar, not {value}")
    return [x]


def _selects_one_element(index, in_types, ndim: int) -> bool:
    """NumPy assigns to one element (and wants a scalar) when the index is exactly one int per dim."""
    items = _items(index)
    kinds = [_classify(SETITEM_NAME, item, in_types)[0] for item in items]
    return len(kinds) == ndim and all(k in ("int", "dynint") for k in kinds)


def _is_whole_mask(index, in_types, ndim: int) -> bool:
    """NumPy's fast path for ``x[mask] = value`` (one mask covering every dim) takes only 0-d or 1-d values."""
    items = _items(index)
    if len(items) != 1:
        return False
    kind, payload = _classify(SETITEM_NAME, items[0], in_types)
    mask_ndim = len(payload) if kind == "mask" else 0 if kind == "boolscalar" else -1
    return mask_ndim == ndim


def _check_assignable(op: str, value_shape: tuple[Dim, ...], target: tuple[Dim, ...]) -> None:
    """NumPy's rule for ``out[index] = value``: value broadcasts to the target (extra leading 1s are dropped)."""
    vs = list(value_shape)
    while len(vs) > len(target) and vs[0] == 1:
        vs.pop(0)
    ok = len(vs) <= len(target)
    for v, t in zip(reversed(vs), reversed(target)):
        if v == 1 or v == t or is_unknown(v) or is_unknown(t):
            continue
        if isinstance(v, str) != isinstance(t, str):   # a symbol against an int: decided at run time
            continue
        ok = False
    if not ok:
        raise ShapeError(f"{op}: could not broadcast input array from shape {_fmt(value_shape)} "
                         f"into shape {_fmt(target)}")


def _fmt(shape) -> str:
    return "(" + ",".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


# ----------------------------------------------------------------- kernels


def _items(index) -> tuple:
    # The attribute is a tuple of items and an item is never a list, so a list here is a tuple that lost its type.
    return tuple(index) if isinstance(index, (tuple, list)) else (index,)


def _getitem(x, *dynamic, index):
    return x[substitute_refs(_items(index), (x, *dynamic))]


def _setitem(x, value, *dynamic, index, out=None):
    # out=(x,): the update is in place (distjit/core/inplace.py); an array NumPy will not write is copied
    target = out[0] if out is not None else None
    if target is None or target is x and not (isinstance(x, np.ndarray) and x.flags.writeable):
        target = np.array(x, copy=True)
    elif target is not x:
        np.copyto(target, x)
    target[substitute_refs(_items(index), (x, value, *dynamic))] = value
    return target


def _selects_scalar(attrs, in_types) -> bool:
    """``x[i, j]`` with an int (or a run-time int) for every dim of x: NumPy returns a scalar, a copy, never
    a view (``x[0, ...]`` is a 0-d view, so Ellipsis, None and slices do not qualify)."""
    x = in_types[0] if in_types else None
    if not isinstance(x, TensorType):
        return False
    items = _items(attrs["index"])
    if len(items) != x.ndim:
        return False
    for item in items:
        if isinstance(item, Ref):
            t = in_types[item.index] if 0 <= item.index < len(in_types) else None
            if not (isinstance(t, ScalarType) and t.kind == "int"
                    or isinstance(t, TensorType) and t.ndim == 0 and t.dtype.kind in "iu"):
                return False
        elif isinstance(item, bool) or not isinstance(item, (int, np.integer)):
            return False
    return True


def _fresh_getitem(attrs, in_types) -> bool:
    """A copy, never a view: a scalar (`_selects_scalar`), or an advanced index (an integer or boolean array of
    one or more dims anywhere in the index), which NumPy always copies. Memory planning may then let the
    elementwise op that reads the gathered values last write over them, as eager NumPy's temporary elision
    does for `a * x[idx]`."""
    if _selects_scalar(attrs, in_types):
        return True
    for item in _items(attrs["index"]):
        if isinstance(item, Ref) and 0 <= item.index < len(in_types):
            t = in_types[item.index]
            if isinstance(t, TensorType) and t.ndim >= 1 and t.dtype.kind in "biu":
                return True
    return False


def _getitem_cost(in_types, out_types, attrs):
    out = out_types[0]
    return Cost(flops=0.0, bytes=float(out.nbytes if out.nbytes is not None else 1 << 20))


def shift_refs(index, by: int):
    """getitem's Refs count from input 1, setitem's from input 2 (its value is input 1)."""
    def shift(x):
        if isinstance(x, Ref):
            return Ref(x.index + by)
        if isinstance(x, slice):
            return slice(shift(x.start), shift(x.stop), shift(x.step))
        return x
    return tuple(shift(x) for x in index)


def _write_back(attrs, base_t):
    """A write through x[index] is array.setitem(x, value, *dynamic) with the same index."""
    return InverseView(SETITEM_NAME, {"index": shift_refs(attrs["index"], 1)}, onto_base=True)


GETITEM = register(OpDef(
    GETITEM_NAME, kernel=_getitem, infer=_getitem_infer,
    params=(operand("x"), operands("dynamic"), attr("index")),
    flags={"view", "index"}, sources=(), cost=_getitem_cost,
    shard=sharding.getitem, alias=ViewOf(0), fresh_when=_fresh_getitem, inverse_view=_write_back,
    templates={"python": "{0}[{index}]"},
    doc="x[index]; see NOTE: [The index attribute] in distjit/ops/index.py.",
))

SETITEM = register(OpDef(
    SETITEM_NAME, kernel=_setitem, infer=_setitem_infer,
    params=(operand("x"), operand("value"), operands("dynamic"), attr("index")),
    flags={"index", "in_place_update"}, sources=(), shard=sharding.setitem, alias=FRESH,
    templates={"python_in_place": "{0}[{index}] = {1}"},
    doc="out = x.copy(); out[index] = value (value cast to x's dtype as NumPy does); with out=(x,), in place.",
))
