"""array.getitem and array.setitem against NumPy: random arrays, random index expressions.

Each case builds the `index` attribute the way the tracer does (constants inline,
array pieces and run-time ints as Refs to extra inputs) next to the plain index
NumPy gets, then checks the inferred type and the kernel's result against
``x[idx]`` and against ``y = x.copy(); y[idx] = v``.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distjit.errors import ShapeError
from distjit.types import INT, Ref, TensorType, parse_dtype, type_of
from distjit.ops import get_op

GETITEM = get_op("array.getitem")
SETITEM = get_op("array.setitem")
DTYPES = [np.float64, np.float32, np.int64, np.int32, np.uint8, np.bool_]


class Case:
    """An index twice: as the op's attribute plus its inputs, and as NumPy takes it."""

    def __init__(self, first_input_index: int):
        self.index: list = []      # the attribute
        self.numpy: list = []      # what NumPy gets
        self.dynamic: list = []    # inputs after x (and value)
        self.first = first_input_index
        self.has_mask = False

    def ref(self, value) -> Ref:
        self.dynamic.append(value)
        return Ref(self.first + len(self.dynamic) - 1)

    def add(self, attr_item, numpy_item):
        self.index.append(attr_item)
        self.numpy.append(numpy_item)


@st.composite
def arrays(draw):
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=4)))
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return np.asarray((rng.standard_normal(shape) * 10).astype(dtype))


@st.composite
def cases(draw, x, first_input_index=1):
    """A random valid-looking index for x: ints, slices, None, Ellipsis, int arrays, masks, bools, Refs."""
    case = Case(first_input_index)
    ndim = x.ndim
    consumed = draw(st.integers(0, ndim))
    ellipsis_at = draw(st.none() | st.integers(0, consumed))
    front = consumed if ellipsis_at is None else ellipsis_at
    axes_front = list(range(front))
    axes_back = list(range(ndim - (consumed - front), ndim))
    bshape = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))   # what the int arrays broadcast to

    def add_segment(axes):
        i = 0
        while i < len(axes):
            axis, n = axes[i], x.shape[axes[i]]
            room = i + 1 < len(axes)
            kinds = ["slice", "mask"] + (["int", "intarray"] if n else []) + (["mask2"] if room else [])
            kind = draw(st.sampled_from(kinds))
            if kind == "int":
                v = draw(st.integers(-n, n - 1))
                how = draw(st.sampled_from(["inline", "pyint", "0d"]))
                if how == "inline":
                    case.add(v, v)
                else:
                    value = v if how == "pyint" else np.array(v, dtype=np.int64)
                    case.add(case.ref(value), value)
            elif kind == "slice":
                bounds = [draw(st.none() | st.integers(-6, 6)) for _ in range(2)]
                step = draw(st.none() | st.sampled_from([1, 2, 3, -1, -2, -3]))
                parts = bounds + [step]
                attr_parts = [case.ref(b) if b is not None and draw(st.booleans()) and draw(st.booleans()) else b
                              for b in parts]
                case.add(slice(*attr_parts), slice(*parts))
            elif kind == "intarray":
                shape = tuple(d if draw(st.booleans()) else 1 for d in bshape[draw(st.integers(0, len(bshape))):])
                rng = np.random.default_rng(draw(st.integers(0, 1000)))
                arr = rng.integers(-n, n, size=shape).astype(draw(st.sampled_from([np.int64, np.int32, np.uint8]))
                                                          if n and shape else np.int64)
                if arr.dtype == np.uint8:
                    arr = np.abs(arr.astype(np.int64)).clip(0, n - 1).astype(np.uint8)
                case.add(case.ref(arr), arr)
            else:
                width = 2 if kind == "mask2" else 1
                shape = tuple(x.shape[a] for a in axes[i:i + width])
                rng = np.random.default_rng(draw(st.integers(0, 1000)))
                mask = rng.random(shape) < 0.5
                case.add(case.ref(mask), mask)
                case.has_mask = True
                i += width - 1
            i += 1

    add_segment(axes_front)
    if ellipsis_at is not None:
        case.add(Ellipsis, Ellipsis)
    add_segment(axes_back)
    for _ in range(draw(st.integers(0, 2))):   # newaxes and scalar masks anywhere
        pos = draw(st.integers(0, len(case.index)))
        item = draw(st.sampled_from([None, None, True, False]))
        case.index.insert(pos, item)
        case.numpy.insert(pos, item)
    return case


def in_types_of(*inputs):
    return [type_of(v) for v in inputs]


