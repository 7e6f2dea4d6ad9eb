"""Views, writes into views and gathers inside a native region (the lowering's `getitem`/`setitem` of arrays).

NOTE: [Writes into views]
`a[idx] = value` with `idx` made of integers, slices (any start/stop/step, negative steps
and bounds computed at run time included) and np.newaxis is NumPy's basic indexing: the
target is a view of the base (numba's slicing follows Python's, and a zero step raises
ValueError as NumPy's does). A scalar value is stored element by element. An
array value is broadcast to the view's shape as NumPy does (trailing axes aligned, an
axis of length 1 repeats, extra leading axes of length 1 drop; any other length raises
NumPy's ValueError before anything is written) and copied in nested loops, cast to the
base's dtype. NumPy reads the whole right side before it writes (NOTE: [Fused writes]).
Every index of the copy loops is below the view's or the value's own length, and the
region's bounds checks stay on (NOTE: [Bounds]) but for the one-axis loop of unit steps
(NOTE: [Unchecked loops]).

NOTE: [Fused writes]
An elementwise value read by nothing but its write into a view (`y[k:] = y[k:] + y[:-k]`)
is not made into a temporary: the write's loops compute each element from the value's
operands (chains.py defers it, as it does for an elementwise reader), broadcast as the
value would have been (its shape the operands' broadcast, NumPy's error first). NumPy
evaluates the whole value before it writes, and the loop gives its result whenever no
operand element is read after the loop wrote it. `_order` decides that at run time from
the operand's and the target's addresses and strides: an operand sharing no byte with the
target, or the very same elements, is read in place in any order; a one-axis operand of
the target's length, stride and itemsize displaced by d elements (element t of it is the
target's t + d) is read in place forward when d > 0 (the loop writes t + d after it read
it), and one displaced by a part of the stride that keeps every element of it clear of the
target's (a column beside another) in any order. When d < 0 the loop runs backward, over
the reversed views, but only in a write whose operands include a view of the target's own
base value (`y[k:] = y[k:] + y[:-k]`, a scan): that loop is a second specialization of the
helper, which numba would otherwise compile in every region that writes a vector, though
few calls meet that overlap; elsewhere such an operand is read from a copy, as is any other
that overlaps (another stride, a broadcast one, one overlapping in two directions). A value that is not elementwise (a view:
`a[1:] = a[:-1]`) is one such operand, and a fresh array read by nothing but the write
overlaps nothing.

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
from distjit.ops import get_op
from distjit.runtime.native import chains
from distjit.types import Ref, ScalarType, TensorType
from distjit.runtime.native.unsupported import Unsupported


PRELUDE = '''

@njit({options})
def _span(a):
    # The bytes a's elements occupy, [lo, hi): its first element's address moved by each axis's extent.
    lo = np.int64(a.ctypes.data)
    hi = lo
    for k in range(a.ndim):
        e = np.int64(a.shape[k] - 1) * np.int64(a.strides[k])
        if e < 0:
            lo += e
        else:
            hi += e
    return lo, hi + np.int64(a.itemsize)


@njit({options})
def _apart(w, a):
    if w.size == 0 or a.size == 0:
        return True
    wl, wh = _span(w)
    al, ah = _span(a)
    return ah <= wl or wh <= al


@njit({options})
def _order(w, a):
    # The orders in which `w[i] = f(a[i])` reads every element of a before a write reaches it (NOTE: [Fused
    # writes] in views.py): 0 any (a shares no byte with w, or is w itself), 1 forward only, -1 backward only,
    # 2 none (a is read from a copy).
    if _apart(w, a):
        return 0
    if a.itemsize != w.itemsize or a.shape != w.shape:
        return 2
    for k in range(w.ndim):
        if w.strides[k] == 0 and w.shape[k] > 1:
            return 2
    off = np.int64(a.ctypes.data) - np.int64(w.ctypes.data)
    if a.strides != w.strides:
        return 2
    if off == 0:
        return 0
    if w.ndim != 1:
        return 2
    s = np.int64(w.strides[0])
    r = off % abs(s)
    if r != 0:
        # Elements displaced by a part of the stride (one column of a matrix beside another): apart when the
        # nearest elements are at least an element's width away on both sides.
        return 0 if r >= a.itemsize and abs(s) - r >= a.itemsize else 2
    return 1 if off // s > 0 else -1
'''


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
        raise Unsupported(node, "an index that is not integers, slices and np.newaxis within the base's rank")
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
            raise Unsupported(node, f"a {value.type} value written into a {base.type.dtype} array")
        # Written element by element: numba's slice assignment of a scalar walks a strided view slower.
        dst, x = lw.fresh("w"), lw.fresh("x")
        lw.emit(f"{dst} = {out}[{idx}]", depth)
        lw.emit(f"{x} = {lw.cast(lw.name(value), element, node)}", depth)
        if rank >= 1:
            if _rows_unchecked(lw, node, dst, rank, {}, {}, depth, lambda t, row: [],
                               lambda t, e, q: [f"{q}[{t}] = {x}"]) is None:
                return None         # the helper fills every row
        ts = [lw.fresh("t") for _ in range(rank)]
        for d, t in enumerate(ts):
            lw.emit(f"for {t} in range({dst}.shape[{d}]):", depth + d)
        return lw.emit(f"{dst}[{', '.join(ts)}] = {x}", depth + rank)
    if not isinstance(value.type, TensorType) or not _castable(value.type, base.type.dtype):
        raise Unsupported(node, f"a {value.type} value written into a {base.type.dtype} array")
    dst = lw.fresh("w")
    lw.emit(f"{dst} = {out}[{idx}]", depth)
    _write_array(lw, node, dst, rank, element, depth)


def _write_array(lw, node: Node, dst: str, rank: int, element: TensorType, depth: int) -> None:
    """`dst[...] = value` of an array value: its elements computed in the write's loops from the operands
    (NOTE: [Fused writes]), each operand that may overlap the target in a harmful order read from a copy."""
    value = node.inputs[1]
    vr = value.type.ndim
    producer = lw.deferred.get(value)
    leaves = [value] if producer is None else list(dict.fromkeys(
        v for v in chains.leaves(lw, producer) if isinstance(v.type, TensorType) and v.type.ndim > 0))
    same = equal_views(leaves)
    leaves = list(dict.fromkeys(same.get(v, v) for v in leaves))
    # The value's shape: one leaf's own, or the broadcast of the producer's operands (NumPy's error first).
    dims = []
    for a in range(vr):
        merged = "1"
        for v in leaves:
            if a - (vr - v.type.ndim) >= 0:
                merged = f"_bdim({merged}, {lw.name(v)}.shape[{a - (vr - v.type.ndim)}])"
        dims.append(merged if producer is not None else f"{lw.name(value)}.shape[{a}]")
    if producer is not None:
        named = []
        for d in dims:
            n = lw.fresh("n")
            lw.emit(f"{n} = {d}", depth)
            named.append(n)
        dims = named
    lead = max(vr - rank, 0)                    # NumPy drops the value's extra leading axes of length 1
    checks = [f"{dims[a]} != 1" for a in range(lead)]
    checks += [f"({dims[a]} != 1 and {dims[a]} != {dst}.shape[{a - vr + rank}])" for a in range(lead, vr)]
    if checks:
        lw.emit(f"if {' or '.join(checks)}:", depth)
        lw.emit('raise ValueError("could not broadcast the value into the indexed shape")', depth + 1)
    # A fresh value read by nothing but this write cannot share the target's buffer; any other operand may.
    alone = producer is None and value in lw.fresh_arrays and value.uses == [(node, 1)]
    directed = rank == 1 and all(v.type.ndim == 1 for v in leaves) and any(
        view_root(v) is view_root(node.inputs[0]) for v in leaves)
    orders = {}
    if not alone:
        for v in leaves:
            k = lw.fresh("k")
            test = f"_order({dst}, {lw.name(v)})" if v.type.ndim == rank else f"0 if _apart({dst}, {lw.name(v)}) else 2"
            lw.emit(f"{k} = {test}", depth)
            orders[v] = k
    back = None
    if directed and orders:
        back = lw.fresh("b")
        ks = list(orders.values())
        lw.emit(f"{back} = ({' or '.join(f'{k} == -1' for k in ks)}) and not ({' or '.join(f'{k} == 1' for k in ks)})",
                depth)
    reads = {}
    for v in leaves:
        r = lw.fresh("r")
        if v in orders:
            # read in place where the loop, in its direction, reads each element before it writes it (NOTE: [Fused
            # writes]); else from a copy
            fine = f"{orders[v]} == 0 or {orders[v]} == " + (f"(-1 if {back} else 1)" if back else "1")
            lw.emit(f"{r} = {lw.name(v)} if {fine} else {lw.name(v)}.copy()", depth)
        else:
            lw.emit(f"{r} = {lw.name(v)}", depth)
        reads[v] = r
    steps = {}

    def compute(read, d):
        if producer is None:
            return lw.cast(read(value), element, node)
        return lw.cast(lw.expression(producer, read, d)[value], element, node)

    for v in leaves:
        steps[v] = lw.axis_steps(reads[v], v.type.ndim, depth)
    if rank == 1 and all(v.type.ndim == 1 for v in leaves):
        # NOTE: [Unchecked loops]: every step 1 means every operand's length is the value's, the target's; else
        # the operands of length 1 are widened to it
        n = lw.fresh("n")
        lw.emit(f"{n} = {dst}.shape[0]", depth)
        if lw.unchecked_loop(node, n, {dst, *reads.values()}, " and ".join(f"{steps[v][0]} == 1" for v in leaves),
                             depth, lambda t: compute(lambda v: f"{reads[same.get(v, v)]}[{t}]", 0),
                             lambda t, e: [f"{dst}[{t}] = {e}"], back, widen=list(reads.values())) is None:
            return
    else:
        # NOTE: [Unchecked loops], row by row: a last-axis step 1 means the operand's row is as long as the target's,
        # a row of length 1 is widened to it; an operand whose last axis is of length 1 in its type (a column view
        # a[:, None]) is one value per row
        single = {v for v in leaves if v.type.shape[-1] == 1}
        depth = _rows_unchecked(lw, node, dst, rank, reads, steps, depth,
                                lambda t, row: compute(lambda v: row[same.get(v, v)] if same.get(v, v) in single
                                                       else f"{row[same.get(v, v)]}[{t}]", 0),
                                lambda t, e, q: [f"{q}[{t}] = {e}"], single)
        if depth is None:
            return
    if back:
        # Backwards as a forward loop over the reversed views (element t of each is element n - 1 - t), in
        # variables of their own: the forward loop keeps the views' layouts.
        flipped = {v: lw.fresh("r") for v in reads}
        target = lw.fresh("w")
        for old, new in [(dst, target)] + [(reads[v], flipped[v]) for v in reads]:
            lw.emit(f"{new} = {old}[::-1] if {back} else {old}", depth)
        dst, reads = target, flipped
    ts = [lw.fresh("t") for _ in range(rank)]
    for d, t in enumerate(ts):
        lw.emit(f"for {t} in range({dst}.shape[{d}]):", depth + d)

    def read(v):
        v = same.get(v, v)
        at = [a + rank - v.type.ndim for a in range(v.type.ndim)]     # the target axis of each of v's axes
        return reads[v] + "[" + ", ".join("0" if d < 0 else f"{ts[d]} * {s}" for d, s in zip(at, steps[v])) + "]"
    e = compute(read, depth + rank)
    lw.emit(f"{dst}[{', '.join(ts)}] = {e}", depth + rank)


def view_root(v: Value) -> Value:
    """The value whose buffer `v` is, or is a view of, by the registry's aliasing facts (`OpDef.view_of`)."""
    for _ in range(64):
        d = v.node
        if d is None or get_op(d.op).view_of is None:
            break
        v = d.inputs[get_op(d.op).view_of]
    return v


