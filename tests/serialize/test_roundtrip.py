"""save → load keeps every Function of the corpus: same text IR, bitwise-identical results, identical bytes."""
import os
import stat

import numpy as np
import pytest

import distjit
from distjit import FormatError
from distjit.function import Signature
from distjit.ir import Builder, Graph, Ref, tensor
from distjit.pytree import LEAF, TreeSpec
from distjit.serialize import layout
from tests.compare import assert_same, fresh
from tests.programs import PROGRAMS


@pytest.mark.parametrize("prog", PROGRAMS, ids=lambda p: p.name)
def test_corpus_round_trip(prog, traced, tmp_path):
    f = traced(prog)
    path = tmp_path / "f.djit"
    distjit.save(f, path)
    first = path.read_bytes()
    g = distjit.load(path)
    assert str(g.graph) == str(f.graph)
    g.graph.verify()
    for seed in (1, 2):
        inputs = prog.make_inputs(np.random.default_rng(seed))
        a, b = fresh(inputs), fresh(inputs)
        assert_same(g(*a), f(*b))                      # bit for bit
        assert_same(a, b, 0.0, "inputs after the call")
    again = tmp_path / "again.djit"
    distjit.save(g, again)
    assert again.read_bytes() == first
    assert distjit.serialize.to_bytes(g) == first == distjit.serialize.to_bytes(f)
    h = distjit.serialize.from_bytes(first)
    assert distjit.serialize.to_bytes(h) == first
    assert distjit.serialize.to_bytes(distjit.load(path, mmap=False)) == first


def small_function(params=True):
    g = Graph("small")
    x = g.add_input(tensor(np.float32, ("B", 4)), "x")
    b = Builder(g.block)
    y = x
    p = {}
    if params:
        w = g.add_param("w", tensor(np.float32, (4, 4)))
        y, = b.op("np.matmul", [x, w])
        p = {"w": np.arange(16, dtype=np.float32).reshape(4, 4)}
    g.add_output(b.op("np.add", [y, b.constant(np.float32(1))])[0])
    sig = Signature(("x",), TreeSpec("tuple", (TreeSpec(LEAF),)), TreeSpec(LEAF))
    return distjit.Function(g, sig, p, "small")


def test_params_are_read_only_views_of_the_mapped_file(tmp_path):
    f = small_function()
    distjit.save(f, tmp_path / "m.djit")
    g = distjit.load(tmp_path / "m.djit")
    w = g.params["w"]
    assert not w.flags.writeable and not w.flags.owndata
    assert w.ctypes.data % 64 == 0
    np.testing.assert_array_equal(w, f.params["w"])
    x = np.ones((3, 4), np.float32)
    np.testing.assert_array_equal(g(x), f(x))


def test_layout_offsets_are_aligned(tmp_path):
    f = small_function()
    data = distjit.serialize.to_bytes(f)
    header, model = distjit.serialize.read_model(data, "t")
    assert header.data_offset % 64 == 0
    for desc in model.tensors:
        assert desc.offset % 64 == 0
    assert header.data_offset + header.data_length == len(data)


def test_metadata_is_stored_sorted_and_kept(tmp_path):
    f = small_function()
    distjit.save(f, tmp_path / "m.djit", metadata={"b": "2", "a": "1"})
    g = distjit.load(tmp_path / "m.djit")
    assert g.metadata == {"a": "1", "b": "2"}
    assert distjit.serialize.to_bytes(g) == (tmp_path / "m.djit").read_bytes()
    with pytest.raises(FormatError, match="metadata"):
        distjit.save(f, tmp_path / "n.djit", metadata={"a": 1})


def test_save_is_atomic_and_cleans_up(tmp_path, monkeypatch):
    f = small_function()
    path = tmp_path / "m.djit"
    distjit.save(f, path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(layout, "write_tensors", boom)
    monkeypatch.setattr("distjit.serialize.files.write_tensors", boom)
    with pytest.raises(OSError, match="disk full"):
        distjit.save(small_function(params=True), path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.djit"]


def test_saved_file_has_normal_permissions(tmp_path):
    distjit.save(small_function(), tmp_path / "m.djit")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "m.djit").st_mode) == 0o666 & ~umask


ATTRIBUTE_VALUES = [
    None, True, False, 0, -7, 1 << 70, -(1 << 80), 1.5, float("inf"), -0.0, complex(1, -2), "héllo",
    np.dtype(np.int16), np.float32, bool, (1, None), [1, [2, 3]], slice(1, None, -1), slice(Ref(0), 3, None),
    Ellipsis, np.int8(-3), np.float16(0.1), np.complex64(1 + 2j), np.bool_(True),
    np.arange(6, dtype=np.uint16).reshape(2, 3), np.zeros((0, 3)), np.array(2.5),
]


@pytest.mark.parametrize("value", ATTRIBUTE_VALUES, ids=repr)
def test_every_attribute_kind_round_trips(value):
    from distjit.serialize.encode import Encoder
    from distjit.serialize import distjit_pb2 as pb
    from distjit.serialize.decode import ModelDecoder, TensorTable
    from distjit.serialize.files import write_model

    import io
    enc = Encoder()
    a = pb.Attribute()
    enc.attribute(value, a, "test")
    enc.model.format_major = 1
    out = io.BytesIO()
    write_model(out, enc.model, enc.arrays)
    data = out.getvalue()
    header, model = distjit.serialize.read_model(data, "t")
    tensors = TensorTable(model, data, header.data_offset, header.data_length, "t")
    back = ModelDecoder(model, tensors, "t", False).attribute(a, "test", 0, "node")
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and back.tobytes() == value.tobytes() and back.shape == value.shape
    elif isinstance(value, np.generic):
        assert back.dtype == value.dtype and back.tobytes() == value.tobytes()
    else:
        assert repr(back) == repr(value)


