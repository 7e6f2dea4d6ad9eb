"""Signals and numerics: convolve, correlate, interp, polyval, trapezoid, gradient, histogram, histogram2d,
bincount, digitize.

Kernels are NumPy's functions; what is written here is the shape of each result,
which must not depend on the data.

NOTE: [histogram's bins]
`bins` is an int (the count: the shape is static whether or not `range` is given)
or an array of edges (the shape follows the array's). The two bind differently:
an int is an attribute, an array an operand (`edges`), so the traced edges may be
computed. A string (NumPy's 'auto', 'fd' …) chooses the count from the data and is
refused, with the alternative: pick the count (``bins=n``) or compute the edges.

NOTE: [bincount's length]
NumPy's `np.bincount(x)` has max(x) + 1 entries: a length read off the data, which
a typed graph cannot give its result. distjit requires `minlength=` and takes it as
a declared bound (JAX's `length=`): the result has exactly minlength entries, which
is NumPy's answer whenever every value is below minlength, and a value at or above
it is a `ShapeError` at run time rather than a silently longer array. Without
minlength the call is a ShapeError that spells out both ways out: pass a bound, or
use np.histogram with integer bins.
"""
from __future__ import annotations

import numpy as np

from distjit.errors import ShapeError, TracingError
from distjit.types import NoneType, Ref, TensorType
from distjit.ops.infer import (broadcast_shapes, fmt_shape, fresh_dim, normalize_axis, operand_types, shape_of,
                               unify_dims)
from distjit.ops.linalg import _bytes, _prod
from distjit.ops.registry import FRESH, Cost, Kind, OpDef, Param, attr, operand, register
from distjit.ops.sharding_numeric import follows_first
from distjit.ops.standins import OptionalOperandsOpDef, standin_dtypes


def _optional(name: str, keyword_only: bool = False) -> Param:
    return Param(name, Kind.OPERAND, None, keyword_only)


def _given(t) -> bool:
    return t is not None and not isinstance(t, NoneType)


def _typed(op, kernel, shapes, side=3):
    """An infer function: shapes by `shapes(operand types, attrs)` (inputs that attributes reference by Ref, as a
    count given at run time, left out), dtypes by NumPy on stand-ins."""
    def infer(in_types, attrs):
        out_shapes = shapes(operand_types(in_types, attrs), attrs)
        return [TensorType(d, s) for d, s in zip(standin_dtypes(op, kernel, in_types, attrs, side=side), out_shapes)]
    return infer


def _vector(op, t, what) -> object:
    shape = shape_of(t)
    if len(shape) > 1:
        raise ShapeError(f"{op}: {what} must be one-dimensional, got shape {fmt_shape(shape)}")
    return shape[0] if shape else 1


# ---- convolve, correlate --------------------------------------------------------------------------------------

def _sliding_shape(op):
    def shapes(in_types, attrs):
        n, m = _vector(op, in_types[0], "a"), _vector(op, in_types[1], "v")
        mode = attrs["mode"]
        if mode not in ("full", "same", "valid"):
            raise ShapeError(f"{op}: mode must be 'full', 'same' or 'valid', not {mode!r}")
        if n == 0 or m == 0:
            raise ShapeError(f"{op}: {'a' if n == 0 else 'v'} cannot be empty")
        if not (isinstance(n, int) and isinstance(m, int)):
            return [(fresh_dim(),)]
        return [({"full": n + m - 1, "same": max(n, m), "valid": max(n, m) - min(n, m) + 1}[mode],)]
    return shapes


def _sliding_cost(in_types, out_types, attrs):
    return Cost(flops=2.0 * _prod(shape_of(in_types[0])) * _prod(shape_of(in_types[1])),
                bytes=_bytes([*in_types, *out_types]))


def _convolve(a, v, mode="full"):
    return np.convolve(a, v, mode=mode)


def _correlate(a, v, mode="valid"):
    return np.correlate(a, v, mode=mode)


# ---- interp, polyval, trapezoid -----------------------------------------------------------------------------

def _interp(x, xp, fp, left=None, right=None, period=None):
    return np.interp(x, xp, fp, left=left, right=right, period=period)


def _interp_shape(in_types, attrs):
    op = "np.interp"
    nxp, nfp = _vector(op, in_types[1], "xp"), _vector(op, in_types[2], "fp")
    if not shape_of(in_types[1]) or not shape_of(in_types[2]):
        raise ShapeError(f"{op}: xp and fp must be one-dimensional sequences")
    if unify_dims(nxp, nfp) is None:
        raise ShapeError(f"{op}: fp and xp are not of the same length ({nfp} and {nxp})")
    if attrs["period"] == 0:
        raise ShapeError(f"{op}: period must be a non-zero value")
    return [shape_of(in_types[0])]


