"""Native lowerings of an array's lanes inside a loop region: np.reshape, np.min/np.max/np.argmin/np.argmax
along one axis of an array of rank 2 or more, and np.sum along one axis of a float64 array the region made.

A pooling loop (`x[:, :, i:i+p, j:j+p].reshape(N, C, -1).max(axis=2)`, written into `out[:, :, i, j]`) is
made of these, and so is a row-wise softmax (`z - z.max(axis=1, keepdims=True)`, `e / e.sum(axis=1,
keepdims=True)`); without them its whole nest runs as NumPy code, a few kernel calls per window or batch.

NOTE: [Lane reductions]
np.min/np.max/np.argmin/np.argmax with an integer `axis` of an array of rank r >= 2 is a fresh C-contiguous
array of rank r - 1 (r with `keepdims`, of length 1 along the axis), each element the vector reduction
(vectors.py, NOTE: [Vector reductions]) of the lane along that axis: NumPy's result, the lane's first NaN,
or for argmin/argmax the first index of the extreme (NumPy reduces a lane in index order for these, whatever
the axis). A zero-length axis raises NumPy's ValueError even where the other axes are empty, as NumPy does;
an empty result of a non-empty axis is an empty array.

NOTE: [Lane sums]
np.sum along one axis of a C-contiguous float64 array adds in an order that NumPy's iterator fixes by the
strides, so only an array the region made (C-contiguous: `fresh_arrays`) is lowered. Seen as (a, r, b), the
axis in the middle: where b is 1 each lane is contiguous and reaches NumPy's add loop as one reduction,
its identity plus the lane's pairwise sum (`0.0 + _pairwise(lane)`); otherwise the b axis is the inner loop
and each result element starts at the identity and adds the lane's elements one by one in index order
(`_axis_sum`, bit for bit either way; an empty lane sums to 0.0). `keepdims` keeps the axis with length 1.

NOTE: [Reshape in a region]
np.reshape (order "C") is `np.ascontiguousarray(x).reshape(shape)`: a view of x where x is C-contiguous
(NumPy's is a view then too), else a C-contiguous copy (NumPy's may be a view of some strided arrays, but
the IR is functional and the region's in-place analysis treats a reshape as a value that may share its
operand's buffer, so a copy only ever means fewer writes in place). The result is never recorded as fresh.
numba checks the lengths as NumPy does: one negative length is inferred, two raise ValueError, and so do
sizes that disagree.
"""
from __future__ import annotations

import numpy as np

from distjit.ir.graph import Node
from distjit.types import Ref, TensorType
from distjit.runtime.native.unsupported import Unsupported, rank as _rank

_LANE = {"np.min": "_vmin", "np.max": "_vmax", "np.argmin": "_vargmin", "np.argmax": "_vargmax"}
PRELUDE = '''

@njit({unchecked})
def _axis_sum(x, out):
    # np.sum along axis 1 of x (a, r, b), C-contiguous float64, into out (a, b) (NOTE: [Lane sums]).
    # Unchecked: the caller shaped out as x without its axis 1, and every index is below a length of x.
    for i in range(x.shape[0]):
        if x.shape[2] == 1:
            out[i, 0] = 0.0 + _pairwise(x[i, :, 0])
            continue
        for j in range(x.shape[2]):
            out[i, j] = 0.0
        for k in range(x.shape[1]):
            for j in range(x.shape[2]):
                out[i, j] += x[i, k, j]
'''

_EMPTY = {"np.min": "zero-size array to reduction operation minimum which has no identity",
          "np.max": "zero-size array to reduction operation maximum which has no identity",
          "np.argmin": "attempt to get argmin of an empty sequence",
          "np.argmax": "attempt to get argmax of an empty sequence"}




def lowers(L, node: Node, depth: int) -> bool:
    """Emit `node` if it is a reshape, a reduction along one axis of an array of rank >= 2, or a sum along one
    axis of an array of rank >= 2 the region made."""
    if node.op == "np.reshape":
        reshape(L, node, depth)
        return True
    if node.op == "np.sum" and len(node.inputs) == 1 and _rank(node.inputs[0]) >= 2 and _int(node.attrs.get("axis")):
        lane_sum(L, node, depth)
        return True
    if node.op in _LANE and len(node.inputs) == 1 and _rank(node.inputs[0]) >= 2 and \
            _int(node.attrs.get("axis")):
        lane_reduction(L, node, depth)
        return True
    return False


def _int(axis) -> bool:
    return isinstance(axis, int) and not isinstance(axis, bool)


