"""Native lowerings of whole-array ops inside a loop region: reductions of a vector, np.flip, array creation,
np.stack (what `np.array([x, y, z])` of scalars, and of rows, records), np.trace, np.roll and np.diff.
Matrix products, np.outer and np.transpose are products.py's.

lower.py's `_Lowering.node` hands a node here first (`lowers`); each function either
emits the node's code and returns True, or returns False when the node is not one of
these ops, and raises Unsupported when it is but in a form not lowered.

NOTE: [Vector reductions]
The reductions take a 1-D array of any stride (a view, an input, a fresh array):
- np.min/np.max fold from the first element; a NaN is the result (NumPy's). NumPy's SIMD
  loops pick between +0.0 and -0.0 by their lane order, so when zeros of both signs tie
  the sign of the zero may differ (equal in value: README's contract table).
- np.argmin/np.argmax: the first index of the extreme, or of the first NaN, as NumPy's.
- np.mean/np.var/np.std of float64: NumPy's `_mean`/`_var` step by step, each sum the
  pairwise sum `_pairwise` reproduces bit for bit (a 1-D operand reaches NumPy's add loop
  unbuffered and in index order, whatever its stride, also a negative one), divided as
  NumPy divides.
An empty vector raises NumPy's ValueError for min/max/argmin/argmax and gives nan for
mean/var/std (NumPy's warning is not raised).

NOTE: [Stacks in a region]
np.stack along the first axis of scalars (a vector) or of arrays of one rank (an array one
rank higher) is a fresh C-contiguous array filled operand by operand, each element cast to
the result's dtype as NumPy's stack casts it (same_kind, which the IR's dtype already
states). Operands of different shapes raise NumPy's ValueError before anything is stored.
Small state vectors and 2x2 rotations built from scalars in a loop body (`np.array([c, s])`)
so stay in the region instead of sending the loop to NumPy code.
"""
from __future__ import annotations

import numpy as np

from distjit.ir.graph import Node
from distjit.runtime.native import lanes, masks
from distjit.types import Ref, ScalarType, TensorType
from distjit.runtime.native.unsupported import Unsupported, rank as _rank

PRELUDE = '''

@njit({unchecked})
def _first_nan(a):
    for i in range(a.shape[0]):
        if a[i] != a[i]:
            return i
    return -1


@njit({unchecked})
def _vmin(a):
    # One pass without a branch on NaN (a tight loop), and a second one only when a NaN was seen: NumPy's
    # result is then a NaN. Unchecked: every index is below a.shape[0].
    if a.shape[0] == 0:
        raise ValueError("zero-size array to reduction operation minimum which has no identity")
    acc = a[0]
    nan = acc != acc
    for i in range(1, a.shape[0]):
        x = a[i]
        nan |= x != x
        acc = x if x < acc else acc
    return a[_first_nan(a)] if nan else acc


@njit({unchecked})
def _vmax(a):
    if a.shape[0] == 0:
        raise ValueError("zero-size array to reduction operation maximum which has no identity")
    acc = a[0]
    nan = acc != acc
    for i in range(1, a.shape[0]):
        x = a[i]
        nan |= x != x
        acc = x if x > acc else acc
    return a[_first_nan(a)] if nan else acc


@njit({unchecked})
def _vargmin(a):
    if a.shape[0] == 0:
        raise ValueError("attempt to get argmin of an empty sequence")
    k = 0
    acc = a[0]
    nan = acc != acc
    for i in range(1, a.shape[0]):
        x = a[i]
        nan |= x != x
        if x < acc:
            acc = x
            k = i
    return np.int64(_first_nan(a) if nan else k)


@njit({unchecked})
def _vargmax(a):
    if a.shape[0] == 0:
        raise ValueError("attempt to get argmax of an empty sequence")
    k = 0
    acc = a[0]
    nan = acc != acc
    for i in range(1, a.shape[0]):
        x = a[i]
        nan |= x != x
        if x > acc:
            acc = x
            k = i
    return np.int64(_first_nan(a) if nan else k)


@njit({options})
def _vsum(a):
    # np.add.reduce of a float64 vector from its identity, in NumPy's pairwise order (of the indices, whatever
    # the stride's sign).
    return 0.0 + _pairwise(a)


@njit({options})
def _vmean(a):
    return _vsum(a) / np.float64(a.shape[0])


@njit({unchecked})
def _vvar(a, ddof):
    # NumPy's _var: the mean, the squares of the deviations (a fresh contiguous array), their sum / (n - ddof).
    n = a.shape[0]
    mean = _vsum(a) / np.float64(n)
    d = np.empty(n, np.float64)
    for i in range(n):          # unchecked: i < n, the length of both
        x = a[i] - mean
        d[i] = x * x
    return _vsum(d) / np.float64(max(n - ddof, 0))


'''

