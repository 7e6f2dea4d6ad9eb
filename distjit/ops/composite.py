"""NumPy functions that need no op of their own: traced through a Python implementation in terms of ops.

Many of NumPy's functions are Python code over other NumPy functions (`np.fliplr` is ``m[:, ::-1]``,
`np.column_stack` a concatenate of reshaped columns, `np.append` a ravel and a concatenate). Tracing
runs that code on the traced arrays and records the ops it calls, as JAX defines its NumPy functions
over its primitives: every fact the pipeline needs (types, sharding, cost, templates) is then the
recorded ops', and nothing is declared twice. The implementation is NumPy's own (`_implementation`,
the function behind NEP 18's dispatch), or, where NumPy's code reaches for internals a graph cannot
hold, a few lines here that call the public functions the same way.

While a trace runs, the conversion functions (`np.asarray` & co.) that this code calls are routed
to the tracer (distjit/frontend/patching.py reads `implementation_modules`). A composite whose code
turns out to need something unsupported fails with that op's own message, naming the user's line.
"""
from __future__ import annotations

import numpy as np

# NumPy functions whose own implementation traces into supported ops.
_OWN = [
    np.fliplr, np.flipud, np.rot90, np.column_stack, np.hsplit, np.vsplit, np.dsplit, np.append,
    np.iscomplexobj, np.isrealobj, np.sinc, np.rollaxis, np.isneginf, np.isposinf, np.matrix_transpose,
    np.sort_complex, np.fix, np.extract,
    np.flatnonzero, np.union1d, np.intersect1d,
]


def _unique_values(x):
    return np.unique(x, equal_nan=False, sorted=False)


def _unique_counts(x):
    from numpy.lib._arraysetops_impl import UniqueCountsResult
    return UniqueCountsResult(*np.unique(x, return_counts=True, equal_nan=False, sorted=False))


def _unique_inverse(x):
    from numpy.lib._arraysetops_impl import UniqueInverseResult
    values, inverse = np.unique(x, return_inverse=True, equal_nan=False, sorted=False)
    return UniqueInverseResult(values, inverse)


def _unique_all(x):
    from numpy.lib._arraysetops_impl import UniqueAllResult
    return UniqueAllResult(*np.unique(x, return_index=True, return_inverse=True, return_counts=True,
                                      equal_nan=False, sorted=False))


def _setdiff1d(ar1, ar2, assume_unique=False):
    """NumPy's picks its isin method by the values' range (a table for small integer ranges); the result is
    the same sorted, unique values of ar1 not in ar2."""
    if assume_unique:
        ar1 = np.ravel(ar1)
    else:
        ar1, ar2 = np.unique(ar1), np.unique(ar2)
    return ar1[~np.isin(ar1, ar2, assume_unique=True)]


def _unwrap(p, discont=None, axis=-1, *, period=2 * np.pi):
    """NumPy's code, with np.where for its masked np.copyto (an in-place write of a scalar where a mask holds)."""
    p = np.asarray(p)
    dd = np.diff(p, axis=axis)
    if discont is None:
        discont = period / 2
    slice1 = [slice(None, None)] * p.ndim
    slice1[axis] = slice(1, None)
    slice1 = tuple(slice1)
    dtype = np.result_type(dd.dtype, period)
    if np.issubdtype(dtype, np.integer):
        interval_high, rem = divmod(period, 2)
        boundary_ambiguous = rem == 0
    else:
        interval_high = period / 2
        boundary_ambiguous = True
    interval_low = -interval_high
    ddmod = np.mod(dd - interval_low, period) + interval_low
    if boundary_ambiguous:
        ddmod = np.where((ddmod == interval_low) & (dd > 0), np.asarray(interval_high, ddmod.dtype), ddmod)
    ph_correct = ddmod - dd
    ph_correct = np.where(abs(dd) < discont, np.zeros((), ph_correct.dtype), ph_correct)
    up = np.array(p, copy=True, dtype=dtype)
    up[slice1] = p[slice1] + ph_correct.cumsum(axis)
    return up


def _argwhere(a):
    """NumPy's transposes the tuple np.nonzero gives, converting it in C: the transpose of the stacked rows, the
    same (k, a.ndim) array in the same column-major layout (a reduction over its rows then reads rows)."""
    if np.ndim(a) == 0:     # as NumPy's: no columns, a row if a is true
        return np.transpose(np.stack(np.nonzero(np.atleast_1d(a))))[:, :0]
    return np.transpose(np.stack(np.nonzero(a)))


def _triu_indices(n, k=0, m=None):
    """The indices of ~tri(n, m, k - 1) in row-major order, as NumPy's (which gathers them by a mask)."""
    return tuple(np.nonzero(~np.tri(n, m, k=k - 1, dtype=bool)))


def _tril_indices(n, k=0, m=None):
    return tuple(np.nonzero(np.tri(n, m, k=k, dtype=bool)))


def _triu_indices_from(arr, k=0):
    if np.ndim(arr) != 2:
        raise ValueError("input array must be 2-d")
    return _triu_indices(arr.shape[-2], k=k, m=arr.shape[-1])


def _tril_indices_from(arr, k=0):
    if np.ndim(arr) != 2:
        raise ValueError("input array must be 2-d")
    return _tril_indices(arr.shape[-2], k=k, m=arr.shape[-1])


_WRITTEN = {
    np.triu_indices_from: _triu_indices_from,
    np.tril_indices_from: _tril_indices_from,
    np.setdiff1d: _setdiff1d,
    np.unwrap: _unwrap,
    np.argwhere: _argwhere,
    np.triu_indices: _triu_indices,
    np.tril_indices: _tril_indices,
    np.unique_values: _unique_values,
    np.unique_counts: _unique_counts,
    np.unique_inverse: _unique_inverse,
    np.unique_all: _unique_all,
}

_IMPLEMENTATIONS = {id(f): getattr(f, "_implementation", None) for f in _OWN}
_IMPLEMENTATIONS.update((id(f), impl) for f, impl in _WRITTEN.items())
_KEEP = [*_OWN, *_WRITTEN]   # keeps the ids above unique


def implementation(func):
    """The Python function a call of `func` is traced through, or None."""
    try:
        return _IMPLEMENTATIONS.get(id(func))
    except TypeError:
        return None


def implementation_modules() -> list[dict]:
    """The global namespaces of NumPy's implementations above, and of the modules that NumPy's own functions
    convert their arguments in (fromnumeric's `_wrapit`, `np.transpose` of a tuple), whose conversion calls the
    tracer must see."""
    import numpy._core.fromnumeric as fromnumeric
    import numpy._core.numeric as numeric
    import numpy._core.shape_base as shape_base

    seen: dict[int, dict] = {id(vars(m)): vars(m) for m in (fromnumeric, numeric, shape_base)}
    for f in _OWN:
        impl = getattr(f, "_implementation", None)
        g = getattr(impl, "__globals__", None)
        if g is not None:
            seen.setdefault(id(g), g)
    return list(seen.values())
