"""A time loop over long vectors, run one block of rows at a time with the time loop inside.

NOTE: [Blocked time loops]
`for t in range(n): S *= np.exp(c + d * z[:, t]); total += S` updates whole vectors each
iteration: every iteration streams S, total and the column z[:, t] through memory, and a
column of a C-ordered matrix touches every cache line of it, so each iteration reads all
of z. When an element of every vector the body makes depends only on the same element of
the vectors it reads, the rows are independent and the loop may run block by block:
for each block of `ROWS` rows, the whole time loop on that block's rows, whose vectors
and rows of z then stay in the cache (a strip-mined interchange of the row and time loops).

`plan` admits a loop whose body has no nested blocks and whose every node is one of:
- a scalar op on scalars (no array operand): it computes the same value in every block;
- a row view of an array from outside the loop, `z[:, t]` (a full slice on axis 0, then
  integers): its element p is z's row p;
- an elementwise node (a fused.elementwise or an elementwise op) of vector results, over
  scalars and vectors (the loop's, its rows, or vectors from outside the loop);
- `np.broadcast_to` of a vector to a length, and `prim.DimSize` of a vector read only as
  such a length (augmented assignment makes both: the length is the block's then).
Its carried values are scalars and vectors, and the cond it returns is a scalar, so every
block runs the same number of iterations. Each element is computed by the same operations
in the same order as in the unblocked loop, so results are the same bit for bit.

At run time the blocked form runs when every carried vector and every vector and row base
from outside has one length N (no operand broadcast from length 1) of at least two blocks;
otherwise one block spans every operand whole, which is the loop as it is written (one body
in the source, so numba compiles it once). A carried vector's results go into the buffer
its slot owns (the initial value's, when the slot takes or copies it: inplace.py; else a
new array), written back block by block; a block's slice of that buffer is the slot's
value in its first iteration, so in-place updates of the slot stay in place.
"""
from __future__ import annotations

from distjit.ir.graph import Node, Value
from distjit.ops import get_op
from distjit.types import Ref, ScalarType, TensorType

ROWS = 2048            # rows of a block: its vectors and its rows of a narrow matrix stay in the L2 cache
GETITEM = "array.getitem"


class Plan:
    """The vectors from outside a blockable loop, by how a block reads them: `bases` are the arrays whose row
    views the body reads, `vectors` the vectors its elementwise nodes read whole."""

    def __init__(self, bases: list[Value], vectors: list[Value]):
        self.bases = bases
        self.vectors = vectors


def plan(loop: Node) -> Plan | None:
    """How `loop` runs block by block (NOTE: [Blocked time loops]), or None when its rows are not independent."""
    body = loop.blocks[0]
    init = loop.inputs[2:]
    if not any(_vector(v) for v in init) or any(not (_scalar(v) or _vector(v)) for v in init):
        return None
    if not _scalar(body.returns[0]):
        return None
    inside = set(body.params)
    bases: dict[Value, None] = {}
    vectors: dict[Value, None] = {}
    lengths: set[Value] = set()
    for node in body.nodes:
        if node.blocks:
            return None
        arrays = [v for v in node.inputs if not _scalar(v)]
        if node.op == "prim.DimSize":
            if not _vector(node.inputs[0]) or node.inputs[0] not in inside or node.attrs.get("axis") not in (0, -1):
                return None
            lengths.add(node.output)
        elif not arrays:
            if not all(_scalar(o) for o in node.outputs):
                return None
        elif node.op == GETITEM:
            base = node.inputs[0]
            if base in inside or not _rows_view(node) or not _vector(node.output):
                return None
            bases[base] = None
        elif node.op == "np.broadcast_to":
            if not _vector(node.output) or not _vector(node.inputs[0]) or node.inputs[0] not in inside \
                    or not all(isinstance(i, Ref) and node.inputs[i.index] in lengths for i in _shape(node)):
                return None
        elif node.op == "fused.elementwise" or "elementwise" in get_op(node.op).flags:
            if not all(_vector(o) for o in node.outputs) or not all(_vector(v) for v in arrays):
                return None
            for v in arrays:
                if v not in inside:
                    vectors[v] = None
        else:
            return None
        inside.update(node.outputs)
    # a length is the block's: only a broadcast's target length may read it
    for v in lengths:
        if any(not (isinstance(user, Node) and user.op == "np.broadcast_to" and Ref(slot) in _shape(user))
               for user, slot in v.uses):
            return None
    if any(v in bases for v in vectors):
        return None
    return Plan(list(bases), list(vectors))


