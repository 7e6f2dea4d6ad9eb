"""Native lowerings of an array's lanes inside a loop region: np.reshape, and np.min/np.max/np.argmin/
np.argmax along one axis of an array of rank 2 or more.

A pooling loop (`x[:, :, i:i+p, j:j+p].reshape(N, C, -1).max(axis=2)`, written into `out[:, :, i, j]`) is
made of these; without them its whole nest runs as NumPy code, a few kernel calls per window.

NOTE: [Lane reductions]
np.min/np.max/np.argmin/np.argmax with an integer `axis` of an array of rank r >= 2 is a fresh C-contiguous
array of rank r - 1, each element the vector reduction (vectors.py, NOTE: [Vector reductions]) of the lane
along that axis: NumPy's result, the lane's first NaN, or for argmin/argmax the first index of the extreme
(NumPy reduces a lane in index order for these, whatever the axis). A zero-length axis raises NumPy's
ValueError even where the other axes are empty, as NumPy does; an empty result of a non-empty axis is
an empty array.

NOTE: [Reshape in a region]
np.reshape (order "C") is `np.ascontiguousarray(x).reshape(shape)`: a view of x where x is C-contiguous
(NumPy's is a view then too), else a C-contiguous copy (NumPy's may be a view of some strided arrays, but
the IR is functional and the region's in-place analysis treats a reshape as a value that may share its
operand's buffer, so a copy only ever means fewer writes in place). The result is never recorded as fresh.
numba checks the lengths as NumPy does: one negative length is inferred, two raise ValueError, and so do
sizes that disagree.
"""
from __future__ import annotations

from distjit.ir.graph import Node
from distjit.types import Ref, TensorType
from distjit.runtime.native.unsupported import Unsupported, rank as _rank

_LANE = {"np.min": "_vmin", "np.max": "_vmax", "np.argmin": "_vargmin", "np.argmax": "_vargmax"}
_EMPTY = {"np.min": "zero-size array to reduction operation minimum which has no identity",
          "np.max": "zero-size array to reduction operation maximum which has no identity",
          "np.argmin": "attempt to get argmin of an empty sequence",
          "np.argmax": "attempt to get argmax of an empty sequence"}




def lowers(L, node: Node, depth: int) -> bool:
    """Emit `node` if it is a reshape or a reduction along one axis of an array of rank >= 2."""
    if node.op == "np.reshape":
        reshape(L, node, depth)
        return True
    if node.op in _LANE and len(node.inputs) == 1 and _rank(node.inputs[0]) >= 2 and \
            isinstance(node.attrs.get("axis"), int) and not isinstance(node.attrs.get("axis"), bool):
        lane_reduction(L, node, depth)
        return True
    return False


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
    if not -r <= axis < r or attrs.get("keepdims") or attrs.get("initial") is not None or \
            attrs.get("where", True) is not True or attrs.get("out") is not None or len(node.outputs) != 1:
        raise Unsupported(node, "only the plain reduction along one axis is lowered")
    axis %= r
    if x.type.dtype.kind not in "biuf" or not isinstance(out.type, TensorType) or out.type.ndim != r - 1:
        raise Unsupported(node, f"a reduction of dtype {x.type.dtype}")
    xs, y = L.name(x), L.name(out)
    L.emit(f"if {xs}.shape[{axis}] == 0:", depth)
    L.emit(f"raise ValueError({_EMPTY[node.op]!r})", depth + 1)
    kept = [d for d in range(r) if d != axis]
    dtype = "np.bool_" if out.type.dtype.kind == "b" else f"np.{out.type.dtype.name}"
    L.emit(f"{y} = np.empty(({', '.join(f'{xs}.shape[{d}]' for d in kept)},), {dtype})", depth)
    ts = [L.fresh("t") for _ in kept]
    for k, (t, d) in enumerate(zip(ts, kept)):
        L.emit(f"for {t} in range({xs}.shape[{d}]):", depth + k)
    at = iter(ts)
    lane = ", ".join(":" if d == axis else next(at) for d in range(r))
    L.emit(f"{y}[{', '.join(ts)}] = {_LANE[node.op]}({xs}[{lane}])", depth + len(kept))
    L.fresh_arrays.add(out)
