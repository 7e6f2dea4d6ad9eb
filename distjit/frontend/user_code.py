"""Running the user's function while tracing: an error in the user's code is a DistJitError at the user's line.

NOTE: [User errors]
What goes wrong in the user's own code (a NameError, NumPy refusing the arguments
of `np.add(x)`, an attribute arrays do not have) would raise the same exception
under NumPy; while tracing it becomes a TracingError that names the user's file
and line, with the original chained as its cause. A DistJitError raised without
a location gets the user's line too, and one raised in a helper the user's function
called names the calling lines after its own. What is raised from inside distjit's own code
is not the user's error but a bug, and propagates unchanged: wrapping it would hide it.
"""
from __future__ import annotations

import os
import traceback

from distjit.errors import DistJitError, TracingError
from distjit.ir.source import _DISTJIT_DIR, _SKIP, _is_internal
from distjit.ir.graph import SourceLoc


def run_user(fn, args: tuple):
    try:
        return fn(*args)
    except DistJitError as e:
        frames = _user_frames(e.__traceback__)
        loc = e.loc if e.loc is not None else (frames[-1] if frames else None)
        calls = [f for f in frames[:-1] if str(f) != str(loc)]
        if loc is None or (e.loc is not None and not calls):
            raise
        message = str(e) + "".join(f"\n(called from {f})" for f in reversed(calls))
        raise _with_loc(e, message, loc) from e
    except RecursionError:
        raise
    except Exception as e:
        if _raised_in_distjit(e.__traceback__):
            raise
        frames = _user_frames(e.__traceback__)
        calls = "".join(f"\n(called from {loc})" for loc in reversed(frames[:-1]))
        raise TracingError(f"{type(e).__name__}: {e}{calls}", frames[-1] if frames else None) from e


def _with_loc(e: DistJitError, message: str, loc: SourceLoc) -> DistJitError:
    try:
        return type(e)(message, loc)
    except TypeError:                # a subclass with a constructor of its own
        return TracingError(f"{type(e).__name__}: {message}", loc)


def _user_frames(tb) -> list[SourceLoc]:
    """The traceback's frames in the user's code, outermost first."""
    return [SourceLoc(frame.f_code.co_filename, lineno) for frame, lineno in traceback.walk_tb(tb)
            if not frame.f_code.co_filename.startswith(_SKIP) and not _is_internal(frame.f_code.co_filename)]



def _raised_in_distjit(tb) -> bool:
    last = None
    for frame, _ in traceback.walk_tb(tb):
        last = frame.f_code.co_filename
    return last is not None and os.path.abspath(last).startswith(_DISTJIT_DIR + os.sep)
