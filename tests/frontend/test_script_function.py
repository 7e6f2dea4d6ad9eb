"""A ScriptFunction is a Function: optimize, save/load of every signature, run/plan/params/graph, and a
DistJitError (never an AttributeError) for every misuse (issue 13, deliverable 4)."""
import numpy as np
import pytest

import distjit
from distjit import DistJitError, FormatError, ScriptError, ShapeError
from distjit.serialize import distjit_pb2 as pb
from distjit.serialize.files import read_model, write_model
from tests.compare import assert_same, fresh

BIAS = np.array([0.25, -0.5, 1.0])


def walk(x, n: int, scale: float = 2.0):
    acc = x * 0
    for i in range(n):
        if x.sum() > 0:
            acc = acc + x * scale
        else:
            acc = acc - x
    return acc


def biased(x):
    return x + BIAS


X64 = np.linspace(-1.0, 2.0, 5)
X32 = np.arange(6, dtype=np.float32).reshape(2, 3)


def two_signatures():
    sf = distjit.script(walk)
    sf(X64, 3)
    sf(X32, 2)
    return sf


# ------------------------------------------------------------------------------ the Function API

def test_every_function_attribute_is_there_for_the_latest_signature():
    sf = two_signatures()
    assert sf.latest is sf.function_for(X32, 2)
    assert sf.graph is sf.latest.graph and sf.signature is sf.latest.signature
    assert sf.params == {} and "def " in sf.code
    assert "_dj_" in sf.script_source or "def walk" in sf.script_source
    assert [str(v.type) for v in sf.graph.inputs] == ["f32[?x_0,?x_1]", "int", "float"]
    assert_same(sf.run(X64, 3, cluster="local"), walk(X64, 3))
    assert sf.latest is sf.function_for(X64, 3)                   # run dispatched to the float64 signature
    assert_same(sf.interpret(X32, 2, scale=0.5), walk(X32, 2, 0.5))
    assert sf.plan(workers=2) is sf.latest.plan(workers=2)
    assert distjit.partition(sf, workers=2).name == "walk"
    assert len(sf.graphs) == len(sf.functions) == len(sf) == 2


def test_optimize_keeps_the_options_for_later_signatures():
    sf = distjit.script(walk)
    sf(X64, 3)
    g = sf.optimize(level=1)
    assert isinstance(g, distjit.ScriptFunction) and len(g) == 1 and len(sf) == 1
    assert g.optimization.level == 1
    assert_same(g(X32, 2), walk(X32, 2))                           # compiled now, optimized at level 1 too
    assert len(g) == 2 and g.optimization.level == 1 and g.latest.optimization.level == 1
    assert len(sf) == 1                                            # the original is untouched
    assert distjit.optimize(g).optimization.level == 2             # options compose: level 1, then 2


def test_param_arrays_shared_by_signatures_are_stored_once(tmp_path):
    sf = distjit.script(biased)
    sf(np.ones(3))
    sf(np.ones((2, 3)))
    distjit.save(sf, tmp_path / "b.djit")
    _, model = read_model((tmp_path / "b.djit").read_bytes(), "b.djit")
    assert len(model.functions) == 1
    h = distjit.load(tmp_path / "b.djit")
    for x in (np.arange(3.0), np.arange(6.0).reshape(2, 3)):
        assert_same(h(x), biased(x))


def test_save_with_example_inputs_and_defaults(tmp_path):
    sf = distjit.script(walk)
    distjit.save(sf, tmp_path / "one.djit", example_inputs=(X64, 1))
    one = distjit.load(tmp_path / "one.djit")
    assert type(one) is distjit.Function                           # one signature: a plain Function
    assert_same(one(X64, 4), walk(X64, 4))                          # `scale` from the saved default
    distjit.save(sf, tmp_path / "two.djit", example_inputs=[(X64, 1), (X32, 1, 3.0)])
    two = distjit.load(tmp_path / "two.djit")
    assert isinstance(two, distjit.FunctionSet) and len(two) == 2
    assert_same(two(X32, 3, scale=-1.0), walk(X32, 3, -1.0))
    assert distjit.optimize(two).optimization is not None
    assert distjit.load(tmp_path / "two.djit").metadata == {}


# ------------------------------------------------------------------------------ misuse: DistJitErrors

@pytest.mark.parametrize("attr", ["graph", "signature", "params", "code", "optimization", "latest"])
def test_attributes_before_the_first_compile(attr):
    sf = distjit.script(walk)
    with pytest.raises(ScriptError, match="not compiled yet: .*Call it once, or pass example_inputs"):
        getattr(sf, attr)


def test_plan_and_save_before_the_first_compile(tmp_path):
    sf = distjit.script(walk)
    with pytest.raises(ScriptError, match="not compiled yet"):
        sf.plan(workers=2)
    with pytest.raises(ScriptError, match="not compiled yet"):
        distjit.save(sf, tmp_path / "x.djit")
    with pytest.raises(ScriptError, match="names no signature"):
        distjit.save(sf, tmp_path / "x.djit", example_inputs=[])
    assert not (tmp_path / "x.djit").exists()


