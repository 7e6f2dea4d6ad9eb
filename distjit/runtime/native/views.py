"""Views, writes into views and gathers inside a native region (the lowering's `getitem`/`setitem` of arrays).

NOTE: [Writes into views]
`a[idx] = value` with `idx` made of integers, slices (any start/stop/step, negative steps
and bounds computed at run time included) and np.newaxis is NumPy's basic indexing: the
target is a view of the base (numba's slicing follows Python's, and a zero step raises
ValueError as NumPy's does). A scalar value is stored element by element. An
array value is broadcast to the view's shape as NumPy does (trailing axes aligned, an
axis of length 1 repeats, extra leading axes of length 1 drop; any other length raises
NumPy's ValueError before anything is written) and copied in nested loops, cast to the
base's dtype. NumPy reads the whole right side before it writes (the value is evaluated
into a temporary first, and NumPy copies an operand that overlaps the target), so a value
the region did not make itself (a view, which may share the base's buffer:
`a[1:] = a[:-1]`) is copied once before the write; a fresh array (an elementwise loop's
result) overlaps nothing and is read in place. Every index of the copy loops is below the
view's or the value's own length, and the region's bounds checks stay on (NOTE: [Bounds]).

NOTE: [Masked writes]
`a[mask] = v` with a boolean `mask` of `a`'s rank and a scalar `v` stores `v` (cast as a
scalar write casts it) at every position where the mask is True. NumPy raises IndexError
when a mask's shape differs from the base's; so does the region, before it writes, and
then every index of the loop nest is below both shapes.

NOTE: [Gathers]
`x[idx]` with a one-axis integer array `idx` is NumPy's integer-array indexing: a fresh
array of `x`'s rows at those positions, negative positions counted from the end, and a
position out of range raising IndexError (checked here before the read, so the message is
NumPy's kind and no read goes outside `x`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from distjit.ir.graph import Node, Value
from distjit.types import Ref, ScalarType, TensorType


def items_of(index: Any, base: Value | None = None) -> tuple:
    """The index's items; with `base`, one Ellipsis spelled out as the full slices it stands for (`Z[...]`)."""
    items = tuple(index) if isinstance(index, (tuple, list)) else (index,)
    if base is None or not isinstance(base.type, TensorType) or sum(item is Ellipsis for item in items) != 1:
        return items
    k = next(i for i, item in enumerate(items) if item is Ellipsis)
    rest = base.type.ndim - sum(item is not None for item in items if item is not Ellipsis)
    return items[:k] + (slice(None, None, None),) * max(rest, 0) + items[k + 1:]


def view_rank(base: Value, index: Any) -> int | None:
    """The rank of `base[index]` under basic indexing, or None when the index is not basic."""
    items = items_of(index, base)
    if not isinstance(base.type, TensorType):
        return None
    ints = 0
    for item in items:
        if item is None or isinstance(item, slice):
            continue
        if isinstance(item, Ref) or isinstance(item, int) and not isinstance(item, bool):
            ints += 1
            continue
        return None
    consumed = sum(item is not None for item in items)
    if consumed > base.type.ndim:
        return None
    return base.type.ndim - ints + sum(item is None for item in items)


def is_view(base: Value, index: Any) -> bool:
    """Whether `base[index]` is a view (a slice, np.newaxis, or fewer integers than axes), not an element."""
    items = items_of(index, base)
    return isinstance(base.type, TensorType) and (
        any(item is None or isinstance(item, slice) for item in items)
        or sum(item is not None for item in items) < base.type.ndim)


def view_subscript(lw, node: Node, base: Value, index: Any) -> str:
    """The numba subscript of a view of `base`: integers, slices (bounds and steps of the graph) and None."""
    if view_rank(base, index) is None:
        raise _unsupported(node, "an index that is not integers, slices and np.newaxis within the base's rank")
    parts = []
    for item in items_of(index, base):
        if item is None:
            parts.append("None")
        elif isinstance(item, slice):
            parts.append(":".join("" if p is None else lw.integer(node, p) for p in (item.start, item.stop, item.step)))
        else:
            parts.append(lw.integer(node, item))
    return ", ".join(parts)


