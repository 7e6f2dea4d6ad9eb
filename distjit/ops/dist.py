"""The partitioner's ops (`dist.*`): where data moves between the shards of a split value.

A split value is cut along one axis into N contiguous parts, one per shard task.
In the partitioned (logical) graph each `dist.*` node has one operand, the split
value, and keeps its logical type; in a task's subgraph the same node takes the N
parts (one per shard), so the op is a collective there:

    dist.Gather(*parts) {axis}                       concatenate the parts: split -> replicated
    dist.Shard(x) {axis, start, stop}                this shard's slice of a replicated value
    dist.Reshard(*parts) {source, axis, start, stop} split on `source` -> split on `axis` (all-to-all)
    dist.Partial(x) {kind, axis, dtype}              one shard's partial statistics of a reduction
    dist.Combine(*partials) {kind, axis, keepdims, ddof, dtype, offsets, sqrt}
                                                     the reduction's result from every shard's partials

NOTE: [Partial reductions]
A reduction over the split axis runs as dist.Partial on each shard and one
dist.Combine. Partials keep the reduced axes (keepdims) so they align; the combine
reduces across shards in shard order with the right formula for each kind:

  sum, prod, max, min, any, all   (r,)            fold with the same ufunc
  mean                            (sum, count)    sum of sums / sum of counts
  var (std: sqrt=True)            (n, mean, M2)   Chan, Golub & LeVeque's pairwise update
  argmax, argmin                  (value, index)  first shard holding the extreme; index + shard offset

A mean and a var (or std) of the same value over the same axes share one pass:
the partitioner gives the mean's combine the var's (n, mean, M2) partials
(`using="var"`), and the mean's own partial is never made.

A contraction over the split axis (``Z.T @ Z`` with Z split by rows) needs no
dist.Partial: the op itself yields per-shard partial sums, combined with kind sum
and no reduced axes. Combining reorders floating-point sums, so results agree with
NumPy's to rounding, not bit for bit.
"""
from __future__ import annotations

import functools

import numpy as np

from distjit.errors import ShapeError
from distjit.types import INT, TensorType
from distjit.ops.infer import shape_of
from distjit.ops import sharding
from distjit.ops.registry import FRESH, Cost, OpDef, attr, operand, operands, register

# kind -> number of partial values one shard contributes
PARTIAL_ARITY = {"sum": 1, "prod": 1, "max": 1, "min": 1, "any": 1, "all": 1,
                 "mean": 2, "var": 3, "argmax": 2, "argmin": 2}
# kinds whose partials fold with a ufunc
_FOLD = {"sum": np.add, "prod": np.multiply, "max": np.maximum, "min": np.minimum,
         "any": np.logical_or, "all": np.logical_and}
_LOCAL = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min, "any": np.any, "all": np.all}


def _index(axis: int, start, stop) -> tuple:
    return (slice(None),) * axis + (slice(start, stop),)


def _sliced_dim(d, start, stop):
    if stop is None and start == 0:
        return d
    if isinstance(d, int):
        return len(range(*slice(start, stop).indices(d)))
    raise ShapeError(f"dist.Shard: cannot slice the symbolic dim {d}")


def _bytes(types) -> float:
    return float(sum(t.nbytes or 0 for t in types if isinstance(t, TensorType)))


def _move_cost(in_types, out_types, attrs) -> Cost:
    return Cost(flops=0.0, bytes=_bytes([*in_types, *out_types]))


# ---- dist.Gather ---------------------------------------------------------------------------------------------

def _gather(*parts, axis):
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=axis)


def _gather_infer(in_types, attrs):
    first, axis = in_types[0], attrs["axis"]
    if len(in_types) == 1:
        return [first]
    shape = list(shape_of(first))
    dims = [shape_of(t)[axis] for t in in_types]
    shape[axis] = sum(dims) if all(isinstance(d, int) for d in dims) else first.shape[axis]
    return [TensorType(first.dtype, tuple(shape))]


# ---- dist.Shard / dist.Reshard -----------------------------------------------------------------------------------

def _shard(x, axis, start=0, stop=None):
    return x[_index(axis, start, stop)]


def _shard_infer(in_types, attrs):
    t, axis = in_types[0], attrs["axis"]
    shape = list(shape_of(t))
    shape[axis] = _sliced_dim(shape[axis], attrs.get("start", 0), attrs.get("stop"))
    return [TensorType(t.dtype, tuple(shape))]