_REDUCTIONS = {"np.min": "_vmin", "np.max": "_vmax", "np.argmin": "_vargmin", "np.argmax": "_vargmax",
               "np.mean": "_vmean", "np.var": "_vvar", "np.std": "_vvar"}
_CREATION = ("np.zeros_like", "np.empty_like", "np.ones_like")
_SHAPED = ("np.zeros", "np.ones", "np.empty", "np.full", "np.eye", "np.identity")


def may_lower(op: str) -> bool:
    """Whether `lowers` may take a node of this op (then it is no elementwise reader: chains.py)."""
    return op == "np.reshape" or op in masks.OPS or op in _REDUCTIONS or op in _CREATION or op in _SHAPED or op in (
        "np.flip", "np.copy", "np.broadcast_to", "np.stack", "np.trace", "np.roll", "np.diff")


def lowers(L, node: Node, depth: int) -> bool:
    """Emit `node` if it is one of this module's ops in a lowered form (see the module's doc)."""
    op = node.op
    if lanes.lowers(L, node, depth):     # np.reshape, reductions along one axis of a matrix or more
        return True
    if masks.lowers(L, node, depth):     # np.any/np.all, of a gather by a mask too
        return True
    if op in _REDUCTIONS:
        reduction(L, node, depth)
        return True
    if op == "np.flip":
        flip(L, node, depth)
        return True
    if op == "np.stack":
        stack(L, node, depth)
        return True
    if op == "np.trace":
        trace(L, node, depth)
        return True
    if op == "np.roll":
        roll(L, node, depth)
        return True
    if op == "np.diff":
        diff(L, node, depth)
        return True
    if op in _CREATION:
        like(L, node, depth)
        return True
    if op in _SHAPED:
        shaped(L, node, depth)
        return True
    if op == "np.copy" and isinstance(node.inputs[0].type, TensorType) and node.inputs[0].type.ndim > 1:
        copy(L, node, depth)
        return True
    if op == "np.broadcast_to" and not (node.inputs[0] in L.fresh_arrays and _rank(node.inputs[0]) == 1
                                        and _rank(node.output) == 1):
        broadcast_to(L, node, depth)        # lower.py's broadcast_to keeps a fresh vector broadcast to a length
        return True
    return False




def reduction(L, node: Node, depth: int) -> None:
    x = node.inputs[0]
    attrs = node.attrs
    if len(node.inputs) != 1 or len(node.outputs) != 1 or _rank(x) != 1 or \
            attrs.get("axis") not in (None, 0, -1) or attrs.get("keepdims") or attrs.get("initial") is not None \
            or attrs.get("dtype") is not None or attrs.get("correction") is not None:
        raise Unsupported(node, "only the plain reduction of a vector is lowered")
    kind = x.type.dtype.kind
    helper = _REDUCTIONS[node.op]
    if node.op in ("np.mean", "np.var", "np.std"):
        if x.type.dtype != np.float64:
            raise Unsupported(node, "a mean or variance of other than float64 (NumPy sums it in buffered blocks)")
        if node.op == "np.mean":
            expr = f"{helper}({L.name(x)})"
        else:
            ddof = attrs.get("ddof", 0)
            if isinstance(ddof, bool) or not isinstance(ddof, int):
                raise Unsupported(node, f"ddof {ddof!r}")
            expr = f"{helper}({L.name(x)}, np.int64({ddof}))"
            if node.op == "np.std":
                expr = f"np.sqrt({expr})"
    else:
        if kind not in "biuf":
            raise Unsupported(node, f"a reduction of dtype {x.type.dtype}")
        expr = f"{helper}({L.name(x)})"
    L.assign(node, L.cast(expr, node.output.type, node), depth)


def flip(L, node: Node, depth: int) -> None:
    """np.flip of a vector: the view with the negative stride NumPy's is."""
    x = node.inputs[0]
    if len(node.inputs) != 1 or _rank(x) != 1 or node.attrs.get("axis") not in (None, 0, -1):
        raise Unsupported(node, "np.flip of other than a vector")
    L.assign(node, f"{L.name(x)}[::-1]", depth)


