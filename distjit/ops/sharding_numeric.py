"""Sharding rules of the numeric families: stacked matrices, transforms along axes, reductions that prepend dims.

They speak the vocabulary of distjit/ops/sharding.py and live apart from its family
rules only because they serve these families alone. Each says honestly where an op
cannot be cut: a decomposition couples every element of a matrix, a transform every
element along its axes, a median every element it reduces, so a split there makes the
partitioner gather the input and run the op replicated (the rule returns None).
"""
from __future__ import annotations

from distjit.types import TensorType
from distjit.ops.infer import normalize_axes
from distjit.ops.registry import get_op
from distjit.ops.sharding import REPLICATED, Split


def _rank(v) -> int:
    return v.type.ndim if isinstance(v.type, TensorType) else 0


def _only_first(ins) -> bool:
    return ins[0] is not None and all(a is None for a in ins[1:])


def stacked_matrices(node, ins):
    """A stack of matrices split along a batch dim: each shard is a stack of whole matrices, and every output
    keeps the input's batch dims in front (inv, det, cholesky, qr, svd, eigh …). The matrix dims themselves
    do not shard."""
    if not _only_first(ins) or ins[0] >= _rank(node.inputs[0]) - 2:
        return None
    return Split([ins[0]] * len(node.outputs))


def along_other_axes(default_axes):
    """Transforms over a set of axes (fft2, fftn, fftshift): a split along another axis stays; `default_axes(node)`
    gives the axes when the node's `axes` attribute is None."""
    def rule(node, ins):
        if not _only_first(ins):
            return None
        ndim = _rank(node.inputs[0])
        axes = node.attrs.get("axes", get_op(node.op).attr_defaults.get("axes"))
        if axes is None:
            axes = default_axes(node, ndim)
        try:
            axes = normalize_axes(node.op, axes, ndim)
        except Exception:
            return None
        if ins[0] in axes:
            return None
        return Split([ins[0]] * len(node.outputs))

    return rule


def reduction_with_leading(leading):
    """A reduction whose result gains `leading(node)` dims in front (percentile of a list of q): a split along a
    kept axis stays, shifted; along a reduced axis it cannot (an order statistic has no partials)."""
    def rule(node, ins):
        if not _only_first(ins):
            return None
        ndim = _rank(node.inputs[0])
        try:
            axes = normalize_axes(node.op, node.attrs.get("axis", get_op(node.op).attr_defaults.get("axis")), ndim)
        except Exception:
            return None
        a = ins[0]
        if a in axes:
            return None
        keep = bool(node.attrs.get("keepdims", get_op(node.op).attr_defaults.get("keepdims", False)))
        shift = 0 if keep else sum(1 for r in axes if r < a)
        return Split([a - shift + leading(node)] * len(node.outputs))

    return rule


def follows_first(node, ins):
    """An op elementwise in its first operand and reading the others whole (digitize's bins, interp's table,
    polyval's coefficients): a split of the first operand stays, the others are gathered."""
    if ins[0] is None or any(_rank(out) != _rank(node.inputs[0]) for out in node.outputs):
        return None
    return Split([ins[0]] * len(node.outputs), [ins[0]] + [REPLICATED if a is not None else None for a in ins[1:]])


def stacked_solve(node, ins):
    """np.linalg.solve(a, b) with a split along a batch dim: each shard solves its matrices; b is cut the same
    way where it has that batch dim, else read whole. A split of b alone, or of a matrix dim, does not carry."""
    a, b, out = node.inputs[0], node.inputs[1], node.outputs[0]
    ra, rb, ro = _rank(a), _rank(b), _rank(out)
    if ins[0] is None or ins[1] is not None or ins[0] >= ra - 2:
        return None
    axis = ins[0] if rb == 1 else ins[0] + ro - ra
    aligned = axis - (ro - rb)
    need_b = aligned if rb > 2 and 0 <= aligned < rb - 2 and b.type.shape[aligned] != 1 else None
    return Split([axis], [ins[0], need_b])
