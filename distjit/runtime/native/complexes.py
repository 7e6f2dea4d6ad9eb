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
np.real and np.imag of a scalar are its methods and attributes.
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

PRELUDE = (_DIV.format(bits=128, real="np.float64", cplx="np.complex128")
           + _DIV.format(bits=64, real="np.float32", cplx="np.complex64"))


def template(op: str, loop_dtypes) -> str | None:
    """The numba template of `op` when NumPy's loop runs in a complex dtype and the real one does not apply."""
    if not loop_dtypes or loop_dtypes[0].kind != "c":
        return None
    bits = loop_dtypes[0].itemsize * 8
    return {
        "np.exp": "cmath.exp({0})",
        "np.divide": f"_npcdiv{bits}({{0}}, {{1}})",
        "np.conjugate": "({0}).conjugate()",
    }.get(op)


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
