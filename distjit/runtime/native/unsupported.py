"""What the op lowerings (lower.py and the modules it hands nodes to: views, vectors, products, lanes) share
without importing lower.py, which imports them: the refusal they raise and an operand's rank."""
from __future__ import annotations

from distjit.ir.graph import Node
from distjit.types import TensorType


class Unsupported(Exception):
    """A node of the region has no numba lowering; the message says which and why."""

    def __init__(self, node: Node | None, why: str):
        where = f" ({node.loc})" if node is not None and node.loc is not None else ""
        super().__init__(f"{node.op if node is not None else 'region'}{where}: {why}")
        self.node = node


def rank(v) -> int:
    """A value's number of axes; 0 for a scalar."""
    return v.type.ndim if isinstance(v.type, TensorType) else 0
