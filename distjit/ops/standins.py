"""What the numeric op families (decompositions, fft, stats, signal) share: dtypes by stand-in, optional operands.

Their dtypes come from NumPy by running the kernel on a tiny stand-in, as
`infer.dtype_by_example` does, but these functions reject its all-ones size-1
stand-ins (irfft of one point has zero outputs, gradient needs two points, a 1x1
ones matrix is fine but a 2x2 one is singular): the stand-ins here have a chosen
side and, for matrices, are the identity plus a little, so that every decomposition
succeeds and the dtype is the one NumPy gives real data.
"""
from __future__ import annotations

import functools
import warnings

import numpy as np

from distjit.errors import ShapeError, TracingError
from distjit.types import NoneType, Ref, ScalarType, TensorType, iter_refs
from distjit.ops.infer import _freeze, _thaw
from distjit.ops.registry import Kind, OpDef


def standin(t, side: int = 2, matrix: bool = False):
    """A stand-in of type `t` with every dim `side` (`matrix`: a well-conditioned stack of matrices)."""
    if isinstance(t, TensorType):
        shape = (side,) * t.ndim
        if matrix and t.ndim >= 2:
            eye = np.eye(side) * 2 + 0.25
            return np.broadcast_to(eye, shape).astype(t.dtype)
        return (np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) % 3 + 1).astype(t.dtype)
    if isinstance(t, ScalarType):
        return t.pytype(1)
    if isinstance(t, NoneType):
        return None
    raise TypeError(f"no stand-in for {t}")


def standin_dtypes(op: str, kernel, in_types, attrs: dict, side: int = 2, matrix: bool = False) -> list[np.dtype]:
    """The dtypes of `kernel`'s results on stand-ins; a combination NumPy rejects is a ShapeError naming `op`.
    An attribute given at run time (a `Ref` to an input, as a script's ``x.shape[1]``) gets a stand-in too."""
    refs = set(iter_refs(attrs))
    if refs:
        def replace(v):
            if isinstance(v, Ref):
                return standin(in_types[v.index], side)
            return type(v)(replace(x) for x in v) if isinstance(v, (list, tuple)) else v
        attrs = {k: replace(v) for k, v in attrs.items()}
        in_types = [t for i, t in enumerate(in_types) if i not in refs]
    try:
        try:
            key = (kernel, tuple(in_types), _freeze(attrs), side, matrix)
            hash(key)
        except TypeError:
            return _run(kernel, list(in_types), attrs, side, matrix)
        return _cached(key)
    except (TypeError, ValueError, ArithmeticError) as e:
        types = ", ".join(str(t) for t in in_types)
        raise ShapeError(f"{op}: not supported for inputs ({types}): {e}") from None


@functools.lru_cache(maxsize=2048)
def _cached(key):
    kernel, in_types, attrs, side, matrix = key
    return _run(kernel, list(in_types), {k: _thaw(v) for k, v in attrs}, side, matrix)


def _run(kernel, in_types, attrs, side, matrix):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        out = kernel(*[standin(t, side, matrix) for t in in_types], **attrs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [np.asarray(o).dtype for o in outs]


class OptionalOperandsOpDef(OpDef):
    """An op with several array arguments NumPy lets one omit (np.cov's y, fweights and aweights).

    Operands bind by position, so an omitted optional operand before a given one is
    bound as an explicit None (a None operand, see NOTE: [optional array arguments] in
    distjit/ops/misc.py); trailing omitted ones are left out, as for one optional operand.
    """

    def bind(self, args, kwargs):
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as e:
            accepted = ", ".join(p.name for p in self.params)
            raise TracingError(f"{self.name}: {e} (it accepts: {accepted})") from None
        given = [i for i, p in enumerate(self.params) if p.kind is Kind.OPERAND and p.name in bound.arguments]
        last = max(given, default=-1)
        filled = dict(bound.arguments)
        for i, p in enumerate(self.params):
            if p.kind is Kind.OPERAND and i < last and p.name not in filled:
                filled[p.name] = None
        return super().bind((), filled)
