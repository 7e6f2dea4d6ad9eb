"""Every control-flow program of the corpus, scripted, gives plain Python's results bit for bit (seeds 0..5), or
within the program's rtol where the numerical contract allows rounding (products in native loops)."""
import numpy as np
import pytest

import distjit
from tests.compare import assert_matches_numpy, assert_same, fresh
from tests.programs import CONTROL_PROGRAMS


@pytest.fixture(scope="module")
def scripted():
    cache = {}

    def get(prog):
        if prog.name not in cache:
            cache[prog.name] = distjit.script(prog.fn)
        return cache[prog.name]
    return get


@pytest.mark.parametrize("prog", CONTROL_PROGRAMS, ids=lambda p: p.name)
def test_scripted_matches_python(prog, scripted):
    assert_matches_numpy(scripted(prog), prog, seeds=range(6))


@pytest.mark.parametrize("prog", CONTROL_PROGRAMS, ids=lambda p: p.name)
def test_interpreter_matches_generated_code(prog, scripted):
    f = scripted(prog).compile(*prog.make_inputs(np.random.default_rng(0)))
    for seed in (1, 4):
        inputs = prog.make_inputs(np.random.default_rng(seed))
        a, b = fresh(inputs), fresh(inputs)
        assert_same(f.interpret(*a), f(*b), prog.rtol)
        assert_same(a, b, 0.0, "inputs after the call")


@pytest.mark.parametrize("prog", CONTROL_PROGRAMS, ids=lambda p: p.name)
def test_text_round_trip_and_verify(prog, scripted):
    f = scripted(prog)
    f.compile(*prog.make_inputs(np.random.default_rng(0)))
    assert f.graphs
    for graph in f.graphs:
        graph.verify()
        text = str(graph)
        again = distjit.Graph.parse(text)
        assert str(again) == text
        again.verify()


def test_corpus_keeps_control_flow():
    """Data-dependent programs become prim.If / prim.Loop, not unrolled traces."""
    ops = set()
    for prog in CONTROL_PROGRAMS:
        f = distjit.script(prog.fn)
        f(*prog.make_inputs(np.random.default_rng(0)))
        ops |= {n.op for n in f.graph.walk()}
    assert {"prim.If", "prim.Loop", "prim.Assert"} <= ops