def write_into_view(lw, node: Node, out: str, depth: int) -> None:
    """`out[index] = value` for a view target (NOTE: [Writes into views]); `out` names the written buffer."""
    base, value = node.inputs[0], node.inputs[1]
    index = node.attrs["index"]
    rank = view_rank(base, index)
    idx = view_subscript(lw, node, base, index)
    element = TensorType(base.type.dtype, ())
    if isinstance(value.type, ScalarType) or isinstance(value.type, TensorType) and value.type.ndim == 0:
        if not _castable(value.type, base.type.dtype):
            raise _unsupported(node, f"a {value.type} value written into a {base.type.dtype} array")
        # Written element by element: numba's slice assignment of a scalar walks a strided view slower.
        dst, x = lw.fresh("w"), lw.fresh("x")
        lw.emit(f"{dst} = {out}[{idx}]", depth)
        lw.emit(f"{x} = {lw.cast(lw.name(value), element, node)}", depth)
        ts = [lw.fresh("t") for _ in range(rank)]
        for d, t in enumerate(ts):
            lw.emit(f"for {t} in range({dst}.shape[{d}]):", depth + d)
        return lw.emit(f"{dst}[{', '.join(ts)}] = {x}", depth + rank)
    if not isinstance(value.type, TensorType) or not _castable(value.type, base.type.dtype):
        raise _unsupported(node, f"a {value.type} value written into a {base.type.dtype} array")
    dst, src = lw.fresh("w"), lw.fresh("r")
    lw.emit(f"{dst} = {out}[{idx}]", depth)
    # A fresh value read by nothing but this write cannot share the target's buffer; anything else may.
    alone = value in lw.fresh_arrays and value.uses == [(node, 1)]
    lw.emit(f"{src} = {lw.name(value)}" + ("" if alone else ".copy()"), depth)
    vr = value.type.ndim
    lead = max(vr - rank, 0)                    # NumPy drops the value's extra leading axes of length 1
    checks = [f"{src}.shape[{a}] != 1" for a in range(lead)]
    steps = []
    for a in range(lead, vr):
        d = a - vr + rank                       # the target axis this value axis aligns with
        checks.append(f"({src}.shape[{a}] != 1 and {src}.shape[{a}] != {dst}.shape[{d}])")
        s = lw.fresh("s")
        steps.append((a, d, s))
    if checks:
        lw.emit(f"if {' or '.join(checks)}:", depth)
        lw.emit('raise ValueError("could not broadcast the value into the indexed shape")', depth + 1)
    for a, d, s in steps:
        lw.emit(f"{s} = 1 if {src}.shape[{a}] != 1 else 0", depth)
    if rank == 1 and vr == 1:
        # NOTE: [Unchecked loops]: step 1 means the value's length is the target's
        n = lw.fresh("n")
        lw.emit(f"{n} = {dst}.shape[0]", depth)
        depth = lw.unchecked_loop(node, n, {dst, src}, f"{steps[0][2]} == 1", depth, lambda t: None,
                                  lambda t, _: [f"{dst}[{t}] = {lw.cast(f'{src}[{t}]', element, node)}"])
    ts = [lw.fresh("t") for _ in range(rank)]
    for d, t in enumerate(ts):
        lw.emit(f"for {t} in range({dst}.shape[{d}]):", depth + d)
    read = ["0"] * lead + [f"{ts[d]} * {s}" for a, d, s in steps]
    elem = src + "[" + ", ".join(read) + "]"
    lw.emit(f"{dst}[{', '.join(ts)}] = {lw.cast(elem, element, node)}", depth + rank)


def is_mask(base: Value, index: Any, node: Node) -> bool:
    """Whether `base[index]` indexes by one boolean array of the base's rank (NOTE: [Masked writes])."""
    items = items_of(index)
    if len(items) != 1 or not isinstance(items[0], Ref) or not isinstance(base.type, TensorType):
        return False
    t = node.inputs[items[0].index].type
    return isinstance(t, TensorType) and t.dtype.kind == "b" and t.ndim == base.type.ndim >= 1