def _reshard(*parts, source, axis, start=0, stop=None):
    return _shard(_gather(*parts, axis=source), axis, start, stop)


def _reshard_infer(in_types, attrs):
    whole = _gather_infer(in_types, {"axis": attrs["source"]})
    return _shard_infer(whole, attrs)


# ---- dist.Partial ----------------------------------------------------------------------------------------------

def _partial(x, kind, axis, dtype=None):
    axis = tuple(axis)
    if kind in ("sum", "prod"):
        return _LOCAL[kind](x, axis=axis, dtype=dtype, keepdims=True)
    if kind in _LOCAL:
        return _LOCAL[kind](x, axis=axis, keepdims=True)
    count = int(np.prod([x.shape[a] for a in axis], dtype=np.int64))
    if kind == "mean":
        acc = dtype if dtype is not None else (np.float64 if x.dtype.kind in "biu" else None)
        return np.sum(x, axis=axis, dtype=acc, keepdims=True), count
    if kind == "var":
        acc = dtype if dtype is not None else (np.float64 if x.dtype.kind in "biu" else None)
        if axis == (0,) and x.dtype == np.float64 and acc in (None, np.float64) and x.size >= _BLOCK_ELEMENTS \
                and x.shape[0] > 1:
            return _blocked_var(x)
        mean = np.mean(x, axis=axis, dtype=acc, keepdims=True)
        d = np.subtract(x, mean, dtype=acc)
        np.multiply(d, d, out=d)
        return count, mean, np.sum(d, axis=axis, keepdims=True)
    (a,) = axis   # argmax, argmin: one axis
    index = (np.argmax if kind == "argmax" else np.argmin)(x, axis=a, keepdims=True)
    return np.take_along_axis(x, index, axis=a), index


_BLOCK_ELEMENTS = 1 << 16


