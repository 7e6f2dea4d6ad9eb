"""Python scalar arithmetic (`py.*`): what `n - 1` means when n is a traced Python number.

NumPy treats Python scalars as weak (NEP 50), so `x_f32 / (n - 1)` stays float32
only if `n - 1` is still a Python int. Recording it as `np.subtract` would make it
a strong int64 and change the result's dtype; these ops keep Python's semantics.
They appear for dynamic dims (`x.shape[0] - 1` under dynamic_axes) and scalar
arguments and loop counters in scripted code.
"""
from __future__ import annotations

import math
import operator

from distjit.errors import ShapeError
from distjit.types import BOOL, COMPLEX, FLOAT, INT, ScalarType, TensorType
from distjit.ops.registry import Cost, OpDef, operand, register

_RANK = {"bool": 0, "int": 1, "float": 2, "complex": 3}
_BY_RANK = {0: BOOL, 1: INT, 2: FLOAT, 3: COMPLEX}


def _kind(op: str, t) -> int:
    if isinstance(t, ScalarType):
        return _RANK[t.kind]
    if isinstance(t, TensorType) and t.ndim == 0:   # a NumPy scalar mixed in: Python rules on its kind
        return {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}[t.dtype.kind]
    raise ShapeError(f"{op}: expects Python scalars, got {t}")


def _arith(name: str, promote_bool: bool = True, true_division: bool = False):
    def infer(in_types, attrs):
        rank = max(_kind(name, t) for t in in_types)
        if true_division:
            rank = max(rank, 2)
        elif promote_bool:
            rank = max(rank, 1)
        return [_BY_RANK[rank]]
    return infer


def _compare(name: str):
    def infer(in_types, attrs):
        for t in in_types:
            _kind(name, t)
        return [BOOL]
    return infer


def _const(t):
    def infer(in_types, attrs):
        for x in in_types:
            _kind("conversion", x)
        return [t]
    return infer


def _scalar_cost(in_types, out_types, attrs):
    return Cost(flops=1.0, bytes=0.0)


# The native backend's expression of each op (distjit/runtime/native/lower.py, which casts the result to the
# node's type and defines the _py* helpers: Python's ZeroDivisionError and its max/min). py.pow of floats is
# runtime/native/scalar_templates.py's; not of ints: an int power that grows beyond int64 is exact in Python only.
NUMBA = {
    "add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})", "truediv": "_pydiv({0}, {1})",
    "floordiv": "_pyfloordiv({0}, {1})", "mod": "_pymod({0}, {1})", "neg": "(-{0})", "abs": "abs({0})",
    "lt": "({0} < {1})", "le": "({0} <= {1})", "gt": "({0} > {1})", "ge": "({0} >= {1})", "eq": "({0} == {1})",
    "ne": "({0} != {1})", "not": "(not {0})", "bool": "bool({0})", "int": "int({0})", "float": "float({0})",
    "max": "_pymax({0}, {1})", "min": "_pymin({0}, {1})",
    "erf": "math.erf({0})", "erfc": "math.erfc({0})", "gamma": "math.gamma({0})", "lgamma": "math.lgamma({0})",
}


# The generated code's source of the ops whose kernel is Python's operator itself (the same meaning, without
# a call per loop iteration).
PYTHON = {
    "add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})", "truediv": "({0} / {1})",
    "floordiv": "({0} // {1})", "mod": "({0} % {1})", "neg": "(-{0})", "lt": "({0} < {1})", "le": "({0} <= {1})",
    "gt": "({0} > {1})", "ge": "({0} >= {1})", "eq": "({0} == {1})", "ne": "({0} != {1})", "not": "(not {0})",
}


def _declare(name, kernel, nin, infer, flags=(), source=None):
    """`source` is the Python function (operator.add, abs, float ...) whose meaning on traced numbers this is."""
    params = tuple(operand(n) for n in ("a", "b")[:nin])
    templates = {"numba": NUMBA[name]} if name in NUMBA else {}
    if name in PYTHON and kernel is getattr(operator, name if name != "not" else "not_", None):
        templates["python"] = PYTHON[name]
    return register(OpDef(f"py.{name}", kernel=kernel, infer=infer, params=params, flags=frozenset({"scalar", *flags}),
                          sources=(source or kernel,), cost=_scalar_cost, templates=templates,
                          doc=f"Python's {name} on scalars."))


