"""Statistics: cov, corrcoef, median, percentile/quantile, the nan* reductions, nan_to_num, average, ptp.

The kernels are NumPy's functions, called so that each gives NumPy's result bit for
bit: keywords left at NumPy's "no value" are left out (np.nansum(a, initial=None)
is not np.nansum(a)), and `overwrite_input` is accepted but never passed on, because
a kernel must not scramble its operand (a graph value may have other readers); the
results are the same.

`q` of percentile and quantile is an operand, so a scalar, a constant list or an
array all work and the result gains q's dims in front, as NumPy's; `method` is an
attribute (linear by default).

Sharding: the order statistics and the nan* reductions combine no partial results
(a NaN-skipping partial needs its own combine, an order statistic has none), so a
split along a reduced axis is gathered; along a kept axis each shard reduces alone.
"""
from __future__ import annotations

import numpy as np

from distjit.errors import ShapeError
from distjit.types import NoneType, TensorType
from distjit.ops.infer import normalize_axes, normalize_axis, numel, reduced_shape, shape_of, unify_dims
from distjit.ops.reduce import reduce_cost
from distjit.ops import sharding
from distjit.ops.registry import FRESH, Kind, OpDef, Param, Reduction, attr, operand, register
from distjit.ops.sharding_numeric import reduction_with_leading
from distjit.ops.standins import OptionalOperandsOpDef, standin_dtypes

_METHODS = ("inverted_cdf", "averaged_inverted_cdf", "closest_observation", "interpolated_inverted_cdf",
            "hazen", "weibull", "linear", "median_unbiased", "normal_unbiased", "lower", "higher", "midpoint",
            "nearest")


def _optional(name: str, keyword_only: bool = False) -> Param:
    return Param(name, Kind.OPERAND, None, keyword_only)


def _given(**kwargs) -> dict:
    """The keywords NumPy should see: those not left at None (NumPy's "no value")."""
    return {k: v for k, v in kwargs.items() if v is not None}


def _reduced(op, t, axis, keepdims):
    shape = shape_of(t)
    if axis is not None and not isinstance(axis, (int, np.integer, tuple)) or isinstance(axis, bool):
        raise ShapeError(f"{op}: axis must be None, an int or a tuple of ints, not {axis!r}")
    return reduced_shape(shape, normalize_axes(op, axis, len(shape)), bool(keepdims))


def _typed(op, kernel, shapes, side=2):
    def infer(in_types, attrs):
        return [TensorType(d, s) for d, s in zip(standin_dtypes(op, kernel, in_types, attrs, side=side),
                                                 shapes(in_types, attrs))]
    return infer


# ---- cov, corrcoef -------------------------------------------------------------------------------------------

def _variables(op, t, rowvar) -> object:
    shape = shape_of(t)
    if len(shape) > 2:
        raise ShapeError(f"{op}: m has more than 2 dimensions ({len(shape)})")
    if len(shape) < 2:
        return 1
    return shape[0] if rowvar else shape[1]


def _observations(t, rowvar):
    shape = shape_of(t)
    if len(shape) < 2:
        return shape[0] if shape else 1
    return shape[1] if rowvar else shape[0]


def _cov_shape(op):
    def shapes(in_types, attrs):
        m, y = in_types[0], (in_types[1] if len(in_types) > 1 else None)
        rowvar = attrs["rowvar"]
        n = _variables(op, m, rowvar)
        if y is not None and not isinstance(y, NoneType):
            ny = _variables(op, y, rowvar)
            if _observations(y, rowvar) != _observations(m, rowvar):
                raise ShapeError(f"{op}: m and y have different numbers of observations")
            n = n + ny if isinstance(n, int) and isinstance(ny, int) else "?"
        if n == 1:
            return [()]                 # NumPy squeezes the 1x1 result
        if n == "?":
            from distjit.ops.infer import fresh_dim
            n = fresh_dim()
        return [(n, n)]
    return shapes


def _cov(m, y=None, fweights=None, aweights=None, rowvar=True, bias=False, ddof=None, dtype=None):
    return np.cov(m, y, rowvar=rowvar, bias=bias, ddof=ddof, fweights=fweights, aweights=aweights, dtype=dtype)


def _corrcoef(x, y=None, rowvar=True, dtype=None):
    return np.corrcoef(x, y, rowvar=rowvar, dtype=dtype)


# ---- median, percentile, quantile -------------------------------------------------------------------------------

def _median_shape(op):
    return lambda in_types, attrs: [_reduced(op, in_types[0], attrs["axis"], attrs["keepdims"])]


def _check_method(op, attrs):
    if attrs["method"] not in _METHODS:
        raise ShapeError(f"{op}: method {attrs['method']!r} is not one of {', '.join(_METHODS)}")


