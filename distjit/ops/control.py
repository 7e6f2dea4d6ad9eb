"""The IR's own ops (`prim.*`): constants, control flow, calls.

``prim.If(cond)`` has two blocks without parameters (then, else) whose returns
become the node's outputs. ``prim.Loop(trip_count, cond, *init)`` follows
TorchScript: the body block takes ``(iteration, *carried)`` and returns
``(cond_next, *carried_next)``; the loop runs while the iteration is below
`trip_count` and the condition holds, and its outputs are the final carried values.
A ``for i in range(n)`` loop has cond ``True``; a ``while`` loop has trip count
``INT64_MAX``. ``prim.Call`` runs the graph in its `graph` attribute.
These ops have no kernel: the runtime gives them their meaning.
"""
from __future__ import annotations

from distjit.types import type_of
from distjit.ops.registry import Effect, OpDef, attr, operand, operands, register


def _constant_infer(in_types, attrs):
    return [type_of(attrs["value"])]


def _call_infer(in_types, attrs):
    return [v.type for v in attrs["graph"].outputs]


def _no_infer(in_types, attrs):
    """Output types of ops with blocks come from their blocks; the builder sets them."""
    return None


CONSTANT = register(OpDef("prim.Constant", kernel=None, infer=_constant_infer, params=(attr("value"),),
                          flags={"constant"}, doc="A constant scalar or array, stored in the `value` attribute."))

IF = register(OpDef("prim.If", kernel=None, infer=_no_infer, params=(operand("cond"),),
                    flags={"control"}, doc="Runs block 0 when cond is true, else block 1."))

LOOP = register(OpDef("prim.Loop", kernel=None, infer=_no_infer,
                      params=(operand("trip_count"), operand("cond"), operands("carried")),
                      flags={"control"}, doc="A for/while loop with explicit carried values."))

CALL = register(OpDef("prim.Call", kernel=None, infer=_call_infer, params=(operands("args"), attr("graph")),
                      flags={"call"}, graph_attrs=("graph",), doc="Calls the graph in the `graph` attribute."))


def _assert_kernel(cond, message="", error=""):
    if not bool(cond):
        raise AssertionError(message)


def _assert_infer(in_types, attrs):
    from distjit.errors import ShapeError, raised_error

    error = attrs.get("error", "")
    if error and (not isinstance(error, str) or raised_error(error) is None):
        raise ShapeError(f"prim.Assert: error={error!r} is not the name of a builtin exception class")
    return []


ASSERT = register(OpDef("prim.Assert", kernel=_assert_kernel, infer=_assert_infer,
                        params=(operand("cond"), attr("message", ""), attr("error", "")), effect=Effect.STATEFUL,
                        doc="Raises (as ExecutionError naming the user's line) when cond is false; with `error` "
                            "(a builtin exception's name: a scripted `raise`) the ExecutionError is that "
                            "exception too (NOTE: [Raised errors] in errors.py)."))


def _dim_infer(in_types, attrs):
    """An int; the operand must be an array that has the axis, so a file whose loop bound is the "size" of a
    scalar, or of an axis its array lacks, is refused when it loads rather than failing where it runs."""
    from distjit.errors import ShapeError
    from distjit.types import INT, AnyType, TensorType

    x, axis = in_types[0] if in_types else None, attrs.get("axis")
    if isinstance(x, AnyType):
        return [INT]
    if not isinstance(x, TensorType):
        raise ShapeError(f"prim.DimSize: the size of an axis of {x}, which is not an array")
    if isinstance(axis, bool) or not isinstance(axis, int) or not -x.ndim <= axis < x.ndim:
        raise ShapeError(f"prim.DimSize: axis {axis!r} is not an axis of {x}")
    return [INT]


DIM_SIZE = register(OpDef("prim.DimSize", kernel=lambda x, axis: x.shape[axis], infer=_dim_infer,
                          templates={"python": "{0}.shape[{axis}]"},
                          params=(operand("x"), attr("axis")),
                          doc="The run-time size of one axis (a dynamic dim used as a value, e.g. in a reshape)."))
