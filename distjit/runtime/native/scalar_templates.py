"""numba expressions of the scalar ops whose meaning depends on the dtype of NumPy's loop (or Python's types).

The registry's `templates["numba"]` is one format string per op, the same for every dtype. A
shift, a power or `~` is not: NumPy's shift by a count at or beyond the width of the dtype
(or a negative one) is 0 or -1 where C (and LLVM, so numba) leaves it undefined; its integer
power raises on a negative exponent where numba's returns a float; `~True` is False in NumPy
and -2 in Python. `template(op, loop_dtypes, in_types, out_type)` gives the expression for
the loop NumPy picks (or None: no lowering, the loop runs as NumPy code), over helpers that
`PRELUDE` defines; lower.py prefers it to the registry's. Python's `>>` (py.rshift) is one too: its
negative count raises ValueError, and a count of 64 or more is the sign of an int64.

Numerics (README's contract table): shifts, invert, integer power, sign, copysign and hypot are
bit for bit (numba's hypot is the C library's, as NumPy's); a float power is the C
library's `pow`, which is Python's own (py.pow), and within 4 ulp of NumPy's np.power (NumPy
has its own; they differ by 1 ulp in a few percent of random operands), except that np.power
squares an exponent of 2.0 as NumPy does (x * x, bit for bit, and no call).
"""
from __future__ import annotations

import numpy as np

from distjit.types import ScalarType, TensorType

PRELUDE = '''

@njit({options})
def _weak_int(x, lo, hi):
    # NEP 50: a Python int out of range of the array's dtype raises, where a cast would wrap.
    if x < lo or x > hi:
        raise OverflowError("Python integer out of bounds for the array's dtype")
    return x

@njit({options})
def _ipow(a, b, one):
    # NumPy's integer power: square and multiply, wrapping as its C loop does; a negative exponent raises.
    # `one` is 1 of the loop's dtype: a literal 1 would make numba's arithmetic on uint64 float64.
    if b < (b ^ b):
        raise ValueError("Integers to negative integer powers are not allowed.")
    out = a if b & one else one
    b >>= one
    while b > (b ^ b):
        a *= a
        if b & one:
            out *= a
        b >>= one
    return out


@njit({options})
def _fpow(a, b):
    # NumPy squares for an exponent of 2 (its power loops' fast path), bit for bit a * a; else C's pow.
    if b == 2.0:
        return a * a
    return a ** b


@njit({options})
def _pypow(a, b):
    # Python's float ** float: C's pow, with Python's errors where C returns inf, nan or a complex value.
    if a == 0.0 and b < 0.0:
        raise ZeroDivisionError("zero to a negative power")
    if a < 0.0 and math.isfinite(a) and math.isfinite(b) and math.floor(b) != b:
        raise ValueError("a negative number to a fractional power is complex")
    r = a ** b
    if math.isinf(r) and math.isfinite(a) and math.isfinite(b):
        raise OverflowError("(34, 'Numerical result out of range')")
    return r


@njit({options})
def _pyrshift(a, b):
    # Python's int >> int on int64s: a negative count raises; a count of 64 or more leaves the sign (0 or -1),
    # where C's (and LLVM's) shift is undefined.
    if b < 0:
        raise ValueError("negative shift count")
    if b >= 64:
        return np.int64(-1) if a < 0 else np.int64(0)
    return a >> b
'''

def weak_int(op: str, x: str, d: np.dtype) -> str:
    """A Python int operand cast to the loop's dtype `d`: NEP 50 raises NumPy's OverflowError for a value out of
    `d`'s range, except in a comparison (which NumPy 2 answers for any value; here it wraps, as before)."""
    name = "bool" if d.kind == "b" else f"np.{d.name}"
    if d.kind not in "iu" or d == np.int64 or op in _COMPARISONS:
        return f"{name}({x})"
    info = np.iinfo(d)
    hi = min(int(info.max), 2**63 - 1)                   # a Python int is an int64 in a region
    return f"{name}(_weak_int({x}, {int(info.min)}, {hi}))"


_COMPARISONS = {"np.less", "np.less_equal", "np.greater", "np.greater_equal", "np.equal", "np.not_equal"}


_SHIFTS = ("np.right_shift", "np.left_shift")


def _np(d: np.dtype) -> str:
    return "bool" if d.kind == "b" else f"np.{d.name}"


def template(op: str, loop_dtypes, in_types, out_type) -> str | None:
    """The numba expression of `op` over its operands ({0}, {1}, already cast to `loop_dtypes`), or None."""
    if op == "py.pow":
        return _py_pow(in_types, out_type)
    if op == "py.rshift":
        # Python ints and bools, as int64 (a region's Python int is one: region.py checks it at entry).
        return "_pyrshift(np.int64({0}), np.int64({1}))"
    if not loop_dtypes:
        return None
    d = loop_dtypes[0]
    if any(x != d for x in loop_dtypes):
        return None
    if op in _SHIFTS:
        if d.kind not in "iu":
            return None
        # Inline, not a call of the _shift helpers: each helper numba compiles costs the first call time.
        w = f"{_np(d)}({d.itemsize * 8})"
        inside = "({1} >= 0 and {1} < %s)" % w if d.kind == "i" else "({1} < %s)" % w
        shifted = "({0} >> {1})" if op == "np.right_shift" else "({0} << {1})"
        out = "(({0} ^ {0}) - ({0} < 0))" if op == "np.right_shift" and d.kind == "i" else "({0} ^ {0})"
        return f"({shifted} if {inside} else {out})"
    if op == "np.invert":
        return "(not {0})" if d.kind == "b" else "(~{0})" if d.kind in "iu" else None
    if op == "np.power":
        if d.kind in "iu":
            return f"_ipow({{0}}, {{1}}, {_np(d)}(1))"
        return "_fpow({0}, {1})" if d == np.float64 else None
    if op == "np.copysign":
        return "math.copysign({0}, {1})" if d.kind == "f" else None
    if op == "np.sign":
        # NumPy's sign: -1, 0 or 1 of the dtype, a NaN itself (a zero of either sign gives +0); a complex
        # sign (z / |z| in NumPy 2) is not lowered.
        if d.kind not in "iuf":
            return None
        one, zero = f"{_np(d)}(1)", f"{_np(d)}(0)"
        neg = f"{_np(d)}(-1)" if d.kind != "u" else zero
        nan = "({0} if {0} != {0} else %s)" % zero if d.kind == "f" else zero
        return f"({one} if {{0}} > {zero} else {neg} if {{0}} < {zero} else {nan})"
    if op == "np.hypot":
        # float32's hypotf rounds differently from hypot of the widened operands: float64 only.
        return "math.hypot({0}, {1})" if d == np.float64 else None
    return None


def _py_pow(in_types, out_type) -> str | None:
    """Python's ** where the result is a float (an int power may grow beyond int64, which only Python holds)."""
    floats = [t for t in in_types if isinstance(t, ScalarType) and t.kind == "float"
              or isinstance(t, TensorType) and t.ndim == 0 and t.dtype == np.float64]
    out_float = isinstance(out_type, ScalarType) and out_type.kind == "float" or \
        isinstance(out_type, TensorType) and out_type.ndim == 0 and out_type.dtype == np.float64
    if not floats or not out_float or len(in_types) != 2:
        return None
    return "_pypow(np.float64({0}), np.float64({1}))"
