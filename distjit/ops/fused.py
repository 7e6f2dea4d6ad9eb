"""``fused.elementwise``: one node that computes a whole tree of elementwise ops.

Made by the fusion pass (distjit/passes/fuse.py). Its `graph` attribute is the
expression as a small Graph: inputs are the node's inputs, every node is an
elementwise op whose result has the node's output shape, and the outputs are the
node's outputs (a fused group can have several, e.g. a call and a put price that
share intermediates). Graph attributes print, parse and save like prim.Call's.
The kernel (distjit/runtime/fused_eval.py) evaluates it block by block; which
backend runs it is a run-time choice, not part of the IR.

The op registry sits below the IR and the runtime, so the declaration cannot import
its evaluator: `distjit.runtime` binds it (`bind_evaluator`) when it is imported,
which every way of running a graph does first.
"""
from __future__ import annotations

from distjit.errors import ExecutionError
from distjit.ops.infer import broadcast_shapes, shape_of
from distjit.types import TensorType
from distjit.ops import sharding
from distjit.ops.registry import FRESH, Cost, OpDef, attr, operands, register


def _unbound(*inputs, graph, exact=True, out=None):
    raise ExecutionError("fused.elementwise has no evaluator: import distjit.runtime first")


def bind_evaluator(evaluate) -> None:
    """Make `evaluate(*inputs, graph=, exact=, out=)` the kernel of fused.elementwise (late binding)."""
    FUSED.kernel = evaluate


def _infer(in_types, attrs):
    """The inputs' broadcast shape, not the expression's own: the expression is elementwise, so one graph
    serves every shard of a split node, and a file cannot declare outputs bigger than the node's inputs."""
    shape = broadcast_shapes("fused.elementwise", *(shape_of(t) for t in in_types))
    return [TensorType(v.type.dtype, shape) for v in attrs["graph"].outputs]


def _cost(in_types, out_types, attrs):
    size = max(((t.size or 1 << 20) for t in out_types if isinstance(t, TensorType)), default=1)
    moved = sum((t.nbytes or 0) for t in [*in_types, *out_types] if isinstance(t, TensorType))
    return Cost(flops=float(size * max(1, len(attrs["graph"].block.nodes))), bytes=float(moved))


FUSED = register(OpDef("fused.elementwise", kernel=_unbound, infer=_infer,
                       params=(operands("inputs"), attr("graph"), attr("exact", True)), flags={"fused", "elementwise"}, cost=_cost,
                       shard=sharding.elementwise, alias=FRESH, takes_out=True, graph_attrs=("graph",),
                       doc="A tree of elementwise ops evaluated in one pass over the data (see `graph`)."))
