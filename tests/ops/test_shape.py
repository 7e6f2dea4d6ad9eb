"""Shape ops: inference with symbolic dims and Refs, error messages, flags.

Kernels and inferred types on concrete inputs are compared with NumPy for every
op by the registry-wide test (tests/ops/test_every_op.py, samples in samples_shape.py).
"""
from __future__ import annotations

import numpy as np
import pytest

from distjit.errors import ShapeError
from distjit.types import INT, Ref, TensorType, parse_dtype
from distjit.ops import get_op


def tensor(dtype: str, shape) -> TensorType:
    return TensorType(parse_dtype(dtype), tuple(shape))


def infer(name: str, *in_types, **attrs):
    op = get_op(name)
    full = {**op.attr_defaults, **attrs}
    return op.infer(list(in_types), full)


def shape_of(name: str, *in_types, **attrs):
    (t,) = infer(name, *in_types, **attrs)
    return t.shape


def fresh(d) -> bool:
    return isinstance(d, str) and d.startswith("?")


B4 = tensor("f32", ("B", 4))


# ------------------------------------------------------------------ reshape


def test_reshape_symbolic():
    # B*4 elements into (-1, 2): the -1 is 2*B, which no dim can name: a fresh dim
    d, two = shape_of("np.reshape", B4, shape=(-1, 2))
    assert fresh(d) and two == 2
    assert shape_of("np.reshape", B4, shape=(-1, 4)) == ("B", 4)            # derived exactly
    assert shape_of("np.reshape", B4, shape=("B", -1)) == ("B", 4)
    assert shape_of("np.reshape", tensor("f32", ("B", 2, 3)), shape=("B", 6)) == ("B", 6)
    assert shape_of("np.reshape", tensor("f32", ("B", 2, 3)), shape=(2, "B", -1)) == (2, "B", 3)
    assert shape_of("np.reshape", tensor("f32", (2, "B", 3)), shape=(-1,))[0].startswith("?")
    assert shape_of("np.reshape", tensor("f32", (1, "B")), shape=-1) == ("B",)


def test_reshape_refs_give_fresh_dims():
    a, b = shape_of("np.reshape", tensor("f64", (3, 4)), INT, shape=(Ref(1), -1))
    assert fresh(a) and fresh(b) and a != b
    assert shape_of("np.reshape", tensor("f64", (3, 4)), INT, shape=(Ref(1), 4))[1] == 4
    kernel = get_op("np.reshape").kernel
    assert kernel(np.arange(12), 6, shape=(Ref(1), -1), order="C", copy=None).shape == (6, 2)


def test_reshape_errors():
    with pytest.raises(ShapeError, match=r"np.reshape: cannot reshape array of size 6 into shape \(4,\)"):
        infer("np.reshape", tensor("f64", (2, 3)), shape=(4,))
    with pytest.raises(ShapeError, match=r"cannot reshape array of size 6 into shape \(4,-1\)"):
        infer("np.reshape", tensor("f64", (2, 3)), shape=(4, -1))
    with pytest.raises(ShapeError, match=r"only specify one unknown dimension"):
        infer("np.reshape", tensor("f64", (2, 3)), shape=(-1, -1))
    with pytest.raises(ShapeError, match=r"non-negative ints or -1"):
        infer("np.reshape", tensor("f64", (2, 3)), shape=(-2, 3))
    with pytest.raises(ShapeError, match=r"cannot reshape array of shape \(B,4\)"):
        infer("np.reshape", B4, shape=("B", 3))
    with pytest.raises(ShapeError, match=r"cannot reshape array of size 0"):
        infer("np.reshape", tensor("f64", (0, 3)), shape=(0, -1))


# ------------------------------------------------------------------ axes permutations, squeeze, broadcast


def test_permutations_keep_symbols():
    x = tensor("i32", ("B", 3, "T"))
    assert shape_of("np.transpose", x) == ("T", 3, "B")
    assert shape_of("np.transpose", x, axes=(1, -1, 0)) == (3, "T", "B")
    assert shape_of("np.swapaxes", x, axis1=0, axis2=-1) == ("T", 3, "B")
    assert shape_of("np.moveaxis", x, source=0, destination=-1) == (3, "T", "B")
    assert shape_of("np.moveaxis", x, source=(0, 1), destination=(2, 0)) == (3, "T", "B")
    assert shape_of("np.expand_dims", x, axis=(0, -1)) == (1, "B", 3, "T", 1)
    assert shape_of("np.ravel", tensor("f32", ("B", 1))) == ("B",)
    assert fresh(shape_of("np.ravel", x)[0])
    assert shape_of("np.atleast_3d", tensor("f32", ("B",))) == (1, "B", 1)


def test_permutation_errors():
    x = tensor("f32", (2, 3, 4))
    with pytest.raises(ShapeError, match=r"axes \(1,0\) don't match array of dimension 3"):
        infer("np.transpose", x, axes=(1, 0))
    with pytest.raises(ShapeError, match=r"repeated axis"):
        infer("np.transpose", x, axes=(1, 1, 0))
    with pytest.raises(ShapeError, match=r"axis 3 is out of bounds for an array of dimension 3"):
        infer("np.swapaxes", x, axis1=0, axis2=3)
    with pytest.raises(ShapeError, match=r"same number of elements"):
        infer("np.moveaxis", x, source=(0, 1), destination=0)
    with pytest.raises(ShapeError, match=r"out of bounds"):
        infer("np.expand_dims", x, axis=5)