def _percentile_infer(op, fn, scale):
    def dtype_kernel(a, q, *rest, **kw):     # q inside NumPy's range on the stand-in, of q's type (a weak scalar stays one)
        inside = type(q)(scale / 2) if isinstance(q, (int, float)) else np.full(np.shape(q), scale / 2, q.dtype)
        return fn(a, inside, *rest, **kw)

    def infer(in_types, attrs):
        _check_method(op, attrs)
        q = in_types[1]
        if isinstance(q, TensorType) and q.dtype.kind not in "biuf":
            raise ShapeError(f"{op}: q must be real numbers, not {q.dtype}")
        shape = shape_of(q) + _reduced(op, in_types[0], attrs["axis"], attrs["keepdims"])
        return [TensorType(standin_dtypes(op, dtype_kernel, in_types, attrs)[0], shape)]
    return infer


def _quantile_kernel(fn):
    def kernel(a, q, weights=None, axis=None, overwrite_input=False, method="linear", keepdims=False):
        return fn(a, q, axis=axis, method=method, keepdims=keepdims, **_given(weights=weights))
    kernel.__name__ = fn.__name__
    return kernel


def _median_kernel(fn):
    def kernel(a, axis=None, overwrite_input=False, keepdims=False):
        return fn(a, axis=axis, keepdims=keepdims)
    kernel.__name__ = fn.__name__
    return kernel


def _q_leading(node):
    q = node.inputs[1].type
    return q.ndim if isinstance(q, TensorType) else 0


# ---- the nan* reductions ------------------------------------------------------------------------------------------

def _nan_kernel(fn):
    def kernel(a, **kw):
        return fn(a, **_given(**kw))
    kernel.__name__ = fn.__name__
    return kernel


def _nan_reduction_shape(op):
    return lambda in_types, attrs: [_reduced(op, in_types[0], attrs["axis"], attrs.get("keepdims", False))]


def _nan_arg_shape(op):
    def shapes(in_types, attrs):
        axis = attrs["axis"]
        if axis is not None and not isinstance(axis, (int, np.integer)):
            raise ShapeError(f"{op}: axis must be None or an int, not {axis!r}")
        return [_reduced(op, in_types[0], axis, attrs["keepdims"])]
    return shapes


def _nan_cumulative_shape(op):
    def shapes(in_types, attrs):
        shape = shape_of(in_types[0])
        if attrs["axis"] is None:
            return [(numel(shape),)]
        normalize_axis(op, attrs["axis"], len(shape))
        return [shape]
    return shapes


# ---- nan_to_num, average, ptp -------------------------------------------------------------------------------------

def _nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    return np.nan_to_num(x, copy=True, nan=nan, posinf=posinf, neginf=neginf)


def _nan_to_num_shape(in_types, attrs):
    if not attrs["copy"]:
        raise ShapeError("np.nan_to_num: copy=False (replacing in place) is not supported: "
                         "write x = np.nan_to_num(x), or x[...] = np.nan_to_num(x) to update x itself")
    return [shape_of(in_types[0])]


def _average(a, weights=None, axis=None, returned=False, keepdims=False):
    return np.average(a, axis=axis, weights=weights, returned=returned, keepdims=keepdims)


def _average_shape(in_types, attrs):
    op = "np.average"
    a = shape_of(in_types[0])
    if len(in_types) > 1 and not isinstance(in_types[1], NoneType):
        w = shape_of(in_types[1])
        if len(w) != len(a) or any(unify_dims(i, j) is None for i, j in zip(w, a)):
            if attrs["axis"] is None:
                raise ShapeError(f"{op}: axis must be specified when shapes of a and weights differ")
            axes = normalize_axes(op, attrs["axis"], len(a))
            if len(w) != len(axes) or any(unify_dims(w[i], a[ax]) is None for i, ax in enumerate(axes)):
                raise ShapeError(f"{op}: shape of weights {w} must be consistent with shape of a along axis")
    out = _reduced(op, in_types[0], attrs["axis"], attrs["keepdims"])
    return [out, out] if attrs["returned"] else [out]


def _ptp(a, axis=None, keepdims=False):
    return np.ptp(a, axis=axis, keepdims=keepdims)


def _decl(name, kernel, infer, params, source, doc, cls=OpDef, **facts):
    facts.setdefault("alias", FRESH)
    return register(cls(name, kernel=kernel, infer=infer, params=params, sources=(source,), doc=doc, **facts))


_RED = dict(flags={"reduction"}, reduction=Reduction(None), shard=sharding.reduction, cost=reduce_cost)
_KW = dict(keyword_only=True)


