"""Why a frontend compiled a function another way than the one asked for, and how the user hears of it.

NOTE: [Fallbacks]
torch.compile breaks the graph rather than fail, and specializes shapes first to go dynamic
later; distjit has the same two retreats, each to a frontend that takes more of Python:
- `distjit.trace` meets Python that needs a value the trace does not know (a truth test on an
  array, `int(a[i])`, `range(indptr[i], ...)`, `len()` of a dynamic dim: a `DataDependentError`)
  and scripts the function instead, which keeps that control flow in the graph
  (traced_function.py's `ScriptedTrace`);
- `distjit.script` fails with symbolic shapes and dynamic ints for a reason static facts may cure
  (a `ShapeError` such as an op that needs static shapes, or a `StaticInfoNeeded`: a list as long
  as a run-time trip count or changed in a graph loop, recursion that sizes end, a conversion of
  a symbolic size) and compiles the call's signature again with its concrete shapes and int
  values, guarded, one graph per shape and value (script.py's `ScriptFunction.compile_new`).
  Other refusals (syntax, unknown functions, data-dependent Python) are not retried: static
  shapes would not change them, and a retry would only cost time.
Either retreat is taken only when the first way failed, is announced by a `FallbackWarning` at
the user's line that forced it (and on the "distjit" logger), is recorded on what it made
(`Function.fallbacks`, a set's `fallbacks` and its saved metadata), and is refused by
`fallback=False`, which raises the first error as before. When the retreat fails too, the user
gets the first error, which names the line that started it all.
"""
from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass

from distjit.errors import DistJitError, ScriptError, ShapeError, TracingError

log = logging.getLogger("distjit")


class DataDependentError(TracingError):
    """The trace needed a value it does not know: an array's data (`if a[i] > 0:`, `int(a.sum())`), a dynamic
    dim (`len(x)` of a dynamic first axis) or a dynamic int. `distjit.trace` scripts the function instead
    unless called with `fallback=False`."""


class SymbolicScalarError(DataDependentError):
    """The value needed is a dynamic dim or a dynamic int (not an array's data): static shapes and ints give it."""


class StaticInfoNeeded(ScriptError):
    """The script compiler needs what only static shapes or ints tell: a list's length that is a run-time
    trip count, where a recursion ends, a conversion of a symbolic size. `distjit.script` compiles the
    signature again specialized on them (NOTE: [Fallbacks])."""


def needs_static(e: BaseException) -> bool:
    """A script error that static shapes and int values may cure (the second fallback's trigger)."""
    return isinstance(e, (ShapeError, StaticInfoNeeded))


class FallbackWarning(UserWarning):
    """distjit compiled a function another way than asked for (NOTE: [Fallbacks]); the message says why."""


@dataclass(frozen=True)
class Fallback:
    """One retreat: `kind` is "script" (the trace scripted the function instead) or "static" (the script
    specialized on the call's shapes and int values); `loc` is the user's line that forced it, `message`
    the first way's error without that location, `error` the error itself."""

    kind: str
    function: str
    loc: object
    message: str
    error: BaseException | None = None

    def __str__(self) -> str:
        return (f"{self.loc}: " if self.loc is not None else "") + self.explain()

    def explain(self) -> str:
        """What was done and why, without the location."""
        if self.kind == "script":
            what = f"distjit.trace({self.function}) fell back to distjit.script"
            opt_out = "distjit.trace(..., fallback=False)"
        else:
            what = (f"distjit.script({self.function}) specialized this signature to the call's shapes and int "
                    f"values (one graph per signature)")
            opt_out = "distjit.script(..., fallback=False)"
        return f"{what}, because: {self.message} [{opt_out} raises this error instead]"


def fallback_for(kind: str, function: str, error: DistJitError) -> Fallback:
    """The record of a retreat that worked; `error` is kept without its traceback (whose frames hold the
    abandoned trace)."""
    chained = error
    while chained is not None:
        chained.__traceback__ = None
        chained = chained.__cause__ or chained.__context__
    message = str(error)
    loc = getattr(error, "loc", None)
    if loc is not None and message.startswith(f"{loc}:"):
        message = _COLUMN.sub("", message[len(str(loc)) + 1:], count=1).lstrip()
    return Fallback(kind, function, loc, message.splitlines()[0] if message else "", error)


_COLUMN = re.compile(r"^\d+:")       # a ScriptError's `file:line:col:`


def announce(fallback: Fallback) -> None:
    """A FallbackWarning at the user's line (or distjit's caller's), and the same on the "distjit" logger."""
    log.info("%s", fallback)
    loc = fallback.loc
    if loc is not None:
        warnings.warn_explicit(fallback.explain(), FallbackWarning, loc.file, loc.line)
    else:
        warnings.warn(fallback.explain(), FallbackWarning, stacklevel=4)
