"""NumPy's own ufunc loops (exp, log, sin ... of float arrays) called from a region's compiled code.

NOTE: [NumPy loops in a region]
A scalar transcendental in a region is the C library's (`math.exp`: within a few ulp of
NumPy, README's contract table), and one element at a time: over an array that is
slower than NumPy's SIMD loop, which made a loop of `S *= np.exp(a + b * z[:, t])`
slower native than eager. NumPy hands out its loops for this (`ufunc._resolve_dtypes_and_context`
then `ufunc._get_strided_loop`, an experimental API made for numba-like callers): a capsule
holding the strided loop's address, its context and auxdata, which this module reads once per
(ufunc, dtype) and keeps alive for the process. A region that uses some gets them as one
int64 table argument (`table`, three entries per loop, in the order of `Lowered.loops`), so
its source, and the machine code cached from it, holds no address of this process; the
prelude's `_numpy_loop` calls entry k through `_ufunc_call`, an LLVM indirect call with the
loop's argument arrays on the stack. The loop is the one eager NumPy runs on a contiguous
array, so an element's result is NumPy's bit for bit (the SIMD lanes compute the same
function at every position, as fused evaluation's blocks rely on too).

Only unary ufuncs whose float64 or float32 loop needs no Python API are taken (`key`); an
op another NumPy version does not hand out, or a capsule of another layout (its name carries
the version of the layout), keeps the C library's template. Like the rest of a region, the
loop sets no Python warning for an overflow (NumPy would warn), as `math.exp` in a region
does not either. Which arrays the loops run over is lower.py's (`_Lowering.staged_loop`):
cache-sized slots of each block of an elementwise loop, filled by one unchecked helper,
updated in place by the loop, read by the next helper.
"""
from __future__ import annotations

import ctypes
import threading

import numpy as np

from distjit.ops import get_op

_CAPSULE = b"numpy_1.24_ufunc_call_info"
_DTYPES = ("float64", "float32")

_lock = threading.Lock()
_found: dict[tuple[str, str], tuple | None] = {}     # (op, dtype) -> (capsule, loop, context, auxdata) or None

PRELUDE = '''
from distjit.runtime.native.ufunc_call import _ufunc_call


@njit({options})
def _numpy_loop(u, k, a, out):
    # NumPy's loop k of table u (NOTE: [NumPy loops in a region]) from the vector a into out, of one length.
    if a.shape[0] != out.shape[0]:
        raise ValueError("operands could not be broadcast together")
    if _ufunc_call(u[3 * k], u[3 * k + 1], u[3 * k + 2], a.ctypes.data, out.ctypes.data, a.shape[0],
                   a.strides[0], out.strides[0]) != 0:
        raise RuntimeError("a NumPy loop failed")
'''


def key(op: str, loop_dtypes, out_dtype) -> tuple[str, str] | None:
    """The loop a node of `op` over operands of `loop_dtypes` takes from NumPy, or None (its template then):
    a unary ufunc whose numba template calls the C library, on float64 or float32, that NumPy hands out."""
    opdef = get_op(op)
    ufunc = opdef.kernel
    template = opdef.templates.get("numba", "")
    if not isinstance(ufunc, np.ufunc) or ufunc.nin != 1 or ufunc.nout != 1 or not template.startswith("math.") \
            or loop_dtypes is None or len(loop_dtypes) != 1 or loop_dtypes[0].name not in _DTYPES \
            or np.dtype(out_dtype) != loop_dtypes[0]:
        return None
    k = (op, loop_dtypes[0].name)
    return k if _lookup(k) is not None else None


def table(keys) -> np.ndarray:
    """The int64 table a region calls its loops through: loop, context, auxdata of each key in order."""
    rows = [_lookup(k)[1:] for k in keys]
    return np.array([x for row in rows for x in row], dtype=np.int64).reshape(-1)


def _lookup(k: tuple[str, str]):
    with _lock:
        if k not in _found:
            _found[k] = _resolve(*k)
        return _found[k]


def _resolve(op: str, dtype: str):
    ufunc = get_op(op).kernel
    try:
        d = np.dtype(dtype)
        dtypes, capsule = ufunc._resolve_dtypes_and_context((d, d))
        if tuple(dtypes) != (d, d):
            return None
        ufunc._get_strided_loop(capsule)
        get = ctypes.pythonapi.PyCapsule_GetPointer
        get.restype = ctypes.c_void_p
        get.argtypes = [ctypes.py_object, ctypes.c_char_p]
        if ctypes.pythonapi.PyCapsule_IsValid(ctypes.py_object(capsule), _CAPSULE) != 1:
            return None
        info = get(capsule, _CAPSULE)
    except (AttributeError, TypeError, ValueError):
        return None
    # ufunc_call_info: the loop, its context and auxdata (pointers), then requires_pyapi (a byte)
    loop, context, auxdata = ctypes.cast(info, ctypes.POINTER(ctypes.c_void_p * 3)).contents
    requires_pyapi = ctypes.cast(info + 3 * ctypes.sizeof(ctypes.c_void_p), ctypes.POINTER(ctypes.c_ubyte)).contents
    if not loop or not context or requires_pyapi.value:
        return None
    return capsule, loop, context, auxdata or 0
