"""Finding the user's source line: the innermost frame that is neither distjit's nor NumPy's.

In the IR layer because both the frontends (a node's location) and `Function` (the line of a call whose
arguments do not fit) name it.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from distjit.ir.graph import SourceLoc

_DISTJIT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))
_SKIP = (_DISTJIT_DIR + os.sep, _NUMPY_DIR + os.sep, "<distjit:")


def user_loc(depth: int = 1) -> SourceLoc | None:
    frame = sys._getframe(depth)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_SKIP) and not _is_internal(filename):
            return SourceLoc(filename, frame.f_lineno)
        frame = frame.f_back
    return None


def _is_internal(filename: str) -> bool:
    # Frozen and built-in modules (importlib, functools) are never the user's.
    return filename.startswith("<frozen") or filename.endswith(("functools.py", "contextlib.py"))
