"""Sharding rules: how a split along an axis of an op's inputs carries to its outputs.

A rule is `rule(node, ins) -> Decision | None`, where `ins[i]` is the split axis of
input i (None: replicated). It returns:

  Split(outputs, inputs, attrs)   the op runs on each shard unchanged; `outputs[j]` is
                                  the split axis of output j (None: replicated);
                                  `inputs[i]`, when not None, is the sharding input i
                                  must be given (REPLICATED, or an axis: the partitioner
                                  inserts dist.Shard / dist.Gather / dist.Reshard);
                                  `attrs(attrs, start, stop)` rewrites attributes
                                  that mention the split dim's size for one shard
  Reduce(kind, axis, ...)         a reduction over the split axis: dist.Partial on each
                                  shard and one dist.Combine (NOTE: [Partial reductions])
  Contract()                      the op on each shard yields partial sums of its
                                  result (a contraction over the split axis): dist.Combine(sum)
  None                            no rule applies: the partitioner gathers the split
                                  inputs and runs the op replicated

NOTE: [Where the rules live]
Each op names its rule in its declaration (`OpDef.shard`); the rules of the op
families are here, beside the vocabulary they speak, so that a family (every
ufunc, every reduction) shares one small function and the partitioner only asks
`get_op(name).shard`. A rule reads the op's facts (its reduction, its attribute
defaults), never its name; ops that differ get their own rule (`permute_axes`,
`swap_axes`, `move_axes`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from distjit.types import Ref, TensorType, iter_refs
from distjit.ops.infer import normalize_axes
from distjit.ops.registry import get_op

REPLICATED = "replicated"   # as a required input sharding: gather it if it is split


@dataclass
class Split:
    outputs: list
    inputs: list = field(default_factory=list)
    attrs: Callable | None = None


@dataclass
class Reduce:
    kind: str
    axis: tuple
    keepdims: bool
    ddof: int = 0
    dtype: object = None
    sqrt: bool = False


@dataclass
class Contract:
    inputs: list = field(default_factory=list)


def _rank(v) -> int:
    return v.type.ndim if isinstance(v.type, TensorType) else 0


def _dims(v) -> tuple:
    return v.type.shape if isinstance(v.type, TensorType) else ()


def _first_split(ins):
    return next(((i, a) for i, a in enumerate(ins) if a is not None), (None, None))


# ---- elementwise (with broadcasting) ---------------------------------------------------------------------------

def elementwise(node, ins):
    """Broadcasting ops: the output is split where the largest split operand is; others follow or stay whole."""
    out = node.outputs[0]
    rank = _rank(out)
    operands = node.operand_indices()
    if any(ins[i] is not None for i in range(len(ins)) if i not in operands):
        return None
    split = [i for i in operands if ins[i] is not None]
    lead = max(split, key=lambda i: (_rank(node.inputs[i]), -i))
    axis = ins[lead] + rank - _rank(node.inputs[lead])
    need = list(ins)
    for i in operands:
        v = node.inputs[i]
        aligned = axis - (rank - _rank(v))
        if aligned >= 0 and _dims(v)[aligned] != 1:
            need[i] = aligned                       # it spans the split dim: it must be cut the same way
        else:
            need[i] = REPLICATED if ins[i] is not None else None   # broadcast along the split dim: whole
    return Split([axis] * len(node.outputs), need)


def like(node, ins):
    """zeros_like & co.: the result has the operand's sharding (unless a new shape is given)."""
    if node.attrs.get("shape") is not None:
        return None
    return elementwise(node, ins)


# ---- reductions ---------------------------------------------------------------------------------------------------

def _opdef(node):
    return get_op(node.op)


def reduction(node, ins):
    """Over other axes the split stays (shifted); over the split axis: partials and a combine."""
    r = _opdef(node).reduction
    if ins[0] is None or any(a is not None for a in ins[1:]) or len(node.inputs) != 1:
        return None
    x = node.inputs[0]
    a, ndim = ins[0], _rank(x)
    attrs = node.attrs
    try:
        axes = normalize_axes(node.op, attrs.get("axis"), ndim)
    except Exception:
        return None
    keepdims = bool(attrs.get("keepdims", False))
    if a not in axes:
        shift = 0 if keepdims else sum(1 for r in axes if r < a)
        return Split([a - shift])
    if r is None or not r.partials or attrs.get("initial") is not None:
        return None
    if r.kind == "var":
        if x.type.dtype.kind == "c":
            return None
        ddof = attrs.get("correction") if attrs.get("correction") is not None else attrs.get("ddof", 0)
        return Reduce("var", axes, keepdims, ddof, attrs.get("dtype"), sqrt=r.sqrt)
    if r.kind in ("argmax", "argmin") and len(axes) != 1:
        return None
    return Reduce(r.kind, axes, keepdims, 0, attrs.get("dtype"))