def assert_shape_matches(inferred: TensorType, actual: np.ndarray, dtype):
    assert inferred.dtype == dtype
    assert len(inferred.shape) == actual.ndim, (inferred, actual.shape)
    for d, n in zip(inferred.shape, actual.shape):
        assert d == n or (isinstance(d, str) and d.startswith("?")), (inferred, actual.shape)


def numpy_getitem(x, idx):
    try:
        return x[tuple(idx)], None
    except IndexError as e:
        return None, e


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_getitem_matches_numpy(data):
    x = data.draw(arrays())
    case = data.draw(cases(x))
    attrs = {"index": tuple(case.index)}
    inputs = [x, *case.dynamic]
    expected, error = numpy_getitem(x, case.numpy)
    if error is not None:
        # Errors NumPy finds without looking at mask values, inference finds too.
        if not case.has_mask:
            with pytest.raises(ShapeError):
                GETITEM.infer(in_types_of(*inputs), attrs)
        with pytest.raises(IndexError):
            GETITEM.kernel(*inputs, **attrs)
        return
    (inferred,) = GETITEM.infer(in_types_of(*inputs), attrs)
    assert_shape_matches(inferred, np.asarray(expected), x.dtype)
    if not case.has_mask and not any(isinstance(v, (int, np.ndarray)) and np.ndim(v) == 0 for v in case.dynamic):
        assert all(isinstance(d, int) for d in inferred.shape) or any(
            isinstance(b, Ref) for s in case.index if isinstance(s, slice) for b in (s.start, s.stop, s.step))
    got = GETITEM.kernel(*inputs, **attrs)
    np.testing.assert_array_equal(got, expected, strict=True)


@st.composite
def values_for(draw, target_shape, dtype):
    """A value assignable to an indexed part of this shape: a Python scalar or a broadcastable array."""
    kind = draw(st.sampled_from(["scalar", "array", "array"]))
    if kind == "scalar":
        if np.dtype(dtype).kind == "b":
            return draw(st.booleans())
        if np.dtype(dtype).kind in "iu":
            return draw(st.integers(0, 100))
        return draw(st.sampled_from([1.5, -2.0, 3]))
    shape = list(target_shape[draw(st.integers(0, len(target_shape))):])
    shape = [d if draw(st.booleans()) else 1 for d in shape]
    if draw(st.integers(0, 4)) == 0:
        shape.insert(0, 1)
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    value_dtype = draw(st.sampled_from([dtype, np.float64, np.int32]))
    return np.asarray((rng.standard_normal(shape) * 10).astype(value_dtype))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_setitem_matches_numpy(data):
    x = data.draw(arrays())
    case = data.draw(cases(x, first_input_index=2))
    expected_part, error = numpy_getitem(x, case.numpy)
    if error is not None:
        return
    value = data.draw(values_for(np.shape(expected_part), x.dtype))
    expected = x.copy()
    attrs = {"index": tuple(case.index)}
    inputs = [x, value, *case.dynamic]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected[tuple(case.numpy)] = value
        except (ValueError, TypeError):   # a sequence into one element; a 2-d value into x[mask]
            with pytest.raises(ShapeError):
                SETITEM.infer(in_types_of(*inputs), attrs)
            return
        assert SETITEM.infer(in_types_of(*inputs), attrs) == [type_of(x)]
        got = SETITEM.kernel(*inputs, **attrs)
    np.testing.assert_array_equal(got, expected, strict=True)
    assert got is not x


# ------------------------------------------------------------ specific rules and error messages


def tensor(dtype: str, shape) -> TensorType:
    return TensorType(parse_dtype(dtype), tuple(shape))


X = tensor("f32", (3, 4, 5))


def getitem_shape(index, *extra_types, x=X):
    (t,) = GETITEM.infer([x, *extra_types], {"index": index})
    assert t.dtype == x.dtype
    return t.shape


def test_out_of_bounds_int():
    with pytest.raises(ShapeError, match=r"index 5 is out of bounds for axis 0 with size 3"):
        getitem_shape((5,))
    with pytest.raises(ShapeError, match=r"index -5 is out of bounds for axis 1 with size 4"):
        getitem_shape((slice(None), -5))


def test_too_many_indices():
    with pytest.raises(ShapeError, match=r"too many indices for array: array is 3-dimensional, but 4 were indexed"):
        getitem_shape((0, 0, 0, 0))
    with pytest.raises(ShapeError, match=r"too many indices"):
        getitem_shape((Ref(1), 0, 0), tensor("bool", (3, 4)))


