"""Small example calls for the namespace walk (tests/ops/test_namespace_coverage.py), by function.

Each entry is NumPy source over the inputs named below; the walk compiles each as a function of the
inputs it names, traces it and scripts it, and compares both with NumPy. Ufuncs and their methods
get generated examples; everything else the walk finds must be here or in the README's refusals.
"""
from __future__ import annotations

import numpy as np

from tests.ops.samples import arr, spd


def inputs() -> dict:
    return {
        "A": arr("f8", 3, 4), "B": arr("f8", 4, 3, seed=1), "V": arr("f8", 5), "W": arr("f8", 5, seed=2),
        "Q": spd(3), "C": arr("c16", 3, 4), "M": arr("f8", 3, 4, seed=3) > 0, "K": arr("i8", 5, positive=True),
        "I": np.array([[0, 3], [1, 1], [2, 0]]), "P": arr("f8", 3, 4, positive=True) + 0.5,
        "T": arr("f8", 2, 3, 4), "X": arr("f8", 8), "S": np.sort(arr("f8", 6)), "Z": np.array([0.0, 0, 1, 2, 0, 3, 0]),
    }


EXAMPLES: dict[str, list[str]] = {
    # complex parts
    "np.real": ["np.real(C)", "np.real(A)"], "np.imag": ["np.imag(C)"], "np.angle": ["np.angle(C)", "np.angle(C, deg=True)"],
    # reductions and statistics
    "np.all": ["np.all(M, axis=0)"], "np.any": ["np.any(M)"], "np.amax": ["np.amax(A, axis=1)"],
    "np.amin": ["np.amin(A)"], "np.max": ["np.max(A, axis=0)"], "np.min": ["np.min(A, axis=1, keepdims=True)"],
    "np.argmax": ["np.argmax(A, axis=1)"], "np.argmin": ["np.argmin(V)"], "np.sum": ["np.sum(A, axis=0)"],
    "np.prod": ["np.prod(P, axis=1)"], "np.mean": ["np.mean(A)"], "np.std": ["np.std(A, axis=0)"],
    "np.var": ["np.var(A, ddof=1)"], "np.cumsum": ["np.cumsum(A, axis=1)"], "np.cumprod": ["np.cumprod(V)"],
    "np.cumulative_sum": ["np.cumulative_sum(V, include_initial=True)"],
    "np.cumulative_prod": ["np.cumulative_prod(A, axis=1)"], "np.count_nonzero": ["np.count_nonzero(M, axis=0)", "np.count_nonzero(K)"],
    "np.average": ["np.average(A, axis=0)"], "np.ptp": ["np.ptp(A, axis=1)"], "np.median": ["np.median(A, axis=0)"],
    "np.percentile": ["np.percentile(V, 30)"], "np.quantile": ["np.quantile(A, 0.5, axis=1)"],
    "np.nanmax": ["np.nanmax(A)"], "np.nanmin": ["np.nanmin(A, axis=0)"], "np.nansum": ["np.nansum(A)"],
    "np.nanprod": ["np.nanprod(P)"], "np.nanmean": ["np.nanmean(A, axis=1)"], "np.nanstd": ["np.nanstd(A)"],
    "np.nanvar": ["np.nanvar(A)"], "np.nanargmax": ["np.nanargmax(V)"], "np.nanargmin": ["np.nanargmin(V)"],
    "np.nancumsum": ["np.nancumsum(V)"], "np.nancumprod": ["np.nancumprod(V)"], "np.nanmedian": ["np.nanmedian(V)"],
    "np.nanpercentile": ["np.nanpercentile(V, 50)"], "np.nanquantile": ["np.nanquantile(V, 0.25)"],
    "np.cov": ["np.cov(A)"], "np.corrcoef": ["np.corrcoef(A)"], "np.histogram": ["np.histogram(V, bins=4)"],
    "np.histogram2d": ["np.histogram2d(V, W, bins=3)"], "np.bincount": ["np.bincount(K, minlength=10)"],
    "np.digitize": ["np.digitize(V, S)"], "np.searchsorted": ["np.searchsorted(S, V)"],
    "np.convolve": ["np.convolve(V, W[:3])"], "np.correlate": ["np.correlate(V, W[:3], 'full')"],
    "np.interp": ["np.interp(V, S, S * 2)"], "np.polyval": ["np.polyval(W, V)"], "np.trapezoid": ["np.trapezoid(A, axis=1)"],
    "np.gradient": ["np.gradient(V)"], "np.nan_to_num": ["np.nan_to_num(A / M)"], "np.diff": ["np.diff(A, axis=0)"],
    # creation
    "np.zeros": ["np.zeros((3, 4)) + A"], "np.ones": ["np.ones(5) * V"], "np.empty": ["np.empty((2, 2)).shape[0] + V"],
    "np.full": ["np.full((3, 4), 2.0) * A"], "np.zeros_like": ["np.zeros_like(A)"], "np.ones_like": ["np.ones_like(K)"],
    "np.empty_like": ["np.empty_like(A).shape[1] + V"], "np.full_like": ["np.full_like(A, 3.0)"],
    "np.hanning": ["np.hanning(5) * V"], "np.hamming": ["np.hamming(5) * V"], "np.bartlett": ["np.bartlett(5) * V"],
    "np.blackman": ["np.blackman(5) * V"], "np.kaiser": ["np.kaiser(5, 3.0) * V", "np.kaiser(5, V[0] + 2.0) * V"], "np.geomspace": ["np.geomspace(1.0, 10.0, 5) + V"],
    "np.logspace": ["np.logspace(0.0, 1.0, 5) + V"],
    "np.arange": ["np.arange(5) * V"], "np.linspace": ["np.linspace(0.0, 1.0, 5) + V"], "np.eye": ["np.eye(3, 4, 1) + A"],
    "np.identity": ["np.identity(3) @ Q"], "np.tri": ["np.tri(3, 4, 1) * A"], "np.indices": ["np.indices((3, 4))[0] + A"],
    "np.meshgrid": ["np.meshgrid(V, W[:3])", "np.meshgrid(V, W, indexing='ij', sparse=True)"],
    "np.array": ["np.array([V, W])"], "np.asarray": ["np.asarray(A) + 1"], "np.asanyarray": ["np.asanyarray([V, V])"],
    "np.ascontiguousarray": ["np.ascontiguousarray(A)"], "np.copy": ["np.copy(A)"],
    # shape
    "np.reshape": ["np.reshape(A, (4, 3))"], "np.ravel": ["np.ravel(A)"], "np.transpose": ["np.transpose(T, (2, 0, 1))"],
    "np.permute_dims": ["np.permute_dims(A, (1, 0))"], "np.swapaxes": ["np.swapaxes(T, 0, 2)"],
    "np.moveaxis": ["np.moveaxis(T, 0, -1)"], "np.rollaxis": ["np.rollaxis(T, 2)"], "np.expand_dims": ["np.expand_dims(A, 1)"],
    "np.squeeze": ["np.squeeze(A[:1], axis=0)"], "np.broadcast_to": ["np.broadcast_to(V, (3, 5))"],
    "np.broadcast_arrays": ["np.broadcast_arrays(A, V[:4])"], "np.atleast_1d": ["np.atleast_1d(A)"],
    "np.atleast_2d": ["np.atleast_2d(V)"], "np.atleast_3d": ["np.atleast_3d(A)"],
    "np.concatenate": ["np.concatenate([A, A], axis=1)"], "np.concat": ["np.concat([V, W])"],
    "np.stack": ["np.stack([V, W], axis=1)"], "np.hstack": ["np.hstack([V, W])"], "np.vstack": ["np.vstack([A, A])"],
    "np.column_stack": ["np.column_stack([V, W])"], "np.append": ["np.append(A, V)"],
    "np.split": ["np.split(A, 2, axis=1)"], "np.array_split": ["np.array_split(V, 2)"], "np.hsplit": ["np.hsplit(A, 2)"],
    "np.vsplit": ["np.vsplit(B, 2)"], "np.dsplit": ["np.dsplit(T, 2)"], 
    "np.tile": ["np.tile(A, (2, 1))"], "np.repeat": ["np.repeat(A, [1, 2, 0], axis=0)", "np.repeat(V, 2)"],
    "np.pad": ["np.pad(A, 1)", "np.pad(A, ((1, 0), (2, 1)), mode='edge')", "np.pad(A, 2, mode='reflect')",
               "np.pad(A, 1, mode='wrap')"],
    "np.flip": ["np.flip(A, 0)"], "np.fliplr": ["np.fliplr(A)"],
    "np.flipud": ["np.flipud(A)"], "np.roll": ["np.roll(A, 1, axis=0)"], "np.rot90": ["np.rot90(A)"],
    "np.matrix_transpose": ["np.matrix_transpose(T)"],
    # structured
    "np.triu": ["np.triu(A, 1)"], "np.tril": ["np.tril(T)"], "np.diag": ["np.diag(V, 1)", "np.diag(A)"],
    "np.diagflat": ["np.diagflat(A[:2])"], "np.diagonal": ["np.diagonal(T, 0, 1, 2)"], "np.kron": ["np.kron(A[:2, :2], A)"],
    "np.vander": ["np.vander(V, 3)"], "np.trace": ["np.trace(A)"],
    # indexing
    "np.take": ["np.take(V, K % 5)"], "np.take_along_axis": ["np.take_along_axis(A, I, axis=1)"],
    "np.put_along_axis": ["(np.put_along_axis(A, I, 7.0, axis=1), A)[1]"], "np.put": ["(np.put(A, [0, 5], V[:2]), A)[1]"],
    "np.place": ["(np.place(A, M, V[:2]), A)[1]"], "np.putmask": ["(np.putmask(A, M, V[:3]), A)[1]"],
    "np.fill_diagonal": ["(np.fill_diagonal(A, 5.0), A)[1]"], "np.copyto": ["(np.copyto(A, 1.0), A)[1]"],
    "np.delete": ["np.delete(A, [0, 2], axis=1)"], 
    "np.unravel_index": ["np.unravel_index(K, (3, 4))"], "np.ravel_multi_index": ["np.ravel_multi_index((I[:, 0], I[:, 1]), (3, 4))"],
    "np.where": ["np.where(M, A, 0.0)", "np.where(V > 0)"], "np.nonzero": ["np.nonzero(M)"],
    "np.flatnonzero": ["np.flatnonzero(Z)"], "np.extract": ["np.extract(M, A)"],
    "np.unique": ["np.unique(K, return_inverse=True)"], "np.unique_values": ["np.unique_values(K)"],
    "np.unique_counts": ["np.unique_counts(K)[1]"], "np.unique_inverse": ["np.unique_inverse(K)[1]"],
    "np.unique_all": ["np.unique_all(K)[3]"],
    # sorting and sets
    "np.sort": ["np.sort(A, axis=0)"], "np.argsort": ["np.argsort(V)"], "np.partition": ["np.partition(V, 2)"],
    "np.argpartition": ["np.argpartition(A, 1, axis=1)"], "np.sort_complex": ["np.sort_complex(V)"],
    "np.isin": ["np.isin(K, [1, 2, 3])"], "np.argwhere": ["np.argwhere(M)", "np.argwhere(V[0] > 0)"],
    "np.setdiff1d": ["np.setdiff1d(K, [2, 3])"], "np.union1d": ["np.union1d(K, I)"],
    "np.intersect1d": ["np.intersect1d(K, I)"], "np.unwrap": ["np.unwrap(X * 3.0)", "np.unwrap(A * 4.0, axis=0)"],
    "np.triu_indices": ["A[np.triu_indices(3, k=1)]"], "np.tril_indices": ["A[np.tril_indices(3, m=4)]"],
    "np.triu_indices_from": ["A[np.triu_indices_from(Q)]"], "np.tril_indices_from": ["A[np.tril_indices_from(Q, k=-1)]"],
    # elementwise functions that are not ufuncs
    "np.clip": ["np.clip(A, -1, 2)"], "np.round": ["np.round(A, 1)"], "np.around": ["np.around(A)"],
    "np.astype": ["np.astype(A, np.float32)"], "np.isclose": ["np.isclose(A, A + 1e-9)"],
    "np.allclose": ["np.allclose(A, A + 1e-9)"], "np.array_equal": ["np.array_equal(A, A)"],
    "np.array_equiv": ["np.array_equiv(V, np.stack([V, V]))"], "np.sinc": ["np.sinc(A)"], 
    "np.fix": ["np.fix(A)"], "np.isneginf": ["np.isneginf(A / M)"], "np.isposinf": ["np.isposinf(A / M)"],
    "np.iscomplexobj": ["np.iscomplexobj(C) + V"], "np.isrealobj": ["np.isrealobj(A) + V"],
    
    # products
    "np.dot": ["np.dot(A, B)"], "np.vdot": ["np.vdot(V, W)"], "np.inner": ["np.inner(A, A)"], "np.outer": ["np.outer(V, W)"],
    "np.tensordot": ["np.tensordot(A, B, axes=1)"], "np.einsum": ["np.einsum('ij,jk->ik', A, B)"],
    # static facts
    "np.shape": ["np.shape(A)[0] + V"], "np.ndim": ["np.ndim(A) + V"], "np.size": ["np.size(A) + V"],
    "np.result_type": ["np.zeros(2, np.result_type(A, K)) + V[:2]"], "np.can_cast": ["V + np.can_cast(K, np.float64)"],
    # linalg
    "np.linalg.inv": ["np.linalg.inv(Q)"], "np.linalg.solve": ["np.linalg.solve(Q, A)"], "np.linalg.det": ["np.linalg.det(Q)"],
    "np.linalg.norm": ["np.linalg.norm(A, axis=1)"], "np.linalg.cholesky": ["np.linalg.cholesky(Q)"],
    "np.linalg.qr": ["np.linalg.qr(A)[1]"], "np.linalg.svd": ["np.linalg.svd(A)[1]"],
    "np.linalg.svdvals": ["np.linalg.svdvals(A)"], "np.linalg.eigh": ["np.linalg.eigh(Q)[0]"],
    "np.linalg.eigvalsh": ["np.linalg.eigvalsh(Q)"], "np.linalg.eig": ["np.linalg.eig(Q.astype(complex))[0]"],
    "np.linalg.eigvals": ["np.linalg.eigvals(Q.astype(complex))"], "np.linalg.lstsq": ["np.linalg.lstsq(B, V[:4])[0]"],
    "np.linalg.pinv": ["np.linalg.pinv(A)"], "np.linalg.slogdet": ["np.linalg.slogdet(Q)[1]"],
    "np.linalg.matrix_power": ["np.linalg.matrix_power(Q, 3)"], "np.linalg.matrix_rank": ["np.linalg.matrix_rank(A)"],
    "np.linalg.cond": ["np.linalg.cond(Q)"], "np.linalg.multi_dot": ["np.linalg.multi_dot([A, B, A])"],
    "np.linalg.diagonal": ["np.linalg.diagonal(T)"],
    "np.linalg.matmul": ["np.linalg.matmul(A, B)"], "np.linalg.matrix_norm": ["np.linalg.matrix_norm(A)"],
    "np.linalg.vector_norm": ["np.linalg.vector_norm(A, axis=0)"], "np.linalg.matrix_transpose": ["np.linalg.matrix_transpose(A)"],
    "np.linalg.outer": ["np.linalg.outer(V, W)"], "np.linalg.tensordot": ["np.linalg.tensordot(A, B, axes=1)"],
    "np.linalg.trace": ["np.linalg.trace(T)"], "np.linalg.vecdot": ["np.linalg.vecdot(A, A)"],
    "np.linalg.tensorinv": ["np.linalg.tensorinv(Q, ind=1)"], "np.linalg.tensorsolve": ["np.linalg.tensorsolve(Q, V[:3])"],
    # fft
    "np.fft.fft": ["np.fft.fft(X)"], "np.fft.ifft": ["np.fft.ifft(X)"], "np.fft.fft2": ["np.fft.fft2(A)"],
    "np.fft.ifft2": ["np.fft.ifft2(A)"], "np.fft.fftn": ["np.fft.fftn(T)"], "np.fft.ifftn": ["np.fft.ifftn(T)"],
    "np.fft.rfft": ["np.fft.rfft(X)"], "np.fft.irfft": ["np.fft.irfft(C)"], "np.fft.rfft2": ["np.fft.rfft2(A)"],
    "np.fft.irfft2": ["np.fft.irfft2(C)"], "np.fft.rfftn": ["np.fft.rfftn(T)"], "np.fft.irfftn": ["np.fft.irfftn(C)"],
    "np.fft.hfft": ["np.fft.hfft(C)"], "np.fft.ihfft": ["np.fft.ihfft(X)"], "np.fft.fftfreq": ["np.fft.fftfreq(8) + X"],
    "np.fft.rfftfreq": ["np.fft.rfftfreq(8, 0.5)"], "np.fft.fftshift": ["np.fft.fftshift(A)"],
    "np.fft.ifftshift": ["np.fft.ifftshift(A)"],
}

EXAMPLES.update({
    "np.finfo": ["A + np.finfo(A.dtype).eps"], "np.iinfo": ["K + np.iinfo(np.int8).max"],
    "np.row_stack": ["np.row_stack([V, W])"],
    "np.isdtype": ["V + np.isdtype(A.dtype, 'real floating')"],
})
