"""Calls in scripted code: which callee is compiled along, which runs as Python, which is refused.

Scripted and traced functions are embedded, the user's own Python functions are
compiled too (their source is read; nested ones too, a lambda runs as the one
expression it is), NumPy is traced, and a few builtins get a traced meaning (`len`,
`int`/`float`/`bool` of a 0-d array, `min`/`max`/`sum` of numbers or sequences,
`enumerate`/`zip`/`reversed`/`range` over arrays and traced bounds). Methods of
Python lists and dicts run as Python (script_lists.py says when a list may change).
Anything else runs as Python, and is a ScriptError when given traced values: it
could not compute on them.
"""
from __future__ import annotations

import builtins
import inspect
import os
import sysconfig

import numpy as np

from distjit.errors import DistJitError, ScriptError, TracingError
from distjit.frontend.fallbacks import StaticInfoNeeded, SymbolicScalarError
from distjit.frontend.patching import routed
from distjit.frontend.pybuiltins import STAND_INS as BUILTIN_STAND_INS
from distjit.frontend.pymath import BY_FUNCTION as MATH_FUNCTIONS
from distjit.frontend.proxy import TracedArray
from distjit.frontend.script_context import Undefined, active
from distjit.frontend.script_convert import Site, site_error
from distjit.frontend.script_if import ifexp
from distjit.frontend.script_lists import RowList, StackedRows, is_mutating_list_method, whole_lists
from distjit.frontend.script_loops import (Items, RangeSpec, enumerate_items, items_list, items_of, range_,
                                           reversed_items, zip_items)
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
    """min()/max() of numbers or of a sequence of them, as Python picks: the first of the best, pairwise."""
    def minmax(site, *args, **kwargs):
        if len(args) == 1 and not kwargs and isinstance(args[0], StackedRows) and not args[0]._made \
                and not isinstance(args[0].length, int) and not args[0].tuples:
            return _extremum_of_rows(site, args[0].stacked, pick_max=pick_second_if is _gt)
        if len(args) == 1 and not kwargs:
            only = args[0]
            if isinstance(only, TracedArray):
                raise site_error(site, "min()/max() of an array iterates over it in Python",
                                 "use x.min()/x.max() (or np.min/np.max with axis=0)")
            if isinstance(only, (list, tuple, StackedRows, Items)) and (
                    isinstance(only, (StackedRows, Items)) or _has_traced(only, {})):
                args = tuple(items_list(site, only)) if isinstance(only, Items) else tuple(only)
                if not args:
                    raise site_error(site, "min()/max() of an empty sequence")
        if _has_traced(args, kwargs):
            if kwargs:
                raise site_error(site, f"min()/max() with {', '.join(kwargs)}= of traced values is not supported",
                                 "use np.minimum/np.maximum, or x.min()/x.max()")
            best = args[0]
            for x in args[1:]:
                best = ifexp(pick_second_if(best, x), lambda x=x: x, lambda best=best: best, site)
            return best
        return (builtins.min if pick_second_if is _lt else builtins.max)(*args, **kwargs)
    return minmax


def _extremum_of_rows(site, rows: TracedArray, pick_max: bool):
    """max()/min() of the numbers a graph loop appended to a list, their count known only at run time: Python's
    pick without reading them one by one (which would unroll the loop). Python keeps the first of the best, so
    the first index of the extreme (np.argmax's); a NaN never replaces the best, so it wins only as the first
    item, and elsewhere counts as the worst value."""
    t = rows.type
    if not isinstance(t, TensorType) or t.ndim != 1:
        raise site_error(site, f"min()/max() of a list of arrays ({t} stacked) compares arrays in Python",
                         "use np.max(np.array(values), axis=0)")
    if t.dtype.kind == "c":
        raise site_error(site, "min()/max() of complex numbers: Python does not order them")
    if t.dtype.kind != "f":
        return rows[np.argmax(rows) if pick_max else np.argmin(rows)]
    nan = np.isnan(rows)
    key = np.where(nan, -np.inf if pick_max else np.inf, rows)
    best = np.argmax(key) if pick_max else np.argmin(key)
    return rows[np.where(nan[0], 0, best)]


def _sequence_builtin(python, traced):
    """enumerate/zip/reversed: Python's on Python values, else Items a `for` can make a prim.Loop of."""
    def run(site, *args, **kwargs):
        if any(isinstance(a, (TracedArray, RangeSpec, Items)) for a in args) or any(
                isinstance(a, StackedRows) and not isinstance(a.length, int) for a in args):
            return traced(site, *args, **kwargs)
        if python is builtins.reversed and len(args) == 1 and isinstance(args[0], range) and not kwargs:
            r = args[0]
            return range(r[-1], r[0] - r.step, -r.step) if len(r) else r   # a range, so a long one stays a loop
        return python(*args, **kwargs)
    return run