def _polyval_shape(in_types, attrs):
    p = shape_of(in_types[0])
    if not p:
        raise ShapeError("np.polyval: p must be a sequence of coefficients (at least one-dimensional)")
    return [broadcast_shapes("np.polyval", shape_of(in_types[1]), p[1:])]


def _trapezoid(y, x=None, dx=1.0, axis=-1):
    return np.trapezoid(y, x, dx=dx, axis=axis)


def _trapezoid_shape(in_types, attrs):
    op = "np.trapezoid"
    shape = shape_of(in_types[0])
    if not shape:
        raise ShapeError(f"{op}: y must be at least one-dimensional")
    axis = normalize_axis(op, attrs["axis"], len(shape))
    if len(in_types) > 1 and _given(in_types[1]):
        xs = shape_of(in_types[1])
        if len(xs) == 1:
            if unify_dims(xs[0], shape[axis]) is None:
                raise ShapeError(f"{op}: x of length {xs[0]} does not match y's axis {axis} of length {shape[axis]}")
        else:
            broadcast_shapes(op, xs, shape)
    return [shape[:axis] + shape[axis + 1:]]


# ---- gradient -----------------------------------------------------------------------------------------------

class _VarargsOpDef(OpDef):
    """np.gradient(f, *varargs, axis=, edge_order=): the spacings are variadic operands."""

    def bind(self, args, kwargs):
        if "varargs" in kwargs:
            raise TracingError(f"{self.name}: pass the spacings positionally, as NumPy does")
        if args:
            args = (args[0], list(args[1:]))
        return super().bind(args, {**kwargs} if args else {**kwargs, "varargs": []})


def _gradient(f, *varargs, axis=None, edge_order=1):
    return np.gradient(f, *varargs, axis=axis, edge_order=edge_order)


def _gradient_shapes(in_types, attrs):
    op = "np.gradient"
    shape = shape_of(in_types[0])
    if not shape:
        raise ShapeError(f"{op}: f must be at least one-dimensional")
    axis = attrs["axis"]
    axes = tuple(range(len(shape))) if axis is None else \
        tuple(normalize_axis(op, a, len(shape)) for a in (axis if isinstance(axis, (tuple, list)) else (axis,)))
    if attrs["edge_order"] not in (1, 2):
        raise ShapeError(f"{op}: edge_order {attrs['edge_order']!r} is not 1 or 2")
    spacing = in_types[1:]
    if len(spacing) not in (0, 1, len(axes)):
        raise ShapeError(f"{op}: {len(spacing)} spacings given for {len(axes)} axes (0, 1 or one per axis)")
    for a in axes:
        if isinstance(shape[a], int) and shape[a] < attrs["edge_order"] + 1:
            raise ShapeError(f"{op}: shape {fmt_shape(shape)} is too small along axis {a} for a gradient "
                             f"(at least edge_order + 1 = {attrs['edge_order'] + 1} elements)")
    for k, t in enumerate(spacing if len(spacing) == len(axes) else []):
        s = shape_of(t)
        if len(s) > 1 or len(s) == 1 and unify_dims(s[0], shape[axes[k]]) is None:
            raise ShapeError(f"{op}: the spacing for axis {axes[k]} must be a scalar or of length {shape[axes[k]]}")
    return [shape] * len(axes)


# ---- histogram, histogram2d, bincount, digitize -------------------------------------------------------------------

class _HistogramOpDef(OpDef):
    """np.histogram: an int `bins` is an attribute, edges are an operand (NOTE: [histogram's bins])."""

    def bind(self, args, kwargs):
        args, kwargs = list(args), dict(kwargs)
        bins = args.pop(1) if len(args) > 1 else kwargs.pop("bins", 10)
        rest = dict(zip(("range", "density", "weights"), args[1:]))
        kwargs.update(rest)
        args = args[:1]
        if isinstance(bins, np.ndarray) and bins.ndim == 0 and bins.dtype.kind in "iu":
            bins = int(bins)
        if isinstance(bins, (int, np.integer, str)) and not isinstance(bins, bool):
            kwargs["bins"] = bins if isinstance(bins, str) else int(bins)    # a string is refused by infer
            edges = None
        elif _run_time_int(bins):
            kwargs["bins"] = bins        # the frontend makes it a Ref: the count is known only at run time
            edges = None
        else:
            edges = bins
        weights = kwargs.pop("weights", None)
        ops, attrs = OpDef.bind(self, [*args, edges, weights] if weights is not None else
                                ([*args, edges] if edges is not None else args), kwargs)
        return ops, attrs