def _rows_unchecked(lw, node: Node, dst: str, rank: int, reads: dict, steps: dict, depth: int,
                    element, store, single=frozenset()) -> int | None:
    """The unchecked helper over each row (last axis) of the target, when each operand in `single` has a last
    step of 0 (else the depth of the checked loops' branch is returned); None when there is no such operand and
    unchecked.py makes the helper. The outer axes index the rows as the checked loops index the elements (an
    operand's step, 0 on an axis it broadcasts along), the region's checks on; an operand in `single` is read
    there, one element per row, and passed as a scalar; any other operand's row of length 1 (its last step 0)
    is widened to the target's (`_widen`), so it needs no checked loop."""
    n = lw.fresh("n")
    lw.emit(f"{n} = {dst}.shape[{rank - 1}]", depth)
    q = lw.fresh("q")
    rows = {v: lw.fresh("q") for v in reads}

    def outer(d):
        ts = [lw.fresh("t") for _ in range(rank - 1)]
        for k, t in enumerate(ts):
            lw.emit(f"for {t} in range({dst}.shape[{k}]):", d + k)
        d += rank - 1
        lw.emit(f"{q} = {dst}[{', '.join(ts)}]" if ts else f"{q} = {dst}", d)
        for v, r in reads.items():
            at = [a + rank - v.type.ndim for a in range(v.type.ndim - 1)]
            idx = ", ".join("0" if k < 0 else f"{ts[k]} * {s}" for k, s in zip(at, steps[v]))
            if v in single:
                idx = f"{idx}, 0" if idx else "0"
            row = f"{r}[{idx}]" if idx else r
            if v in single:
                lw.emit(f"{rows[v]} = {row}", d)
            else:       # a row of length 1 at run time is widened to the target's (no call where it is that long)
                lw.emit(f"{rows[v]} = {row} if {steps[v][-1]} == 1 else _widen({row}, {n})", d)
        return d

    condition = " and ".join(f"{steps[v][-1]} == 0" for v in reads if v in single) or None
    return lw.unchecked_loop(node, n, {q, *(rows[v] for v in reads if v not in single)}, condition, depth,
                             lambda t: element(t, rows), lambda t, e: store(t, e, q), outer=outer)


def equal_views(arrays: list) -> dict:
    """Operands that are the same view (one base value, one index, the same dynamic inputs) as an earlier
    operand, mapped to it: they name the same elements of the same buffer whenever they are read."""
    first: dict = {}
    same: dict = {}
    for v in arrays:
        d = v.node
        if d is None or d.op != "array.getitem" or not is_view(d.inputs[0], d.attrs["index"]):
            continue
        key = (d.inputs[0], repr(d.attrs["index"]), tuple(d.inputs[1:]))
        if key in first:
            same[v] = first[key]
        else:
            first[key] = v
    return same


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
        raise Unsupported(node, "a masked write of other than a scalar of the base's kind")
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
    """Whether `base[index]` indexes a vector by one integer vector of the graph (NOTE: [Gathers])."""
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
        raise Unsupported(node, "a gather whose result is not a vector of its base's dtype")
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

