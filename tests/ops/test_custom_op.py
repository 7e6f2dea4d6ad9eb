"""distjit.custom_op in one process: declaring, calling, tracing, scripting, sharding, saving; bad declarations.

The whole pipeline with a custom op on Ray workers is tests/distributed/test_custom_op.py.
"""
import uuid

import numpy as np
import pytest

import distjit
from distjit import DistJitError, FormatError
from distjit.ops import REGISTRY
from distjit.ops.sharding import Split
from distjit.types import TensorType
from tests.compare import assert_same

pytestmark = pytest.mark.filterwarnings("ignore::distjit.partition.PlanWarning")


@pytest.fixture
def fresh_name():
    """A unique op name, dropped from the registry after the test."""
    names = []

    def make(base="clip01"):
        names.append(f"testlib_{uuid.uuid4().hex[:6]}.{base}")
        return names[-1]
    yield make
    for n in names:
        if n in REGISTRY:
            REGISTRY.unregister(n)


def declare_rowmax(name):
    @distjit.custom_op(name, infer=lambda ins, attrs: [TensorType(ins[0].dtype, ins[0].shape[:1])],
                       shard=lambda node, ins: Split([0]) if ins[0] == 0 else None)
    def rowmax(x, scale=1.0):
        return x.max(axis=1) * scale
    return rowmax


def test_an_op_that_is_not_elementwise_traces_scripts_and_shards(fresh_name):
    name = fresh_name("rowmax")
    rowmax = declare_rowmax(name)
    x = np.random.default_rng(0).standard_normal((64, 5))

    def f(x):
        return rowmax(np.abs(x), scale=2.0) - 1.0

    expected = f(x)
    traced = distjit.trace(f, (x,))
    node = next(n for n in traced.graph.block.nodes if n.op == name)
    assert node.attrs["scale"] == 2.0
    assert_same(traced(x), expected, 0)
    assert_same(traced.run(x, cluster="local", workers=2, shard={"x": 0}), expected, 0)
    plan = traced.plan(workers=2, shard={"x": 0})
    assert len(plan.tasks) == 2                                       # the declared rule kept the rows split
    scripted = distjit.script(f)
    assert_same(scripted(x), expected, 0)
    assert name in [n.op for n in scripted.graph.block.nodes]
    assert distjit.Graph.parse(str(traced.graph)).__str__() == str(traced.graph)
    loaded = distjit.serialize.from_bytes(distjit.serialize.to_bytes(distjit.optimize(traced)))
    assert_same(loaded(x), expected, 0)


def test_elementwise_op_broadcasts_and_keeps_numpy_dtypes(fresh_name):
    @distjit.custom_op(fresh_name("scaled"), elementwise=True)
    def scaled(a, b):
        return a * 2 + b

    a, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.arange(3, dtype=np.int16)
    f = distjit.trace(lambda a, b: scaled(a, b), (a, b))
    assert f.graph.outputs[0].type == TensorType(np.dtype(np.float32), (2, 3))
    assert_same(f(a, b), scaled(a, b), 0)


def test_without_the_op_a_saved_file_is_a_format_error_naming_it(fresh_name):
    name = fresh_name()

    @distjit.custom_op(name, elementwise=True)
    def clip01(x):
        return np.minimum(np.maximum(x, 0.0), 1.0)

    x = np.linspace(-1, 2, 12)
    data = distjit.serialize.to_bytes(distjit.trace(lambda x: clip01(x) * 3, (x,)))
    assert b"cloudpickle" not in data
    REGISTRY.unregister(name)
    with pytest.raises(FormatError, match=name.replace(".", r"\.")):
        distjit.serialize.from_bytes(data)


@pytest.mark.parametrize("name, options, message", [
    ("softplus", {"elementwise": True}, "of the form 'library.op'"),
    ("np.softplus", {"elementwise": True}, "namespace of distjit's own ops"),
    ("np.add", {"elementwise": True}, "namespace"),
    ("mylib.f", {}, "must declare infer="),
])
def test_bad_declarations_are_clear_errors(name, options, message):
    with pytest.raises(DistJitError, match=message):
        distjit.custom_op(name, lambda x: x, **options)


def test_a_name_is_declared_once(fresh_name):
    name = fresh_name()
    distjit.custom_op(name, lambda x: x + 1, elementwise=True)
    with pytest.raises(DistJitError, match="already declared"):
        distjit.custom_op(name, lambda x: x + 2, elementwise=True)


def test_varargs_are_refused(fresh_name):
    with pytest.raises(DistJitError, match=r"\*xs"):
        distjit.custom_op(fresh_name(), lambda *xs: xs[0], elementwise=True)
