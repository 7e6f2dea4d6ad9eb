"""Calls in scripted code: which callee is compiled along, which runs as Python, which is refused.

Scripted and traced functions are embedded, the user's own Python functions are
compiled too (their source is read), NumPy is traced, and a few builtins get a
traced meaning (`len`, `int`/`float`/`bool` of a 0-d array, `min`/`max` of two
numbers). Anything else runs as Python, and is a ScriptError when given traced
values: it could not compute on them.
"""
from __future__ import annotations

import builtins
import inspect
import os
import sysconfig

import numpy as np

from distjit.errors import DistJitError, TracingError
from distjit.frontend.proxy import TracedArray
from distjit.frontend.script_context import Undefined, active
from distjit.frontend.script_convert import Site, site_error
from distjit.frontend.script_if import ifexp
from distjit.ops import REGISTRY
from distjit.types import TensorType

_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__)) + os.sep
_DISTJIT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_LIBRARY_DIRS = tuple({os.path.abspath(p) + os.sep for key in ("stdlib", "platstdlib", "purelib", "platlib")
                       if (p := sysconfig.get_paths().get(key))})


def _is_user_function(fn) -> bool:
    if not inspect.isfunction(fn):
        return False
    file = os.path.abspath(fn.__code__.co_filename)
    if file.startswith(_NUMPY_DIR) or file.startswith(_DISTJIT_DIR):
        return False
    return not file.startswith(_LIBRARY_DIRS) or "/tests/" in file


def _has_traced(args, kwargs) -> bool:
    def any_traced(x):
        if isinstance(x, TracedArray):
            return True
        if isinstance(x, (tuple, list)):
            return any(any_traced(o) for o in x)
        if isinstance(x, dict):
            return any(any_traced(o) for o in x.values())
        return False
    return any_traced(args) or any_traced(kwargs)


def _is_numpy_callable(fn) -> bool:
    if isinstance(fn, np.ufunc):
        return True
    module = getattr(fn, "__module__", None) or ""
    if module.startswith("numpy") or module.startswith("distjit"):
        return True
    self = getattr(fn, "__self__", None)
    if isinstance(self, (TracedArray, np.ndarray, np.generic, np.ufunc)) or self is np or self is np.random:
        return True
    return isinstance(fn, type) and issubclass(fn, np.generic)


def _len(site, x):
    if isinstance(x, TracedArray):
        if x.ndim == 0:
            raise site_error(site, "len() of a 0-d array")
        return x.shape[0]
    return len(x)


def _convert_scalar(pytype):
    def convert(site, x=0, *rest):
        if isinstance(x, TracedArray):
            t = x.type
            if isinstance(t, TensorType) and t.ndim != 0:
                raise site_error(site, f"{pytype.__name__}() of an array ({t}): only a 0-d array or a number "
                                       f"converts", "reduce it first (x.sum(), x[0])")
            return x._ctx.scalar(pytype, (x,))
        return pytype(x, *rest)
    return convert


def _minmax(pick_second_if):
    def minmax(site, *args, **kwargs):
        if len(args) == 2 and not kwargs and _has_traced(args, {}):
            a, b = args
            return ifexp(pick_second_if(a, b), lambda: b, lambda: a, site)
        if _has_traced(args, kwargs):
            raise site_error(site, "min()/max() of traced values is supported for exactly two numbers",
                             "use np.minimum/np.maximum, or x.min()/x.max()")
        return (builtins.min if pick_second_if is _lt else builtins.max)(*args, **kwargs)
    return minmax


def _lt(a, b):
    return b < a


def _gt(a, b):
    return b > a


_BUILTINS = {
    builtins.len: _len,
    builtins.float: _convert_scalar(float),
    builtins.int: _convert_scalar(int),
    builtins.bool: _convert_scalar(bool),
    builtins.min: _minmax(_lt),
    builtins.max: _minmax(_gt),
}


def call(fn, site: Site, *args, **kwargs):
    """A call in scripted code: scripted and traced functions are embedded, user functions are compiled too."""
    from distjit.frontend.script import ScriptFunction, inline_function, inline_traced
    from distjit.function import Function

    ctx = active()
    if isinstance(fn, Undefined):
        fn._fail()
    if isinstance(fn, ScriptFunction):
        return inline_function(ctx, fn.fn, args, kwargs, site)
    if isinstance(fn, Function):
        return inline_traced(ctx, fn, args, kwargs, site)
    special = _BUILTINS.get(fn) if _hashable(fn) else None
    if special is not None:
        return special(site, *args, **kwargs)
    if REGISTRY.for_source(fn) is not None:      # a custom op: called, so that it records its node
        return _run(fn, site, args, kwargs)
    if _is_user_function(fn):
        return inline_function(ctx, fn, args, kwargs, site)
    if _has_traced(args, kwargs) and not _is_numpy_callable(fn):
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
        module = getattr(fn, "__module__", None)
        qual = f"{module}.{name}" if module and module != "builtins" else name
        raise site_error(site, f"calling {qual} on traced values is not supported: distjit compiles NumPy functions, "
                               f"array methods, scripted and traced functions, and Python functions whose source it "
                               f"can read", "use the NumPy equivalent, or wrap your own helper with distjit.script")
    return _run(fn, site, args, kwargs)


def _run(fn, site: Site, args, kwargs):
    try:
        return fn(*args, **kwargs)
    except (DistJitError, AssertionError):
        raise
    except TracingError as e:
        raise site_error(site, str(e).split(": ", 1)[-1] if e.loc else str(e)) from None


def _hashable(fn) -> bool:
    try:
        hash(fn)
        return True
    except TypeError:
        return False