def reshape(L, node: Node, depth: int) -> None:
    """NOTE: [Reshape in a region]."""
    x, attrs = node.inputs[0], node.attrs
    shape = attrs["shape"]
    items = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    t = node.output.type
    if _rank(x) == 0 or attrs.get("order", "C") != "C" or attrs.get("copy") is not None \
            or not isinstance(t, TensorType) or len(items) != t.ndim or t.ndim == 0 or t.dtype != x.type.dtype:
        raise Unsupported(node, "only a C-order reshape of an array to a shape of one or more axes is lowered")
    dims = []
    for item in items:
        if not (isinstance(item, Ref) or isinstance(item, int) and not isinstance(item, bool)):
            raise Unsupported(node, f"a reshape to the length {item!r}")
        dims.append(L.integer(node, item))
    L.assign(node, f"np.ascontiguousarray({L.name(x)}).reshape(({', '.join(dims)},))", depth)


def lane_reduction(L, node: Node, depth: int) -> None:
    """NOTE: [Lane reductions]."""
    x, attrs, out = node.inputs[0], node.attrs, node.output
    r = _rank(x)
    axis = attrs["axis"]
    keep = attrs.get("keepdims") is True
    if not -r <= axis < r or attrs.get("keepdims") not in (None, False, True) or attrs.get("initial") is not None or \
            attrs.get("where", True) is not True or attrs.get("out") is not None or len(node.outputs) != 1:
        raise Unsupported(node, "only the plain reduction along one axis is lowered")
    axis %= r
    if x.type.dtype.kind not in "biuf" or not isinstance(out.type, TensorType) or \
            out.type.ndim != (r if keep else r - 1):
        raise Unsupported(node, f"a reduction of dtype {x.type.dtype}")
    xs, y = L.name(x), L.name(out)
    L.emit(f"if {xs}.shape[{axis}] == 0:", depth)
    L.emit(f"raise ValueError({_EMPTY[node.op]!r})", depth + 1)
    kept = [d for d in range(r) if d != axis]
    L.emit(f"{y} = np.empty({_result_shape(xs, r, axis, keep)}, {_dtype(out)})", depth)
    ts = [L.fresh("t") for _ in kept]
    for k, (t, d) in enumerate(zip(ts, kept)):
        L.emit(f"for {t} in range({xs}.shape[{d}]):", depth + k)
    at = iter(ts)
    lane = ", ".join(":" if d == axis else next(at) for d in range(r))
    at = iter(ts)
    into = ", ".join(("0" if d == axis else next(at)) for d in range(r)) if keep else ", ".join(ts)
    L.emit(f"{y}[{into}] = {_LANE[node.op]}({xs}[{lane}])", depth + len(kept))
    L.fresh_arrays.add(out)


def lane_sum(L, node: Node, depth: int) -> None:
    """NOTE: [Lane sums]."""
    x, attrs, out = node.inputs[0], node.attrs, node.output
    r = _rank(x)
    axis = attrs["axis"]
    keep = attrs.get("keepdims") is True
    if not -r <= axis < r or attrs.get("keepdims") not in (None, False, True) or attrs.get("initial") is not None \
            or attrs.get("where", True) is not True or attrs.get("out") is not None or attrs.get("dtype") is not None \
            or len(node.outputs) != 1:
        raise Unsupported(node, "only the plain sum along one axis is lowered")
    if x not in L.fresh_arrays or x.type.dtype != np.float64 or not isinstance(out.type, TensorType) or \
            out.type.dtype != np.float64 or out.type.ndim != (r if keep else r - 1):
        raise Unsupported(node, "np.sum along an axis of other than a float64 array this region made")
    axis %= r
    xs, y = L.name(x), L.name(out)

    def length(axes) -> str:
        return " * ".join(f"{xs}.shape[{d}]" for d in axes) or "1"
    before, after = length(range(axis)), length(range(axis + 1, r))
    L.emit(f"{y} = np.empty({_result_shape(xs, r, axis, keep)}, np.float64)", depth)
    L.emit(f"_axis_sum(np.ascontiguousarray({xs}).reshape(({before}, {xs}.shape[{axis}], {after})), "
           f"{y}.reshape(({before}, {after})))", depth)
    L.fresh_arrays.add(out)


def _result_shape(xs: str, r: int, axis: int, keep: bool) -> str:
    """The shape of a reduction of the array named `xs` (rank r) along `axis`, as a tuple expression."""
    dims = [("1" if keep else None) if d == axis else f"{xs}.shape[{d}]" for d in range(r)]
    return f"({', '.join(d for d in dims if d is not None)},)"


def _dtype(out) -> str:
    return "np.bool_" if out.type.dtype.kind == "b" else f"np.{out.type.dtype.name}"
