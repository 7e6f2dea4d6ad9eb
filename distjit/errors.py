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


class FormatError(DistJitError):
    """A saved file or a text IR is malformed, truncated, or from an incompatible version."""


class VerifyError(DistJitError):
    """A graph breaks an IR invariant (SSA, types, block structure); the message names the node."""


class ExecutionError(DistJitError):
    """A node failed at run time; the message names the node and the user's line, the cause is chained."""


class ClusterError(DistJitError):
    """A cluster could not be reached, started or used."""