def emit(lw, loop: Node, p: Plan, depth: int) -> None:
    """The loop over blocks of rows when its run-time lengths allow; else one block spanning every operand whole,
    which is the loop as written (one body in the source: numba compiles it once)."""
    trip, cond, *init = loop.inputs
    body = loop.blocks[0]
    vec = [k for k, v in enumerate(init) if _vector(v)]
    lengths = [f"{lw.name(v)}.shape[0]" for v in [*[init[k] for k in vec], *p.bases, *p.vectors]]
    n, ok, rows, top = lw.fresh("n"), lw.fresh("k"), lw.fresh("n"), lw.fresh("n")
    lw.emit(f"{n} = {lengths[0]}", depth)
    lw.emit(f"{ok} = {' and '.join([f'{n} >= {2 * ROWS}', *[f'{x} == {n}' for x in lengths[1:]]])}", depth)
    lw.emit(f"{rows} = {ROWS} if {ok} else max(1, {', '.join(lengths)})", depth)
    lw.emit(f"{top} = {n} if {ok} else 1", depth)
    full = {}
    for k in vec:
        v, r = init[k], lw.fresh("c")
        if lw.inplace.copy_at_entry(loop, k):
            lw.emit(f"{r} = {lw.name(v)}.copy()", depth)
        elif (loop, k) in lw.inplace.copies:          # the slot takes the initial value's buffer
            if v in lw.inputs:
                lw.written.add(v)
            lw.emit(f"{r} = {lw.name(v)}", depth)
        else:                                          # the slot may not write into it: results go elsewhere
            lw.emit(f"{r} = np.empty({n} if {ok} else 0, np.{v.type.dtype.name})", depth)
        full[k] = r
    lo, m = lw.fresh("b"), lw.fresh("m")
    lw.emit(f"for {lo} in range(0, {top}, {rows}):", depth)
    d = depth + 1
    lw.emit(f"{m} = min({rows}, {n} - {lo}) if {ok} else {rows}", d)
    saved = {}
    for v in [*p.bases, *p.vectors]:
        saved[v] = lw.name(v)
        block = lw.fresh("w")
        lw.emit(f"{block} = {saved[v]}[{lo}:{lo} + {m}]", d)
        lw.names[v] = block
    carried = [lw.fresh("c") for _ in init]
    for k, (c, v) in enumerate(zip(carried, init)):
        if k in full:
            source = full[k] if (loop, k) in lw.inplace.copies else lw.name(v)
            lw.emit(f"{c} = {source}[{lo}:{lo} + {m}]", d)
        else:
            lw.emit(f"{c} = {lw.cast(lw.name(v), body.params[1 + k].type, loop)}", d)
    try:
        lw.loop_body(loop, carried, d)
    finally:
        lw.names.update(saved)
    lw.emit(f"if {ok}:", d)
    for k in vec:
        t = lw.fresh("t")
        lw.emit(f"for {t} in range({m}):", d + 1)
        lw.emit(f"{full[k]}[{lo} + {t}] = {carried[k]}[{t}]", d + 2)
    lw.emit("pass", d + 1)
    lw.emit(f"if {ok}:", depth)
    for k, o in enumerate(loop.outputs):
        lw.emit(f"{lw.name(o)} = {full[k] if k in full else carried[k]}", depth + 1)
    lw.emit("else:", depth)
    for k, o in enumerate(loop.outputs):
        lw.emit(f"{lw.name(o)} = {carried[k]}", depth + 1)


def _scalar(v: Value) -> bool:
    t = v.type
    return isinstance(t, ScalarType) or isinstance(t, TensorType) and t.ndim == 0


def _vector(v: Value) -> bool:
    return isinstance(v.type, TensorType) and v.type.ndim == 1


def _rows_view(node: Node) -> bool:
    """`base[:, i, j]`: all of axis 0, then an integer for every other axis (the result's element p is row p's)."""
    base, index = node.inputs[0], node.attrs["index"]
    items = tuple(index) if isinstance(index, (tuple, list)) else (index,)
    if not isinstance(base.type, TensorType) or len(items) != base.type.ndim:
        return False
    first, rest = items[0], items[1:]
    if not (isinstance(first, slice) and first == slice(None, None, None)):
        return False
    return all(isinstance(i, Ref) and _scalar(node.inputs[i.index]) or isinstance(i, int) and not isinstance(i, bool)
               for i in rest)


def _shape(node: Node) -> tuple:
    shape = node.attrs["shape"]
    return tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
