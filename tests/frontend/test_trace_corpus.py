"""Every corpus program, traced, gives eager NumPy's results on new inputs (bit for bit)."""
import numpy as np
import pytest

import distjit
from tests.compare import assert_matches_numpy, assert_same, fresh
from tests.programs import PROGRAMS

TRACEABLE = PROGRAMS


@pytest.mark.parametrize("prog", TRACEABLE, ids=lambda p: p.name)
def test_traced_matches_numpy(prog, traced):
    assert_matches_numpy(traced(prog), prog, seeds=(1, 2))


@pytest.mark.parametrize("prog", TRACEABLE, ids=lambda p: p.name)
def test_interpreter_matches_generated_code(prog, traced):
    f = traced(prog)
    inputs = prog.make_inputs(np.random.default_rng(3))
    a, b = fresh(inputs), fresh(inputs)
    assert_same(f.interpret(*a), f(*b))
    assert_same(a, b, 0.0, "inputs after the call")


@pytest.mark.parametrize("prog", TRACEABLE, ids=lambda p: p.name)
def test_text_round_trip(prog, traced):
    graph = traced(prog).graph
    text = str(graph)
    again = distjit.Graph.parse(text)
    assert str(again) == text
    again.verify()
