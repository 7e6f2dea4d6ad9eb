"""np.linalg's decompositions and what is built on them: cholesky, qr, svd, eigh, eig, lstsq, pinv, slogdet, tensorinv …

Every kernel is NumPy's own function (the same LAPACK calls), so results are NumPy's
bit for bit; what is written here is how shapes follow from shapes, stacked like
NumPy's (leading dims are a batch of matrices), so that symbolic dims flow through.
Dtypes come from NumPy on a well-conditioned stand-in (distjit/ops/standins.py).

NOTE: [eig of a real matrix]
`np.linalg.eig` and `eigvals` of a real matrix return real arrays when every
eigenvalue happens to be real and complex ones otherwise: the output dtype depends
on the data, which a typed graph cannot express. They are supported for complex
inputs (always complex results) and refused for real ones with the two ways out:
cast first (``a.astype(complex)``, the same eigenvalues as complex numbers), or
`eigh`/`eigvalsh` for a symmetric matrix.

NOTE: [lstsq's residuals]
`np.linalg.lstsq` returns the residuals only when a has full column rank and more
rows than columns: their length (0 or K) depends on the rank, a property of the data.
The residuals then get a dim known only at run time (``?n``); the solution, the rank
and the singular values have static shapes.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.linalg._linalg import EigResult, EighResult, QRResult, SlogdetResult, SVDResult   # the named results NumPy 2 returns

from distjit.errors import ShapeError
from distjit.types import INT, TensorType
from distjit.ops.infer import fmt_shape, fresh_dim, normalize_axis, shape_of, unify_dims
from distjit.ops.linalg import _bytes, _cubic_cost, _n, _prod
from distjit.ops.registry import FRESH, Cost, OpDef, attr, operand, operands, register
from distjit.ops.sharding_numeric import stacked_matrices
from distjit.ops.standins import standin_dtypes


def _matrix(op: str, t) -> tuple:
    shape = shape_of(t)
    if not isinstance(t, TensorType) or len(shape) < 2:
        raise ShapeError(f"{op}: {len(shape)}-dimensional array given. Array must be at least two-dimensional")
    return shape


def _square(op: str, t) -> tuple:
    shape = _matrix(op, t)
    if unify_dims(shape[-1], shape[-2]) is None:
        raise ShapeError(f"{op}: last 2 dimensions of the array must be square, got {fmt_shape(shape)}")
    return shape


def _min_dim(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return min(a, b)
    return a if a == b else fresh_dim()


def _dtypes(op, kernel, in_types, attrs):
    return standin_dtypes(op, kernel, in_types, attrs, side=2, matrix=True)


def _typed(op, kernel, shapes):
    """An infer function: output shapes by `shapes(in_types, attrs)`, dtypes by NumPy on stand-ins."""
    def infer(in_types, attrs):
        out_shapes = shapes(in_types, attrs)
        dtypes = _dtypes(op, kernel, in_types, attrs)
        return [TensorType(d, s) for d, s in zip(dtypes, out_shapes)]

    return infer


# ---- shape rules ------------------------------------------------------------------------------------------

def _same_square(op):
    return lambda in_types, attrs: [_square(op, in_types[0])]


def _qr_shapes(in_types, attrs):
    shape = _matrix("np.linalg.qr", in_types[0])
    *batch, m, n = shape
    k = _min_dim(m, n)
    mode = attrs["mode"]
    if mode == "reduced":
        return [(*batch, m, k), (*batch, k, n)]
    if mode == "complete":
        return [(*batch, m, m), (*batch, m, n)]
    if mode == "r":
        return [(*batch, k, n)]
    if mode == "raw":
        return [(*batch, n, m), (*batch, k)]
    raise ShapeError(f"np.linalg.qr: unrecognized mode {mode!r} (reduced, complete, r or raw)")


def _svd_shapes(in_types, attrs):
    shape = _matrix("np.linalg.svd", in_types[0])
    *batch, m, n = shape
    if attrs["hermitian"]:
        _square("np.linalg.svd", in_types[0])
    k = _min_dim(m, n)
    if not attrs["compute_uv"]:
        return [(*batch, k)]
    if attrs["full_matrices"]:
        return [(*batch, m, m), (*batch, k), (*batch, n, n)]
    return [(*batch, m, k), (*batch, k), (*batch, k, n)]


def _svdvals_shapes(in_types, attrs):
    *batch, m, n = _matrix("np.linalg.svdvals", in_types[0])
    return [(*batch, _min_dim(m, n))]


def _check_uplo(op, attrs):
    if attrs["UPLO"] not in ("L", "U"):
        raise ShapeError(f"{op}: UPLO argument must be 'L' or 'U', not {attrs['UPLO']!r}")


def _eigh_shapes(in_types, attrs):
    _check_uplo("np.linalg.eigh", attrs)
    *batch, m, _ = _square("np.linalg.eigh", in_types[0])
    return [(*batch, m), (*batch, m, m)]


def _eigvalsh_shapes(in_types, attrs):
    _check_uplo("np.linalg.eigvalsh", attrs)
    *batch, m, _ = _square("np.linalg.eigvalsh", in_types[0])
    return [(*batch, m)]


def _complex_only(op: str, t) -> None:
    if t.dtype.kind != "c":
        raise ShapeError(f"{op}: of a real matrix, NumPy returns real or complex results depending on the data "
                         f"(whether every eigenvalue is real), which a typed graph cannot express; cast first "
                         f"(a.astype(complex)) for the eigenvalues as complex numbers, or use eigh/eigvalsh for a "
                         f"symmetric matrix")


def _eig_shapes(in_types, attrs):
    *batch, m, _ = _square("np.linalg.eig", in_types[0])
    _complex_only("np.linalg.eig", in_types[0])
    return [(*batch, m), (*batch, m, m)]


def _eigvals_shapes(in_types, attrs):
    *batch, m, _ = _square("np.linalg.eigvals", in_types[0])
    _complex_only("np.linalg.eigvals", in_types[0])
    return [(*batch, m)]


def _slogdet_shapes(in_types, attrs):
    batch = _square("np.linalg.slogdet", in_types[0])[:-2]
    return [batch, batch]


def _pinv_shapes(in_types, attrs):
    if attrs["hermitian"]:
        _square("np.linalg.pinv", in_types[0])
    *batch, m, n = _matrix("np.linalg.pinv", in_types[0])
    if attrs["rcond"] is not None and attrs["rtol"] is not None:
        raise ShapeError("np.linalg.pinv: `rtol` and `rcond` can't be both set")
    return [(*batch, n, m)]


def _matrix_rank_shapes(in_types, attrs):
    shape = shape_of(in_types[0])
    if attrs["tol"] is not None and attrs["rtol"] is not None:
        raise ShapeError("np.linalg.matrix_rank: `tol` and `rtol` can't be both set")
    return [shape[:-2]]


def _matrix_rank_infer(in_types, attrs):
    if len(shape_of(in_types[0])) < 2:
        return [INT]            # NumPy answers a Python int for a vector or a scalar
    return _typed("np.linalg.matrix_rank", L.matrix_rank, _matrix_rank_shapes)(in_types, attrs)


def _matrix_power_shapes(in_types, attrs):
    n = attrs["n"]
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise ShapeError(f"np.linalg.matrix_power: exponent must be an integer, not {n!r}")
    return [_square("np.linalg.matrix_power", in_types[0])]


def _matrix_power_infer(in_types, attrs):
    shape = _matrix_power_shapes(in_types, attrs)[0]
    dtypes = _dtypes("np.linalg.matrix_power", np.linalg.matrix_power, in_types, attrs)
    if attrs["n"] < 0 and dtypes[0].kind in "iu":
        raise ShapeError("np.linalg.matrix_power: integer matrices cannot be raised to a negative power")
    return [TensorType(dtypes[0], shape)]


_COND_P = {None, 1, -1, 2, -2, math.inf, -math.inf, "fro", "nuc"}


def _cond_shapes(in_types, attrs):
    p = attrs["p"]
    if p not in _COND_P:
        raise ShapeError(f"np.linalg.cond: invalid norm order {p!r} (None, 1, -1, 2, -2, inf, -inf, 'fro', 'nuc')")
    shape = (_matrix if p in (None, 2, -2) else _square)("np.linalg.cond", in_types[0])
    return [shape[:-2]]


def _lstsq_shapes(in_types, attrs):
    op = "np.linalg.lstsq"
    sa, sb = shape_of(in_types[0]), shape_of(in_types[1])
    if len(sa) != 2:
        raise ShapeError(f"{op}: a must be two-dimensional, got {fmt_shape(sa)}")
    if len(sb) not in (1, 2):
        raise ShapeError(f"{op}: b must be one- or two-dimensional, got {fmt_shape(sb)}")
    m, n = sa
    if unify_dims(m, sb[0]) is None:
        raise ShapeError(f"{op}: incompatible dimensions: a is {fmt_shape(sa)}, b is {fmt_shape(sb)}")
    k = () if len(sb) == 1 else (sb[1],)
    if isinstance(m, int) and isinstance(n, int) and m <= n:
        residuals = (0,)
    else:
        residuals = (fresh_dim(),)      # NOTE: [lstsq's residuals]
    return [(n, *k), residuals, (), (_min_dim(m, n),)]


def _lstsq(a, b, rcond=None):
    return tuple(np.linalg.lstsq(a, b, rcond=rcond))


def _multi_dot_shape(in_types, attrs):
    op = "np.linalg.multi_dot"
    shapes = [shape_of(t) for t in in_types]
    if len(shapes) < 2:
        raise ShapeError(f"{op}: expecting at least two arrays")
    first, last = shapes[0], shapes[-1]
    if len(first) not in (1, 2) or len(last) not in (1, 2) or any(len(s) != 2 for s in shapes[1:-1]):
        raise ShapeError(f"{op}: the first and last arrays must be 1-D or 2-D, the others 2-D; got "
                         + " ".join(fmt_shape(s) for s in shapes))
    mats = [(1, *first) if len(first) == 1 else first, *shapes[1:-1], (*last, 1) if len(last) == 1 else last]
    for i in range(len(mats) - 1):
        if unify_dims(mats[i][1], mats[i + 1][0]) is None:
            raise ShapeError(f"{op}: shapes {fmt_shape(mats[i])} and {fmt_shape(mats[i + 1])} not aligned")
    out = []
    if len(first) == 2:
        out.append(first[0])
    if len(last) == 2:
        out.append(last[1])
    return [tuple(out)]


def _multi_dot(*arrays):
    return np.linalg.multi_dot(list(arrays))


def _multi_dot_cost(in_types, out_types, attrs):
    flops = 0.0
    for a, b in zip(in_types, in_types[1:]):
        flops += 2.0 * _prod(shape_of(a)) * _n(shape_of(b)[-1] if shape_of(b) else 1)
    return Cost(flops=flops, bytes=_bytes([*in_types, *out_types]))


def _tensorinv_shapes(in_types, attrs):
    op, ind = "np.linalg.tensorinv", attrs["ind"]
    shape = shape_of(in_types[0])
    if not isinstance(ind, int) or ind <= 0:
        raise ShapeError(f"{op}: ind must be a positive integer, not {ind!r}")
    rows, cols = _prod(shape[:ind]), _prod(shape[ind:])
    if all(isinstance(d, int) for d in shape) and rows != cols:
        raise ShapeError(f"{op}: a of shape {fmt_shape(shape)} is not square for ind={ind} ({rows} != {cols})")
    return [(*shape[ind:], *shape[:ind])]


def _tensorsolve_shapes(in_types, attrs):
    op = "np.linalg.tensorsolve"
    sa, sb = list(shape_of(in_types[0])), shape_of(in_types[1])
    axes = attrs["axes"]
    if axes is not None:
        moved = [normalize_axis(op, k, len(sa)) for k in axes]
        sa = [d for i, d in enumerate(sa) if i not in moved] + [sa[k] for k in moved]
    if len(sb) > len(sa) or any(unify_dims(x, y) is None for x, y in zip(sa[:len(sb)], sb)):
        raise ShapeError(f"{op}: b of shape {fmt_shape(sb)} does not lead a's {fmt_shape(tuple(sa))}")
    return [tuple(sa[len(sb):])]


def _tensorinv_dtype(a, ind=2):        # the dtype of the matrix inverse it is (a stand-in cube is not square)
    return np.linalg.inv(np.eye(2, dtype=a.dtype))


def _tensorsolve_dtype(a, b, axes=None):
    return np.linalg.solve(np.eye(2, dtype=a.dtype), np.ones(2, dtype=b.dtype))


def _typed_by(op, dtype_kernel, shapes):
    def infer(in_types, attrs):
        out_shapes = shapes(in_types, attrs)
        return [TensorType(d, s) for d, s in zip(_dtypes(op, dtype_kernel, in_types, attrs), out_shapes)]
    return infer


def _cholesky(a, upper=False):
    return np.linalg.cholesky(a, upper=upper)


def _qr(a, mode="reduced"):
    out = np.linalg.qr(a, mode=mode)
    return out if mode == "r" else tuple(out)


def _svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    out = np.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv, hermitian=hermitian)
    return tuple(out) if compute_uv else out


def _eigh(a, UPLO="L"):
    return tuple(np.linalg.eigh(a, UPLO=UPLO))


def _eig(a):
    return tuple(np.linalg.eig(a))


def _slogdet(a):
    return tuple(np.linalg.slogdet(a))


def _pinv(a, rcond=None, hermitian=False, rtol=None):
    if rcond is None and rtol is None:
        return np.linalg.pinv(a, hermitian=hermitian)
    if rtol is None:
        return np.linalg.pinv(a, rcond, hermitian=hermitian)
    return np.linalg.pinv(a, hermitian=hermitian, rtol=rtol)


def _matrix_power(a, n):
    """NumPy returns `a` itself for n == 1; the op's result is fresh memory (every op here is declared so), or
    the runtime would write a later in-place update of it into `a`."""
    out = np.linalg.matrix_power(a, n)
    return out.copy() if out is a else out


def _decl(name, kernel, infer, params, source, doc, cost=_cubic_cost, shard=stacked_matrices, cls=OpDef, **facts):
    return register(cls(name, kernel=kernel, infer=infer, params=params, sources=(source,), cost=cost,
                        shard=shard, alias=FRESH, doc=doc, **facts))


L = np.linalg
DECOMPOSITION_OPS = {op.name: op for op in [
    _decl("np.linalg.cholesky", _cholesky, _typed("np.linalg.cholesky", _cholesky, _same_square("np.linalg.cholesky")),
          (operand("a"), attr("upper", False, keyword_only=True)), L.cholesky,
          "Cholesky factor of (a stack of) Hermitian positive-definite matrices: lower, or upper with upper=True."),
    _decl("np.linalg.qr", _qr, _typed("np.linalg.qr", _qr, _qr_shapes), (operand("a"), attr("mode", "reduced")), L.qr,
          "QR of (a stack of) matrices: (Q, R) for 'reduced' and 'complete', R alone for 'r', (h, tau) for 'raw'.",
          named_result=lambda attrs: QRResult if attrs["mode"] in ("reduced", "complete") else None),
    _decl("np.linalg.svd", _svd, _typed("np.linalg.svd", _svd, _svd_shapes),
          (operand("a"), attr("full_matrices", True), attr("compute_uv", True), attr("hermitian", False)), L.svd,
          "Singular value decomposition (U, S, Vh) of (a stack of) matrices; S alone with compute_uv=False.",
          named_result=lambda attrs: SVDResult if attrs["compute_uv"] else None),
    _decl("np.linalg.svdvals", L.svdvals, _typed("np.linalg.svdvals", L.svdvals, _svdvals_shapes),
          (operand("x"),), L.svdvals, "Singular values of (a stack of) matrices (the Array API's svdvals)."),
    _decl("np.linalg.eigh", _eigh, _typed("np.linalg.eigh", _eigh, _eigh_shapes), (operand("a"), attr("UPLO", "L")),
          L.eigh, "Eigenvalues (ascending, real) and eigenvectors of (a stack of) Hermitian matrices.",
          named_result=lambda attrs: EighResult),
    _decl("np.linalg.eigvalsh", L.eigvalsh, _typed("np.linalg.eigvalsh", L.eigvalsh, _eigvalsh_shapes),
          (operand("a"), attr("UPLO", "L")), L.eigvalsh, "Eigenvalues (ascending, real) of Hermitian matrices."),
    _decl("np.linalg.eig", _eig, _typed("np.linalg.eig", _eig, _eig_shapes), (operand("a"),), L.eig,
          "Eigenvalues and right eigenvectors of complex square matrices; real input is refused "
          "(see NOTE: [eig of a real matrix]).", named_result=lambda attrs: EigResult),
    _decl("np.linalg.eigvals", L.eigvals, _typed("np.linalg.eigvals", L.eigvals, _eigvals_shapes), (operand("a"),),
          L.eigvals, "Eigenvalues of complex square matrices; real input is refused (see NOTE: [eig of a real matrix])."),
    _decl("np.linalg.slogdet", _slogdet, _typed("np.linalg.slogdet", _slogdet, _slogdet_shapes), (operand("a"),),
          L.slogdet, "(sign, log|det|) of (a stack of) square matrices.", named_result=lambda attrs: SlogdetResult),
    _decl("np.linalg.pinv", _pinv, _typed("np.linalg.pinv", _pinv, _pinv_shapes),
          (operand("a"), attr("rcond", None), attr("hermitian", False), attr("rtol", None, keyword_only=True)),
          L.pinv, "Moore-Penrose pseudo-inverse of (a stack of) matrices, by SVD."),
    _decl("np.linalg.matrix_rank", L.matrix_rank, _matrix_rank_infer,
          (operand("A"), attr("tol", None), attr("hermitian", False), attr("rtol", None, keyword_only=True)),
          L.matrix_rank, "Rank of (a stack of) matrices by SVD (a vector's rank is 0 or 1)."),
    _decl("np.linalg.matrix_power", _matrix_power, _matrix_power_infer, (operand("a"), attr("n")),
          L.matrix_power, "a to the integer power n by repeated squaring (n < 0: of the inverse)."),
    _decl("np.linalg.cond", L.cond, _typed("np.linalg.cond", L.cond, _cond_shapes), (operand("x"), attr("p", None)),
          L.cond, "Condition number of (a stack of) matrices in the norm p (None: 2-norm, by SVD)."),
    _decl("np.linalg.lstsq", _lstsq, _typed("np.linalg.lstsq", _lstsq, _lstsq_shapes),
          (operand("a"), operand("b"), attr("rcond", None)), L.lstsq,
          "Least-squares solution (x, residuals, rank, s) of a x = b; the residuals' length depends on the "
          "rank (see NOTE: [lstsq's residuals]). Not batched, as NumPy.", shard=None),
    _decl("np.linalg.tensorinv", L.tensorinv, _typed_by("np.linalg.tensorinv", _tensorinv_dtype, _tensorinv_shapes),
          (operand("a"), attr("ind", 2)), L.tensorinv,
          "The inverse of a under tensordot over its first ind axes (an inverse of the reshaped square matrix).",
          shard=None),
    _decl("np.linalg.tensorsolve", L.tensorsolve, _typed_by("np.linalg.tensorsolve", _tensorsolve_dtype, _tensorsolve_shapes),
          (operand("a"), operand("b"), attr("axes", None)), L.tensorsolve,
          "x with tensordot(a, x, x.ndim) == b (axes of a moved to the end first).", shard=None),
    _decl("np.linalg.multi_dot", _multi_dot, _typed("np.linalg.multi_dot", _multi_dot, _multi_dot_shape),
          (operands("arrays"),), L.multi_dot,
          "Chained matrix product of a sequence of arrays (NumPy picks the cheapest order).",
          cost=_multi_dot_cost, shard=None),
]}
