"""np.fft: the discrete Fourier transforms, their frequencies and shifts.

The kernels are NumPy's functions (pocketfft), so results are NumPy's bit for bit;
the shape rules follow NumPy's: `n`/`s` give the lengths along the transformed axes
(cropping or zero-padding), the real transforms keep n//2+1 frequencies of the last
axis, and their inverses give n (default 2*(m-1)) points. NumPy 2 keeps single
precision: float32 input gives complex64.

Sharding: a transform couples every element along its axes, so a split there is
gathered (replicated); along any other axis each shard is transformed alone.
"""
from __future__ import annotations

import math

import numpy as np

from distjit.errors import ShapeError
from distjit.types import Ref, TensorType
from distjit.ops.infer import fresh_dim, normalize_axis, shape_of
from distjit.ops.linalg import _bytes, _prod
from distjit.ops import sharding
from distjit.ops.registry import FRESH, Cost, OpDef, attr, operand, register
from distjit.ops.sharding_numeric import along_other_axes
from distjit.ops.standins import standin_dtypes

F = np.fft
_NORMS = (None, "backward", "ortho", "forward")


def _half(n):
    return n // 2 + 1 if isinstance(n, int) and not isinstance(n, Ref) else fresh_dim()


def _twice_less_one(m):
    return 2 * (m - 1) if isinstance(m, int) and not isinstance(m, Ref) else fresh_dim()


def _dynamic(n) -> bool:
    """A length given by a run-time int (a script's x.shape[1] as a Ref): the output's dim is known only then."""
    return isinstance(n, Ref)


def _check_n(op, n):
    if _dynamic(n):
        return
    if n is not None and (not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1):
        raise ShapeError(f"{op}: invalid number of data points ({n!r}) specified")


def _check_norm(op, attrs):
    if attrs.get("norm") not in _NORMS:
        raise ShapeError(f"{op}: invalid norm value {attrs['norm']!r}; should be 'backward', 'ortho' or 'forward'")


# How the length of the transformed axis changes: (input length m, n or None) -> output length.
_LENGTH = {
    "fft": lambda m, n: m if n is None else n,
    "ifft": lambda m, n: m if n is None else n,
    "rfft": lambda m, n: _half(m if n is None else n),
    "irfft": lambda m, n: _twice_less_one(m) if n is None else n,
    "hfft": lambda m, n: _twice_less_one(m) if n is None else n,
    "ihfft": lambda m, n: _half(m if n is None else n),
}


def _infer_1d(fname):
    op, kernel = f"np.fft.{fname}", getattr(F, fname)

    def infer(in_types, attrs):
        shape = shape_of(in_types[0])
        if not isinstance(in_types[0], TensorType) or not shape:
            raise ShapeError(f"{op}: needs an array of at least one dimension, got {in_types[0]}")
        _check_n(op, attrs["n"])
        _check_norm(op, attrs)
        axis = normalize_axis(op, attrs["axis"], len(shape))
        length = fresh_dim() if _dynamic(attrs["n"]) else _LENGTH[fname](shape[axis], attrs["n"])
        if isinstance(length, int) and length < 1:
            raise ShapeError(f"{op}: invalid number of data points ({length}) specified")
        out = (*shape[:axis], length, *shape[axis + 1:])
        return [TensorType(standin_dtypes(op, kernel, in_types, attrs, side=4)[0], out)]

    return infer


def _nd_axes(op, shape, s, axes):
    """NumPy's _cook_nd_args: the transformed axes and their output lengths before the real-transform rule."""
    if axes is None:
        axes = tuple(range(len(shape))) if s is None else tuple(range(len(shape) - len(s), len(shape)))
    axes = tuple(normalize_axis(op, a, len(shape)) for a in axes)
    if s is None:
        s = tuple(shape[a] for a in axes)
    else:
        s = tuple(s)
        if len(s) != len(axes):
            raise ShapeError(f"{op}: shape and axes have different lengths ({len(s)} and {len(axes)})")
        for n in s:
            _check_n(op, n)
    return axes, s


def _infer_nd(fname, kind):
    """kind: "c" complex to complex, "r" real to half-complex (last axis n//2+1), "ir" its inverse."""
    op, kernel = f"np.fft.{fname}", getattr(F, fname)

    def infer(in_types, attrs):
        shape = list(shape_of(in_types[0]))
        if not isinstance(in_types[0], TensorType) or not shape:
            raise ShapeError(f"{op}: needs an array of at least one dimension, got {in_types[0]}")
        _check_norm(op, attrs)
        given = attrs["s"]
        axes, s = _nd_axes(op, shape, given, attrs["axes"])
        if not axes:
            raise ShapeError(f"{op}: no axes to transform")
        for a, n in zip(axes, s):
            shape[a] = fresh_dim() if _dynamic(n) else n
        last = axes[-1]
        if kind == "r":
            shape[last] = _half(s[-1])
        elif kind == "ir" and given is None:
            shape[last] = _twice_less_one(s[-1])
        if any(isinstance(shape[a], int) and shape[a] < 1 for a in axes):
            raise ShapeError(f"{op}: invalid number of data points along the transformed axes")
        return [TensorType(standin_dtypes(op, kernel, in_types, attrs, side=4)[0], tuple(shape))]

    return infer


