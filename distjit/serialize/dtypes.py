"""The element types a .djit file may hold: a whitelist, both ways (no object, record or string dtypes)."""
from __future__ import annotations

import builtins

import numpy as np

from distjit.errors import FormatError
from distjit.serialize import distjit_pb2 as pb

DTYPES: dict[int, np.dtype] = {
    pb.BOOL: np.dtype(np.bool_),
    pb.INT8: np.dtype(np.int8), pb.INT16: np.dtype(np.int16),
    pb.INT32: np.dtype(np.int32), pb.INT64: np.dtype(np.int64),
    pb.UINT8: np.dtype(np.uint8), pb.UINT16: np.dtype(np.uint16),
    pb.UINT32: np.dtype(np.uint32), pb.UINT64: np.dtype(np.uint64),
    pb.FLOAT16: np.dtype(np.float16), pb.FLOAT32: np.dtype(np.float32), pb.FLOAT64: np.dtype(np.float64),
    pb.COMPLEX64: np.dtype(np.complex64), pb.COMPLEX128: np.dtype(np.complex128),
    pb.LONGDOUBLE: np.dtype(np.longdouble),
}
_ENUMS = {dt: enum for enum, dt in DTYPES.items()}

SCALAR_KIND_ENUM = {"bool": pb.SCALAR_BOOL, "int": pb.SCALAR_INT, "float": pb.SCALAR_FLOAT,
                    "complex": pb.SCALAR_COMPLEX}
SCALAR_KINDS = {enum: kind for kind, enum in SCALAR_KIND_ENUM.items()}

# Type objects that stand for a dtype in attributes (`x.astype(np.float32)`, `dtype=bool`), by name.
SCALAR_TYPES: dict[str, type] = {f"numpy.{dt.type.__name__}": dt.type for dt in DTYPES.values()}
SCALAR_TYPES.update({f"builtins.{t.__name__}": t for t in (bool, int, float, complex)})
_SCALAR_TYPE_NAMES = {t: name for name, t in SCALAR_TYPES.items()}
assert all(getattr(np if n.startswith("numpy.") else builtins, n.split(".", 1)[1]) is t
           for n, t in SCALAR_TYPES.items())


def dtype_enum(dtype, where: str) -> int:
    dtype = np.dtype(dtype)
    enum = _ENUMS.get(dtype) if dtype.isnative else None
    if enum is None:
        raise FormatError(f"{where}: dtype {dtype} cannot be saved (supported: bool, integers, floats, complex)")
    return enum


def dtype_of(enum: int, where: str) -> np.dtype:
    try:
        return DTYPES[enum]
    except KeyError:
        raise FormatError(f"{where}: unknown dtype code {enum} (not one of the supported numeric dtypes)") from None


def scalar_type_name(t: type) -> str | None:
    return _SCALAR_TYPE_NAMES.get(t)