def _run_time_int(x) -> bool:
    """A traced 0-d int (a count passed as a function argument): not a NumPy array, so not an array of edges."""
    dtype = getattr(x, "dtype", None)
    return not isinstance(x, np.ndarray) and getattr(x, "ndim", None) == 0 and dtype is not None \
        and np.dtype(dtype).kind in "iu"


def _histogram(a, edges=None, weights=None, bins=10, range=None, density=None):
    counts, bin_edges = np.histogram(a, bins=bins if edges is None else edges, range=range, density=density,
                                     weights=weights)
    # Given edges come back as the same array; the op is declared fresh, so the result is a copy.
    return counts, (bin_edges.copy() if bin_edges is edges else bin_edges)


def _histogram_shapes(in_types, attrs):
    op = "np.histogram"
    if len(in_types) > 1 and _given(in_types[1]):
        e = shape_of(in_types[1])
        if len(e) != 1:
            raise ShapeError(f"{op}: bins must be an int or a 1-D array of edges, got shape {fmt_shape(e)}")
        n = e[0] - 1 if isinstance(e[0], int) else fresh_dim()
        edges = e[0]
    elif isinstance(attrs["bins"], Ref):
        n, edges = fresh_dim(), fresh_dim()      # a count given at run time
    elif isinstance(attrs["bins"], str):
        raise ShapeError(f"{op}: bins={attrs['bins']!r} chooses the number of bins from the data, so the result's "
                         "shape would depend on it; pass the count (bins=n) or an array of edges")
    else:
        if attrs["bins"] < 1:
            raise ShapeError(f"{op}: bins must be positive, not {attrs['bins']}")
        n, edges = attrs["bins"], attrs["bins"] + 1
    r = attrs["range"]
    if r is not None and (len(r) != 2 or r[0] > r[1]):
        raise ShapeError(f"{op}: range must be a pair (min, max) with min <= max, not {r!r}")
    if len(in_types) > 2 and _given(in_types[2]) and shape_of(in_types[2]) != shape_of(in_types[0]):
        raise ShapeError(f"{op}: weights of shape {fmt_shape(shape_of(in_types[2]))} do not match a's "
                         f"{fmt_shape(shape_of(in_types[0]))}")
    return [(n,), (edges,)]


def _histogram2d(x, y, weights=None, bins=10, range=None, density=None):
    return tuple(np.histogram2d(x, y, bins=bins, range=range, density=density, weights=weights))


def _histogram2d_shapes(in_types, attrs):
    op = "np.histogram2d"
    bins = attrs["bins"]
    counts = (bins, bins) if isinstance(bins, (int, np.integer)) else tuple(bins) if isinstance(bins, (list, tuple)) \
        else None
    if counts is None or len(counts) != 2 or not all(isinstance(b, (int, np.integer)) and b >= 1 for b in counts):
        raise ShapeError(f"{op}: bins must be an int or a pair of ints here (arrays of edges are not supported: "
                         "use np.histogram with edges along each axis), not {bins!r}")
    nx, ny = _vector(op, in_types[0], "x"), _vector(op, in_types[1], "y")
    if unify_dims(nx, ny) is None:
        raise ShapeError(f"{op}: x and y must have the same length ({nx} and {ny})")
    return [tuple(counts), (counts[0] + 1,), (counts[1] + 1,)]


def _bincount(x, weights=None, minlength=0):
    out = np.bincount(x, weights=weights, minlength=minlength)
    if len(out) > minlength:
        raise ShapeError(f"np.bincount: a value ({len(out) - 1}) is not below the declared minlength={minlength} "
                         "(NOTE: [bincount's length]); raise minlength to a bound of max(x) + 1")
    return out


def _bincount_shapes(in_types, attrs):
    op = "np.bincount"
    x = in_types[0]
    if not isinstance(x, TensorType) or x.ndim != 1 or x.dtype.kind not in "iub":
        raise ShapeError(f"{op}: x must be a 1-D array of non-negative ints, got {x}")
    n = attrs["minlength"]
    if isinstance(n, Ref):
        return [(fresh_dim(),)]      # a bound given at run time (an int argument): the length is known then
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
        raise ShapeError(f"{op}: the result's length is max(x) + 1, read off the data; pass minlength=N, a bound "
                         f"above every value of x (the result then has exactly N entries, as NumPy's when every "
                         f"value is below N, and a larger value is an error at run time), or count with "
                         f"np.histogram(x, bins=N, range=(0, N)); minlength={n!r} given")
    if len(in_types) > 1 and _given(in_types[1]) and unify_dims(shape_of(in_types[1])[0] if shape_of(in_types[1])
                                                               else None, x.shape[0]) is None:
        raise ShapeError(f"{op}: weights and x must have the same length")
    return [(int(n),)]


