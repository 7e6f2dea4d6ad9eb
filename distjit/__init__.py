"""distjit: NumPy programs as portable, optimizable graphs, run in one process or on Ray.

The public API, re-exported; see DESIGN.md for the map.
"""
from distjit.errors import (AliasedArgumentsError, ClusterError, DistJitError, ExecutionError,  # noqa: F401
                            FormatError, ScriptError, ShapeError, TracingAttributeError, TracingError, VerifyError)
from distjit.ir import Graph  # noqa: F401
from distjit.function import Function  # noqa: F401
from distjit.function_set import FunctionSet, optimize  # noqa: F401  (optimize: of a Function or a FunctionSet)
from distjit.frontend.trace import trace  # noqa: F401
from distjit.frontend.script import ScriptFunction, script  # noqa: F401
from distjit.frontend.traced_function import TracedFunction  # noqa: F401
from distjit.frontend.fallbacks import DataDependentError, FallbackWarning  # noqa: F401
from distjit.serialize import load, save  # noqa: F401
from distjit.partition import partition  # noqa: F401
from distjit.ops import custom_op  # noqa: F401
from distjit import runtime as _runtime  # noqa: F401  (binds the evaluators the op registry cannot import)
from distjit.version import __version__  # noqa: F401

__all__ = [
    "optimize", "custom_op",
    "trace", "script", "ScriptFunction", "TracedFunction", "Function", "FunctionSet", "Graph", "save", "load", "partition",
    "DistJitError", "TracingError", "TracingAttributeError", "DataDependentError", "ScriptError", "ShapeError",
    "FormatError", "VerifyError", "AliasedArgumentsError", "ExecutionError", "ClusterError", "FallbackWarning",
]
