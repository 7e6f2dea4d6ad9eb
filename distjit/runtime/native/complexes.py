"""Complex numbers in native regions: the scalar expressions whose numba form differs from the real one.

NOTE: [Complex in a region]
complex128 and complex64 values (Python complex scalars, arrays, their elements) flow
through a region as numba's complex types. + - * and abs are numba's, which compute as
NumPy's loops do (a product is (ar*br - ai*bi, ar*bi + ai*br); abs is hypot). Where the
real template would be wrong the lowering asks `template` here instead: np.exp is
cmath's (to rounding of NumPy's, which calls the C library's cexp); np.divide is
NumPy's own algorithm (Smith's scaling, with a zero divisor giving inf/nan rather than
numba's ZeroDivisionError), written out below so the quotient rounds as NumPy's does
and a complex64 one stays in float32; Python's `/` on complex keeps numba's, which is
CPython's algorithm, and raises ZeroDivisionError as Python does. np.conjugate,
np.real and np.imag of a scalar are its methods and attributes; the order comparisons of
array elements are NumPy's lexicographic ones (with its loops' NaN tests). np.power of complex128
is NumPy's own loop (npy_cpow): an integer exponent below 100 in magnitude by squaring
and multiplying with the plain product (a negative one then divided into 1 as NumPy
divides), bit for bit; any other exponent is numba's complex power, to rounding of the C
library's cpow that NumPy calls (as the transcendental functions are).
"""
from __future__ import annotations

import numpy as np

_DIV = '''

@njit({{options}})
def _npcdiv{bits}(a, b):
    # NumPy's complex divide (umath loops.c.src, @TYPE@_divide), in {real}.
    ar, ai, br, bi = {real}(a.real), {real}(a.imag), {real}(b.real), {real}(b.imag)
    abs_br, abs_bi = abs(br), abs(bi)
    if abs_br >= abs_bi:
        if abs_br == 0 and abs_bi == 0:
            return {cplx}(complex(ar / abs_br, ai / abs_bi))
        rat = {real}(bi / br)
        scl = {real}({real}(1.0) / {real}(br + {real}(bi * rat)))
        return {cplx}(complex({real}({real}(ar + {real}(ai * rat)) * scl), {real}({real}(ai - {real}(ar * rat)) * scl)))
    rat = {real}(br / bi)
    scl = {real}({real}(1.0) / {real}(bi + {real}(br * rat)))
    return {cplx}(complex({real}({real}({real}(ar * rat) + ai) * scl), {real}({real}({real}(ai * rat) - ar) * scl)))
'''

_POW = '''

@njit({options})
def _cmul128(a, b):
    # NumPy's scalar complex product (npy_cpow multiplies so, never with FMA).
    return complex(a.real * b.real - a.imag * b.imag, a.real * b.imag + a.imag * b.real)


@njit({options})
def _npcpow128(a, b):
    # NumPy's complex power (npymath's npy_cpow): exact special cases, then square and multiply.
    br, bi = b.real, b.imag
    if br == 0.0 and bi == 0.0:
        return complex(1.0, 0.0)
    if a.real == 0.0 and a.imag == 0.0:
        if br > 0.0 and bi == 0.0:
            return complex(0.0, 0.0)
        return complex(np.nan, np.nan)
    if bi == 0.0 and br > -100.0 and br < 100.0 and br == math.floor(br):
        n = np.int64(br)
        if n == 1:
            return a
        if n == 2:
            return _cmul128(a, a)
        if n == 3:
            return _cmul128(a, _cmul128(a, a))
        m = -n if n < 0 else n
        mask = np.int64(1)
        r = complex(1.0, 0.0)
        p = a
        while True:
            if m & mask:
                r = _cmul128(r, p)
            mask <<= 1
            if m < mask:
                break
            p = _cmul128(p, p)
        if n < 0:
            return _npcdiv128(complex(1.0, 0.0), r)
        return r
    return a ** b
'''

PRELUDE = (_DIV.format(bits=128, real="np.float64", cplx="np.complex128")
           + _DIV.format(bits=64, real="np.float32", cplx="np.complex64") + _POW)


def template(op: str, loop_dtypes, elements: bool = False) -> str | None:
    """The numba template of `op` when NumPy's loop runs in a complex dtype and the real one does not apply.
    `elements`: the op computes elements of an array result (a ufunc's loop), not one NumPy scalar."""
    if not loop_dtypes or loop_dtypes[0].kind != "c":
        return None
    bits = loop_dtypes[0].itemsize * 8
    if op == "np.power":
        return "_npcpow128({0}, {1})" if bits == 128 and loop_dtypes[1] == loop_dtypes[0] else None
    if op in _ORDER:
        # NumPy's scalar operators order complex scalars without the NaN tests of its ufunc loops (so
        # `z[i] < w[i]` and np.less(z, w)[i] differ where an imaginary part is NaN): only the loops' is lowered.
        return _ORDER[op] if elements else None
    return {
        "np.exp": "cmath.exp({0})",
        "np.divide": f"_npcdiv{bits}({{0}}, {{1}})",
        "np.conjugate": "({0}).conjugate()",
    }.get(op)


# NumPy orders complex numbers lexicographically (umath's CGT & co.): by the real parts where no imaginary part
# is NaN, then by the imaginary parts.
_ORDER = {op: f"((({{0}}).real {c} ({{1}}).real and ({{0}}).imag == ({{0}}).imag and ({{1}}).imag == ({{1}}).imag)"
              f" or (({{0}}).real == ({{1}}).real and ({{0}}).imag {e} ({{1}}).imag))"
          for op, c, e in (("np.greater", ">", ">"), ("np.greater_equal", ">", ">="),
                           ("np.less", "<", "<"), ("np.less_equal", "<", "<="))}


def real_only(template: str | None, loop_dtypes) -> str | None:
    """The real template, or None where it cannot take complex operands (math's functions, the NaN-aware
    min/max helpers, ordering): the op is then not lowered, rather than refused by numba at the first call."""
    if template is None or not loop_dtypes or loop_dtypes[0].kind != "c":
        return template
    if "math." in template or "_n" in template or any(c in template for c in "<>"):
        return None
    return template


def scalar_template(op: str, in_type) -> str | None:
    """np.real/np.imag of one complex scalar (not ufuncs, so no loop dtypes)."""
    if op in ("np.real", "np.imag") and _is_complex(in_type):
        return "({0}).real" if op == "np.real" else "({0}).imag"
    return None


def _is_complex(t) -> bool:
    kind = getattr(t, "kind", None)
    if kind == "complex":
        return True
    dtype = getattr(t, "dtype", None)
    return dtype is not None and getattr(t, "ndim", 1) == 0 and np.dtype(dtype).kind == "c"