def partial(node, ins):
    """A task's dist.Partial cut into blocks again (distjit/runtime/row_blocks.py): over the split axis, the
    blocks' partials fold into the task's with the same ufunc, for the kinds whose partial is the reduction."""
    if ins[0] is None or node.attrs["kind"] not in ("sum", "prod", "max", "min", "any", "all"):
        return None
    axes = normalize_axes(node.op, node.attrs.get("axis"), _rank(node.inputs[0]))
    if ins[0] not in axes:
        return Split([ins[0]])
    return Reduce(node.attrs["kind"], axes, True, 0, node.attrs.get("dtype"))


def along_other_axis(node, ins):
    """sort, argsort, cumsum, cumprod, diff …: fine when they work along another axis than the split one."""
    if ins[0] is None or any(a is not None for a in ins[1:]):
        return None
    axis = node.attrs.get("axis", _opdef(node).attr_defaults.get("axis"))
    if axis is None:
        return None
    if axis % _rank(node.inputs[0]) == ins[0]:
        return None
    return Split([ins[0]] * len(node.outputs))


# ---- contractions -----------------------------------------------------------------------------------------------

def matmul(node, ins):
    """x @ w with x split by rows (or batch) and w whole stays split; split contracted dims give partial sums."""
    return _contraction(node, ins, batched=True)


def dot(node, ins):
    """np.dot: as matmul, except that a split leading dim of a 3-D a is not a batch dim."""
    return _contraction(node, ins, batched=False)


def _contraction(node, ins, batched: bool):
    a, b = node.inputs[0], node.inputs[1]
    ra, rb, ro = _rank(a), _rank(b), _rank(node.outputs[0])
    sa, sb = ins[0], ins[1]
    if ra < 1 or rb < 1:
        return None
    if ra == 1 and rb == 1:
        return Contract() if sa == 0 and sb == 0 else None
    contracted_a, contracted_b = ra - 1, (0 if rb == 1 else rb - 2)
    if sa is not None and sa == contracted_a:
        if sb == contracted_b:
            return Contract()
        if sb is None:
            return Contract([None, contracted_b])        # cut w the same way: partial sums
        return None
    if sb is not None and sb == contracted_b:
        if sa is None:
            return Contract([contracted_a, None])
        return None
    if sa is not None and sb is None and ra >= 2:
        if sa == ra - 2:                                   # rows of a
            return Split([ro - 2 if rb >= 2 else ro - 1])
        if batched:                                        # a batch dim: b's matching batch dim follows
            axis = sa + ro - ra
            aligned = axis - (ro - rb)
            if rb > 2 and aligned >= 0 and aligned < rb - 2 and _dims(b)[aligned] != 1:
                return Split([axis], [None, aligned])
            return Split([axis])
        return None
    if sb is not None and sa is None and rb >= 2 and sb == rb - 1 and ra >= 1:
        return Split([ro - 1])                             # columns of b
    return None


def einsum(node, ins):
    """Subscripts decide: a split letter kept in the output stays split; a summed one gives partial sums."""
    subs = node.attrs.get("subscripts")
    if not isinstance(subs, str) or "..." in subs or "->" not in subs:
        return None
    lhs, out = subs.replace(" ", "").split("->")
    terms = lhs.split(",")
    if len(terms) != len(node.inputs):
        return None
    letters = {terms[i][a] for i, a in enumerate(ins) if a is not None}
    if len(letters) != 1:
        return None
    (letter,) = letters
    if any(t.count(letter) > 1 for t in terms) or out.count(letter) > 1:
        return None
    need = [terms[i].index(letter) if letter in terms[i] and _dims(node.inputs[i])[terms[i].index(letter)] != 1
            else (REPLICATED if ins[i] is not None else None) for i in range(len(terms))]
    if letter in out:
        return Split([out.index(letter)], need)
    if any(n == REPLICATED for n in need):
        return None
    return Contract(need)                                  # a summed letter: partial sums