def stack(L, node: Node, depth: int) -> None:
    """np.stack along axis 0 of scalars or of arrays of one rank (NOTE: [Stacks in a region])."""
    xs, out = list(node.inputs), node.output
    ranks = {_rank(x) for x in xs}
    if not xs or len(ranks) != 1 or not isinstance(out.type, TensorType) or out.type.dtype.kind not in "biufc":
        raise Unsupported(node, "np.stack of other than scalars or arrays of one rank")
    rank = ranks.pop()
    axis = node.attrs.get("axis", 0)
    if node.attrs.get("dtype") is not None or node.attrs.get("casting", "same_kind") != "same_kind" or \
            not isinstance(axis, int) or axis not in (0, -(rank + 1)) or rank > 3 or out.type.ndim != rank + 1:
        raise Unsupported(node, "np.stack along other than the first axis")
    y, dtype = L.name(out), "np.bool_" if out.type.dtype.kind == "b" else f"np.{out.type.dtype.name}"
    element = TensorType(out.type.dtype, ())
    if rank == 0:
        L.emit(f"{y} = np.empty({len(xs)}, {dtype})", depth)
        for k, x in enumerate(xs):
            L.emit(f"{y}[{k}] = {L.cast(L.name(x), element, node)}", depth)
        L.fresh_arrays.add(out)
        return
    first = L.name(xs[0])
    others = [L.name(x) for x in xs[1:]]
    checks = [f"{o}.shape[{d}] != {first}.shape[{d}]" for o in others for d in range(rank)]
    if checks:
        L.emit(f"if {' or '.join(checks)}:", depth)
        L.emit('raise ValueError("all input arrays must have the same shape")', depth + 1)
    L.emit(f"{y} = np.empty(({len(xs)}, {', '.join(f'{first}.shape[{d}]' for d in range(rank))}), {dtype})", depth)
    ts = [L.fresh("t") for _ in range(rank)]
    for d, t in enumerate(ts):
        L.emit(f"for {t} in range({first}.shape[{d}]):", depth + d)
    at = ", ".join(ts)
    for k, x in enumerate(xs):
        L.emit(f"{y}[{k}, {at}] = {L.cast(f'{L.name(x)}[{at}]', element, node)}", depth + rank)
    L.fresh_arrays.add(out)


def roll(L, node: Node, depth: int) -> None:
    """np.roll of a vector by an integer: a fresh vector, element i moved to (i + shift) mod n."""
    x, shift = node.inputs[0], node.attrs.get("shift")
    if _rank(x) != 1 or node.attrs.get("axis") not in (None, 0, -1) or isinstance(shift, (tuple, list)) or \
            x.type.dtype.kind not in "biufc":
        raise Unsupported(node, "np.roll of other than a vector by one integer")
    xs, y, n, k, t = L.name(x), L.name(node.output), L.fresh("n"), L.fresh("k"), L.fresh("t")
    L.emit(f"{n} = {xs}.shape[0]", depth)
    L.emit(f"{y} = np.empty({n}, {xs}.dtype)", depth)
    L.emit(f"if {n} > 0:", depth)
    L.emit(f"{k} = {L.integer(node, shift)} % {n}", depth + 1)       # numba's % of ints is Python's
    L.emit(f"for {t} in range({n}):", depth + 1)
    L.emit(f"{y}[({t} + {k}) % {n}] = {xs}[{t}]", depth + 2)
    L.fresh_arrays.add(node.output)


def diff(L, node: Node, depth: int) -> None:
    """np.diff of a real or integer vector (n=1): a fresh vector of x[i + 1] - x[i], NumPy's subtraction."""
    x = node.inputs[0]
    attrs = {k: v for k, v in node.attrs.items() if v is not None}
    if len(node.inputs) != 1 or _rank(x) != 1 or attrs.get("n", 1) != 1 or attrs.get("axis", -1) not in (0, -1) or \
            set(attrs) - {"n", "axis"} or x.type.dtype.kind not in "iuf" or node.output.type.dtype != x.type.dtype:
        raise Unsupported(node, "np.diff of other than a real vector, once")
    xs, y, t = L.name(x), L.name(node.output), L.fresh("t")
    L.emit(f"{y} = np.empty(max({xs}.shape[0] - 1, 0), {xs}.dtype)", depth)
    L.emit(f"for {t} in range({y}.shape[0]):", depth)
    L.emit(f"{y}[{t}] = {xs}[{t} + 1] - {xs}[{t}]", depth + 1)
    L.fresh_arrays.add(node.output)