def test_pickled_code_needs_allow_pickle():
    f = small_function(params=False)
    node = f.graph.nodes[0]
    node.attrs["value"] = (lambda v: v + 1)   # an escape-hatch payload: code
    data = distjit.serialize.to_bytes(f)
    with pytest.raises(FormatError, match=r"prim.Constant.*pickled Python code.*allow_pickle=True"):
        distjit.serialize.from_bytes(data)
    header, model = distjit.serialize.read_model(data, "t")
    assert model.graphs[0].block.nodes[0].attrs[0].value.WhichOneof("value") == "pickled_code"


def test_unsupported_values_fail_to_save():
    f = small_function(params=False)
    f.graph.nodes[0].attrs["value"] = np.array(["a"])
    with pytest.raises(FormatError, match="dtype <U1 cannot be saved"):
        distjit.serialize.to_bytes(f)


def test_prim_call_graphs_are_shared_and_ordered():
    from tests.serialize.make_golden import call

    f, args = call()
    data = distjit.serialize.to_bytes(f)
    _, model = distjit.serialize.read_model(data, "t")
    assert [g.name for g in model.graphs] == ["affine", "twice"] and model.main_graph == 1
    g = distjit.serialize.from_bytes(data)
    calls = [n for n in g.graph.nodes if n.op == "prim.Call"]
    assert calls[0].attrs["graph"] is calls[1].attrs["graph"]
    assert np.array_equal(g(*args), f(*args))


def test_version_policy():
    data = bytearray(distjit.serialize.to_bytes(small_function()))
    header, model = distjit.serialize.read_model(bytes(data), "t")
    newer_major = bytearray(data)
    newer_major[4:6] = (layout.FORMAT_MAJOR + 1).to_bytes(2, "little")
    with pytest.raises(FormatError, match=r"format version 2\.\d+, which is newer .* upgrade distjit"):
        distjit.serialize.from_bytes(bytes(newer_major))
    # a newer minor version of the same major loads (fields it adds are ignored), when message and header agree
    from distjit.serialize.files import write_model
    import io
    from distjit.serialize.encode import encode_function
    model, arrays = encode_function(small_function())
    model.format_minor = layout.FORMAT_MINOR + 3
    out = io.BytesIO()
    write_model(out, model, arrays)
    distjit.serialize.from_bytes(out.getvalue())
    mismatched = bytearray(out.getvalue())
    mismatched[6:8] = (0).to_bytes(2, "little")
    with pytest.raises(FormatError, match="header says format"):
        distjit.serialize.from_bytes(bytes(mismatched))


@pytest.mark.parametrize("prog", PROGRAMS, ids=lambda p: p.name)
def test_optimized_corpus_round_trip(prog, traced):
    """Optimized graphs (fused nodes hold nested graphs) save, load and run the same, byte-identically."""
    f = traced(prog).optimize()
    data = distjit.serialize.to_bytes(f)
    g = distjit.serialize.from_bytes(data)
    assert str(g.graph) == str(f.graph)
    assert distjit.serialize.to_bytes(g) == data
    inputs = prog.make_inputs(np.random.default_rng(1))
    assert_same(g(*fresh(inputs)), f(*fresh(inputs)))


def zero_d_outputs(x):
    z = np.zeros(())
    z += x.sum()
    return z, x.sum(), x[0, ...], {"first": x[0], "view": x[-1, ...]}


def _kinds(result) -> list:
    leaves = [result[0], result[1], result[2], result[3]["first"], result[3]["view"]]
    return [(type(v), v.dtype, v.ndim) for v in leaves]


@pytest.mark.parametrize("frontend", ["trace", "script", "optimized"])
def test_zero_d_array_outputs_survive_save_and_load(frontend, tmp_path):
    """NumPy returns 0-d arrays from np.zeros(()) and z[0, ...] and scalars from reductions and z[0]; a loaded
    file returns the same kinds (Signature.zero_d_arrays, format 1.4), and saves to the same bytes."""
    x = np.arange(4.0)
    f = distjit.script(zero_d_outputs) if frontend == "script" else distjit.trace(zero_d_outputs, (x,))
    f(x)
    if frontend == "optimized":
        f = distjit.optimize(f)
    path = tmp_path / "f.djit"
    distjit.save(f, path)
    loaded = distjit.load(path)
    assert distjit.serialize.to_bytes(loaded) == path.read_bytes()
    expected = zero_d_outputs(x)
    assert _kinds(expected)[0][0] is np.ndarray and _kinds(expected)[1][0] is np.float64
    for name, run in (("in memory", f), ("loaded", loaded), ("loaded, local plan",
                                                             lambda v: loaded.run(v, cluster="local", workers=2))):
        got = run(x)
        assert _kinds(got) == _kinds(expected), name
        assert_same(got, expected)


def test_a_zero_d_array_output_that_is_not_a_0d_tensor_is_refused(tmp_path):
    f = small_function()
    f.signature.zero_d_arrays = (0,)
    path = tmp_path / "bad.djit"
    distjit.save(f, path)
    with pytest.raises(FormatError, match="0-d array output 0 is not a 0-d tensor output"):
        distjit.load(path)
