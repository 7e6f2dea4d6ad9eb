"""Boolean masks read inside a native region: a gather of rows by a mask, and np.any/np.all (of an array,
and along an axis of a matrix), with a gather read only by np.any/np.all along its first axis reduced
without being made.

A frontier loop (breadth-first search: `adj[frontier].any(axis=0)`, `frontier.any()` as the loop's
condition) is made of these; without them its whole nest runs as NumPy code, and the gather copies every
selected row before the reduction reads it once.

NOTE: [Masked gathers]
`x[mask]` with a one-axis boolean `mask` is NumPy's boolean indexing of x's first axis: a fresh
C-contiguous array of the rows where the mask is True, in order (of x's dtype, its first length the
number of True elements). NumPy raises IndexError when the mask's length differs from that axis's;
so does the region, where the gather stands, before anything reads x, so every row read is in range.

NOTE: [Masked reductions]
np.any/np.all without an axis is the truth of some/every element (a nonzero number, NaN included, is
true, as in NumPy), one pass that stops at the first element that decides it. Along an axis of a
matrix it is one value per lane: along axis 1 each row's, along axis 0 an accumulation over the rows
(`out[j] |= x[i, j] != 0`), in row order, which reads a C-contiguous matrix once at unit stride. A
gather `x[mask]` of a matrix read by nothing but np.any/np.all along axis 0 is not made: the
accumulation runs over x's rows where the mask is True, which are the gather's rows, in its order, so
the result is the same, and no row is copied. The mask's length is checked where the gather stands
(NumPy's IndexError first); nothing between the gather and its reader may write an array (only scalar
nodes stand between), so x and the mask are what the gather would have read. An empty selection gives
NumPy's answer for zero rows: all False for any, all True for all.
"""
from __future__ import annotations

from distjit.ir.graph import Node, Value
from distjit.types import Ref, TensorType
from distjit.runtime.native.unsupported import Unsupported, rank as _rank
from distjit.runtime.native.views import items_of

OPS = ("np.any", "np.all")

PRELUDE = '''

@njit({unchecked})
def _vany(a):
    # Unchecked: every index is below a.shape[0].
    for i in range(a.shape[0]):
        if a[i] != 0:
            return True
    return False


@njit({unchecked})
def _vall(a):
    for i in range(a.shape[0]):
        if a[i] == 0:
            return False
    return True


@njit({unchecked})
def _rows_any(x, mask):
    # np.any(x[mask], axis=0) of a matrix x without the gather (NOTE: [Masked reductions]). The flags gather in
    # bytes (a bool accumulator is stored as a compare and a select, which LLVM does not vectorize as it does
    # an or of bytes). Unchecked: the lengths are checked first, then i is below both x.shape[0] and
    # mask.shape[0], j below x.shape[1], the length of acc.
    if mask.shape[0] != x.shape[0]:
        raise IndexError("boolean index did not match indexed array along axis 0")
    acc = np.zeros(x.shape[1], np.uint8)
    for i in range(x.shape[0]):
        if mask[i]:
            r = x[i]
            for j in range(x.shape[1]):
                acc[j] |= np.uint8(r[j] != 0)
    return acc != 0


@njit({unchecked})
def _rows_all(x, mask):
    if mask.shape[0] != x.shape[0]:
        raise IndexError("boolean index did not match indexed array along axis 0")
    acc = np.ones(x.shape[1], np.uint8)
    for i in range(x.shape[0]):
        if mask[i]:
            r = x[i]
            for j in range(x.shape[1]):
                acc[j] &= np.uint8(r[j] != 0)
    return acc != 0
'''

_WHOLE = {"np.any": "_vany", "np.all": "_vall"}
_ROWS = {"np.any": "_rows_any", "np.all": "_rows_all"}
_KINDS = "biuf"


def is_row_mask(base: Value, index, node: Node) -> bool:
    """Whether `base[index]` indexes the first axis of an array by one boolean vector (NOTE: [Masked gathers])."""
    items = items_of(index)
    if len(items) != 1 or not isinstance(items[0], Ref) or not isinstance(base.type, TensorType) or base.type.ndim < 1:
        return False
    t = node.inputs[items[0].index].type
    return isinstance(t, TensorType) and t.dtype.kind == "b" and t.ndim == 1