def _blocked_var(x):
    """(n, mean, M2) over axis 0 in one pass of cache-sized row blocks, combined with Chan's update.

    No full-size temporary (eager ``x - mean`` faults in a fresh array as big as x, and
    page faults of threads in one process contend), and x is read once, not twice.
    """
    rows = max(1, _BLOCK_ELEMENTS // max(1, x[0].size))
    buf = np.empty((rows, *x.shape[1:]), np.float64)
    state = None
    for s in range(0, x.shape[0], rows):
        b = x[s:s + rows]
        m = b.shape[0]
        d = buf[:m]
        mean = np.sum(b, axis=0, keepdims=True)
        mean /= m
        np.subtract(b, mean, out=d)
        np.multiply(d, d, out=d)
        part = (m, mean, np.sum(d, axis=0, keepdims=True))
        state = part if state is None else _chan(state, part)
    return state


def _keep_shape(t, axis):
    return tuple(1 if i in axis else d for i, d in enumerate(shape_of(t)))


def _acc_dtype(t, dtype):
    if dtype is not None:
        return np.dtype(dtype)
    return np.dtype(np.float64) if t.dtype.kind in "biu" else t.dtype


def _partial_infer(in_types, attrs):
    t, kind, axis = in_types[0], attrs["kind"], tuple(attrs["axis"])
    shape = _keep_shape(t, axis)
    if kind in ("sum", "prod"):
        dtype = np.dtype(attrs["dtype"]) if attrs.get("dtype") is not None else \
            _LOCAL[kind](np.ones(1, t.dtype)).dtype
        return [TensorType(dtype, shape)]
    if kind in ("any", "all"):
        return [TensorType(np.dtype(bool), shape)]
    if kind in ("max", "min"):
        return [TensorType(t.dtype, shape)]
    if kind == "mean":
        return [TensorType(_acc_dtype(t, attrs.get("dtype")), shape), INT]
    if kind == "var":
        acc = _acc_dtype(t, attrs.get("dtype"))
        return [INT, TensorType(acc, shape), TensorType(acc, shape)]
    if kind in ("argmax", "argmin"):
        return [TensorType(t.dtype, shape), TensorType(np.dtype(np.intp), shape)]
    raise ShapeError(f"dist.Partial: unknown kind {kind!r}")


# ---- dist.Combine ----------------------------------------------------------------------------------------------

def _chan(a, b):
    """Chan et al.'s parallel update of (count, mean, M2) for two disjoint parts."""
    na, ma, m2a = a
    nb, mb, m2b = b
    n = na + nb
    if n == 0:
        return a
    delta = mb - ma
    return n, ma + delta * (nb / n), m2a + m2b + delta * delta * (na * nb / n)


def _combine(*parts, kind, axis=(), keepdims=False, ddof=0, dtype=None, offsets=None, sqrt=False, using=None):
    k = PARTIAL_ARITY[using or kind]
    groups = [parts[i:i + k] for i in range(0, len(parts), k)]
    if kind == "mean" and using == "var":    # a mean read off the (n, mean, M2) partials of a var of the same x
        result = functools.reduce(_chan, groups)[1]
    elif kind in _FOLD:
        result = functools.reduce(_FOLD[kind], (g[0] for g in groups))
    elif kind == "mean":
        total = functools.reduce(np.add, (g[0] for g in groups))
        result = np.true_divide(total, sum(g[1] for g in groups))
    elif kind == "var":
        n, _, m2 = functools.reduce(_chan, groups)
        result = np.true_divide(m2, max(n - ddof, 0))
        if sqrt:
            result = np.sqrt(result)
    else:   # argmax, argmin: np.argmax over the stacked values keeps NumPy's first-wins and NaN rules
        (a,) = axis
        values = np.stack([g[0] for g in groups])
        index = np.stack([g[1] + (offsets[i] if offsets else 0) for i, g in enumerate(groups)])
        best = (np.argmax if kind == "argmax" else np.argmin)(values, axis=0, keepdims=True)
        result = np.take_along_axis(index, best, axis=0)[0]
    result = np.asarray(result)
    if not keepdims and axis:
        result = result.reshape([d for i, d in enumerate(result.shape) if i not in tuple(axis)])
    if dtype is not None and result.dtype != dtype:
        result = result.astype(dtype)
    return result[()] if result.ndim == 0 else result


def _combine_infer(in_types, attrs):
    kind, axis = attrs["kind"], tuple(attrs.get("axis", ()))
    lead = [t for t in in_types[:PARTIAL_ARITY[attrs.get("using") or kind]] if isinstance(t, TensorType)]
    t = lead[-1] if kind in ("argmax", "argmin") else lead[0]
    shape = shape_of(t)
    if not attrs.get("keepdims", False):
        shape = tuple(d for i, d in enumerate(shape) if i not in axis)
    dtype = attrs.get("dtype")
    if dtype is None:
        dtype = np.dtype(np.float64) if kind == "mean" and t.dtype.kind in "biu" else t.dtype
    return [TensorType(np.dtype(dtype), shape)]


def _combine_cost(in_types, out_types, attrs) -> Cost:
    return Cost(flops=float(sum(t.size or 1 for t in in_types if isinstance(t, TensorType))),
                bytes=_bytes([*in_types, *out_types]))


DIST_OPS = {op.name: op for op in [
    register(OpDef("dist.Gather", kernel=_gather, infer=_gather_infer, params=(operands("parts"), attr("axis")),
                   flags={"dist", "collective"}, cost=_move_cost,
                   doc="The parts of a split value concatenated along axis (split -> replicated).")),
    register(OpDef("dist.Shard", kernel=_shard, infer=_shard_infer,
                   params=(operand("x"), attr("axis"), attr("start", 0), attr("stop", None)),
                   flags={"dist"}, cost=_move_cost,
                   doc="x[start:stop] along axis: this shard's part of a replicated value.")),
    register(OpDef("dist.Reshard", kernel=_reshard, infer=_reshard_infer,
                   params=(operands("parts"), attr("source"), attr("axis"), attr("start", 0), attr("stop", None)),
                   flags={"dist", "collective"}, cost=_move_cost,
                   doc="A value split along `source` re-cut along `axis`; this shard's part [start:stop].")),
    register(OpDef("dist.Partial", kernel=_partial, infer=_partial_infer,
                   params=(operand("x"), attr("kind"), attr("axis"), attr("dtype", None)),
                   flags={"dist"}, cost=lambda i, o, a: Cost(float(i[0].size or 1), _bytes([*i, *o])),
                   shard=sharding.partial, alias=FRESH,
                   doc="One shard's partial statistics of a reduction; see NOTE: [Partial reductions].")),
    register(OpDef("dist.Combine", kernel=_combine, infer=_combine_infer,
                   params=(operands("partials"), attr("kind"), attr("axis", ()), attr("keepdims", False),
                           attr("ddof", 0), attr("dtype", None), attr("offsets", None), attr("sqrt", False),
                           attr("using", None)),
                   flags={"dist", "collective"}, cost=_combine_cost,
                   doc="The reduction's result from the partials of every shard; see NOTE: [Partial reductions].")),
]}