def test_squeeze():
    x = tensor("f32", (1, "B", 1))
    assert shape_of("np.squeeze", x, axis=0) == ("B", 1)
    assert shape_of("np.squeeze", x, axis=(0, 2)) == ("B",)
    assert shape_of("np.squeeze", tensor("f32", (1, 3, 1))) == (3,)
    with pytest.raises(ShapeError, match=r"known only at run time; pass axis="):
        infer("np.squeeze", x)
    with pytest.raises(ShapeError, match=r"cannot select an axis to squeeze out which has size not equal to one"):
        infer("np.squeeze", tensor("f32", (1, 3)), axis=1)


def test_broadcast_to():
    assert shape_of("np.broadcast_to", tensor("f32", (3, 1)), shape=(2, 3, 5)) == (2, 3, 5)
    assert shape_of("np.broadcast_to", tensor("f32", ("B", 1)), shape=("B", 5)) == ("B", 5)
    d = shape_of("np.broadcast_to", tensor("f32", (1,)), INT, shape=(Ref(1), 5))[0]
    assert fresh(d)
    with pytest.raises(ShapeError, match=r"cannot broadcast an array of shape \(2,3\) to shape \(4,3\)"):
        infer("np.broadcast_to", tensor("f32", (2, 3)), shape=(4, 3))
    with pytest.raises(ShapeError, match=r"cannot broadcast"):
        infer("np.broadcast_to", tensor("f32", (2, 3)), shape=(3,))


# ------------------------------------------------------------------ joining and splitting


def test_concatenate_and_stack():
    a, b = tensor("f32", ("B", 3)), tensor("f64", ("B", 2))
    (t,) = infer("np.concatenate", a, b, axis=1)
    assert t == tensor("f64", ("B", 5))
    d, three = shape_of("np.concatenate", a, a, axis=0)
    assert fresh(d) and three == 3
    assert shape_of("np.concatenate", a, tensor("f32", (0, 3)), axis=0) == ("B", 3)
    assert shape_of("np.concatenate", tensor("i8", (2, 3)), tensor("i8", (4,)), axis=None) == (10,)
    (t,) = infer("np.concatenate", tensor("i64", (2,)), tensor("i64", (2,)), dtype=np.float32)
    assert t == tensor("f32", (4,))
    assert shape_of("np.stack", a, a, axis=-1) == ("B", 3, 2)
    assert shape_of("np.hstack", tensor("f32", (2,)), tensor("f32", (3,))) == (5,)
    assert shape_of("np.vstack", tensor("f32", (3,)), tensor("f32", (2, 3))) == (3, 3)


def test_join_errors():
    with pytest.raises(ShapeError, match=r"along dimension 1, the array at index 0 has size 3 and the array at index 1 has size 2"):
        infer("np.concatenate", tensor("f32", (2, 3)), tensor("f32", (2, 2)), axis=0)
    with pytest.raises(ShapeError, match=r"same number of dimensions"):
        infer("np.concatenate", tensor("f32", (2, 3)), tensor("f32", (2,)))
    with pytest.raises(ShapeError, match=r"zero-dimensional arrays cannot be concatenated"):
        infer("np.concatenate", tensor("f32", ()), tensor("f32", ()))
    with pytest.raises(ShapeError, match=r"Cannot cast array data from dtype\('float64'\) to dtype\('int64'\)"):
        infer("np.concatenate", tensor("f64", (2,)), tensor("f64", (2,)), dtype=np.int64)
    with pytest.raises(ShapeError, match=r"all input arrays must have the same shape"):
        infer("np.stack", tensor("f32", (2, 3)), tensor("f32", (3, 2)))


def test_split_outputs():
    x = tensor("f32", (6, "B"))
    assert [t.shape for t in infer("np.split", x, indices_or_sections=3)] == [(2, "B")] * 3
    assert [t.shape for t in infer("np.split", x, indices_or_sections=[1, -2, 10])] == \
        [(1, "B"), (3, "B"), (2, "B"), (0, "B")]
    parts = infer("np.split", x, indices_or_sections=2, axis=1)
    assert len(parts) == 2 and parts[0] == parts[1] and fresh(parts[0].shape[1])
    assert [t.shape for t in infer("np.array_split", tensor("f32", (7,)), indices_or_sections=3)] == [(3,), (2,), (2,)]
    with pytest.raises(ShapeError, match=r"array split does not result in an equal division"):
        infer("np.split", x, indices_or_sections=4)
    with pytest.raises(ShapeError, match=r"number sections must be larger than 0"):
        infer("np.array_split", x, indices_or_sections=0)
    with pytest.raises(ShapeError, match=r"must be a constant"):
        infer("np.split", x, INT, indices_or_sections=Ref(1))
    kernel_parts = get_op("np.split").kernel(np.arange(6), indices_or_sections=3)
    assert isinstance(kernel_parts, list) and len(kernel_parts) == 3


