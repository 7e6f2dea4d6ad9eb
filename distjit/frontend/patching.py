"""NumPy functions replaced while a trace runs.

Array creation (`np.zeros(n)`, `np.fft.fftfreq(n, d)`) has no array argument, so NumPy's
dispatch never reaches the tracer: without this, the array would be made at trace time and a
later `a[i] = traced` could not be recorded. `np.random` is refused, never baked.
Like torch.fx's patcher, we swap module attributes (and the user's globals that
alias them) for the duration of the trace only; tracing holds a lock for it.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading

import numpy as np

from distjit.errors import TracingError
from distjit.frontend.source import user_loc
from distjit.ops import composite

CREATION = ("zeros", "ones", "empty", "full", "arange", "linspace", "eye", "identity", "tri", "indices")
CONVERSION = ("array", "asarray", "asanyarray", "ascontiguousarray")
FFT_FREQUENCIES = ("fftfreq", "rfftfreq")    # np.fft's creation functions: a length, no array argument
_RANDOM_KEEP = {"default_rng", "Generator", "RandomState", "SeedSequence", "BitGenerator", "PCG64",
                "MT19937", "Philox", "SFC64", "PCG64DXSM", "bit_generator", "mtrand"}

_lock = threading.RLock()
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__)) + os.sep


def _random_refusal(name: str):
    def refuse(*args, **kwargs):
        raise TracingError(
            f"np.random.{name} inside a traced function would bake one draw of random numbers into the graph; "
            f"draw them outside and pass them as an input", user_loc())
    return refuse


@contextlib.contextmanager
def patched(ctx, user_globals: dict | None):
    """Route creation and conversion calls to `ctx`, refuse np.random, for the duration of a trace."""
    replacements: dict[tuple[object, str], object] = {}
    for name in CREATION:
        original = getattr(np, name)
        replacements[(np, name)] = _creation(ctx, original)
    for name in CONVERSION:
        original = getattr(np, name)
        replacements[(np, name)] = _conversion(ctx, original, copy=name == "array")
    for name in FFT_FREQUENCIES:
        replacements[(np.fft, name)] = _creation(ctx, getattr(np.fft, name))
    for name in dir(np.random):
        if not name.startswith("_") and name not in _RANDOM_KEEP and callable(getattr(np.random, name)):
            replacements[(np.random, name)] = _random_refusal(name)
    originals_by_id = {id(getattr(mod, name)): (mod, name) for (mod, name) in replacements}
    if user_globals is not None:
        # `from numpy import zeros` binds the original function in the user's module.
        for gname, obj in list(user_globals.items()):
            key = originals_by_id.get(id(obj))
            if key is not None:
                replacements[(_Dict(user_globals), gname)] = replacements[key]
    # NumPy's code that distjit traces through (distjit/ops/composite.py) converts its arguments with
    # np.asanyarray & co., bound in its own module: those calls must reach the tracer too.
    conversions = {id(getattr(np, name)): (np, name) for name in CONVERSION}
    for namespace in composite.implementation_modules():
        for gname, obj in list(namespace.items()):
            key = conversions.get(id(obj))
            if key is not None:
                replacements[(_Dict(namespace), gname)] = replacements[key]
    with _lock:
        saved = {key: _get(*key) for key in replacements}
        try:
            for key, value in replacements.items():
                _set(*key, value)
            yield
        finally:
            for key, value in saved.items():
                _set(*key, value)


class _Dict:
    """A module's namespace as a key of the replacement table (dicts are not hashable)."""
    __slots__ = ("d",)

    def __init__(self, d: dict):
        self.d = d

    def __hash__(self):
        return id(self.d)

    def __eq__(self, other):
        return isinstance(other, _Dict) and other.d is self.d


def _get(target, name):
    return target.d[name] if isinstance(target, _Dict) else getattr(target, name)


def _set(target, name, value):
    if isinstance(target, _Dict):
        target.d[name] = value
    else:
        setattr(target, name, value)


def _called_by_numpy() -> bool:
    """NumPy's own Python code calls np.empty & co. too (np.broadcast_shapes does); those calls are not the user's."""
    return sys._getframe(2).f_code.co_filename.startswith(_NUMPY_DIR)


def _creation(ctx, original):
    def create(*args, **kwargs):
        if ctx.busy or kwargs.get("like") is not None or _called_by_numpy():
            return original(*args, **kwargs)
        return ctx.function(original, args, kwargs)
    create.__name__ = original.__name__
    create.__wrapped__ = original
    return create


def _conversion(ctx, original, copy: bool):
    def convert(obj, dtype=None, *args, **kwargs):
        if ctx.busy or not ctx.contains_traced(obj):
            return original(obj, dtype, *args, **kwargs)
        result = ctx.as_traced(obj)
        if dtype is not None and np.dtype(dtype) != result.dtype:
            result = ctx.function(np.astype, (result, dtype), {})
        elif copy and kwargs.get("copy", True) and result is obj:
            result = ctx.function(np.copy, (result,), {})
        missing = kwargs.get("ndmin", 0) - result.ndim
        if missing > 0:     # np.array(x, ndmin=k) prepends ones
            result = ctx.function(np.expand_dims, (result, tuple(range(missing))), {})
        return result
    convert.__name__ = original.__name__
    convert.__wrapped__ = original
    return convert
