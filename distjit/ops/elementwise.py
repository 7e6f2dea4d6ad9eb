"""Every NumPy ufunc (arithmetic, comparison, logical, bitwise, math), unary and binary, with broadcasting.

The declarations are generated from NumPy's own ufunc objects, so the list is
complete by construction and each op's dtype rule is NumPy's.
"""
from __future__ import annotations

import numpy as np

from distjit.types import TensorType
from distjit.ops.infer import broadcast_shapes, shape_of, ufunc_dtypes
from distjit.ops import sharding
from distjit.ops.registry import FRESH, Cost, OpDef, attr, operand, register

# Binary ufuncs for which f(a, b) == f(b, a) bit for bit (CSE may canonicalize operand order).
COMMUTATIVE = {
    "add", "multiply", "maximum", "minimum", "fmax", "fmin", "equal", "not_equal",
    "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
    "hypot", "gcd", "lcm",
}
# Rough flops per element, for the partitioner's cost model (transcendentals cost more than adds).
EXPENSIVE = {
    "exp": 20, "exp2": 20, "expm1": 20, "log": 20, "log2": 20, "log10": 20, "log1p": 20,
    "sin": 20, "cos": 20, "tan": 25, "arcsin": 25, "arccos": 25, "arctan": 25, "arctan2": 30,
    "sinh": 25, "cosh": 25, "tanh": 25, "arcsinh": 30, "arccosh": 30, "arctanh": 30,
    "power": 30, "float_power": 30, "sqrt": 5, "cbrt": 20, "divide": 4, "true_divide": 4,
    "floor_divide": 8, "remainder": 8, "fmod": 8, "divmod": 10, "hypot": 8, "logaddexp": 40,
    "logaddexp2": 40,
}


# The numba backend's loop body of one element (distjit/runtime/fused_eval.py), over the operands' expressions.
NUMBA = {
    "add": "({0} + {1})", "subtract": "({0} - {1})", "multiply": "({0} * {1})",
    "divide": "({0} / {1})", "negative": "(-{0})", "positive": "(+{0})", "absolute": "abs({0})",
    "sqrt": "math.sqrt({0})", "exp": "math.exp({0})", "log": "math.log({0})",
    "log1p": "math.log1p({0})", "expm1": "math.expm1({0})", "sin": "math.sin({0})",
    "cos": "math.cos({0})", "tanh": "math.tanh({0})", "square": "({0} * {0})",
    "tan": "math.tan({0})", "arcsin": "math.asin({0})", "arccos": "math.acos({0})", "arctan": "math.atan({0})",
    "radians": "math.radians({0})", "degrees": "math.degrees({0})",
    "isnan": "math.isnan({0})", "isinf": "math.isinf({0})", "isfinite": "math.isfinite({0})",
    "reciprocal": "(1.0 / {0})",
    "greater": "({0} > {1})", "greater_equal": "({0} >= {1})", "less": "({0} < {1})",
    "less_equal": "({0} <= {1})", "equal": "({0} == {1})", "not_equal": "({0} != {1})",
    "maximum": "_nmax({0}, {1})", "minimum": "_nmin({0}, {1})",
    "logical_and": "({0} and {1})", "logical_or": "({0} or {1})", "logical_not": "(not {0})",
    "remainder": "({0} % {1})", "floor_divide": "({0} // {1})", "arctan2": "math.atan2({0}, {1})",
    "bitwise_and": "({0} & {1})", "bitwise_or": "({0} | {1})", "bitwise_xor": "({0} ^ {1})",
}


def _ufuncs() -> list[np.ufunc]:
    seen: dict[int, np.ufunc] = {}
    for name in dir(np):
        obj = getattr(np, name)
        if isinstance(obj, np.ufunc) and obj.signature is None and id(obj) not in seen:
            seen[id(obj)] = obj
    return sorted(seen.values(), key=lambda u: u.__name__)


def _infer_for(ufunc: np.ufunc):
    name = f"np.{ufunc.__name__}"

    def infer(in_types, attrs):
        shape = broadcast_shapes(name, *(shape_of(t) for t in in_types))
        dtypes = ufunc_dtypes(ufunc, in_types, attrs.get("dtype"))
        return [TensorType(d, shape) for d in dtypes]

    return infer


def _cost_for(ufunc: np.ufunc):
    per_element = EXPENSIVE.get(ufunc.__name__, 1)

    def cost(in_types, out_types, attrs):
        size = max((t.size or 1 << 20) for t in out_types)
        moved = sum((t.nbytes or 0) for t in [*in_types, *out_types] if isinstance(t, TensorType))
        return Cost(flops=float(size * per_element), bytes=float(moved))

    return cost


def _declare(ufunc: np.ufunc) -> OpDef:
    names = ["x"] if ufunc.nin == 1 else ["x1", "x2"] if ufunc.nin == 2 else [f"x{i + 1}" for i in range(ufunc.nin)]
    flags = {"elementwise", "ufunc"}
    if ufunc.__name__ in COMMUTATIVE:
        flags.add("commutative")
    return register(OpDef(
        name=f"np.{ufunc.__name__}",
        kernel=ufunc,
        infer=_infer_for(ufunc),
        params=(*[operand(n) for n in names], attr("dtype", None, keyword_only=True)),
        flags=frozenset(flags),
        sources=(ufunc,),
        cost=_cost_for(ufunc),
        shard=sharding.elementwise,
        alias=FRESH,
        takes_out=ufunc.nout == 1,
        fusible=ufunc.nout == 1,
        templates={"numba": NUMBA[ufunc.__name__]} if ufunc.__name__ in NUMBA else {},
        doc=f"NumPy's ufunc {ufunc.__name__} ({ufunc.nin} in, {ufunc.nout} out).",
    ))


UFUNC_OPS = {u.__name__: _declare(u) for u in _ufuncs()}