def test_bad_items():
    with pytest.raises(ShapeError, match=r"single ellipsis"):
        getitem_shape((Ellipsis, Ellipsis))
    with pytest.raises(ShapeError, match=r"valid indices"):
        getitem_shape((1.5,))
    with pytest.raises(ShapeError, match=r"integer \(or boolean\) type"):
        getitem_shape((Ref(1),), tensor("f64", (2,)))
    with pytest.raises(ShapeError, match=r"slice step cannot be zero"):
        getitem_shape((slice(None, None, 0),))
    with pytest.raises(ShapeError, match=r"boolean index did not match indexed array along axis 1; size of axis is 4"):
        getitem_shape((slice(None), Ref(1)), tensor("bool", (3,)))
    with pytest.raises(ShapeError, match=r"indexing arrays could not be broadcast together with shapes \(2,\) \(3,\)"):
        getitem_shape((Ref(1), Ref(2)), tensor("i64", (2,)), tensor("i64", (3,)))


def test_advanced_index_placement():
    idx = tensor("i64", (2,))
    assert getitem_shape((0, slice(None), Ref(1)), idx) == (2, 4)          # separated: advanced dims first
    assert getitem_shape((slice(None), 0, Ref(1)), idx) == (3, 2)          # adjacent: in place
    assert getitem_shape((slice(None), Ref(1), Ellipsis, Ref(2)), idx, idx) == (2, 3)   # an empty ... separates
    assert getitem_shape((None, Ref(1), None, Ref(2)), idx, idx) == (2, 1, 1, 5)
    assert getitem_shape((Ref(1),), tensor("i32", (2, 6))) == (2, 6, 4, 5)


def test_dynamic_pieces_and_symbolic_dims():
    x = tensor("f64", ("B", 4))
    assert getitem_shape((Ref(1),), INT, x=x) == (4,)                     # a run-time int drops the dim
    assert getitem_shape((slice(None), Ref(1)), tensor("i64", ()), x=x) == ("B",)
    assert getitem_shape((slice(None, None, -1),), x=x) == ("B", 4)       # whole-axis slices keep the symbol
    (d, four) = getitem_shape((slice(1, None),), x=x)
    assert d.startswith("?") and four == 4
    (n,) = getitem_shape((Ref(1),), tensor("bool", ("B", 4)), x=x)        # a mask: data-dependent length
    assert n.startswith("?")
    assert getitem_shape((slice(Ref(1), 3),), INT)[1:] == (4, 5)
    assert getitem_shape((True,)) == (1, 3, 4, 5)
    assert getitem_shape((False, Ellipsis, 0)) == (0, 3, 4)
    assert getitem_shape(()) == (3, 4, 5)


def test_kernel_substitutes_refs_positionally():
    x = np.arange(24).reshape(4, 6)
    index = (slice(1, Ref(1)), Ref(2))
    got = GETITEM.kernel(x, 3, np.array([0, -1]), index=index)
    np.testing.assert_array_equal(got, x[1:3, [0, -1]])
    # for setitem, input 1 is the value: the dynamic pieces start at Ref(2)
    out = SETITEM.kernel(x, -1, 3, np.array([0, -1]), index=(slice(1, Ref(2)), Ref(3)))
    ref = x.copy()
    ref[1:3, [0, -1]] = -1
    np.testing.assert_array_equal(out, ref)
    assert x[1, 0] == 6   # the input is untouched


def test_setitem_value_checks():
    with pytest.raises(ShapeError, match=r"could not broadcast input array from shape \(3,\) into shape \(2,4,5\)"):
        SETITEM.infer([X, tensor("f64", (3,))], {"index": (slice(0, 2),)})
    with pytest.raises(ShapeError, match=r"setting an array element with a sequence"):
        SETITEM.infer([X, tensor("f64", (1,)), INT], {"index": (0, Ref(2), -1)})
    with pytest.raises(ShapeError, match=r"boolean array indexing assignment requires a 0 or 1-dimensional input"):
        SETITEM.infer([X, tensor("f64", (1, 3)), tensor("bool", (3, 4, 5))], {"index": (Ref(2),)})
    with pytest.raises(ShapeError, match=r"Python complex"):
        SETITEM.infer([X, type_of(1j), ], {"index": (0,)})
    # leading 1s are dropped, as NumPy does; a symbolic value dim is decided at run time
    assert SETITEM.infer([X, tensor("f64", (1, 1, 4, 5))], {"index": (0,)}) == [X]
    assert SETITEM.infer([X, tensor("f64", ("N",))], {"index": (0, 0)}) == [X]
    # a value of another dtype keeps x's type (NumPy casts on assignment)
    assert SETITEM.infer([X, tensor("c128", (5,))], {"index": (0, 0)}) == [X]


def test_flags():
    assert "view" in GETITEM.flags
    assert GETITEM.sources == () and SETITEM.sources == ()
    assert GETITEM.is_pure and SETITEM.is_pure
