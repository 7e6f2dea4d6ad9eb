"""Conditions in scripted code: truth values, `not` (also of the compiler's return and break flags), and `assert`.

`truth` decides whether a construct runs as Python or becomes graph control flow:
a Python value gives a Python bool, a traced bool or 0-d array stays traced, and
an array of more dims is the user's error (NumPy's ambiguous truth value).
"""
from __future__ import annotations

import operator

from distjit.frontend.proxy import TracedArray
from distjit.frontend.script_context import Undefined
from distjit.frontend.script_convert import Site, site_error
from distjit.types import BOOL, ScalarType, TensorType


def truth(x, site: Site, normalize: bool = False):
    """A condition: a Python bool, or a traced bool / 0-d array (`normalize` makes it a traced bool)."""
    if isinstance(x, TracedArray):
        t = x.type
        if t == BOOL:
            return x
        if isinstance(t, ScalarType) or (isinstance(t, TensorType) and t.ndim == 0):
            return x._ctx.scalar(bool, (x,)) if normalize or isinstance(t, ScalarType) else x
        raise site_error(site, f"the truth value of an array ({t}) is ambiguous",
                         "reduce it first: use .any() or .all() (or compare a reduction such as x.max() > 0)")
    if isinstance(x, Undefined):
        x._fail()
    try:
        return bool(x)
    except Exception as e:
        raise site_error(site, f"cannot use this value as a condition: {type(e).__name__}: {e}") from None


def not_any(*flags):
    """`not (f1 or f2 ...)` on the compiler's flags (Python bools or traced bools)."""
    traced = []
    for f in flags:
        if isinstance(f, TracedArray):
            traced.append(f)
        elif f:
            return False
    if not traced:
        return True
    ctx = traced[0]._ctx
    acc = traced[0]
    for f in traced[1:]:
        acc = ctx.scalar(operator.ge, (acc, ctx.scalar(operator.not_, (f,))))   # a or b == a >= (not b) on bools
    return ctx.scalar(operator.not_, (acc,))


def not_(x, site: Site):
    c = truth(x, site)
    if isinstance(c, TracedArray):
        return c._ctx.scalar(operator.not_, (c,))
    return not c


def assert_(cond, msg_fn, text: str, site: Site):
    c = truth(cond, site)
    if not isinstance(c, TracedArray):
        if not c:
            from distjit.errors import ExecutionError

            message = msg_fn() if msg_fn is not None else text
            raise ExecutionError(f"assertion failed: {message}", site.loc)
        return
    message = text
    if msg_fn is not None:
        m = msg_fn()
        if isinstance(m, str):
            message = m
    c._ctx.record("prim.Assert", [c], {"message": message}, site.loc)


def raise_(exc_fn, site: Site):
    """A scripted `raise`: NOTE: [Raised errors] in errors.py.

    On the path every call takes (not inside a graph branch or loop) it raises now, as the function would on
    every call of this signature. Inside a `prim.If` or `prim.Loop` block it records a `prim.Assert` that
    always fails, naming the exception's class: it raises when, and only when, the graph runs that block.
    The exception and its message must be known while compiling (a string of Python values)."""
    from distjit.errors import raised_error
    from distjit.frontend.script_context import active

    exc = exc_fn()
    if isinstance(exc, type) and issubclass(exc, BaseException):
        exc = exc()
    if not isinstance(exc, BaseException):
        raise site_error(site, f"raise of {type(exc).__name__}, which is not an exception")
    name = type(exc).__name__
    error = raised_error(name) if type(exc).__module__ == "builtins" else None
    if error is None:
        raise site_error(site, f"raise {name}: a scripted function raises builtin exception classes only "
                               f"(the graph keeps the class by name; a file holds no code)",
                         "raise ValueError, RuntimeError, ... or assert the condition")
    if not all(isinstance(a, (str, int, float, bool)) for a in exc.args):
        raise site_error(site, f"the arguments of raise {name}(...) must be strings or numbers known while "
                               f"compiling (the graph keeps the message as text)", "build the message as a string")
    message = str(exc) or name
    ctx = active()
    if ctx is None or not ctx.open_blocks:
        raise error(message, site.loc)
    ctx.record("prim.Assert", [False], {"message": message, "error": name}, site.loc)
