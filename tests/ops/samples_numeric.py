"""Samples for the numeric families (np.linalg decompositions and Array API names, np.fft, statistics, signal),
merged into `samples.SAMPLES`: each a NumPy call as a user writes it, over float32/float64/complex and ints where
NumPy takes them, stacked matrices where NumPy stacks."""
from __future__ import annotations

import numpy as np

from tests.ops.samples import Sample, arr, spd

L, F_ = np.linalg, np.fft
F = arr("f8", 4, 5)
F4 = arr("f4", 3, 4)
C = arr("c16", 4, 3)
V = arr("f8", 7)
S = spd(3)
SB = spd(3, (2,))
NAN = arr("f8", 3, 4).copy()
NAN[0, 1] = NAN[2, 3] = np.nan
I = arr("i8", 6, positive=True)


def _s(fn, *args, **kwargs) -> Sample:
    return Sample(fn, args, kwargs)


def _hermitian(n):
    a = arr("c16", n, n)
    return a @ a.conj().T + n * np.eye(n)


SAMPLES_NUMERIC: dict[str, list[Sample]] = {
    # ---- decompositions
    "np.linalg.cholesky": [_s(L.cholesky, S), _s(L.cholesky, SB), _s(L.cholesky, S.astype("f4")),
                           _s(L.cholesky, _hermitian(3)), _s(L.cholesky, S, upper=True)],
    "np.linalg.qr": [_s(L.qr, F), _s(L.qr, F.T), _s(L.qr, F, mode="complete"), _s(L.qr, F, "r"),
                     _s(L.qr, F, mode="raw"), _s(L.qr, arr("f4", 2, 3, 2)), _s(L.qr, C)],
    "np.linalg.svd": [_s(L.svd, F), _s(L.svd, F, full_matrices=False), _s(L.svd, F, compute_uv=False),
                      _s(L.svd, arr("f4", 2, 3, 4)), _s(L.svd, C, False), _s(L.svd, S, hermitian=True)],
    "np.linalg.svdvals": [_s(L.svdvals, F), _s(L.svdvals, arr("f4", 2, 3, 4))],
    "np.linalg.eigh": [_s(L.eigh, S), _s(L.eigh, SB, "U"), _s(L.eigh, _hermitian(3)), _s(L.eigh, S.astype("f4"))],
    "np.linalg.eigvalsh": [_s(L.eigvalsh, S), _s(L.eigvalsh, SB), _s(L.eigvalsh, _hermitian(2), UPLO="U")],
    "np.linalg.eig": [_s(L.eig, arr("c16", 3, 3)), _s(L.eig, arr("c8", 2, 2, 2))],
    "np.linalg.eigvals": [_s(L.eigvals, arr("c16", 3, 3))],
    "np.linalg.slogdet": [_s(L.slogdet, S), _s(L.slogdet, SB), _s(L.slogdet, arr("c16", 2, 2)),
                          _s(L.slogdet, S.astype("f4"))],
    "np.linalg.pinv": [_s(L.pinv, F), _s(L.pinv, arr("f4", 2, 3, 4)), _s(L.pinv, F, 1e-3),
                       _s(L.pinv, S, hermitian=True), _s(L.pinv, F, rtol=1e-2)],
    "np.linalg.matrix_rank": [_s(L.matrix_rank, F), _s(L.matrix_rank, V), _s(L.matrix_rank, SB),
                              _s(L.matrix_rank, F, tol=0.5)],
    "np.linalg.matrix_power": [_s(L.matrix_power, S, 3), _s(L.matrix_power, S, 1), _s(L.matrix_power, S, -2), _s(L.matrix_power, SB, 0),
                               _s(L.matrix_power, np.array([[1, 2], [3, 4]]), 3)],
    "np.linalg.cond": [_s(L.cond, S), _s(L.cond, F), _s(L.cond, S, 1), _s(L.cond, SB, "fro"), _s(L.cond, S, -2)],
    "np.linalg.lstsq": [_s(L.lstsq, F, arr("f8", 4)), _s(L.lstsq, F.T, arr("f8", 5, 2), rcond=None),
                        _s(L.lstsq, S, arr("f8", 3)), _s(L.lstsq, F4, arr("f4", 3), rcond=1e-3)],
    "np.linalg.multi_dot": [_s(L.multi_dot, [F, F.T, F]), _s(L.multi_dot, [V[:4], F, F.T]),
                            _s(L.multi_dot, [F, arr("f8", 5)]), _s(L.multi_dot, [F4.T, F4])],
    "np.linalg.tensorinv": [_s(L.tensorinv, (np.eye(6) * 2 + 0.1).reshape(6, 2, 3), ind=1),
                            _s(L.tensorinv, (np.eye(4) * 3 + 0.5).reshape(2, 2, 2, 2))],
    "np.linalg.tensorsolve": [_s(L.tensorsolve, (np.eye(6) * 2 + 0.1).reshape(6, 2, 3), arr("f8", 6)),
                              _s(L.tensorsolve, (np.eye(6) * 2 + 0.1).reshape(2, 3, 6), arr("f8", 6), axes=(0, 1))],
    # ---- the Array API's linalg names
    "np.linalg.matrix_norm": [_s(L.matrix_norm, F), _s(L.matrix_norm, arr("f4", 2, 3, 4), keepdims=True),
                              _s(L.matrix_norm, F, ord=1), _s(L.matrix_norm, C, ord="nuc")],
    "np.linalg.vector_norm": [_s(L.vector_norm, F), _s(L.vector_norm, F, axis=1), _s(L.vector_norm, F4, ord=1),
                              _s(L.vector_norm, C, axis=0, keepdims=True), _s(L.vector_norm, F, axis=(0, 1), ord=np.inf)],
    "np.linalg.vecdot": [_s(L.vecdot, F, F), _s(L.vecdot, arr("f4", 2, 3), arr("f4", 3)),
                         _s(L.vecdot, C, C, axis=0)],
    "np.linalg.outer": [_s(L.outer, V, arr("f4", 3)), _s(L.outer, arr("i8", 3), arr("c16", 2))],
    "np.linalg.cross": [_s(L.cross, arr("f8", 4, 3), arr("f8", 3)), _s(L.cross, arr("f4", 3, 2), arr("f4", 3, 2),
                                                                      axis=0)],
    "np.linalg.diagonal": [_s(L.diagonal, F), _s(L.diagonal, arr("f4", 2, 3, 4), offset=1),
                           _s(L.diagonal, F, offset=-2)],
    "np.linalg.matrix_transpose": [_s(L.matrix_transpose, F), _s(L.matrix_transpose, arr("i8", 2, 3, 4))],
    "np.linalg.tensordot": [_s(L.tensordot, arr("f8", 2, 3, 4), arr("f8", 3, 4, 5)),
                            _s(L.tensordot, F, F, axes=([0], [0])), _s(L.tensordot, F4, F4.T, axes=1)],
    "np.linalg.trace": [_s(L.trace, F), _s(L.trace, arr("f4", 2, 3, 3), offset=1), _s(L.trace, arr("i4", 3, 3))],
    "np.linalg.matmul": [_s(L.matmul, F, F.T), _s(L.matmul, arr("f4", 2, 3, 4), arr("f4", 4))],
    # ---- fft
    "np.fft.fft": [_s(F_.fft, V), _s(F_.fft, F, n=8), _s(F_.fft, F4, axis=0, norm="ortho"), _s(F_.fft, C, 2)],
    "np.fft.ifft": [_s(F_.ifft, C), _s(F_.ifft, V, norm="forward"), _s(F_.ifft, arr("c8", 6), n=4)],
    "np.fft.rfft": [_s(F_.rfft, V), _s(F_.rfft, F, n=9), _s(F_.rfft, F4, axis=0), _s(F_.rfft, arr("i8", 5))],
    "np.fft.irfft": [_s(F_.irfft, C), _s(F_.irfft, C, n=7, axis=0), _s(F_.irfft, arr("c8", 5), norm="ortho")],
    "np.fft.hfft": [_s(F_.hfft, C), _s(F_.hfft, arr("c16", 5), 6)],
    "np.fft.ihfft": [_s(F_.ihfft, V), _s(F_.ihfft, F4, 6, 0)],
    "np.fft.fft2": [_s(F_.fft2, F), _s(F_.fft2, arr("f4", 2, 3, 4), s=(4, 4)), _s(F_.fft2, C, axes=(1, 0))],
    "np.fft.ifft2": [_s(F_.ifft2, C), _s(F_.ifft2, F, norm="ortho")],
    "np.fft.rfft2": [_s(F_.rfft2, F), _s(F_.rfft2, F4, s=(4, 6))],
    "np.fft.irfft2": [_s(F_.irfft2, C), _s(F_.irfft2, arr("c8", 2, 3, 4), s=(3, 6))],
    "np.fft.fftn": [_s(F_.fftn, arr("f8", 2, 3, 4)), _s(F_.fftn, F, s=(5,)), _s(F_.fftn, C, axes=(0,))],
    "np.fft.ifftn": [_s(F_.ifftn, C), _s(F_.ifftn, arr("c8", 2, 3, 4), axes=(0, 2))],
    "np.fft.rfftn": [_s(F_.rfftn, arr("f8", 2, 3, 4)), _s(F_.rfftn, F4, s=(2, 5))],
    "np.fft.irfftn": [_s(F_.irfftn, C), _s(F_.irfftn, arr("c16", 2, 3, 4), s=(3, 4), axes=(0, 1))],
    "np.fft.fftfreq": [_s(F_.fftfreq, 8), _s(F_.fftfreq, 7, 0.5)],
    "np.fft.rfftfreq": [_s(F_.rfftfreq, 8), _s(F_.rfftfreq, 7, d=0.1)],
    "np.fft.fftshift": [_s(F_.fftshift, V), _s(F_.fftshift, F, axes=1), _s(F_.fftshift, C, (0,))],
    "np.fft.ifftshift": [_s(F_.ifftshift, V), _s(F_.ifftshift, F4)],
    # ---- statistics
    "np.cov": [_s(np.cov, F), _s(np.cov, F, rowvar=False), _s(np.cov, V), _s(np.cov, F, bias=True),
               _s(np.cov, F, ddof=2), _s(np.cov, V, arr("f8", 7, seed=1)), _s(np.cov, F4),
               _s(np.cov, F, aweights=arr("f8", 5, positive=True)), _s(np.cov, F, fweights=np.arange(1, 6)),
               _s(np.cov, C)],
    "np.corrcoef": [_s(np.corrcoef, F), _s(np.corrcoef, F, rowvar=False), _s(np.corrcoef, V, arr("f8", 7, seed=1)),
                    _s(np.corrcoef, F4)],
    "np.median": [_s(np.median, F), _s(np.median, F, axis=1), _s(np.median, F4, 0, keepdims=True),
                  _s(np.median, arr("i8", 5)), _s(np.median, F, (0, 1))],
    "np.nanmedian": [_s(np.nanmedian, NAN), _s(np.nanmedian, NAN, axis=0), _s(np.nanmedian, NAN, 1, keepdims=True)],
    "np.percentile": [_s(np.percentile, F, 50), _s(np.percentile, F, np.array([10, 90]), axis=1),
                      _s(np.percentile, F4, 25.0, axis=0, keepdims=True), _s(np.percentile, V, np.array([5.0, 50.0]),
                                                                              method="nearest"),
                      _s(np.percentile, arr("i8", 9), 30, method="lower")],
    "np.quantile": [_s(np.quantile, F, 0.5), _s(np.quantile, F, np.array([0.1, 0.9]), axis=0), _s(np.quantile, F4, 0.3),
                    _s(np.quantile, V, 0.25, method="midpoint")],
    "np.nanpercentile": [_s(np.nanpercentile, NAN, 50), _s(np.nanpercentile, NAN, np.array([10, 90]), axis=1)],
    "np.nanquantile": [_s(np.nanquantile, NAN, 0.5), _s(np.nanquantile, NAN, np.array([0.2]), axis=0, keepdims=True)],
    "np.nansum": [_s(np.nansum, NAN), _s(np.nansum, NAN, axis=1), _s(np.nansum, NAN.astype("f4"), 0, keepdims=True),
                  _s(np.nansum, arr("i8", 3, 4)), _s(np.nansum, NAN, initial=1.0)],
    "np.nanprod": [_s(np.nanprod, NAN), _s(np.nanprod, NAN, axis=0)],
    "np.nanmean": [_s(np.nanmean, NAN), _s(np.nanmean, NAN, axis=1), _s(np.nanmean, NAN.astype("f4"), 0)],
    "np.nanvar": [_s(np.nanvar, NAN), _s(np.nanvar, NAN, axis=1, ddof=1), _s(np.nanvar, NAN, 0, keepdims=True)],
    "np.nanstd": [_s(np.nanstd, NAN), _s(np.nanstd, NAN, axis=0, ddof=1)],
    "np.nanmin": [_s(np.nanmin, NAN), _s(np.nanmin, NAN, axis=1), _s(np.nanmin, arr("i8", 3, 4), 0)],
    "np.nanmax": [_s(np.nanmax, NAN), _s(np.nanmax, NAN, axis=0, keepdims=True)],
    "np.nanargmin": [_s(np.nanargmin, NAN), _s(np.nanargmin, NAN, axis=1)],
    "np.nanargmax": [_s(np.nanargmax, NAN), _s(np.nanargmax, NAN, 0, keepdims=True)],
    "np.nancumsum": [_s(np.nancumsum, NAN), _s(np.nancumsum, NAN, axis=1), _s(np.nancumsum, NAN, 0, "f4")],
    "np.nancumprod": [_s(np.nancumprod, NAN), _s(np.nancumprod, NAN, axis=0)],
    "np.nan_to_num": [_s(np.nan_to_num, NAN), _s(np.nan_to_num, np.array([np.inf, -np.inf, np.nan, 1.0]), nan=-1.0,
                                                 posinf=9.0), _s(np.nan_to_num, arr("i8", 3)),
                      _s(np.nan_to_num, np.array([np.nan + 1j, np.inf]).astype("c8"))],
    "np.average": [_s(np.average, F), _s(np.average, F, axis=1), _s(np.average, F, 0, arr("f8", 4, positive=True)),
                   _s(np.average, F, weights=arr("f8", 4, 5, positive=True), returned=True),
                   _s(np.average, arr("i8", 6), keepdims=True)],
    "np.ptp": [_s(np.ptp, F), _s(np.ptp, F, axis=1), _s(np.ptp, arr("i8", 3, 4), 0, keepdims=True)],
    # ---- signal and numerics
    "np.convolve": [_s(np.convolve, V, arr("f8", 3)), _s(np.convolve, V, arr("f8", 3), "same"),
                    _s(np.convolve, arr("f8", 3), V, mode="valid"), _s(np.convolve, arr("i8", 5), arr("i8", 2)),
                    _s(np.convolve, arr("c16", 4), arr("f4", 3))],
    "np.correlate": [_s(np.correlate, V, arr("f8", 3)), _s(np.correlate, V, arr("f8", 3), "full"),
                     _s(np.correlate, arr("c16", 4), arr("c16", 2), mode="same")],
    "np.interp": [_s(np.interp, V, np.linspace(-3, 3, 5), arr("f8", 5)),
                  _s(np.interp, F, np.linspace(-3, 3, 5), arr("f8", 5), left=0.0, right=1.0),
                  _s(np.interp, V, np.linspace(-3, 3, 5), arr("c16", 5)),
                  _s(np.interp, V, np.linspace(0, 4, 5), arr("f8", 5), right=2.0),
                  _s(np.interp, V, np.linspace(0, 3, 4), arr("f8", 4), period=4.0)],
    "np.polyval": [_s(np.polyval, arr("f8", 3), V), _s(np.polyval, arr("i8", 4), arr("i8", 5)),
                   _s(np.polyval, arr("f4", 2), F4)],
    "np.trapezoid": [_s(np.trapezoid, V), _s(np.trapezoid, F, dx=0.5), _s(np.trapezoid, F, axis=0),
                     _s(np.trapezoid, V, np.linspace(0, 1, 7)), _s(np.trapezoid, F4, arr("f4", 3, 4), axis=1)],
    "np.gradient": [_s(np.gradient, V), _s(np.gradient, F), _s(np.gradient, F, 0.5), _s(np.gradient, F, axis=1),
                    _s(np.gradient, V, np.linspace(0, 1, 7) ** 2, edge_order=2), _s(np.gradient, F4, 1.0, 2.0)],
    "np.histogram": [_s(np.histogram, V), _s(np.histogram, V, 4, (-3, 3)), _s(np.histogram, F, bins=5, density=True),
                     _s(np.histogram, V, np.array([-2.0, 0.0, 1.0, 5.0])),
                     _s(np.histogram, V, bins=3, weights=arr("f8", 7, positive=True)),
                     _s(np.histogram, arr("f4", 9), bins=np.array([0.0, 1.0, 2.0]), density=True),
                     _s(np.histogram, I, 4, range=(0, 8))],
    "np.histogram2d": [_s(np.histogram2d, V, arr("f8", 7, seed=1)), _s(np.histogram2d, V, V, bins=(2, 3),
                                                                    range=[[-3, 3], [-3, 3]], density=True),
                       _s(np.histogram2d, V, V, 4, weights=arr("f8", 7, positive=True))],
    "np.bincount": [_s(np.bincount, I, minlength=12), _s(np.bincount, I, arr("f8", 6), minlength=10),
                    _s(np.bincount, arr("u1", 5, positive=True), minlength=10)],
    "np.digitize": [_s(np.digitize, V, np.array([-1.0, 0.0, 1.0])), _s(np.digitize, F, np.array([1.0, 0.0]), True),
                    _s(np.digitize, I, np.array([2, 4, 6]), right=True)],
    "np.diff": [_s(np.diff, V, prepend=0.0), _s(np.diff, F, append=F[:, :1]), _s(np.diff, F, 2, 0, prepend=F[:1],
                                                                                   append=F[-1:])],
}
