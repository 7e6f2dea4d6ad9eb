"""The registry-wide differential test: every op's declaration against eager NumPy.

For each sample call in `samples.SAMPLES` the op is found by the NumPy callable
(`REGISTRY.for_source`; an op without one by the sample's key, its args being the
node's inputs), the call is bound (`OpDef.bind`), the output types are
inferred from the operands' types, and the kernel is run. The kernel's results
must equal NumPy's bit for bit (same Python type, dtype, shape and bytes), and the
inferred types must be the types of NumPy's results.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from distjit.errors import ShapeError, TracingError
from distjit.types import INT, NONE, Ref, ScalarType, TensorType, TupleType, type_of
from distjit.ops import REGISTRY, get_op
from distjit.ops.registry import FRESH
from distjit.ops.infer import is_unknown
from tests.ops.samples import SAMPLES, Sample, arr

CASES = [(name, i, s) for name, samples in sorted(SAMPLES.items()) for i, s in enumerate(samples)]


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _outputs(result) -> list:
    """The outputs of a call: a tuple or list (np.split) of results is several outputs."""
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _assert_bitwise(got, want, where: str) -> None:
    assert type(got) is type(want), f"{where}: kernel returned {type(got).__name__}, NumPy {type(want).__name__}"
    g, w = np.asarray(got), np.asarray(want)
    assert g.dtype == w.dtype, f"{where}: kernel dtype {g.dtype}, NumPy {w.dtype}"
    np.testing.assert_array_equal(g, w, err_msg=where, strict=True)
    assert np.ascontiguousarray(g).tobytes() == np.ascontiguousarray(w).tobytes(), f"{where}: bytes differ"


def _conforms(inferred, actual) -> bool:
    """The inferred type is the actual one, a dim known only at run time (``?3``) matching any size."""
    if isinstance(inferred, TensorType) and isinstance(actual, TensorType):
        return (inferred.dtype == actual.dtype and inferred.ndim == actual.ndim
                and all(is_unknown(i) or i == a for i, a in zip(inferred.shape, actual.shape)))
    return inferred == actual


@pytest.mark.parametrize("name,index,sample", CASES, ids=[f"{n}#{i}:{s.describe()}" for n, i, s in CASES])
def test_op_matches_numpy(name: str, index: int, sample: Sample):
    opdef = REGISTRY.for_source(sample.fn)
    if opdef is None:
        # An op no NumPy callable records (array.getitem): the sample's function spells out the
        # op, its args are the node's inputs and its kwargs the attributes, as the frontend makes them.
        opdef = get_op(name)
        assert not opdef.sources, f"{name}'s sample calls {sample.fn}, not one of its sources {opdef.sources}"
        operands, attrs = list(sample.args), {**opdef.attr_defaults, **sample.kwargs}
    else:
        assert opdef.name == name, f"sample of {name} records {opdef.name}"
        operands, attrs = opdef.bind(sample.args, sample.kwargs)
    inferred = opdef.infer([type_of(o) for o in operands], attrs)
    got = _outputs(_quiet(opdef.kernel, *operands, **attrs))
    if "updates_first" in opdef.flags:     # np.put & co.: NumPy's result is the updated first argument
        target = np.copy(sample.args[0])
        assert _quiet(sample.fn, target, *sample.args[1:], **sample.kwargs) is None
        want = [target]
    else:
        want = _outputs(_quiet(sample.fn, *sample.args, **sample.kwargs))
    assert len(inferred) == len(want) == len(got), f"{name}: {len(inferred)} inferred, NumPy returned {len(want)}"
    for k, (t, g, w) in enumerate(zip(inferred, got, want)):
        assert _conforms(t, type_of(w)), f"{name} output {k}: inferred {t}, NumPy returned {type_of(w)}"
        if "uninitialized" not in opdef.flags:
            _assert_bitwise(g, w, f"{name} output {k}")
        else:
            assert type_of(g) == type_of(w)
    if opdef.alias == FRESH:
        _assert_fresh(name, got, operands)
    cost = opdef.estimate([type_of(o) for o in operands], inferred, attrs)
    assert cost.flops >= 0 and cost.bytes >= 0


def _assert_fresh(name: str, outputs: list, operands: list) -> None:
    """An op declared FRESH hands out buffers the memory planner may write into (`out=` reuse):
    each must be writeable and share no memory with an operand (np.diag of a matrix is a read-only view)."""
    arrays = [o for o in operands if isinstance(o, np.ndarray)]
    for k, out in enumerate(outputs):
        if isinstance(out, np.ndarray) and out.size:
            assert out.flags.writeable, f"{name} output {k}: declared FRESH but read-only"
            shared = [i for i, a in enumerate(arrays) if np.shares_memory(out, a)]
            assert not shared, f"{name} output {k}: declared FRESH but shares memory with operand {shared}"


def test_int_to_a_negative_int_power_is_refused_since_its_type_would_depend_on_a_value():
    with pytest.raises(ValueError, match="float"):
        get_op("py.pow").kernel(2, -1)


def test_every_op_has_samples():
    # prim.* have no kernel (the runtime gives them meaning); dist.* kernels are tested against NumPy with
    # their partitions in tests/distributed/test_partition.py.
    missing = [name for name in REGISTRY.names() if not name.startswith(("prim.", "dist.")) and not SAMPLES.get(name)]
    assert not missing, f"ops without a sample in tests/ops/samples*.py: {missing}"


def test_every_sample_names_a_registered_op():
    unknown = [name for name in SAMPLES if name not in REGISTRY]
    assert not unknown, unknown


# ---- symbolic dims ------------------------------------------------------------------------------------------------

def T(dtype, *shape):
    return TensorType(np.dtype(dtype), shape)


def infer(name: str, in_types, **attrs):
    opdef = get_op(name)
    return opdef.infer(list(in_types), {**opdef.attr_defaults, **attrs})


@pytest.mark.parametrize("name,in_types,attrs,shape", [
    ("np.sum", [T("f4", "B", 4)], {"axis": 1}, ("B",)),
    ("np.sum", [T("f4", "B", 4)], {"axis": 0, "keepdims": True}, (1, 4)),
    ("np.mean", [T("f8", "B", "T", 3)], {"axis": (1, 2)}, ("B",)),
    ("np.argmax", [T("f8", 3, "N")], {"axis": 0}, ("N",)),
    ("np.matmul", [T("f4", "B", 3, 4), T("f4", 4, 5)], {}, ("B", 3, 5)),
    ("np.matmul", [T("f4", "B", 3, "K"), T("f4", "K", 5)], {}, ("B", 3, 5)),
    ("np.matmul", [T("f4", "B", 3, 4), T("f4", 4)], {}, ("B", 3)),
    ("np.dot", [T("f4", "B", 4), T("f4", 4, "M")], {}, ("B", "M")),
    ("np.einsum", [T("f4", "B", 3, 4), T("f4", 4, 5)], {"subscripts": "bij,jk->bik"}, ("B", 3, 5)),
    ("np.einsum", [T("f4", "B", 3, 4)], {"subscripts": "...ij->...ji"}, ("B", 4, 3)),
    ("np.tensordot", [T("f8", "B", 3, 4), T("f8", 3, 4, "C")], {"axes": 2}, ("B", "C")),
    ("np.linalg.norm", [T("f8", "B", 3)], {"axis": 1}, ("B",)),
    ("np.linalg.solve", [T("f8", "B", 3, 3), T("f8", "B", 3, 1)], {}, ("B", 3, 1)),
    ("np.where", [T("?", "B", 1), T("f4", 1, 4), T("f4", 4)], {}, ("B", 4)),
    ("np.clip", [T("f4", "B", 4), NONE, T("f4", 4)], {}, ("B", 4)),
    ("np.zeros_like", [T("f4", "B", 3)], {}, ("B", 3)),
    ("np.full_like", [T("f4", "B", 3), ScalarType("float")], {}, ("B", 3)),
    ("np.sort", [T("f4", "B", 3)], {"axis": 0}, ("B", 3)),
    ("np.take", [T("f4", 5, 3), T("i8", "N")], {"axis": 0}, ("N", 3)),
    ("np.diff", [T("f4", "B", 5)], {"axis": 1, "n": 2}, ("B", 3)),
    ("np.cross", [T("f4", "B", 3), T("f4", 3)], {}, ("B", 3)),
    ("np.astype", [T("f4", "B", 3)], {"dtype": np.int8}, ("B", 3)),
    ("np.linspace", [T("f4", "B"), ScalarType("float")], {"num": 4, "axis": -1}, ("B", 4)),
])
def test_symbolic_dims_pass_through(name, in_types, attrs, shape):
    out = infer(name, in_types, **attrs)
    assert out[0].shape == shape


@pytest.mark.parametrize("name,in_types,attrs,pattern", [
    ("np.cumsum", [T("f4", "B", 3)], {}, ("?",)),                          # flattened: size unknown
    ("np.sort", [T("f4", "B", 3)], {"axis": None}, ("?",)),
    ("np.diff", [T("f4", "B", 5)], {"axis": 0}, ("?", 5)),
    ("np.outer", [T("f4", "B"), T("f4", 3)], {}, ("B", 3)),
    ("np.zeros", [INT], {"shape": (Ref(0), 3)}, ("?", 3)),
    ("np.ones", [TupleType((INT, INT))], {"shape": Ref(0)}, ("?", "?")),
    ("np.full", [INT, ScalarType("float")], {"shape": Ref(0)}, ("?",)),
    ("np.arange", [INT], {"start": Ref(0)}, ("?",)),
    ("np.arange", [T("i8")], {"start": 0, "stop": Ref(0), "step": 2}, ("?",)),
    ("np.eye", [INT], {"N": Ref(0)}, ("?", "?")),
    ("np.linspace", [ScalarType("float"), ScalarType("float"), INT], {"num": Ref(2)}, ("?",)),
])
def test_run_time_dims_are_fresh(name, in_types, attrs, pattern):
    shape = infer(name, in_types, **attrs)[0].shape
    assert len(shape) == len(pattern)
    for d, p in zip(shape, pattern):
        assert is_unknown(d) if p == "?" else d == p, shape


def test_fresh_dims_of_eye_are_square():
    n, m = infer("np.eye", [INT], N=Ref(0))[0].shape
    assert n == m and is_unknown(n)


def test_dtype_of_run_time_arange():
    assert infer("np.arange", [ScalarType("float")], start=Ref(0))[0].dtype == np.float64
    assert infer("np.arange", [INT], start=Ref(0))[0].dtype == np.int64


def test_weak_python_scalars():
    f32 = T("f4", 3)
    assert infer("np.add", [f32, ScalarType("float")])[0].dtype == np.float32
    assert infer("np.where", [T("?", 3), f32, ScalarType("float")])[0].dtype == np.float32
    assert infer("np.clip", [f32, ScalarType("int"), ScalarType("float")])[0].dtype == np.float32
    assert infer("np.full", [ScalarType("float")], shape=(2,))[0].dtype == np.float64


# ---- costs ---------------------------------------------------------------------------------------------------------

def test_matmul_cost_is_2mnk():
    a, b = T("f8", 2, 3, 4), T("f8", 4, 5)
    out = infer("np.matmul", [a, b])
    assert get_op("np.matmul").estimate([a, b], out, {}).flops == 2 * 2 * 3 * 5 * 4


def test_einsum_cost_is_product_of_index_sizes():
    a, b = T("f8", 2, 3), T("f8", 3, 4)
    attrs = {**get_op("np.einsum").attr_defaults, "subscripts": "ij,jk->ik"}
    out = get_op("np.einsum").infer([a, b], attrs)
    assert get_op("np.einsum").estimate([a, b], out, attrs).flops == 2 * 3 * 4


def test_reduction_flags_name_the_combine():
    for name, combine in [("np.sum", "sum"), ("np.max", "max"), ("np.mean", "mean"), ("np.std", "var"),
                          ("np.argmin", "argmin"), ("np.all", "all"), ("np.cumprod", "prod")]:
        assert {"reduction", f"combine:{combine}"} <= get_op(name).flags
    assert "cumulative" in get_op("np.cumsum").flags
    assert "uninitialized" in get_op("np.empty").flags and get_op("np.empty").is_pure


# ---- errors ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,in_types,attrs,message", [
    ("np.matmul", [T("f8", 3, 4), T("f8", 5, 6)], {}, r"np.matmul: shapes \(3,4\) and \(5,6\) not aligned: 4 \(dim 1\) != 5 \(dim 0\)"),
    ("np.matmul", [T("f8", 3), ScalarType("float")], {}, "np.matmul: operands must be arrays"),
    ("np.matmul", [T("f8", 2, 3, 4), T("f8", 3, 4, 5)], {}, "broadcast"),
    ("np.dot", [T("f8", 3, 4), T("f8", 3)], {}, r"not aligned: 4 \(dim 1\) != 3 \(dim 0\)"),
    ("np.sum", [T("f8", 3, 4)], {"axis": 2}, "axis 2 is out of bounds for an array of dimension 2"),
    ("np.sum", [T("f8", 3, 4)], {"axis": (0, 0)}, "repeated axis"),
    ("np.argmax", [T("f8", 3, 4)], {"axis": (0, 1)}, "axis must be None or an int"),
    ("np.einsum", [T("f8", 2, 3), T("f8", 4, 5)], {"subscripts": "ij,jk->ik"}, "label 'j' has size 3 and 4"),
    ("np.einsum", [T("f8", 2, 3)], {"subscripts": "ijk->i"}, "does not match subscripts"),
    ("np.einsum", [T("f8", 2, 3)], {"subscripts": "ij->ik"}, "output label 'k'"),
    ("np.tensordot", [T("f8", 2, 3), T("f8", 4, 5)], {"axes": 1}, "shape-mismatch for sum"),
    ("np.linalg.inv", [T("f8", 2, 3)], {}, "must be square"),
    ("np.linalg.inv", [T("f2", 2, 2)], {}, "np.linalg.inv: not supported"),
    ("np.linalg.norm", [T("f8", 3, 4)], {"ord": 3}, "invalid norm order 3 for matrices"),
    ("np.linalg.norm", [T("f8", 3)], {"ord": "fro"}, "invalid norm order 'fro' for vectors"),
    ("np.linalg.norm", [T("f8", 2, 3, 4)], {"ord": 2}, "improper number of dimensions"),
    ("np.zeros", [], {"shape": (2, -1)}, "negative dimensions are not allowed"),
    ("np.full", [T("f8", 4)], {"shape": (2, 3)}, r"could not broadcast fill_value of shape \(4,\) to \(2,3\)"),
    ("np.clip", [T("f8", 3), NONE, NONE], {}, "one of a_min or a_max must be given"),
    ("np.where", [T("?", 3), T("f8", 4), T("f8", 3)], {}, "could not be broadcast"),
    ("np.take", [T("f8", 3), T("f8", 2)], {}, "indices must be integers"),
    ("np.cross", [T("f8", 4), T("f8", 3)], {}, "incompatible dimensions for cross product"),
    ("np.diff", [T("f8", 3)], {"n": -1}, "order must be non-negative"),
    ("np.sort", [T("f8", 3)], {"axis": 1}, "out of bounds"),
    ("np.searchsorted", [T("f8", 2, 2), T("f8", 3)], {}, "a must be 1-D"),
    ("np.astype", [ScalarType("float")], {"dtype": np.float32}, "must be a NumPy array"),
    ("np.add", [T("f8", 3), T("f8", 4)], {}, "could not be broadcast"),
])
def test_bad_shapes_raise_shape_error(name, in_types, attrs, message):
    with pytest.raises(ShapeError, match=message):
        infer(name, in_types, **attrs)


def test_unknown_keyword_names_the_accepted_ones():
    opdef = REGISTRY.for_source(np.sum)
    with pytest.raises(TracingError, match=r"np.sum: .*axiss.*it accepts: a, axis, dtype, keepdims, initial"):
        opdef.bind((arr("f8", 3),), {"axiss": 1})
    with pytest.raises(TracingError, match="it accepts"):
        opdef.bind((arr("f8", 3),), {"where": arr("b1", 3)})
    with pytest.raises(TracingError, match="it accepts: a, axis, dtype, keepdims, initial"):
        opdef.bind((arr("f8", 3), 0, None, None, True), {})   # `out` passed positionally


def test_einsum_binds_variadic_operands():
    a, b = arr("f8", 2, 3), arr("f8", 3, 4)
    operands, attrs = get_op("np.einsum").bind(("ij,jk", a, b), {"optimize": True})
    assert operands == [a, b] and attrs["subscripts"] == "ij,jk" and attrs["optimize"] is True
    with pytest.raises(TracingError, match="subscripts form"):
        get_op("np.einsum").bind((a, [0, 1], b, [1, 2]), {})