_BINARY = {
    "add": (operator.add, {"commutative"}), "sub": (operator.sub, ()), "mul": (operator.mul, {"commutative"}),
    "floordiv": (operator.floordiv, ()), "mod": (operator.mod, ()), "pow": (operator.pow, ()),
}
def _int_pow(a, b):
    """Python's pow, except that int ** negative int (a float in Python) is refused: its type would depend on a value."""
    result = a ** b
    if type(result) is float and isinstance(a, int) and isinstance(b, int):
        raise ValueError(f"{a} ** {b}: an int to a negative int power is a float in Python, so its type depends "
                         f"on the exponent's value; write float(a) ** b")
    return result


def _abs_infer(in_types, attrs):
    rank = max(_kind("py.abs", in_types[0]), 1)
    return [FLOAT if rank == 3 else _BY_RANK[rank]]


_BINARY["pow"] = (_int_pow, ())
for _name, (_fn, _flags) in _BINARY.items():
    _declare(_name, _fn, 2, _arith(f"py.{_name}"), _flags, operator.pow if _fn is _int_pow else None)
_declare("truediv", operator.truediv, 2, _arith("py.truediv", true_division=True))
_declare("neg", operator.neg, 1, _arith("py.neg"))
_declare("abs", abs, 1, _abs_infer)
for _name, _fn in {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
                   "eq": operator.eq, "ne": operator.ne}.items():
    _declare(_name, _fn, 2, _compare(f"py.{_name}"))
_declare("not", operator.not_, 1, _const(BOOL))
_declare("bool", bool, 1, _const(BOOL))
_declare("int", int, 1, _const(INT))
_declare("float", float, 1, _const(FLOAT))


def _real_math(name: str):
    def infer(in_types, attrs):
        if any(_kind(name, t) > 2 for t in in_types):
            raise ShapeError(f"{name}: math's function takes a real number, got {in_types[0]}")
        return [FLOAT]
    return infer


# math's functions that NumPy has no ufunc for (math.erf in a pricing loop, frontend/pymath.py): a real number
# in, a Python float out; the native backend calls the same C library function.
for _name in ("erf", "erfc", "gamma", "lgamma"):
    _declare(_name, getattr(math, _name), 1, _real_math(f"py.{_name}"))


def _bitwise(name: str, shift: bool):
    """Python's & | ^ on bools and ints (bool & bool is a bool), and >> (an int): the kinds NumPy's own
    bitwise ufuncs take, with Python's unbounded ints and weak types instead of int64."""
    def infer(in_types, attrs):
        kinds = [_kind(name, t) for t in in_types]
        if any(k > 1 for k in kinds):
            raise ShapeError(f"{name}: unsupported operand types (only bools and ints), got "
                             f"{', '.join(str(t) for t in in_types)}")
        return [INT if shift else _BY_RANK[max(kinds)]]
    return infer


# (`<<` stays NumPy's: a Python int shifted left outgrows int64, which no backend but Python's can hold.)
for _name, (_fn, _source, _flags) in {
        "bitand": (operator.and_, "({0} & {1})", {"commutative"}),
        "bitor": (operator.or_, "({0} | {1})", {"commutative"}),
        "bitxor": (operator.xor, "({0} ^ {1})", {"commutative"}),
        "rshift": (operator.rshift, "({0} >> {1})", ())}.items():
    _op = _declare(_name, _fn, 2, _bitwise(f"py.{_name}", _name == "rshift"), _flags)
    _op.templates["python"] = _source
    if _name != "rshift":       # (>>'s is runtime/native/scalar_templates.py's: a negative count raises)
        _op.templates["numba"] = _source


def _extremum(pick):
    """Python's max/min of two numbers: the first unless the second is strictly beyond it (NaN stays where
    Python leaves it), as the promoted kind, since a graph's type cannot depend on which one won."""
    def kernel(a, b):
        r = b if pick(b, a) else a
        kind = max(_RANK[type(v).__name__] if type(v).__name__ in _RANK else 2 for v in (a, b))
        return (bool, int, float, complex)[kind](r)
    return kernel


_declare("max", _extremum(operator.gt), 2, _arith("py.max", promote_bool=False), source=max)
_declare("min", _extremum(operator.lt), 2, _arith("py.min", promote_bool=False), source=min)
