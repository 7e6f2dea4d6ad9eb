"""Python scalar arguments the way torch.compile treats them (issue 13, deliverable 1; NOTE: [Scalar specialization]).

A scalar whose value the program needs (range(), a size, a slice bound, bool()) specializes the graph behind
a guard; one graph per guarded value while the Python function is at hand; a loaded file refuses another
value with a ShapeError; an int used only in arithmetic stays a graph input.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import distjit
from tests.compare import assert_same


def heat(u, steps, alpha):
    for _ in range(steps):
        u = u + alpha * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
    return u


def sizes(x, n):
    a = np.zeros(n) + x[:n]
    b = np.arange(n) * x[0]
    c = x.reshape(n, -1).sum(axis=1)
    return a, b, c, np.ones((n - 1, n // 2 + 1))


def scale(x, k):
    return x * k + k // 2


def flagged(x, negate):
    if negate:
        return -x
    return x * 2.0


def converted(x, n):
    return x * (1.0 / float(n)) + int(n) - [10, 20, 30, 40][n]


X = np.linspace(0.0, 1.0, 12)


def test_guard_is_recorded_and_printed():
    f = distjit.trace(heat, (X, 3, 0.1))
    assert isinstance(f, distjit.TracedFunction)
    steps = f.graph.inputs[1]
    assert f.graph.guards == {steps: 3}
    assert "guard %steps == 3" in str(f.graph)
    assert distjit.Graph.parse(str(f.graph)).guards.popitem()[1] == 3


def test_arithmetic_only_int_stays_an_input():
    f = distjit.trace(scale, (X, 3))
    assert isinstance(f, distjit.Function) and not f.graph.guards
    for k in (3, 7, -2):
        assert_same(f(X, k), scale(X, k))


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 6), st.floats(0.0, 0.4))
def test_retrace_per_value_matches_numpy(steps, alpha):
    f = distjit.trace(heat, (X, 2, 0.1))
    assert_same(f(X, steps, alpha), heat(X, steps, alpha), rtol=1e-12)
    assert_same(f(X, 2, alpha), heat(X, 2, alpha), rtol=1e-12)
    assert f.traces == (1 if steps == 2 else 2)


def test_one_trace_per_value_is_cached():
    f = distjit.trace(heat, (X, 2, 0.1))
    for steps in (2, 3, 2, 3, 4, 4):
        assert_same(f(X, steps, 0.2), heat(X, steps, 0.2), rtol=1e-12)
    assert f.traces == 3 and len(f) == 3


@pytest.mark.parametrize("n", [2, 3, 4, 6])
def test_sizes_from_an_int_argument(n):
    f = distjit.trace(sizes, (X, 4))
    assert_same(f(X, n), sizes(X, n))
    s = distjit.script(sizes)
    assert_same(s(X, n), sizes(X, n))


def test_derived_values_guard_their_source():
    def derived(x, n):
        m = 2 * n - 1
        return x[: m // 2], np.zeros(n + 1)

    f = distjit.trace(derived, (X, 3))
    assert list(f.graph.guards.values()) == [3]
    for n in (3, 4, 5):
        assert_same(f(X, n), derived(X, n))


def test_bool_argument_specializes_the_branch():
    f = distjit.trace(flagged, (X, True))
    assert list(f.graph.guards.values()) == [True]
    assert_same(f(X, True), flagged(X, True))
    assert_same(f(X, False), flagged(X, False))
    assert f.traces == 2


def test_float_and_int_conversions_and_list_index():
    f = distjit.trace(converted, (X, 2))
    for n in (1, 2, 3):
        assert_same(f(X, n), converted(X, n))


def test_loaded_file_refuses_another_value(tmp_path):
    f = distjit.trace(heat, (X, 3, 0.1))
    distjit.save(f, tmp_path / "one.djit")
    h = distjit.load(tmp_path / "one.djit")
    assert h.graph.guards == {h.graph.inputs[1]: 3}
    assert_same(h(X, 3, 0.3), heat(X, 3, 0.3), rtol=1e-12)
    with pytest.raises(distjit.ShapeError, match=r"steps is 5.*steps == 3"):
        h(X, 5, 0.3)


def test_saved_set_keeps_every_traced_value(tmp_path):
    f = distjit.optimize(distjit.trace(heat, (X, 3, 0.1)))
    f(X, 4, 0.1)
    distjit.save(f, tmp_path / "two.djit")
    h = distjit.load(tmp_path / "two.djit")
    for steps in (3, 4):
        assert_same(h(X, steps, 0.2), heat(X, steps, 0.2), rtol=1e-12)
    with pytest.raises(distjit.ShapeError, match=r"steps is 6.*steps == 3 or 4"):
        h(X, 6, 0.2)
    assert "guard %steps == 3" in str(h.functions[0].graph)


def test_static_and_dynamic_argnames():
    f = distjit.trace(scale, (X, 3), static_argnames=("k",))
    assert isinstance(f, distjit.TracedFunction)
    assert_same(f(X, 5), scale(X, 5))
    with pytest.raises(distjit.TracingError, match="dynamic_argnames"):
        distjit.trace(heat, (X, 3, 0.1), dynamic_argnames=["steps"], fallback=False)
    with pytest.warns(distjit.FallbackWarning, match="range"):     # a dynamic trip count: the loop is scripted
        g = distjit.trace(heat, (X, 3, 0.1), dynamic_argnames=["steps"])
    for steps in (3, 5):
        assert_same(g(X, steps, 0.1), heat(X, steps, 0.1), rtol=1e-12)
    assert g.fallback.kind == "script" and len(g) == 1
    with pytest.raises(distjit.TracingError, match="not an argument"):
        distjit.trace(heat, (X, 3, 0.1), static_argnames=["nope"])
    with pytest.raises(distjit.TracingError, match="only Python bool, int and float"):
        distjit.trace(heat, (X, 3, 0.1), static_argnames=["u"])


def test_script_static_argnames_one_graph_per_value(tmp_path):
    s = distjit.script(flagged, static_argnames=["negate"])
    for negate in (True, False, True):
        assert_same(s(X, negate), flagged(X, negate))
    assert len(s) == 2 and all(g.guards for g in s.graphs)
    distjit.save(s, tmp_path / "s.djit")
    h = distjit.load(tmp_path / "s.djit")
    assert_same(h(X, False), flagged(X, False))


def test_specialized_graph_runs_on_the_local_executor():
    f = distjit.trace(heat, (X, 3, 0.1))
    assert_same(f.run(X, 3, 0.1, cluster="local"), heat(X, 3, 0.1), rtol=1e-12)
    assert_same(f.run(X, 2, 0.1, cluster="local"), heat(X, 2, 0.1), rtol=1e-12)


def test_a_guard_that_does_not_fit_its_input_fails_verification():
    text = str(distjit.trace(heat, (X, 3, 0.1)).graph)
    bad = distjit.Graph.parse(text.replace("guard %steps == 3", "guard %steps == 3.5"))
    with pytest.raises(distjit.DistJitError, match="does not fit"):
        bad.verify()
    with pytest.raises(distjit.DistJitError, match="does not fit"):
        distjit.Graph.parse(text.replace("guard %steps", "guard %u")).verify()
    with pytest.raises(distjit.DistJitError, match="an input of the graph"):
        distjit.Graph.parse(text.replace("guard %steps", "guard %nope"))