def _bincount_dtypes_kernel(x, weights=None, minlength=0):
    return np.bincount(x, weights=weights, minlength=minlength)


def _digitize(x, bins, right=False):
    return np.digitize(x, bins, right=right)


def _digitize_shapes(in_types, attrs):
    b = shape_of(in_types[1])
    if len(b) != 1:
        raise ShapeError(f"np.digitize: bins must be a 1-D array, got shape {fmt_shape(b)}")
    if isinstance(in_types[0], TensorType) and in_types[0].dtype.kind == "c":
        raise ShapeError("np.digitize: x may not be complex")
    return [shape_of(in_types[0])]


def _decl(name, kernel, infer, params, source, doc, cls=OpDef, **facts):
    return register(cls(name, kernel=kernel, infer=infer, params=params, sources=(source,), alias=FRESH,
                        doc=doc, **facts))


def _bincount_infer(in_types, attrs):
    in_types = operand_types(in_types, attrs)
    shapes = _bincount_shapes(in_types, attrs)
    dtype = standin_dtypes("np.bincount", _bincount_dtypes_kernel, in_types, {"minlength": 1}, side=1)[0]
    return [TensorType(dtype, shapes[0])]


SIGNAL_OPS = {op.name: op for op in [
    _decl("np.convolve", _convolve, _typed("np.convolve", _convolve, _sliding_shape("np.convolve")),
          (operand("a"), operand("v"), attr("mode", "full")), np.convolve,
          "Discrete linear convolution of two 1-D sequences (modes full, same, valid); replicated.",
          cost=_sliding_cost),
    _decl("np.correlate", _correlate, _typed("np.correlate", _correlate, _sliding_shape("np.correlate")),
          (operand("a"), operand("v"), attr("mode", "valid")), np.correlate,
          "Cross-correlation of two 1-D sequences (modes full, same, valid; v is conjugated); replicated.",
          cost=_sliding_cost),
    _decl("np.interp", _interp, _typed("np.interp", _interp, _interp_shape),
          (operand("x"), operand("xp"), operand("fp"), _optional("left"), _optional("right"), attr("period", None)),
          np.interp, "Piecewise-linear interpolation of (xp, fp) at x; x's split stays, the table is gathered.",
          cls=OptionalOperandsOpDef, shard=follows_first),
    _decl("np.polyval", np.polyval, _typed("np.polyval", np.polyval, _polyval_shape), (operand("p"), operand("x")),
          np.polyval, "Polynomial with coefficients p (highest power first) evaluated at x by Horner's rule."),
    _decl("np.trapezoid", _trapezoid, _typed("np.trapezoid", _trapezoid, _trapezoid_shape),
          (operand("y"), _optional("x"), attr("dx", 1.0), attr("axis", -1)), np.trapezoid,
          "Integral of y along axis by the trapezoidal rule (sample points x, or spacing dx)."),
    _decl("np.gradient", _gradient, _typed("np.gradient", _gradient, _gradient_shapes),
          (operand("f"), Param("varargs", Kind.OPERANDS, ()), attr("axis", None, keyword_only=True),
           attr("edge_order", 1, keyword_only=True)), np.gradient,
          "Second-order central differences inside, one-sided at the edges: one array per axis (a tuple for "
          "several).", cls=_VarargsOpDef),
    _decl("np.histogram", _histogram, _typed("np.histogram", _histogram, _histogram_shapes),
          (operand("a"), _optional("edges"), _optional("weights"), attr("bins", 10), attr("range", None),
           attr("density", None)), np.histogram,
          "(counts, edges) of a histogram; bins is a count or an array of edges (NOTE: [histogram's bins]).",
          cls=_HistogramOpDef),
    _decl("np.histogram2d", _histogram2d, _typed("np.histogram2d", _histogram2d, _histogram2d_shapes),
          (operand("x"), operand("y"), attr("bins", 10), attr("range", None), attr("density", None),
           _optional("weights")), np.histogram2d,
          "(H, xedges, yedges) of a 2-D histogram with an int or a pair of int bin counts."),
    _decl("np.bincount", _bincount, _bincount_infer,
          (operand("x"), _optional("weights"), attr("minlength", 0)), np.bincount,
          "Counts of each value of x (weighted sums with weights), of exactly minlength entries: minlength "
          "is required as a bound, since NumPy's length is read off the data (NOTE: [bincount's length]). A "
          "value of x at or above it is an error at run time."),
    _decl("np.digitize", _digitize, _typed("np.digitize", _digitize, _digitize_shapes),
          (operand("x"), operand("bins"), attr("right", False)), np.digitize,
          "Index of the bin of each x (right: intervals closed on the right); x's split stays.",
          shard=follows_first),
]}