def _fft_cost(in_types, out_types, attrs):
    n = max(_prod(shape_of(out_types[0])), _prod(shape_of(in_types[0])), 1)
    return Cost(flops=5.0 * n * max(1.0, math.log2(n)), bytes=_bytes([*in_types, *out_types]))


def _freq_infer(fname):
    op, kernel = f"np.fft.{fname}", getattr(F, fname)

    def infer(in_types, attrs):
        n = attrs["n"]
        if _dynamic(n):
            return [TensorType(standin_dtypes(op, kernel, in_types, attrs)[0], (fresh_dim(),))]
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ShapeError(f"{op}: n should be a positive integer, not {n!r}")
        length = n if fname == "fftfreq" else n // 2 + 1
        return [TensorType(standin_dtypes(op, kernel, in_types, attrs)[0], (length,))]

    return infer


def _shift_infer(fname):
    op, kernel = f"np.fft.{fname}", getattr(F, fname)

    def infer(in_types, attrs):
        shape = shape_of(in_types[0])
        if attrs["axes"] is not None:
            axes = attrs["axes"] if isinstance(attrs["axes"], (tuple, list)) else (attrs["axes"],)
            for a in axes:
                normalize_axis(op, a, len(shape))
        return [TensorType(standin_dtypes(op, kernel, in_types, attrs)[0], shape)]

    return infer


def _kernel_1d(fname):
    fn = getattr(F, fname)

    def kernel(a, n=None, axis=-1, norm=None):
        return fn(a, n=n, axis=axis, norm=norm)
    kernel.__name__ = fname
    return kernel


def _kernel_nd(fname):
    fn = getattr(F, fname)

    def kernel(a, s=None, axes=None, norm=None):
        return fn(a, s=s, axes=axes, norm=norm)
    kernel.__name__ = fname
    return kernel


def _all_axes(node, ndim):
    s = node.attrs.get("s")
    return tuple(range(ndim)) if s is None else tuple(range(ndim - len(s), ndim))


def _decl_1d(fname):
    return register(OpDef(f"np.fft.{fname}", kernel=_kernel_1d(fname), infer=_infer_1d(fname),
                          params=(operand("a"), attr("n", None), attr("axis", -1), attr("norm", None)),
                          sources=(getattr(F, fname),), cost=_fft_cost, shard=sharding.along_other_axis,
                          alias=FRESH, doc=f"np.fft.{fname} along one axis; a split along another axis stays."))


def _decl_nd(fname, kind, default_axes):
    return register(OpDef(f"np.fft.{fname}", kernel=_kernel_nd(fname), infer=_infer_nd(fname, kind),
                          params=(operand("a"), attr("s", None), attr("axes", default_axes), attr("norm", None)),
                          sources=(getattr(F, fname),), cost=_fft_cost, shard=along_other_axes(_all_axes),
                          alias=FRESH, doc=f"np.fft.{fname} over several axes; a split along another axis stays."))


FFT_OPS = {op.name: op for op in [
    *(_decl_1d(f) for f in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")),
    *(_decl_nd(f, kind, axes) for f, kind, axes in [
        ("fft2", "c", (-2, -1)), ("ifft2", "c", (-2, -1)), ("rfft2", "r", (-2, -1)), ("irfft2", "ir", (-2, -1)),
        ("fftn", "c", None), ("ifftn", "c", None), ("rfftn", "r", None), ("irfftn", "ir", None)]),
    *(register(OpDef(f"np.fft.{f}", kernel=getattr(F, f), infer=_freq_infer(f),
                     params=(attr("n"), attr("d", 1.0)), sources=(getattr(F, f),), alias=FRESH,
                     doc=f"np.fft.{f}: the sample frequencies for n points of spacing d (no operands: NumPy "
                         "evaluates it eagerly on constants, and so does the tracer)."))
      for f in ("fftfreq", "rfftfreq")),
    *(register(OpDef(f"np.fft.{f}", kernel=getattr(F, f), infer=_shift_infer(f),
                     params=(operand("x"), attr("axes", None)), sources=(getattr(F, f),), alias=FRESH,
                     shard=along_other_axes(lambda node, ndim: tuple(range(ndim))),
                     doc=f"np.fft.{f}: the zero frequency moved {'to the centre' if f == 'fftshift' else 'back'} "
                         "(a roll over axes; None: all)."))
      for f in ("fftshift", "ifftshift")),
]}
