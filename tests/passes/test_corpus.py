"""Every corpus program, optimized at levels 1, 2 and 3 (verified after every pass), against the unoptimized Function.

Level 1 must be bit for bit; level 2 allclose rtol 1e-12 (f64) / 1e-5 (f32); level 3
1e-6 / 1e-4. Integer and bool results are always identical (assert_same compares
non-float leaves exactly whatever the rtol).
"""
import numpy as np
import pytest

import distjit
from tests.compare import assert_same, fresh
from tests.programs import CONTROL_PROGRAMS, PROGRAMS

RTOL = {1: {"f64": 0.0, "f32": 0.0}, 2: {"f64": 1e-12, "f32": 1e-5}, 3: {"f64": 1e-6, "f32": 1e-4}}


def _rtol(prog, level):
    return RTOL[level]["f32" if "float32" in prog.tags else "f64"]


@pytest.mark.parametrize("level", [1, 2, 3])
@pytest.mark.parametrize("prog", PROGRAMS, ids=lambda p: p.name)
def test_traced_program_optimized(prog, level, traced):
    f = traced(prog)
    before = str(f.graph)
    g = distjit.optimize(f, level=level, verify=True)
    assert str(f.graph) == before, "optimize changed the caller's graph"
    inputs = prog.make_inputs(np.random.default_rng(1))
    a, b = fresh(inputs), fresh(inputs)
    assert_same(g(*a), f(*b), _rtol(prog, level))
    assert_same(a, b, 0.0, "inputs after the call")
    text = str(g.graph)
    assert str(distjit.Graph.parse(text)) == text


@pytest.mark.parametrize("level", [1, 2, 3])
@pytest.mark.parametrize("prog", CONTROL_PROGRAMS, ids=lambda p: p.name)
def test_scripted_program_optimized(prog, level):
    s = distjit.script(prog.fn)
    for seed in (0, 3):
        inputs = prog.make_inputs(np.random.default_rng(seed))
        f = s.compile(*fresh(inputs))
        g = distjit.optimize(f, level=level, verify=True)
        a, b = fresh(inputs), fresh(inputs)
        assert_same(g(*a), f(*b), _rtol(prog, level))
        assert_same(a, b, 0.0, "inputs after the call")