def test_optimization_of_an_unoptimized_function():
    sf = two_signatures()
    with pytest.raises(ScriptError, match="is not optimized: distjit.optimize"):
        sf.optimization


@pytest.mark.parametrize("kwargs, match", [({"level": 9}, "level must be one of"),
                                           ({"passes": ["no_such_pass"]}, "unknown pass"),
                                           ({"speed": True}, "unexpected option")])
def test_bad_optimize_options_are_refused_at_once(kwargs, match):
    for sf in (distjit.script(walk), two_signatures()):
        with pytest.raises(DistJitError, match=match):
            distjit.optimize(sf, **kwargs) if "speed" not in kwargs else sf.optimize(**kwargs)


def test_optimize_and_save_of_a_plain_python_function(tmp_path):
    with pytest.raises(DistJitError, match="takes a distjit.Function or a scripted function"):
        distjit.optimize(walk)
    with pytest.raises(FormatError, match="takes a distjit.Function or a scripted function"):
        distjit.save(walk, tmp_path / "w.djit")


def test_a_loaded_set_names_the_argument_no_signature_takes(tmp_path):
    distjit.save(two_signatures(), tmp_path / "w.djit")
    h = distjit.load(tmp_path / "w.djit")
    cases = [((np.arange(3), 2), "argument x is an int64 array with 1 dimension, but the signatures of walk "
                                 "take x as a float32 array with 2 dimensions or a float64 array with 1 dimension"),
             ((X64, 2.0), "argument n is a Python float, but .* take n as a Python int"),
             (((X64, X64), 2), "argument x is structured as"),
             (("text", 2), "argument x is structured as 'text', but walk takes it as \\*"),
             ((object(), 2), "walk\\(\\): .*object"),
             ((X64, 1, 2.0, 4), "takes 3 arguments but 4 were given"),
             ((X32.astype(np.float64), 2), "no signature of walk takes this combination|take x as")]
    for args, match in cases:
        with pytest.raises(ShapeError, match=match):
            h(*args)
        with pytest.raises(ShapeError, match=match):
            h.function_for(*args)
    with pytest.raises(ShapeError, match="unexpected argument 'm'"):
        h(X64, m=3)
    with pytest.raises(ShapeError, match="missing argument"):
        h(X64)


def test_a_function_refuses_example_inputs_of_another_signature(tmp_path):
    f = distjit.trace(biased, (np.ones(3),))
    with pytest.raises(ShapeError):
        distjit.save(f, tmp_path / "f.djit", example_inputs=(np.ones(3, dtype=np.float32),))
    assert not (tmp_path / "f.djit").exists()


# ------------------------------------------------------------------------------ hostile files

def _rewrite(path, edit):
    data = path.read_bytes()
    _, model = read_model(data, str(path))
    from distjit.serialize.decode import TensorTable
    from distjit.serialize.layout import parse_header

    header = parse_header(data[:64], len(data), str(path))
    table = TensorTable(model, data, header.data_offset, header.data_length, str(path))
    arrays = [np.array(table.array(i, "t")) for i in range(len(model.tensors))]
    edit(model)
    out = path.with_name("edited.djit")
    with open(out, "wb") as fh:
        write_model(fh, model, arrays)
    return out


@pytest.mark.parametrize("edit, match", [
    (lambda m: setattr(m.functions[0], "main_graph", 99), "main graph 99 does not exist"),
    (lambda m: m.functions.add().CopyFrom(m.functions[0]), "repeats the signature"),
    (lambda m: m.functions[0].signature.arg_names.__setitem__(0, "y"), "takes the arguments"),
    (lambda m: m.functions[0].params.append(7), "tensor 7 does not exist"),
    (lambda m: m.functions[0].signature.in_spec.children.pop(), "one entry per argument"),
])
def test_corrupt_function_tables_raise_format_error(tmp_path, edit, match):
    distjit.save(two_signatures(), tmp_path / "w.djit")
    with pytest.raises(FormatError, match=match):
        distjit.load(_rewrite(tmp_path / "w.djit", edit))


def ignores(x, y: float):
    return x * 2


def test_an_input_no_argument_can_fill_is_a_format_error(tmp_path):
    sf = distjit.script(ignores)
    sf(X64, 1.0)
    sf(X32, 1.0)
    distjit.save(sf, tmp_path / "w.djit")
    edited = _rewrite(tmp_path / "w.djit", lambda m: m.graphs[m.main_graph].block.params[1].type.any.SetInParent())
    with pytest.raises(FormatError, match="function 0: a graph input of type Any cannot be an argument"):
        distjit.load(edited)


def test_an_older_reader_sees_the_first_signature(tmp_path):
    """What a 1.1 reader does with a 1.2 file: it ignores Model.functions and loads the first Function."""
    distjit.save(two_signatures(), tmp_path / "w.djit")
    first = distjit.load(_rewrite(tmp_path / "w.djit", lambda m: m.ClearField("functions")))
    assert type(first) is distjit.Function
    assert_same(first(fresh(X64), 2), walk(X64, 2))
    assert pb.Model.DESCRIPTOR.fields_by_name["functions"].number == 15