# ------------------------------------------------------------------ pad, tile, repeat, roll, flip


def test_pad():
    x = tensor("f32", (3, "B"))
    assert shape_of("np.pad", x, pad_width=((1, 2), (0, 0))) == (6, "B")
    assert fresh(shape_of("np.pad", x, pad_width=1)[1])
    assert shape_of("np.pad", tensor("f32", (3, 4)), pad_width=(1, 2), mode="edge") == (6, 7)
    assert shape_of("np.pad", tensor("f32", (3, 4)), pad_width=((2,),)) == (7, 8)
    assert fresh(shape_of("np.pad", tensor("f32", (3, 4)), INT, pad_width=((Ref(1), 0), (1, 1)))[0])
    with pytest.raises(ShapeError, match=r"index can't contain negative values"):
        infer("np.pad", x, pad_width=-1)
    with pytest.raises(ShapeError, match=r"does not fit an array of dimension 2"):
        infer("np.pad", x, pad_width=((1, 2, 3),))
    with pytest.raises(ShapeError, match=r"mode 'bogus' is not supported"):
        infer("np.pad", x, pad_width=1, mode="bogus")
    with pytest.raises(ShapeError, match=r"unsupported keyword arguments for mode 'edge': \['constant_values'\]"):
        infer("np.pad", x, pad_width=1, mode="edge", constant_values=3.0)
    with pytest.raises(ShapeError, match=r"can't extend empty axis 0"):
        infer("np.pad", tensor("f32", (0, 2)), pad_width=1, mode="wrap")
    # constant_values computed at run time: a Ref, substituted by the kernel
    got = get_op("np.pad").kernel(np.zeros(2), 7.0, pad_width=1, mode="constant", constant_values=Ref(1),
                                  end_values=0, reflect_type="even", stat_length=None)
    np.testing.assert_array_equal(got, [7.0, 0.0, 0.0, 7.0])


def test_tile_repeat():
    x = tensor("f32", (2, "B"))
    assert shape_of("np.tile", x, reps=(3, 1)) == (6, "B")
    assert shape_of("np.tile", x, reps=2)[0] == 2 and fresh(shape_of("np.tile", x, reps=2)[1])
    assert shape_of("np.tile", tensor("f32", (2,)), reps=(2, 2, 1)) == (2, 2, 2)
    assert shape_of("np.repeat", x, repeats=3, axis=0) == (6, "B")
    assert shape_of("np.repeat", tensor("f32", (3, 4)), repeats=[1, 0, 2], axis=0) == (3, 4)
    assert shape_of("np.repeat", tensor("f32", (3, 4)), repeats=2) == (24,)
    assert fresh(shape_of("np.repeat", tensor("f32", (3, 4)), INT, repeats=Ref(1), axis=1)[1])
    # repeats given as a run-time array: the length is a run-time dim (distjit/ops/data_dependent.py)
    repeated = shape_of("np.repeat", tensor("f32", (3, 4)), tensor("i64", (3,)), repeats=Ref(1), axis=0)
    assert fresh(repeated[0]) and repeated[1] == 4
    with pytest.raises(ShapeError, match=r"could not be broadcast together with shape \(3,\) \(2,\)"):
        infer("np.repeat", tensor("f32", (3, 4)), repeats=[1, 2], axis=0)
    with pytest.raises(ShapeError, match=r"negative dimensions are not allowed"):
        infer("np.repeat", tensor("f32", (3, 4)), repeats=-1)


def test_same_shape_ops():
    x = tensor("u8", ("B", 3))
    assert infer("np.flip", x) == [x]
    assert infer("np.flip", x, axis=(0, 1)) == [x]
    assert infer("np.roll", x, shift=(1, 2), axis=(0, 1)) == [x]
    assert infer("np.roll", x, INT, shift=Ref(1)) == [x]
    with pytest.raises(ShapeError, match=r"out of bounds"):
        infer("np.flip", x, axis=2)
    with pytest.raises(ShapeError, match=r"same length"):
        infer("np.roll", x, shift=(1, 2, 3), axis=(0, 1))


def test_python_scalar_operand_is_0d():
    assert infer("np.atleast_1d", INT) == [tensor("i64", (1,))]
    assert infer("np.tile", INT, reps=3) == [tensor("i64", (3,))]


def test_flags_and_sources():
    views = {"np.reshape", "np.transpose", "np.swapaxes", "np.moveaxis", "np.expand_dims", "np.squeeze",
             "np.broadcast_to", "np.ravel", "np.flip"}
    for name in views:
        assert "view" in get_op(name).flags, name
    for name in ("np.concatenate", "np.pad", "np.tile", "np.repeat", "np.roll"):
        assert "view" not in get_op(name).flags, name
    from distjit.ops import REGISTRY
    assert REGISTRY.for_source(np.reshape) is get_op("np.reshape")
    assert get_op("np.concatenate").bind((([1], [2]),), {"axis": 0}) == ([[1], [2]], {"axis": 0, "dtype": None,
                                                                                       "casting": "same_kind"})