def _nan_reductions():
    rows = [  # name, params after a
        ("nansum", (attr("axis", None), attr("dtype", None), attr("keepdims", False), attr("initial", None))),
        ("nanprod", (attr("axis", None), attr("dtype", None), attr("keepdims", False), attr("initial", None))),
        ("nanmean", (attr("axis", None), attr("dtype", None), attr("keepdims", False))),
        ("nanvar", (attr("axis", None), attr("dtype", None), attr("ddof", 0), attr("keepdims", False),
                    attr("correction", None, **_KW))),
        ("nanstd", (attr("axis", None), attr("dtype", None), attr("ddof", 0), attr("keepdims", False),
                    attr("correction", None, **_KW))),
        ("nanmin", (attr("axis", None), attr("keepdims", False), attr("initial", None))),
        ("nanmax", (attr("axis", None), attr("keepdims", False), attr("initial", None))),
    ]
    out = []
    for fname, params in rows:
        fn, name = getattr(np, fname), f"np.{fname}"
        kernel = _nan_kernel(fn)
        out.append(_decl(name, kernel, _typed(name, kernel, _nan_reduction_shape(name)), (operand("a"), *params),
                         fn, f"NumPy's {fname}: NaNs are skipped; partial results do not combine (a split along a "
                             "reduced axis is gathered).", **_RED))
    for fname in ("nanargmin", "nanargmax"):
        fn, name = getattr(np, fname), f"np.{fname}"
        kernel = _nan_kernel(fn)
        out.append(_decl(name, kernel, _typed(name, kernel, _nan_arg_shape(name)),
                         (operand("a"), attr("axis", None), attr("keepdims", False, **_KW)), fn,
                         f"NumPy's {fname}: the index of the extreme skipping NaNs (an all-NaN slice is NumPy's "
                         "ValueError at run time).", **_RED))
    for fname in ("nancumsum", "nancumprod"):
        fn, name = getattr(np, fname), f"np.{fname}"
        kernel = _nan_kernel(fn)
        out.append(_decl(name, kernel, _typed(name, kernel, _nan_cumulative_shape(name)),
                         (operand("a"), attr("axis", None), attr("dtype", None)), fn,
                         f"NumPy's {fname}: a scan with NaNs as {'zero' if 'sum' in fname else 'one'}.",
                         shard=sharding.along_other_axis, cost=reduce_cost))
    return out


def _order_statistics():
    out = []
    for fname in ("median", "nanmedian"):
        fn, name = getattr(np, fname), f"np.{fname}"
        kernel = _median_kernel(fn)
        out.append(_decl(name, kernel, _typed(name, kernel, _median_shape(name)),
                         (operand("a"), attr("axis", None), attr("overwrite_input", False),
                          attr("keepdims", False)), fn,
                         f"NumPy's {fname} (overwrite_input is accepted and ignored: the operand is never "
                         "scrambled).", **_RED))
    for fname, scale in (("percentile", 100.0), ("quantile", 1.0), ("nanpercentile", 100.0), ("nanquantile", 1.0)):
        fn, name = getattr(np, fname), f"np.{fname}"
        out.append(_decl(name, _quantile_kernel(fn), _percentile_infer(name, fn, scale),
                         (operand("a"), operand("q"), attr("axis", None), attr("overwrite_input", False),
                          attr("method", "linear"), attr("keepdims", False), _optional("weights", True)), fn,
                         f"NumPy's {fname}: q (a scalar, a list or an array) gives the result's leading dims; "
                         "method is an attribute.", flags={"reduction"}, reduction=Reduction(None),
                         shard=reduction_with_leading(_q_leading), cost=reduce_cost))
    return out


STATS_OPS = {op.name: op for op in [
    _decl("np.cov", _cov, _typed("np.cov", _cov, _cov_shape("np.cov")),
          (operand("m"), _optional("y"), attr("rowvar", True), attr("bias", False), attr("ddof", None),
           _optional("fweights"), _optional("aweights"), attr("dtype", None, **_KW)), np.cov,
          "Covariance matrix of the variables (rows, or columns with rowvar=False), squeezed as NumPy's.",
          cls=OptionalOperandsOpDef),
    _decl("np.corrcoef", _corrcoef, _typed("np.corrcoef", _corrcoef, _cov_shape("np.corrcoef")),
          (operand("x"), _optional("y"), attr("rowvar", True), attr("dtype", None, **_KW)), np.corrcoef,
          "Pearson correlation coefficients (cov normalised by the standard deviations)."),
    *_order_statistics(),
    *_nan_reductions(),
    _decl("np.nan_to_num", _nan_to_num, _typed("np.nan_to_num", _nan_to_num, _nan_to_num_shape),
          (operand("x"), attr("copy", True), attr("nan", 0.0), attr("posinf", None), attr("neginf", None)),
          np.nan_to_num, "NaN and infinities replaced by finite numbers, in a new array (copy=False is refused).", flags={"elementwise"}, shard=sharding.elementwise),
    _decl("np.average", _average, _typed("np.average", _average, _average_shape),
          (operand("a"), attr("axis", None), _optional("weights"), attr("returned", False),
           attr("keepdims", False, **_KW)), np.average,
          "Weighted mean along axis; with returned=True also the sum of the weights.", cls=OptionalOperandsOpDef,
          flags={"reduction"}, reduction=Reduction(None), cost=reduce_cost, shard=sharding.reduction),
    _decl("np.ptp", _ptp, _typed("np.ptp", _ptp, _median_shape("np.ptp")),
          (operand("a"), attr("axis", None), attr("keepdims", False)), np.ptp,
          "Peak to peak: max - min along axis.", **_RED),
]}