def _container(python):
    """list()/tuple() of an array or Items: its rows, when their number is a Python int."""
    def run(site, *args):
        if len(args) == 1 and isinstance(args[0], (TracedArray, RangeSpec, Items)):
            return python(items_list(site, items_of(args[0], site)))
        return python(*args)
    return run


def _sum(site, seq, start=0):
    """Python's sum: the items added one by one from `start`. Over rows whose number is known only at run time
    it is the last row of the running sum of [start, row 0, row 1, ...], which adds in that order too."""
    if isinstance(seq, StackedRows) and not isinstance(seq.length, int):
        return _running_sum(seq.stacked, start)
    if isinstance(seq, (TracedArray, RangeSpec, Items)):
        items = items_of(seq, site)
        if not isinstance(items.length, int):
            if isinstance(seq, TracedArray):
                return _running_sum(seq, start)
            _refuse_sum(site)
        seq = items_list(site, items)
    return builtins.sum(seq, start)


def _running_sum(rows: TracedArray, start):
    first = np.zeros((1, *rows.shape[1:]), dtype=rows.dtype) + start
    return np.cumsum(np.concatenate([first, rows]), axis=0)[-1]


def _protocol(python):
    """Builtins that call the value's own methods (pow -> __pow__, round -> __round__, getattr): the traced
    array's methods record what NumPy's would compute."""
    def run(site, *args, **kwargs):
        return _run(python, site, args, kwargs)
    return run


def _round(site, x, ndigits=None):
    """round() of a traced number: half to even, as Python's; without ndigits an int, as Python's."""
    if not isinstance(x, TracedArray):
        return builtins.round(x, ndigits) if ndigits is not None else builtins.round(x)
    if ndigits is None:
        return _convert_scalar(int)(site, np.round(x))
    return np.round(x, ndigits)


def _isinstance(site, obj, classinfo):
    """isinstance of a traced value answers for the value NumPy would have there: an ndarray, the NumPy scalar
    of its dtype for a 0-d result, or the Python number of a scalar argument."""
    if isinstance(obj, TracedArray):
        t = obj.type
        if isinstance(t, TensorType):
            example = np.ndarray((0,) * t.ndim, t.dtype) if t.ndim else t.dtype.type(0)   # np.empty is patched
        else:
            example = t.pytype(0)
        return builtins.isinstance(example, classinfo)
    return builtins.isinstance(obj, classinfo)


def _any_all(python, reduce):
    """any()/all() of traced truth values: Python's answer as a traced bool (each item must be a number or a 0-d
    array, whose truth Python would take; an array of more dims is NumPy's ambiguous truth value)."""
    def run(site, seq):
        if isinstance(seq, StackedRows) and not seq._made:
            rows = seq.stacked
        elif isinstance(seq, (list, tuple)) and _has_traced(seq, {}):
            rows = seq
        else:
            if isinstance(seq, TracedArray):
                raise site_error(site, f"{python.__name__}() of an array iterates over it in Python",
                                 f"use x.{python.__name__}() (np.{python.__name__})")
            return python(seq)
        items = [rows] if isinstance(rows, TracedArray) else list(rows)
        for item in items:
            t = item.type if isinstance(item, TracedArray) else None
            if isinstance(t, TensorType) and t.ndim > (1 if item is rows else 0):
                raise site_error(site, f"the truth value of an array ({t}) is ambiguous",
                                 "reduce each item first: use .any() or .all()")
        stacked = rows if isinstance(rows, TracedArray) else np.array(
            [x if isinstance(x, TracedArray) else builtins.bool(x) for x in items])
        return _convert_scalar(bool)(site, reduce(stacked != 0))
    return run


def _refuse_sum(site):
    raise site_error(site, "sum() over a range, zip or enumerate whose length is known only at run time",
                     "sum an array with np.sum, or loop with `for`", cls=StaticInfoNeeded)


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
    builtins.enumerate: _sequence_builtin(builtins.enumerate, enumerate_items),
    builtins.zip: _sequence_builtin(builtins.zip, zip_items),
    builtins.reversed: _sequence_builtin(builtins.reversed, reversed_items),
    builtins.list: _container(builtins.list),
    builtins.tuple: _container(builtins.tuple),
    builtins.sum: _sum,
    builtins.range: lambda site, *args: range_(site, *args),
    builtins.pow: _protocol(builtins.pow),
    builtins.divmod: _protocol(builtins.divmod),
    builtins.round: _round,
    builtins.getattr: _protocol(builtins.getattr),
    builtins.hasattr: _protocol(builtins.hasattr),
    builtins.isinstance: _isinstance,
    builtins.any: _any_all(builtins.any, np.any),
    builtins.all: _any_all(builtins.all, np.all),
}


_BUILTIN_STAND_INS = frozenset(BUILTIN_STAND_INS.values())


