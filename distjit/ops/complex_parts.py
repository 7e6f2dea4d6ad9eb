"""The parts of complex numbers: np.real, np.imag (views, written through as NumPy does) and np.angle.

`x.real` and `x.imag` are views of a complex array, and real code writes through
them (`z.real[0] = 1.0`, `z.imag = 0`). The IR has no mutation, so a write is
recorded as the base's new contents: `complex.set_real(base, value)` is the base with
its real part replaced (its `inverse_view`). Of a real array, `x.real` is x itself and
`x.imag` is read-only zeros, so writing the latter is refused as NumPy refuses it.
"""
from __future__ import annotations

import numpy as np

from distjit.errors import ShapeError
from distjit.types import TensorType
from distjit.ops import sharding
from distjit.ops.infer import broadcast_shapes, shape_of
from distjit.ops.registry import FRESH, InverseView, OpDef, ViewOf, attr, operand, register


def _tensor(op: str, t) -> TensorType:
    if not isinstance(t, TensorType):
        raise ShapeError(f"{op}: x must be a NumPy array or scalar, not a Python {t}")
    return t


def _part_infer(op: str, kernel):
    def infer(in_types, attrs):
        x = _tensor(op, in_types[0])
        return [TensorType(kernel(np.zeros((), x.dtype)).dtype, x.shape)]
    return infer


def _set_infer(op: str):
    def infer(in_types, attrs):
        base, value = _tensor(op, in_types[0]), in_types[1]
        shape = broadcast_shapes(op, shape_of(base), shape_of(value))
        if shape != base.shape:
            raise ShapeError(f"{op}: a value of shape {shape_of(value)} cannot be stored into shape {base.shape}")
        return [base]
    return infer


def _set_real(base, value):
    out = np.array(base, copy=True)
    out.real = value
    return out


def _set_imag(base, value):
    out = np.array(base, copy=True)
    out.imag = value
    return out


def _real_back(attrs, base_t):
    return InverseView("complex.set_real", {}, onto_base=True)


def _imag_back(attrs, base_t):
    if base_t.dtype.kind != "c":
        return None       # NumPy: the imaginary part of a real array is read-only
    return InverseView("complex.set_imag", {}, onto_base=True)


for _name, _kernel, _back in (("real", np.real, _real_back), ("imag", np.imag, _imag_back)):
    register(OpDef(
        name=f"np.{_name}", kernel=_kernel, infer=_part_infer(f"np.{_name}", _kernel), params=(operand("val"),),
        flags=frozenset({"view"}), sources=(_kernel,), shard=sharding.elementwise, alias=ViewOf(0),
        inverse_view=_back,
        doc=f"The {_name} part (x.{_name}): a view of a complex array, written through by complex.set_{_name}."))
    register(OpDef(
        name=f"complex.set_{_name}", kernel=_set_real if _name == "real" else _set_imag,
        infer=_set_infer(f"complex.set_{_name}"), params=(operand("base"), operand("value")),
        shard=sharding.elementwise, alias=FRESH,
        doc=f"The base with its {_name} part replaced by value (broadcast): a write through x.{_name}."))

register(OpDef(
    name="np.angle", kernel=np.angle, infer=_part_infer("np.angle", np.angle),
    params=(operand("z"), attr("deg", False)), flags=frozenset({"elementwise"}), sources=(np.angle,),
    shard=sharding.elementwise, alias=FRESH, doc="The argument of complex numbers, in radians (deg=True: degrees)."))
