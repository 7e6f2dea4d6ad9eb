"""The verifier: each check, on a graph broken by hand; every message names the node (and its line)."""
import numpy as np
import pytest

from distjit.errors import VerifyError
from distjit.ir import FLOAT, INT, STR, Builder, Graph, Node, Ref, SourceLoc, Value, tensor
from tests.ir import samples

F32_3 = tensor(np.float32, (3,))


def simple():
    """x -> %0 = np.add(x, x) -> %1 = np.negative(%0) -> return %1; nodes at f.py:1 and f.py:2."""
    g = Graph("simple")
    x = g.add_input(F32_3, "x")
    b = Builder(g.block)
    y, = b.op("np.add", [x, x], loc=SourceLoc("f.py", 1))
    z, = b.op("np.negative", [y], loc=SourceLoc("f.py", 2))
    g.add_output(z)
    return g


def node(g, op):
    return next(n for n in g.walk() if n.op == op)


def redefine_output(g):
    g.nodes[1].outputs.append(g.nodes[0].outputs[0])


def rename_clash(g):
    g.nodes[1].outputs[0].name = "0"


def reorder(g):
    g.block.nodes.reverse()


def undefined_return(g):
    g.block.add_return(Value("ghost", F32_3))


def wrong_value_node(g):
    g.nodes[0].outputs[0].node = g.nodes[1]


def wrong_node_block(g):
    g.nodes[1].block = None


def stale_use(g):
    g.inputs[0].uses.append((g.nodes[1], 0))


def missing_use(g):
    g.nodes[0].outputs[0].uses.clear()


def unknown_op(g):
    g.nodes[1].op = "np.frobnicate"


def unknown_attr(g):
    g.nodes[1].attrs["axis"] = 0


def ref_out_of_range(g):
    g.nodes[1].attrs["dtype"] = Ref(1)


def wrong_type(g):
    g.nodes[1].outputs[0].type = tensor(np.float64, (3,))


def infer_fails(g):
    g.inputs[0].type = STR


def blocks_on_plain_op(g):
    g.nodes[1].add_block()


@pytest.mark.parametrize("breaks, message", [
    (redefine_output, r"f.py:2: %1, %0 = np.negative\(%0\): output 1 %0 is defined twice"),
    (rename_clash, r"f.py:2: %0 = np.negative\(%0\): output 0: two different values are named %0"),
    (reorder, r"f.py:2: %1 = np.negative\(%0\): input 0 %0 is not defined before this use"),
    (undefined_return, r"^block return 1 %ghost is not defined before this use \(in graph simple\)"),
    (wrong_value_node, r"f.py:1: %0 = np.add\(%x, %x\): output 0 %0 has wrong back-pointers"),
    (wrong_node_block, r"f.py:2: %1 = np.negative\(%0\): node.block does not point to the block"),
    (stale_use, r"f.py:2: %1 = np.negative\(%0\): %x.uses has a stale entry: input 0 of %1"),
    (missing_use, r"f.py:2: %1 = np.negative\(%0\): %0.uses does not record its use as input 0"),
    (unknown_op, r"f.py:2: %1 = np.frobnicate\(%0\): unknown op 'np.frobnicate'"),
    (unknown_attr, r"f.py:2: %1 = np.negative\(%0\): 'axis' is not an attribute of np.negative \(it takes: dtype\)"),
    (ref_out_of_range, r"f.py:2: %1 = np.negative\(%0\): attribute refers to \$1 but the node has 1 inputs"),
    (wrong_type, r"f.py:2: %1 = np.negative\(%0\): outputs\[0\] has type f64\[3\], but the inferred type is f32\[3\]"),
    (infer_fails, r"f.py:1: %0 = np.add\(%x, %x\): type inference failed: TypeError"),
    (blocks_on_plain_op, r"f.py:2: %1 = np.negative\(%0\): np.negative takes no blocks, but has 1"),
])
def test_simple_graph_checks(breaks, message):
    g = simple()
    g.verify()
    breaks(g)
    with pytest.raises(VerifyError, match=message):
        g.verify()


def test_unknown_dims_match_anything():
    g = simple()
    g.nodes[1].outputs[0].type = tensor(np.float32, ("?7",))
    g.verify()


def test_value_used_outside_its_block():
    g = samples.mlp()
    inner = node(g, "np.negative").outputs[0]
    Builder(g.block).op("np.exp", [inner], loc=SourceLoc("f.py", 30))
    with pytest.raises(VerifyError, match=r"f.py:30: %9 = np.exp\(%6\): input 0 %6 is defined in a block that does not enclose"):
        g.verify()


def test_missing_required_attribute():
    g = simple()
    Builder(g.block).create("prim.Constant", [], {}, [INT], loc=SourceLoc("f.py", 5))
    with pytest.raises(VerifyError, match=r"f.py:5: %2 = prim.Constant\(\): required attribute 'value' is missing"):
        g.verify()


def test_wrong_block_param_back_pointer():
    g = samples.mlp()
    node(g, "prim.Loop").blocks[0].params[1].block = None
    with pytest.raises(VerifyError, match=r"%7 = prim.Loop\(%n, %ok, %5\): block parameter 1 %a has wrong back-pointers"):
        g.verify()


# ---- control flow ----