def trace(L, node: Node, depth: int) -> None:
    """np.trace of a matrix: the sum of its diagonal, which NumPy adds as the reduction of a vector (_vsum's
    order for float64; any order is exact for integers)."""
    x = node.inputs[0]
    attrs = {k: v for k, v in node.attrs.items() if v is not None}
    if len(node.inputs) != 1 or _rank(x) != 2 or attrs not in ({}, {"offset": 0}, {"axis1": 0, "axis2": 1},
                                                               {"offset": 0, "axis1": 0, "axis2": 1}):
        raise Unsupported(node, "np.trace of other than a matrix's main diagonal")
    kind = x.type.dtype.kind
    if x.type.dtype == np.float64:
        expr = f"_vsum(np.diag({L.name(x)}))"
    elif kind in "iu":
        expr = f"np.diag({L.name(x)}).astype(np.int64).sum()"
    else:
        raise Unsupported(node, f"np.trace of dtype {x.type.dtype}")
    L.assign(node, L.cast(expr, node.output.type, node), depth)


def _fresh_dtype(node: Node) -> str:
    t = node.output.type
    if not isinstance(t, TensorType) or t.ndim == 0 or t.dtype.kind not in "biuf":
        raise Unsupported(node, f"an array of type {t}")
    return "np.bool_" if t.dtype.kind == "b" else f"np.{t.dtype.name}"


def like(L, node: Node, depth: int) -> None:
    """np.zeros_like/np.empty_like/np.ones_like of an array: a fresh C-contiguous array of its shape."""
    x = node.inputs[0]
    attrs = node.attrs
    if len(node.inputs) != 1 or _rank(x) == 0 or _rank(x) != _rank(node.output) or \
            attrs.get("order", "K") not in ("K", "C", "A") or attrs.get("shape") is not None:
        raise Unsupported(node, "only the plain form of the op on an array is lowered")
    make = {"np.zeros_like": "np.zeros", "np.empty_like": "np.empty", "np.ones_like": "np.ones"}[node.op]
    L.assign(node, f"{make}({L.name(x)}.shape, {_fresh_dtype(node)})", depth)
    L.fresh_arrays.add(node.output)


def shaped(L, node: Node, depth: int) -> None:
    """np.zeros/ones/empty/full of a shape, np.eye and np.identity: a fresh C-contiguous array. The lengths are
    ints of the graph (constants, or values region.py checked to be int64s); a negative one raises NumPy's
    ValueError before anything is allocated, so an allocation is as large as NumPy's would be."""
    attrs = node.attrs
    if attrs.get("order", "C") != "C" or len(node.outputs) != 1:
        raise Unsupported(node, "an array of other than C order")
    t = node.output.type
    if not isinstance(t, TensorType) or t.ndim == 0 or t.dtype.kind not in "biufc":
        raise Unsupported(node, f"an array of type {t}")
    dtype = "np.bool_" if t.dtype.kind == "b" else f"np.{t.dtype.name}"
    if node.op in ("np.eye", "np.identity"):
        n = L.integer(node, attrs["N"] if node.op == "np.eye" else attrs["n"])
        m = n if node.op == "np.identity" or attrs.get("M") is None else L.integer(node, attrs["M"])
        dims = [n, m]
    else:
        shape = attrs["shape"]
        dims = [L.integer(node, d) for d in (tuple(shape) if isinstance(shape, (tuple, list)) else (shape,))]
    if len(dims) != t.ndim:
        raise Unsupported(node, "a shape whose rank is not the result's")
    names = []
    for d in dims:
        n = L.fresh("n")
        L.emit(f"{n} = np.int64({d})", depth)
        L.emit(f"if {n} < 0:", depth)
        L.emit('raise ValueError("negative dimensions are not allowed")', depth + 1)
        names.append(n)
    y, shape_text = L.name(node.output), f"({', '.join(names)},)"
    if node.op == "np.full":
        fill = node.inputs[0]
        if _rank(fill) != 0 or not _castable_fill(fill.type, t.dtype):
            raise Unsupported(node, "np.full of other than a scalar of a kind the dtype holds")
        value = L.cast(L.name(fill), TensorType(t.dtype, ()), node)
        L.emit(f"{y} = np.full({shape_text}, {value}, {dtype})", depth)
    else:
        make = {"np.zeros": "np.zeros", "np.ones": "np.ones", "np.empty": "np.empty"}.get(node.op, "np.zeros")
        L.emit(f"{y} = {make}({shape_text}, {dtype})", depth)
    if node.op in ("np.eye", "np.identity"):
        k = attrs.get("k", 0) if node.op == "np.eye" else 0
        k = L.integer(node, k)
        i = L.fresh("t")
        # ones on diagonal k: rows max(0, -k) up to min(n, m - k), whose column i + k is in range
        L.emit(f"for {i} in range(max(0, -({k})), min({names[0]}, {names[1]} - ({k}))):", depth)
        L.emit(f"{y}[{i}, {i} + {k}] = 1", depth + 1)
    L.fresh_arrays.add(node.output)


