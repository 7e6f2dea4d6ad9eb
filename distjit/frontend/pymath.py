"""Python's `math` functions on traced numbers: `math.sqrt(T)`, `math.exp(-r * T)` in a scalar loop.

math converts its arguments with float(), which needs a value a trace does not have. On a traced number
these stand-ins record NumPy's ufunc of the same meaning (the same C library function, so the same double)
and convert its result as math does: a Python float, an int for floor/ceil/trunc, a bool for isnan & co.
math.erf, erfc, gamma and lgamma, which NumPy lacks, are ops of their own (py.erf & co.).
What differs is math's domain errors: `math.sqrt(-1.0)` raises where the compiled code gives NaN.

They are installed in the math module and in the user's namespaces for the duration of a trace
(patching.py), looked up by the scripted call path (script_calls.py), and call math's own function
whenever no traced value is involved.
"""
from __future__ import annotations

import math

import numpy as np

from distjit.errors import TracingError
from distjit.frontend.proxy import TracedArray
from distjit.ir.source import user_loc
from distjit.types import TensorType

# math's name -> (NumPy's function, the Python type math returns)
_ROUTES = {
    "sqrt": (np.sqrt, float), "exp": (np.exp, float), "log2": (np.log2, float), "log10": (np.log10, float),
    "log1p": (np.log1p, float), "expm1": (np.expm1, float),
    "sin": (np.sin, float), "cos": (np.cos, float), "tan": (np.tan, float),
    "asin": (np.arcsin, float), "acos": (np.arccos, float), "atan": (np.arctan, float),
    "atan2": (np.arctan2, float), "sinh": (np.sinh, float), "cosh": (np.cosh, float), "tanh": (np.tanh, float),
    "asinh": (np.arcsinh, float), "acosh": (np.arccosh, float), "atanh": (np.arctanh, float),
    "fabs": (np.fabs, float), "copysign": (np.copysign, float), "fmod": (np.fmod, float),
    "pow": (np.float_power, float), "degrees": (np.degrees, float), "radians": (np.radians, float),
    "floor": (np.floor, int), "ceil": (np.ceil, int), "trunc": (np.trunc, int),
    "isnan": (np.isnan, bool), "isinf": (np.isinf, bool), "isfinite": (np.isfinite, bool),
}


def _traced(args) -> TracedArray | None:
    return next((a for a in args if isinstance(a, TracedArray)), None)


def _check_numbers(name: str, args) -> None:
    for a in args:
        if isinstance(a, TracedArray) and isinstance(a.type, TensorType) and a.type.ndim != 0:
            raise TracingError(f"math.{name} of an array ({a.type}): math takes one number; use np.{name} "
                               f"for an elementwise result", user_loc())


def _stand_in(name: str, original, numpy_fn, pytype):
    def compute(*args):
        first = _traced(args)
        if first is None:
            return original(*args)
        _check_numbers(name, args)
        return first._ctx.scalar(pytype, (numpy_fn(*(_as_float(a) for a in args)),))
    compute.__name__ = name
    compute.__wrapped__ = original
    return compute


def _as_float(a):
    """math computes in doubles: an int argument is converted first (np.sqrt of an int64 is float64 too, but
    np.float_power and np.fmod of two ints would stay exact where math rounds)."""
    return float(a) if isinstance(a, (int, bool)) else a


_MATH_LOG, _MATH_HYPOT = math.log, math.hypot      # math's own: the module's attributes are patched in traces


def _log(*args):
    first = _traced(args)
    if first is None:
        return _MATH_LOG(*args)
    _check_numbers("log", args)
    x = np.log(_as_float(args[0]))
    if len(args) == 2:
        x = x / np.log(_as_float(args[1]))
    return first._ctx.scalar(float, (x,))


def _hypot(*args):
    first = _traced(args)
    if first is None:
        return _MATH_HYPOT(*args)
    _check_numbers("hypot", args)
    if len(args) != 2:
        raise TracingError("math.hypot of traced numbers takes two of them (np.hypot does)", user_loc())
    return first._ctx.scalar(float, (np.hypot(_as_float(args[0]), _as_float(args[1])),))


_log.__name__, _log.__wrapped__ = "log", _MATH_LOG
_hypot.__name__, _hypot.__wrapped__ = "hypot", _MATH_HYPOT

STAND_INS = {name: _stand_in(name, getattr(math, name), fn, pytype) for name, (fn, pytype) in _ROUTES.items()}
STAND_INS["log"] = _log
STAND_INS["hypot"] = _hypot


def _scalar_op(name: str, original):
    """math's functions with no NumPy ufunc but an op of their own (py.erf & co., ops/scalar.py)."""
    def compute(*args):
        first = _traced(args)
        if first is None:
            return original(*args)
        _check_numbers(name, args)
        return first._ctx.scalar(original, args)
    compute.__name__ = name
    compute.__wrapped__ = original
    return compute


STAND_INS.update({name: _scalar_op(name, getattr(math, name)) for name in ("erf", "erfc", "gamma", "lgamma")})


def _refusal(name: str, original):
    def refuse(*args, **kwargs):
        if _traced(args) is None and _traced(tuple(kwargs.values())) is None:
            return original(*args, **kwargs)
        raise TracingError(f"math.{name} of a traced number is not supported (distjit computes math's functions "
                           f"that NumPy has a ufunc for)", user_loc())
    refuse.__name__ = name
    refuse.__wrapped__ = original
    return refuse


# The rest of math's functions (factorial, comb, fsum ...) are refused by name on traced numbers, rather than
# failing inside math at the float() of the argument.
STAND_INS.update({name: _refusal(name, getattr(math, name)) for name in dir(math)
                  if not name.startswith("_") and callable(getattr(math, name)) and name not in STAND_INS})

# math's own function, or its stand-in -> the stand-in (the scripted call path looks calls up by the callee).
BY_FUNCTION = {getattr(math, name): stand_in for name, stand_in in STAND_INS.items()}
BY_FUNCTION.update({stand_in: stand_in for stand_in in STAND_INS.values()})
