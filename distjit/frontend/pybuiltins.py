"""Python's `min` and `max` while a trace runs, for traced numbers and arrays.

The builtins compare their arguments with `>`/`<` and branch on the answer, which
needs values a trace does not have. These stand-ins record the same choice as data:
`py.max` for traced Python numbers, and for arrays a chain of
`np.where(item > best, item, best)`, which is exactly Python's rule (the first of equal
items wins; a NaN stays where Python would leave it). They are installed in the
user's global namespaces for the duration of a trace (patching.py), and they call the
builtins whenever no traced value is involved.
"""
from __future__ import annotations

import builtins
import operator

import numpy as np

from distjit.frontend.proxy import TracedArray, is_python_scalar

_MISSING = object()


def _extremum(builtin, compare, scalar_op):
    def choose(*args, key=None, default=_MISSING):
        if len(args) == 1:
            items = list(args[0])
        else:
            items = list(args)
        if not items or not any(isinstance(v, TracedArray) for v in items):
            kwargs = {} if default is _MISSING else {"default": default}
            return builtin(*args, **kwargs) if key is None else builtin(*args, key=key, **kwargs)
        best, best_key = items[0], key(items[0]) if key else items[0]
        for item in items[1:]:
            item_key = key(item) if key else item
            if not any(isinstance(v, TracedArray) for v in (best, item, best_key, item_key)):
                if compare(item_key, best_key):
                    best, best_key = item, item_key
                continue
            if key is None and is_python_scalar(best) and is_python_scalar(item):
                best = scalar_op(best, item)
            else:
                beyond = compare(item_key, best_key)
                best = np.where(beyond, item, best)
                if key is not None:
                    best_key = np.where(beyond, item_key, best_key)
            best_key = best if key is None else best_key
        return best
    choose.__name__ = builtin.__name__
    choose.__wrapped__ = builtin
    return choose


def _scalar(name):
    def op(a, b):
        ctx = (a if isinstance(a, TracedArray) else b)._ctx
        return ctx.scalar(getattr(builtins, name), (a, b))
    return op


STAND_INS = {
    "max": _extremum(builtins.max, operator.gt, _scalar("max")),
    "min": _extremum(builtins.min, operator.lt, _scalar("min")),
}