def if_cond_float(g):
    n = node(g, "prim.If")
    n.set_input(0, g.inputs[0])


def if_one_block(g):
    node(g, "prim.If").blocks.pop()


def if_block_params(g):
    node(g, "prim.If").blocks[0].add_param(INT, "k")


def if_return_count(g):
    b = node(g, "prim.If").blocks[1]
    b.add_return(b.returns[0])


def if_return_type(g):
    b = node(g, "prim.If").blocks[1]
    b.set_return(0, g.inputs[1])


def loop_trip_count(g):
    n = node(g, "prim.Loop")
    f = Builder(g.block, index=g.nodes.index(n)).constant(1.0)
    n.set_input(0, f)


def loop_cond(g):
    node(g, "prim.Loop").set_input(1, node(g, "prim.Loop").inputs[0])


def loop_param_count(g):
    node(g, "prim.Loop").blocks[0].add_param(INT, "extra")


def loop_iteration_param(g):
    node(g, "prim.Loop").blocks[0].params[0].type = FLOAT


def loop_returns(g):
    body = node(g, "prim.Loop").blocks[0]
    body.set_return(1, body.params[0])


def loop_outputs(g):
    node(g, "prim.Loop").outputs[0].type = tensor(np.float32, (4,))


def loop_blocks(g):
    node(g, "prim.Loop").add_block()


@pytest.mark.parametrize("breaks, message", [
    (if_cond_float, r"f.py:7: %5 = prim.If\(%x\): prim.If takes one condition: a bool or a 0-d array"),
    (if_one_block, r"f.py:7: %5 = prim.If\(%ok\): prim.If has 1 blocks, not 2"),
    (if_block_params, r"f.py:7: %5 = prim.If\(%ok\): block 0 of prim.If has parameters"),
    (if_return_count, r"%5 = prim.If\(%ok\): 1 outputs, but 2 returned by block 1 types"),
    (if_return_type, r"%5 = prim.If\(%ok\): outputs\[0\] has type f32\[B,4\], but the returned by block 1 type is f32\[4\]"),
    (loop_trip_count, r"%7 = prim.Loop\(%9, %ok, %5\): the trip count has type float, not int"),
    (loop_cond, r"%7 = prim.Loop\(%n, %n, %5\): the loop condition has type int"),
    (loop_param_count, r"%7 = prim.Loop\(%n, %ok, %5\): 2 body parameters after the iteration, but 1 carried input types"),
    (loop_iteration_param, r"%7 = prim.Loop\(%n, %ok, %5\): the body's first parameter \(the iteration number\) must be int"),
    (loop_returns, r"%7 = prim.Loop\(%n, %ok, %5\): body returns after the condition\[0\] has type int"),
    (loop_outputs, r"%7 = prim.Loop\(%n, %ok, %5\): outputs\[0\] has type f32\[4\], but the carried input type is f32\[B,4\]"),
    (loop_blocks, r"%7 = prim.Loop\(%n, %ok, %5\): prim.Loop has 2 blocks, not 1"),
])
def test_control_flow_checks(breaks, message):
    g = samples.mlp()
    breaks(g)
    with pytest.raises(VerifyError, match=message):
        g.verify()


def test_zero_d_array_conditions_are_accepted():
    g = samples.mlp()
    n = node(g, "prim.If")
    cond = Builder(g.block, index=g.nodes.index(n)).constant(np.array(1.0))
    n.set_input(0, cond)
    g.verify()


# ---- calls ----

def call_not_graph(g):
    g.nodes[0].attrs["graph"] = "scale"


def call_input_type(g):
    g.inputs[0].type = tensor(np.float64, ("B",))


def call_output_count(g):
    g.nodes[0].outputs.append(Value("extra", F32_3, node=g.nodes[0]))
    g.reserve_name("extra")


def callee_broken(g):
    inner = g.nodes[1].attrs["graph"]
    inner.nodes[1].op = "np.nope"


@pytest.mark.parametrize("breaks, message", [
    (call_not_graph, r"%0 = prim.Call\(%x\): the graph attribute is a str, not a Graph \(in graph main\)"),
    (call_input_type, r"%0 = prim.Call\(%x\): inputs\[0\] has type f64\[B\], but the graph scale's input type is f32\[B\] \(in graph main\)"),
    (call_output_count, r"%0, %extra = prim.Call\(%x\): 2 outputs, but 1 graph scale's output types"),
    (callee_broken, r"%1 = np.nope\(%x, %0\): unknown op 'np.nope' \(not in the op registry\) \(in graph scale\)"),
])
def test_call_checks(breaks, message):
    g = samples.with_calls()
    g.verify()
    breaks(g)
    with pytest.raises(VerifyError, match=message):
        g.verify()


def test_samples_verify():
    for make in (samples.mlp, samples.nested_control, samples.with_calls):
        make().verify()


def test_verify_error_carries_the_node_location():
    g = simple()
    wrong_type(g)
    with pytest.raises(VerifyError) as e:
        g.verify()
    assert e.value.loc == SourceLoc("f.py", 2)


def test_non_value_input_is_reported():
    g = simple()
    n = Node("np.exp")
    n.inputs.append(3)
    g.block.append(n)
    with pytest.raises(VerifyError, match="input 0 is not a Value but int"):
        g.verify()