def gather(L, node: Node, depth: int) -> None:
    """`x[mask]` (NOTE: [Masked gathers]), or only its check when its reader reduces it (NOTE: [Masked reductions])."""
    base, out = node.inputs[0], node.output
    index = node.attrs["index"]
    mask = node.inputs[items_of(index)[0].index]
    if not isinstance(out.type, TensorType) or out.type.ndim != base.type.ndim or out.type.dtype != base.type.dtype \
            or base.type.dtype.kind not in _KINDS + "c":
        raise Unsupported(node, "a boolean gather whose result is not rows of its base's dtype")
    x, m = L.name(base), L.name(mask)
    L.emit(f"if {m}.shape[0] != {x}.shape[0]:", depth)
    L.emit('raise IndexError("boolean index did not match indexed array along axis 0")', depth + 1)
    if _reduced_by_reader(node):
        L.masked_rows[out] = (base, mask)
        return
    y, k, t = L.name(out), L.fresh("k"), L.fresh("t")
    dtype = "np.bool_" if base.type.dtype.kind == "b" else f"np.{base.type.dtype.name}"
    L.emit(f"{y} = np.empty((np.count_nonzero({m}),) + {x}.shape[1:], {dtype})", depth)
    L.emit(f"{k} = 0", depth)
    L.emit(f"for {t} in range({m}.shape[0]):", depth)
    L.emit(f"if {m}[{t}]:", depth + 1)
    L.emit(f"{y}[{k}] = {x}[{t}]", depth + 2)
    L.emit(f"{k} += 1", depth + 2)
    L.fresh_arrays.add(out)


def _reduced_by_reader(node: Node) -> bool:
    """Whether the gather of a matrix's rows is read by nothing but np.any/np.all along axis 0 of the same block,
    with only scalar nodes between (NOTE: [Masked reductions])."""
    v = node.output
    if node.inputs[0].type.ndim != 2 or len(v.uses) != 1 or not isinstance(v.uses[0][0], Node):
        return False
    reader, slot = v.uses[0]
    if reader.block is not node.block or reader.op not in OPS or slot != 0 or _axis(reader) != 0 \
            or reader.inputs[0].type.dtype.kind not in _KINDS:
        return False
    nodes = node.block.nodes
    between = nodes[nodes.index(node) + 1:nodes.index(reader)]
    return all(not n.blocks and all(_rank(o) == 0 for o in n.outputs) for n in between)


def _axis(node: Node) -> int | None:
    """The reduction's axis of its operand's axes, None for all of them; -1 for a form not lowered."""
    attrs = node.attrs
    r = _rank(node.inputs[0])
    axis = attrs.get("axis")
    if attrs.get("keepdims") or len(node.inputs) != 1 or len(node.outputs) != 1:
        return -1
    if isinstance(axis, (tuple, list)) and len(axis) == 1:
        axis = axis[0]
    if axis is None or r == 1 and axis in (0, -1):
        return None
    if isinstance(axis, bool) or not isinstance(axis, int) or not -r <= axis < r:
        return -1
    return axis % r


def lowers(L, node: Node, depth: int) -> bool:
    """Emit `node` if it is np.any/np.all (NOTE: [Masked reductions])."""
    if node.op not in OPS:
        return False
    x, out = node.inputs[0], node.output
    axis = _axis(node)
    if axis == -1 or _rank(x) == 0 or x.type.dtype.kind not in _KINDS:
        raise Unsupported(node, "only np.any/np.all of a real array, of all of it or along one axis, is lowered")
    xs = L.name(x)
    if axis is None:
        whole = xs if _rank(x) == 1 else f"{xs}.ravel()"
        L.assign(node, L.cast(f"{_WHOLE[node.op]}({whole})", out.type, node), depth)
        return True
    if _rank(x) != 2 or not isinstance(out.type, TensorType) or out.type.ndim != 1:
        raise Unsupported(node, "np.any/np.all along an axis of other than a matrix")
    y = L.name(out)
    if x in L.masked_rows:
        base, mask = L.masked_rows[x]
        L.assign(node, f"{_ROWS[node.op]}({L.name(base)}, {L.name(mask)})", depth)
    elif axis == 0:
        L.assign(node, f"{_ROWS[node.op]}({xs}, np.ones({xs}.shape[0], np.bool_))", depth)
    else:
        t = L.fresh("t")
        L.emit(f"{y} = np.empty({xs}.shape[0], np.bool_)", depth)
        L.emit(f"for {t} in range({xs}.shape[0]):", depth)
        L.emit(f"{y}[{t}] = {_WHOLE[node.op]}({xs}[{t}])", depth + 1)
    L.fresh_arrays.add(out)
    return True
