"""What loads prints and parses back as itself (issue 16, findings 3 and 7).

Ray workers and the in-place variants run the text form of a graph, so a file must not hold
anything the text form reads back differently: dim symbols outside the dim grammar, names a
reader normalizes (Unicode letters and digits print quoted), attributes the parser would put
in another form. Each case here once loaded and then printed, parsed or compiled differently.
"""
import numpy as np
import pytest

import distjit
from distjit import FormatError
from distjit.ir.graph import Graph
from distjit.serialize import distjit_pb2 as pb
from tests.compare import assert_same
from tests.serialize.test_fuzz import assemble, split

X, W = np.linspace(-1, 1, 24).reshape(8, 3), np.ones((3, 2))


def base(keepdims=False) -> bytes:
    f = distjit.trace(lambda x, w: np.tanh(x @ w).sum(axis=0, keepdims=keepdims), (X, W), dynamic_axes={"x": {0: "B"}})
    return distjit.serialize.to_bytes(f)


def edited(edit, keepdims=False) -> bytes:
    _, model, data = split(base(keepdims))
    edit(model)
    return assemble(model, data)


def main(model: pb.Model) -> pb.Graph:
    return model.graphs[model.main_graph]


def assert_round_trips(g: Graph) -> None:
    text = str(g)
    again = Graph.parse(text)
    again.verify()
    assert str(again) == text


@pytest.mark.parametrize("symbol", ["B]", "B,3", "B) = np.negative(%x", "ﬁ", "B²", "a b", "", "x" * 200])
def test_dim_symbols_outside_the_dim_grammar_are_refused(symbol):
    def edit(model):
        for v in [*main(model).block.params, *(o for n in main(model).block.nodes for o in n.outputs)]:
            for d in v.type.tensor.dims:
                if d.WhichOneof("dim") == "symbol":
                    d.symbol = symbol
    with pytest.raises(FormatError, match="invalid dim"):
        distjit.serialize.from_bytes(edited(edit))


@pytest.mark.parametrize("name", ["ﬁ", "²", "x²", "٣", "a b"])
def test_unicode_graph_and_value_names_load_run_and_round_trip(name):
    def edit(model):
        main(model).name = name
        main(model).block.nodes[0].outputs[0].name = name
    f = distjit.serialize.from_bytes(edited(edit))
    assert f.graph.name == name
    assert_round_trips(f.graph)
    assert_same(f(X, W), np.tanh(X @ W).sum(axis=0))


@pytest.mark.parametrize("name", ["\x1b[2J", "a\x9bb", "a\u2028b", "a\nb"])
def test_names_with_control_codes_are_refused(name):
    with pytest.raises(FormatError, match="unprintable name"):
        distjit.serialize.from_bytes(edited(lambda m: setattr(main(m), "name", name)))
    with pytest.raises(FormatError, match="unprintable name"):
        distjit.serialize.from_bytes(edited(lambda m: setattr(main(m).block.nodes[0].outputs[0], "name", name)))


@pytest.mark.parametrize("digits", ["--5", "-", "", "5-", "٣", "1 2"])
def test_malformed_big_ints_are_refused_by_an_explicit_check(digits):
    def edit(model):
        a = main(model).block.nodes[-1].attrs.add()
        a.name = "axis"
        a.value.big_int = digits
        del main(model).block.nodes[-1].attrs[:-1]
    with pytest.raises(FormatError, match="invalid integer") as e:
        distjit.serialize.from_bytes(edited(edit))
    assert "unexpected error" not in str(e.value)


def test_a_dtype_attribute_that_is_not_a_dtype_is_refused():
    # printed as scalar("f64", 2.0), read back by the parser as dtype("f64"): two different graphs
    def edit(model):
        node = main(model).block.nodes[1]          # np.tanh, whose dtype attribute is None
        for a in node.attrs:
            if a.name == "dtype":
                a.value.Clear()
                a.value.numpy_scalar.dtype = pb.FLOAT64
                a.value.numpy_scalar.data = np.float64(2.0).tobytes()
    with pytest.raises(FormatError, match="'dtype' holds a float64"):
        distjit.serialize.from_bytes(edited(edit))


def test_attributes_in_another_order_load_in_the_declared_order():
    # the parser puts attributes in declaration order: a file's own order printed, then parsed, reordered them
    def edit(model):
        node = main(model).block.nodes[-1]        # np.sum: axis, dtype, keepdims, ...
        attrs = [pb.NamedAttribute() for _ in node.attrs]
        for a, b in zip(attrs, reversed(node.attrs)):
            a.CopyFrom(b)
        del node.attrs[:]
        node.attrs.extend(attrs)
    f = distjit.serialize.from_bytes(edited(edit, keepdims=True))
    assert_round_trips(f.graph)
    assert str(f.graph) == str(distjit.serialize.from_bytes(base(keepdims=True)).graph)
