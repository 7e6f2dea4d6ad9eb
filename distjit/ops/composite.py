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
    np.flatnonzero,
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


_WRITTEN = {
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
