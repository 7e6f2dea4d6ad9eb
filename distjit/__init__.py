"""distjit: NumPy programs as portable, optimizable graphs, run in one process or on Ray.

The public API, re-exported; see DESIGN.md for the map.
"""
from distjit.errors import (ClusterError, DistJitError, ExecutionError, FormatError, ScriptError,  # noqa: F401
                            ShapeError, TracingError, VerifyError)
from distjit.ir import Graph  # noqa: F401
from distjit.function import Function  # noqa: F401
from distjit.function_set import FunctionSet  # noqa: F401
from distjit.frontend.trace import trace  # noqa: F401
from distjit.frontend.script import ScriptFunction, script  # noqa: F401
from distjit.serialize import load, save  # noqa: F401
from distjit.partition import partition  # noqa: F401
from distjit.passes import optimize  # noqa: F401

__version__ = "0.1.0"

__all__ = [
    "optimize",
    "trace", "script", "ScriptFunction", "Function", "FunctionSet", "Graph", "save", "load", "partition",
    "DistJitError", "TracingError", "ScriptError", "ShapeError", "FormatError", "VerifyError",
    "ExecutionError", "ClusterError",
]