def _castable_fill(t, dtype: np.dtype) -> bool:
    """A fill np.full casts as the region does: within a kind or to a wider one (a float into an int array is
    not lowered: numba's conversion of nan or an out-of-range value is not NumPy's)."""
    src = np.dtype(t.dtype if isinstance(t, TensorType) else {"int": np.int64, "float": np.float64,
                                                              "complex": np.complex128, "bool": np.bool_}[t.kind])
    return np.can_cast(src, dtype, "same_kind")


def copy(L, node: Node, depth: int) -> None:
    """np.copy of an array of any rank: a fresh C-contiguous one (NumPy's order='K' keeps a view's strides,
    a difference in layout only)."""
    x = node.inputs[0]
    if len(node.inputs) != 1 or node.attrs.get("order", "K") not in ("K", "C", "A"):
        raise Unsupported(node, "only the plain form of np.copy is lowered")
    L.assign(node, f"{L.name(x)}.copy()", depth)       # numba's copy is C-contiguous
    L.fresh_arrays.add(node.output)


def broadcast_to(L, node: Node, depth: int) -> None:
    """np.broadcast_to: of a scalar, a fresh array filled with it (np.sum may then read it in NumPy's order);
    of an array, numba's np.broadcast_to, a read-only view as NumPy's (zero strides on the broadcast axes),
    which raises NumPy's ValueError on shapes that do not broadcast."""
    x, shape = node.inputs[0], node.attrs["shape"]
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if node.attrs.get("subok") or not shape or _rank(node.output) != len(shape) or _rank(x) > len(shape):
        raise Unsupported(node, "np.broadcast_to to other than a shape of at least the operand's rank")
    dims = [L.integer(node, d) for d in shape]
    for d in dims:
        L.emit(f"if {d} < 0:", depth)
        L.emit('raise ValueError("all elements of broadcast shape must be non-negative")', depth + 1)
    y, dtype = L.name(node.output), _fresh_dtype(node)
    if _rank(x) == 0:
        value = L.cast(L.name(x), TensorType(node.output.type.dtype, ()), node)
        L.emit(f"{y} = np.full(({', '.join(dims)},), {value}, {dtype})", depth)
        L.fresh_arrays.add(node.output)
        return
    if x.type.dtype != node.output.type.dtype:
        raise Unsupported(node, "np.broadcast_to that changes the dtype")
    if x in L.fresh_arrays and _rank(x) == len(dims) <= 4:
        _broadcast_fresh(L, node, x, y, dims, dtype, depth)
        return
    L.emit(f"{y} = np.broadcast_to({L.name(x)}, ({', '.join(dims)},))", depth)


def _broadcast_fresh(L, node: Node, x, y: str, dims: list[str], dtype: str, depth: int) -> None:
    """A fresh array broadcast to its own rank (`a += b` of arrays becomes this): itself where the shapes are
    equal, so the loop slot it goes to owns it; else a fresh copy of the broadcast, filled element by element."""
    xs = L.name(x)
    L.emit(f"{y} = {xs}", depth)
    L.emit(f"if {' or '.join(f'{xs}.shape[{k}] != {d}' for k, d in enumerate(dims))}:", depth + 0)
    b = L.fresh("b")
    L.emit(f"{b} = np.broadcast_to({xs}, ({', '.join(dims)},))", depth + 1)
    L.emit(f"{y} = np.empty(({', '.join(dims)},), {dtype})", depth + 1)
    idx = [L.fresh("i") for _ in dims]
    for k, (i, d) in enumerate(zip(idx, dims)):
        L.emit(f"for {i} in range({d}):", depth + 1 + k)
    L.emit(f"{y}[{', '.join(idx)}] = {b}[{', '.join(idx)}]", depth + 1 + len(dims))
    L.fresh_arrays.add(node.output)