# ---- shape ops -----------------------------------------------------------------------------------------------------

def permute_axes(node, ins):
    """np.transpose: the split axis moves with its dim."""
    if ins[0] is None:
        return None
    n = _rank(node.inputs[0])
    order = [o % n for o in (node.attrs.get("axes") or reversed(range(n)))]
    return Split([order.index(ins[0])])


def swap_axes(node, ins):
    if ins[0] is None:
        return None
    n = _rank(node.inputs[0])
    order = list(range(n))
    i, j = node.attrs["axis1"] % n, node.attrs["axis2"] % n
    order[i], order[j] = order[j], order[i]
    return Split([order.index(ins[0])])


def move_axes(node, ins):
    if ins[0] is None:
        return None
    n = _rank(node.inputs[0])
    src = [s % n for s in np.atleast_1d(node.attrs["source"]).tolist()]
    dst = [d % n for d in np.atleast_1d(node.attrs["destination"]).tolist()]
    rest = [k for k in range(n) if k not in src]
    order = [None] * n
    for s, d in zip(src, dst):
        order[d] = s
    it = iter(rest)
    order = [o if o is not None else next(it) for o in order]
    return Split([order.index(ins[0])])


def expand_dims(node, ins):
    out_rank = _rank(node.outputs[0])
    axes = sorted(a % out_rank for a in np.atleast_1d(node.attrs["axis"]).tolist())
    kept = [k for k in range(out_rank) if k not in axes]
    return Split([kept[ins[0]]])


def squeeze(node, ins):
    shape = _dims(node.inputs[0])
    axis = node.attrs.get("axis")
    gone = [k for k, d in enumerate(shape) if d == 1] if axis is None else \
        [a % len(shape) for a in np.atleast_1d(axis).tolist()]
    if ins[0] in gone:
        return None
    return Split([ins[0] - sum(1 for g in gone if g < ins[0])])


def _static(t) -> bool:
    return isinstance(t, TensorType) and t.is_static


def reshape(node, ins):
    """A reshape keeps the split when the split dim survives whole with the same product of dims before it."""
    return _reshape(node, ins, flat=False)


def ravel(node, ins):
    """As reshape; a 1-D result of a split along axis 0 stays split."""
    return _reshape(node, ins, flat=True)


def _reshape(node, ins, flat: bool):
    x, out = node.inputs[0], node.outputs[0]
    if not (_static(x.type) and _static(out.type)) or any(a is not None for a in ins[1:]):
        return None
    s, t, a = x.type.shape, out.type.shape, ins[0]
    before = int(np.prod(s[:a]))
    for b in range(len(t)):
        if int(np.prod(t[:b])) == before and t[b] == s[a]:
            def shard_attrs(attrs, start, stop, b=b, t=t):
                shape = list(t)
                shape[b] = stop - start
                return {**attrs, "shape": tuple(shape)}
            return Split([b], attrs=shard_attrs)
    if flat and a == 0:
        return Split([0])
    return None


def broadcast_to(node, ins):
    x, out = node.inputs[0], node.outputs[0]
    t = out.type.shape
    b = ins[0] + len(t) - _rank(x)
    if _dims(x)[ins[0]] != t[b] or not _static(out.type):
        return None

    def shard_attrs(attrs, start, stop):
        shape = list(t)
        shape[b] = stop - start
        return {**attrs, "shape": tuple(shape)}
    return Split([b], attrs=shard_attrs)


def _joined_axis(node, ins):
    """The one split axis of a join's operands (all of them operands), or None."""
    operands = node.operand_indices()
    if len(operands) != len(node.inputs) or node.attrs.get("axis", 0) is None:
        return None
    split = {a for a in ins if a is not None}
    return split.pop() if len(split) == 1 else None


def concatenate(node, ins):
    """concatenate along another axis than the split one: every operand cut the same way."""
    a = _joined_axis(node, ins)
    if a is None or node.attrs.get("axis", 0) % _rank(node.inputs[0]) == a:
        return None
    return Split([a], [a] * len(ins))


def stack(node, ins):
    """stack: the new axis shifts the split one when it comes before it; every operand cut the same way."""
    a = _joined_axis(node, ins)
    if a is None:
        return None
    pos = node.attrs.get("axis", 0) % (_rank(node.inputs[0]) + 1)
    return Split([a if a < pos else a + 1], [a] * len(ins))


