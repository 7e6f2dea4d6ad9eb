"""The exception hierarchy: every error distjit raises on purpose derives from DistJitError.

Errors that concern user code carry the user's source location (`loc`), and their
message names it, so a user never has to read a traceback from inside distjit to
find the line that caused it.
"""
from __future__ import annotations


class DistJitError(Exception):
    """Base of every error distjit raises on purpose.

    `loc` is the user's source location (a `distjit.ir.SourceLoc`) when there is one;
    it is already part of the message.
    """

    def __init__(self, message: str, loc=None):
        self.loc = loc
        if loc is not None and str(loc) not in message:
            message = f"{loc}: {message}"
        super().__init__(message)


class TracingError(DistJitError):
    """The tracer met something it cannot record faithfully.

    Typical cause, Python control flow on an array's value::

        def f(x):
            if x.sum() > 0:        # TracingError: the branch depends on data
                return x
            return -x

    Fix: `distjit.script(f)` keeps the `if`, or `np.where(x.sum() > 0, x, -x)`.
    """


class TracingAttributeError(TracingError, AttributeError):
    """A traced array lacks an ndarray attribute or method the code asked for.

    It is an AttributeError too, so `hasattr(x, name)` and `getattr(x, name, default)` in user code
    answer as they would for an attribute that does not exist.
    """


class ScriptError(DistJitError):
    """The script compiler met Python it does not support; the message shows the line and a caret."""


class ShapeError(DistJitError, ValueError):
    """Shapes or dtypes do not fit: at a call of a Function, or between an op and its inputs.

    It is a ValueError too, as NumPy's own shape errors are, so code that catches
    NumPy's error traces the same way it runs.
    """


class AliasedArgumentsError(DistJitError, ValueError):
    """A call passes arguments that share memory, one of them updated in place, in a way the compiled function
    cannot give NumPy's result for (NOTE: [Aliased arguments] in runtime/aliased_args.py); the message names
    the caller's line and the two arguments. Pass a copy of one of them."""


class FormatError(DistJitError):
    """A saved file or a text IR is malformed, truncated, or from an incompatible version."""


class VerifyError(DistJitError):
    """A graph breaks an IR invariant (SSA, types, block structure); the message names the node."""


class ExecutionError(DistJitError):
    """A node failed at run time; the message names the node and the user's line, the cause is chained."""


class ClusterError(DistJitError):
    """A cluster could not be reached, started or used."""


# NOTE: [Raised errors]
# A scripted `raise ValueError("too big")` in a branch the data decides runs when the graph runs: the graph
# keeps the exception's class by name (a file holds no code) and raises a class that is both an
# ExecutionError (it names the user's line) and the user's ValueError, so `except ValueError` in the caller
# catches it as it would the Python function's. Only builtin exception classes can be named this way.
_RAISED: dict[str, type] = {}


def raised_error(name: str) -> type | None:
    """The ExecutionError class that is also the builtin exception `name`, or None when there is none."""
    import builtins

    if name not in _RAISED:
        cls = getattr(builtins, name, None)
        if not (isinstance(cls, type) and issubclass(cls, Exception)) or issubclass(cls, DistJitError):
            return None
        try:
            _RAISED[name] = type(name, (ExecutionError, cls), {
                "__module__": __name__, "__doc__": f"A {name} the user's program raised (NOTE: [Raised errors]).",
                # made here, so not importable by name: pickled (from a Ray worker) as the call that makes it
                "__reduce__": lambda self, name=name: (_raised_again, (name, str(self)))})
        except TypeError:       # an exception whose instances are laid out apart (OSError): not combinable
            return None
    return _RAISED[name]


def _raised_again(name: str, message: str) -> ExecutionError:
    """A raised error rebuilt from its pickle; the message already names the user's line."""
    return raised_error(name)(message)
