"""The calling convention of every kernel: the one way an op is applied to values.

NOTE: [Calling convention]
A node's kernel is called as ``kernel(*operands, **attrs)``: the operands are the
node's inputs that no `Ref` in its attributes names, in order; the attributes are the
node's, without those equal to the op's declared defaults, with every `Ref` replaced
by the run-time value of the input it names; and ``out=`` (a tuple, one buffer or None
per output) when the node is given buffers (buffers.py). A kernel returns its one
output, or a sequence of them for a node with several.

Evaluators that call kernels (the reference interpreter, constant folding) call
`apply`; generators that write the call as source (the generated code, fused
evaluation, row blocks) render `bind`'s answer, so the convention is stated here only.
The control ops (prim.If, prim.Loop, prim.Call, prim.Constant) have no kernel: each
evaluator gives them their meaning.
"""
from __future__ import annotations

from typing import Any, Sequence

from distjit.ir.graph import Node
from distjit.ops import get_op
from distjit.ops.registry import OpDef, explicit_attrs
from distjit.types import substitute_refs


def bind(node: Node, attrs: dict | None = None) -> tuple[OpDef, list[int], dict]:
    """(the op, the indices of the inputs passed as operands, the attributes passed: Refs still in them).
    `attrs` replaces the node's attributes (row blocks add the block offsets of an argmin's combine)."""
    opdef = get_op(node.op)
    return opdef, node.operand_indices(), explicit_attrs(opdef, node.attrs if attrs is None else attrs)


def apply(node: Node, inputs: Sequence[Any], out: tuple | None = None) -> list[Any]:
    """The node's outputs computed from the values of its inputs: its kernel called by the convention."""
    opdef, operands, attrs = bind(node)
    attrs = substitute_refs(attrs, inputs)
    if out is not None:
        attrs["out"] = out
    return results(node, opdef.kernel(*[inputs[i] for i in operands], **attrs))


def results(node: Node, result: Any) -> list[Any]:
    """A kernel's return value as the list of the node's outputs."""
    if len(node.outputs) == 1:
        return [result]
    return list(result) if node.outputs else []


def call(opdef: OpDef, operands: Sequence[Any], attrs: dict | None = None) -> Any:
    """The op's kernel called on values with no node behind them (the calibration times kernels this way)."""
    return opdef.kernel(*operands, **(attrs or {}))