def flip_roll(node, ins):
    axis = node.attrs.get("axis")
    if axis is None or ins[0] is None:
        return None
    n = _rank(node.inputs[0])
    if ins[0] in [x % n for x in np.atleast_1d(axis).tolist()]:
        return None
    return Split([ins[0]])


def identity(node, ins):
    """An op that keeps every dim where it is (copy)."""
    return Split([ins[0]] * len(node.outputs))


def same_rank(node, ins):
    """atleast_nd: keeps every dim where it is when the array already has that rank."""
    if _rank(node.outputs[0]) != _rank(node.inputs[0]):
        return None
    return identity(node, ins)


# ---- indexing -----------------------------------------------------------------------------------------------------

_FULL = slice(None, None, None)


def _basic_axis_map(index, ndim):
    """For a basic index: {input axis: output axis} of the axes it keeps; None if the index is not basic."""
    items = list(index) if isinstance(index, (tuple, list)) else [index]
    if sum(1 for it in items if it is Ellipsis) > 1:
        return None, None
    n_consuming = sum(1 for it in items if it is not None and it is not Ellipsis)
    expanded = []
    for it in items:
        if it is Ellipsis:
            expanded.extend([_FULL] * (ndim - n_consuming))
        else:
            expanded.append(it)
    expanded.extend([_FULL] * (ndim - sum(1 for it in expanded if it is not None)))
    mapping, full = {}, set()
    ax_in = ax_out = 0
    for it in expanded:
        if it is None:
            ax_out += 1
        elif isinstance(it, slice):
            if it == _FULL:
                full.add(ax_in)
            mapping[ax_in] = ax_out
            ax_in += 1
            ax_out += 1
        elif isinstance(it, (int, np.integer)) and not isinstance(it, bool):
            ax_in += 1
        else:
            return None, None    # advanced or dynamic item
    return mapping, full


def getitem(node, ins):
    """x[basic index] with a full slice on the split axis; table[idx] with idx split (an embedding lookup)."""
    index = node.attrs["index"]
    if ins[0] is not None and all(a is None for a in ins[1:]):
        mapping, full = _basic_axis_map(_strip_dynamic_slices(index), _rank(node.inputs[0]))
        if mapping is None or ins[0] not in full:
            return None
        return Split([mapping[ins[0]]])
    items = tuple(index) if isinstance(index, (tuple, list)) else (index,)
    if ins[0] is None and len(items) == 1 and isinstance(items[0], Ref) and ins[items[0].index] is not None \
            and isinstance(node.inputs[items[0].index].type, TensorType) \
            and node.inputs[items[0].index].type.dtype.kind in "iu":
        return Split([ins[items[0].index]])
    return None


def _strip_dynamic_slices(index):
    """Slices with Ref bounds act like basic slices for the axis map (they are never full)."""
    items = tuple(index) if isinstance(index, (tuple, list)) else (index,)
    out = []
    for it in items:
        if isinstance(it, slice) and any(True for _ in iter_refs(it)):
            out.append(slice(0, 0, None))
        elif isinstance(it, Ref):
            out.append(Ref)     # not basic
        else:
            out.append(it)
    return tuple(out)


def setitem(node, ins):
    """out = x.copy(); out[basic index] = v: fine when the index takes the split axis whole."""
    x, v = node.inputs[0], node.inputs[1]
    if ins[0] is None or any(a is not None for a in ins[2:]):
        return None
    mapping, full = _basic_axis_map(_strip_dynamic_slices(node.attrs["index"]), _rank(x))
    if mapping is None or ins[0] not in full:
        return None
    sub_rank = len(_getitem_shape(mapping, node.attrs["index"], _rank(x)))
    b = mapping[ins[0]]
    aligned = b - (sub_rank - _rank(v))
    need = [ins[0], None]
    if aligned >= 0 and _dims(v)[aligned] != 1:
        need[1] = aligned
    elif ins[1] is not None:
        need[1] = REPLICATED
    return Split([ins[0]], need + [None] * (len(ins) - 2))


def _getitem_shape(mapping, index, ndim):
    items = list(index) if isinstance(index, (tuple, list)) else [index]
    return [0] * (len(mapping) + sum(1 for it in items if it is None))