def write_masked(lw, node: Node, out: str, depth: int) -> None:
    """`out[mask] = value` for a scalar value (NOTE: [Masked writes]); `out` names the written buffer."""
    base, value = node.inputs[0], node.inputs[1]
    mask = lw.name(node.inputs[items_of(node.attrs["index"])[0].index])
    if not (isinstance(value.type, ScalarType) or isinstance(value.type, TensorType) and value.type.ndim == 0) \
            or not _castable(value.type, base.type.dtype):
        raise _unsupported(node, "a masked write of other than a scalar of the base's kind")
    rank = base.type.ndim
    lw.emit(f"if {' or '.join(f'{mask}.shape[{d}] != {out}.shape[{d}]' for d in range(rank))}:", depth)
    lw.emit('raise IndexError("boolean index did not match indexed array")', depth + 1)
    x = lw.fresh("x")
    lw.emit(f"{x} = {lw.cast(lw.name(value), TensorType(base.type.dtype, ()), node)}", depth)
    ts = [lw.fresh("t") for _ in range(rank)]
    for d, t in enumerate(ts):
        lw.emit(f"for {t} in range({out}.shape[{d}]):", depth + d)
    at = ", ".join(ts)
    lw.emit(f"if {mask}[{at}]:", depth + rank)
    lw.emit(f"{out}[{at}] = {x}", depth + rank + 1)


def is_gather(base: Value, index: Any, node: Node) -> bool:
    """Whether `base[index]` indexes a vector by one integer vector of the graph (NOTE: [Masked writes]
`a[mask] = v` with a boolean `mask` of `a`'s rank and a scalar `v` stores `v` (cast as a
scalar write casts it) at every position where the mask is True. NumPy raises IndexError
when a mask's shape differs from the base's; so does the region, before it writes, and
then every index of the loop nest is below both shapes.

NOTE: [Gathers])."""
    items = items_of(index)
    if len(items) != 1 or not isinstance(items[0], Ref) or not isinstance(base.type, TensorType) or base.type.ndim != 1:
        return False
    t = node.inputs[items[0].index].type
    # uint64 positions beyond int64 would wrap to negative ones: not lowered.
    return isinstance(t, TensorType) and t.ndim == 1 and (
        t.dtype.kind == "i" or t.dtype.kind == "u" and t.dtype.itemsize < 8)


def gather(lw, node: Node, depth: int) -> None:
    base, out = node.inputs[0], node.output
    idx = lw.name(node.inputs[items_of(node.attrs["index"])[0].index])
    x, n, t, j = lw.name(base), lw.fresh("n"), lw.fresh("t"), lw.fresh("j")
    if not isinstance(out.type, TensorType) or out.type.ndim != 1 or out.type.dtype != base.type.dtype:
        raise _unsupported(node, "a gather whose result is not a vector of its base's dtype")
    lw.emit(f"{lw.name(out)} = np.empty({idx}.shape[0], np.{out.type.dtype.name})", depth)
    lw.emit(f"{n} = {x}.shape[0]", depth)
    lw.emit(f"for {t} in range({idx}.shape[0]):", depth)
    lw.emit(f"{j} = np.int64({idx}[{t}])", depth + 1)
    lw.emit(f"if {j} < 0:", depth + 1)
    lw.emit(f"{j} += {n}", depth + 2)
    lw.emit(f"if {j} < 0 or {j} >= {n}:", depth + 1)
    lw.emit('raise IndexError("index out of bounds for the gathered axis")', depth + 2)
    lw.emit(f"{lw.name(out)}[{t}] = {x}[{j}]", depth + 1)
    lw.fresh_arrays.add(out)


def _castable(t, dtype: np.dtype) -> bool:
    """A cast NumPy's assignment makes and the region reproduces: within a kind or to a wider one (a float
    written into an int array is not lowered: numba's conversion of nan or an out-of-range value is not NumPy's)."""
    src = np.dtype(t.dtype if isinstance(t, TensorType) else t.kind if t.kind != "int" else np.int64)
    return np.can_cast(src, dtype, "same_kind")


def _unsupported(node: Node, why: str) -> Exception:
    from distjit.runtime.native.lower import Unsupported      # lower.py imports this module
    return Unsupported(node, why)
