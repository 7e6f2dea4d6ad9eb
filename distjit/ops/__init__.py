"""The op registry and the op families; importing this package declares every op."""
from distjit.ops.registry import REGISTRY, Cost, Effect, OpDef, get_op, register  # noqa: F401
from distjit.ops import complex_parts, control, creation, dist, elementwise, fused, index, linalg, misc, reduce, scalar, shape, ufunc_methods  # noqa: F401  (declare the ops)
from distjit.ops import array_api_linalg, decompositions, fft, signal, stats  # noqa: F401  (the numeric families)
from distjit.ops.custom import custom_op  # noqa: F401

from distjit.ops import arrays, composite, data_dependent  # noqa: F401,E402  (the wider NumPy namespace)

__all__ = ["REGISTRY", "Cost", "Effect", "OpDef", "custom_op", "get_op", "register"]
