"""NumPy functions (and math's, pymath.py) replaced while a trace runs.

Array creation (`np.zeros(n)`, `np.fft.fftfreq(n, d)`) has no array argument, so NumPy's
dispatch never reaches the tracer: without this, the array would be made at trace time and a
later `a[i] = traced` could not be recorded. `np.random` is refused, never baked.
Like torch.fx's patcher, we swap module attributes (and the user's globals that
alias them) for the duration of the trace only; tracing holds a lock for it.
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
import threading

import numpy as np

from distjit.errors import TracingError
from distjit.frontend.pybuiltins import STAND_INS
from distjit.frontend.pymath import STAND_INS as MATH_STAND_INS
from distjit.ir.source import user_loc
from distjit.ops import composite
from distjit.types import TensorType

CREATION = ("zeros", "ones", "empty", "full", "arange", "linspace", "eye", "identity", "tri", "indices",
            "bartlett", "blackman", "hamming", "hanning", "kaiser", "triu_indices", "tril_indices")
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


_ACTIVE: list[dict[int, object]] = []     # per enclosing `patched`: id(NumPy's function) -> its patch


def routed(fn):
    """The patch the innermost trace gives NumPy's function `fn`, or `fn`: a call through a value the patches
    cannot reach (a closure cell or an attribute holding `np.hanning`, a helper module's `from numpy import
    zeros`) must record what the call through `np.hanning` records."""
    if _ACTIVE:
        return _ACTIVE[-1].get(id(fn), fn)
    return fn


@contextlib.contextmanager
def patched(ctx, user_globals=(), cells=()):
    """Route creation and conversion calls to `ctx`, refuse np.random, for the duration of a trace.

    `user_globals` is the global namespace of the user's code (a dict), or several (the traced function's
    and its helpers'): a dict is not hashable, so the patches are keyed by the namespace's id. `cells` are
    the closure cells of that code (`win = np.hanning` in an enclosing function): those holding one of
    NumPy's patched functions hold its patch for the duration too.
    """
    namespaces = [user_globals] if isinstance(user_globals, dict) else list(user_globals or ())
    replacements: dict[tuple[int, str], tuple[object, str, object]] = {}
    for name in CREATION:
        original = _unpatched(getattr(np, name))
        replacements[(id(np), name)] = (np, name, _creation(ctx, original))
    for name in CONVERSION:
        original = _unpatched(getattr(np, name))
        replacements[(id(np), name)] = (np, name, _conversion(ctx, original, copy=name == "array"))
    for name in FFT_FREQUENCIES:
        replacements[(id(np.fft), name)] = (np.fft, name, _creation(ctx, _unpatched(getattr(np.fft, name))))
    for name, stand_in in MATH_STAND_INS.items():
        replacements[(id(math), name)] = (math, name, stand_in)
    for name in dir(np.random):
        if not name.startswith("_") and name not in _RANDOM_KEEP and callable(getattr(np.random, name)):
            replacements[(id(np.random), name)] = (np.random, name, _random_refusal(name))
    by_original = {id(getattr(mod, name)): patch for (mod, name, patch) in replacements.values()}
    by_original.update({id(patch.__wrapped__): patch for (mod, name, patch) in replacements.values()
                        if hasattr(patch, "__wrapped__")})
    for namespace in namespaces:
        # `from numpy import zeros` binds the original function in the user's module.
        for gname, obj in list(namespace.items()):
            patch = by_original.get(id(obj))
            if patch is not None:
                replacements[(id(namespace), gname)] = (namespace, gname, patch)
        # The builtins min/max are found after the module's globals: a global of that name shadows them,
        # unless the module defines its own.
        for gname, stand_in in STAND_INS.items():
            if gname not in namespace:
                replacements[(id(namespace), gname)] = (namespace, gname, stand_in)
    for cell in cells:
        patch = by_original.get(id(cell.cell_contents)) if _filled(cell) else None
        if patch is not None:
            replacements[(id(cell), "cell_contents")] = (cell, "cell_contents", patch)
    # NumPy's code that distjit traces through (distjit/ops/composite.py) converts its arguments with
    # np.asanyarray & co., bound in its own module: those calls must reach the tracer too.
    conversions = {id(getattr(np, name)): replacements[(id(np), name)][2] for name in CONVERSION}
    for namespace in composite.implementation_modules():
        for gname, obj in list(namespace.items()):
            patch = conversions.get(id(obj))
            if patch is not None:
                replacements[(id(namespace), gname)] = (namespace, gname, patch)
    with _lock:
        saved = [(target, name, _get(target, name)) for (target, name, _) in replacements.values()]
        _ACTIVE.append(by_original)
        try:
            for target, name, patch in replacements.values():
                _set(target, name, patch)
            yield
        finally:
            _ACTIVE.pop()
            for target, name, original in saved:
                _set(target, name, original)


_ABSENT = object()


def _get(target, name):
    return target.get(name, _ABSENT) if isinstance(target, dict) else getattr(target, name)


def _set(target, name, value):
    if isinstance(target, dict):
        if value is _ABSENT:
            target.pop(name, None)
        else:
            target[name] = value
    else:
        setattr(target, name, value)


def _called_by_numpy() -> bool:
    """NumPy's own Python code calls np.empty & co. too (np.broadcast_shapes does); those calls are not the user's."""
    return sys._getframe(2).f_code.co_filename.startswith(_NUMPY_DIR)


def _unpatched(f):
    """NumPy's own function under an enclosing trace's patch: a build nested in another (a recursive call's
    graph, script.py) routes calls to its own context, not through the outer one's."""
    while getattr(f, "__dj_patch__", False):
        f = f.__wrapped__
    return f


def _creation(ctx, original):
    def create(*args, **kwargs):
        if ctx.busy or kwargs.get("like") is not None or _called_by_numpy():
            return original(*args, **kwargs)
        return ctx.function(original, args, kwargs)
    create.__name__ = original.__name__
    create.__wrapped__ = original
    create.__dj_patch__ = True
    return create


def _conversion(ctx, original, copy: bool):
    def convert(obj, dtype=None, *args, **kwargs):
        if ctx.busy or not ctx.contains_traced(obj):
            result = original(obj, dtype, *args, **kwargs)
            if not ctx.busy and (copy or not isinstance(obj, np.ndarray)) and not _called_by_numpy():
                # A new array of the function's own (`v = np.array([0.0, 1.0])`): the program may update it
                # with traced values later, so it is traced, as a constant whose value is known.
                return ctx.constant_proxy(result)
            return result
        result = ctx.as_traced(obj)
        if result._scalar:      # NumPy's scalar (x.max()) converts to a new 0-d array, which is mutable
            result = ctx.wrap(ctx.current(result))
        elif not isinstance(result.type, TensorType):      # so does a Python number (an int argument, len(x))
            result = ctx.function(np.copy, (result,), {})
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
    convert.__dj_patch__ = True
    return convert


def user_namespaces_and_cells(fn, depth: int = 3) -> tuple[list[dict], list]:
    """The global namespaces the traced code may read NumPy's functions from: the function's own (for a
    callable object, its class's module), and those of the Python functions it names, closes over or
    holds, a few calls deep (a helper in another module that did `from numpy import zeros`); and the
    closure cells of those functions (`win = np.hanning` in an enclosing function)."""
    found: dict[int, dict] = {}
    cells_found: dict[int, object] = {}
    seen: set[int] = set()

    def code_owner(obj):
        if isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
        return getattr(obj, "__func__", obj)

    def visit(obj, level: int):
        obj = code_owner(obj)
        if id(obj) in seen or level > depth:
            return
        seen.add(id(obj))
        namespace = getattr(obj, "__globals__", None)
        if namespace is None:
            if callable(obj) and not isinstance(obj, type) and hasattr(type(obj), "__call__"):
                module = sys.modules.get(type(obj).__module__)
                for member in vars(type(obj)).values():
                    if callable(code_owner(member)):
                        visit(member, level)
                if module is not None and not _is_library(module.__dict__):
                    found.setdefault(id(module.__dict__), module.__dict__)
            return
        if _is_library(namespace):
            return
        found.setdefault(id(namespace), namespace)
        code = getattr(obj, "__code__", None)
        filled = [c for c in (getattr(obj, "__closure__", None) or ()) if _filled(c)]
        cells_found.update((id(c), c) for c in filled)
        names = [namespace[n] for n in (code.co_names if code else ()) if n in namespace]
        for child in [c.cell_contents for c in filled] + names:
            if callable(child) and not isinstance(child, type):
                visit(child, level + 1)

    visit(fn, 0)
    return list(found.values()), list(cells_found.values())


def _is_library(namespace: dict) -> bool:
    name = namespace.get("__name__") or ""
    return name.split(".")[0] in ("numpy", "distjit", "builtins")


def _filled(cell) -> bool:
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False