def call(fn, site: Site, *args, **kwargs):
    """A call in scripted code: scripted and traced functions are embedded, user functions are compiled too."""
    from distjit.frontend.script import ScriptFunction, inline_function, inline_traced
    from distjit.frontend.traced_function import TracedFunction
    from distjit.function import Function

    ctx = active()
    if isinstance(fn, Undefined):
        fn._fail()
    if isinstance(fn, (ScriptFunction, TracedFunction)):    # a traced one's Python function is at hand too
        return inline_function(ctx, fn.fn, args, kwargs, site)
    if isinstance(fn, Function):
        return inline_traced(ctx, fn, args, kwargs, site)
    if _hashable(fn) and fn in _BUILTIN_STAND_INS:    # the trace's min/max, patched into the user's globals
        fn = fn.__wrapped__
    special = _BUILTINS.get(fn) if _hashable(fn) else None
    if special is not None:
        return special(site, *args, **kwargs)
    math_fn = MATH_FUNCTIONS.get(fn) if _hashable(fn) else None
    if math_fn is not None:     # math.sqrt, patched or bound where the patch of the math module does not reach
        try:
            return math_fn(*args, **kwargs)
        except TracingError as e:   # refused: at the call, not at its statement
            raise site_error(site, str(e).split(": ", 1)[-1] if e.loc else str(e)) from None
    if _is_numpy_callable(fn):
        fn = routed(fn)     # `win = np.hanning` held in a closure or attribute: the patch np.hanning has now
        fn, args, kwargs = whole_lists(fn, args, kwargs)
        args, kwargs = _lists_of_numbers_as_arrays(fn, args, kwargs)
    if REGISTRY.for_source(fn) is not None:      # a custom op: called, so that it records its node
        return _run(fn, site, args, kwargs)
    if _is_user_function(fn):
        if fn.__name__ == "<lambda>":
            return _run(fn, site, args, kwargs)   # one expression: traced as it runs, as distjit.trace would
        return inline_function(ctx, fn, args, kwargs, site)
    if isinstance(fn, type) and issubclass(fn, tuple) and hasattr(fn, "_fields"):
        return _run(fn, site, args, kwargs)       # a named tuple of traced values: structure, as a tuple is
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, (list, dict)) and not isinstance(fn, type):
        if isinstance(owner, RowList):
            owner.call_site = site                  # its errors point at this call
        elif is_mutating_list_method(fn):
            ctx.check_list_mutation(owner, site)
        return _run(fn, site, args, kwargs)
    if _has_traced(args, kwargs) and not _is_numpy_callable(fn):
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
        module = getattr(fn, "__module__", None)
        qual = f"{module}.{name}" if module and module != "builtins" else name
        raise site_error(site, f"calling {qual} on traced values is not supported: distjit compiles NumPy functions, "
                               f"array methods, scripted and traced functions, and Python functions whose source it "
                               f"can read", "use the NumPy equivalent, or wrap your own helper with distjit.script")
    return _run(fn, site, args, kwargs)


def _lists_of_numbers_as_arrays(fn, args, kwargs):
    """`np.diag([1.0, 1.0, d])`, `np.mean([a, b])` with d, a, b NumPy scalars computed from arrays: NumPy's
    dispatch looks at the list, not into it, and its own asarray of the list needs the values. A list or
    tuple of numbers with such a scalar among them is what NumPy would convert it to, a traced array, when
    no argument is an array already (Python numbers alone are left as they are: they may be a shape)."""
    if not isinstance(fn, np.ufunc) and not hasattr(fn, "_implementation"):
        return args, kwargs
    if any(isinstance(a, TracedArray) for a in (*args, *kwargs.values())):
        return args, kwargs
    convert = lambda a: _stacked_numbers(a) if isinstance(a, (list, tuple)) else a   # noqa: E731
    return tuple(convert(a) for a in args), {k: convert(v) for k, v in kwargs.items()}


def _stacked_numbers(seq):
    scalar_seen = False

    def walk(x):
        nonlocal scalar_seen
        if isinstance(x, (list, tuple)):
            return all(walk(o) for o in x)
        if isinstance(x, TracedArray):
            t = x.type
            scalar_seen |= isinstance(t, TensorType) and t.ndim == 0
            return isinstance(t, TensorType) and t.ndim == 0 or not isinstance(t, TensorType)
        return isinstance(x, (bool, int, float, complex, np.generic))

    if not walk(seq) or not scalar_seen:
        return seq
    return np.asarray(seq)      # the patched conversion: stacks the traced numbers


def _run(fn, site: Site, args, kwargs):
    try:
        return fn(*args, **kwargs)
    except (DistJitError, AssertionError):
        raise
    except TracingError as e:
        raise site_error(site, str(e).split(": ", 1)[-1] if e.loc else str(e),
                         cls=StaticInfoNeeded if isinstance(e, SymbolicScalarError) else ScriptError) from None


def _hashable(fn) -> bool:
    try:
        hash(fn)
        return True
    except TypeError:
        return False
