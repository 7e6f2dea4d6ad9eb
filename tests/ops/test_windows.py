"""The window functions are creation ops: a length M (a symbolic dim when it is computed) and, for
np.kaiser, a beta that may be computed too; every path gives NumPy's values bit for bit."""
import numpy as np
import pytest

import distjit
from tests.compare import assert_same
from tests.source_modules import load_source

WINDOWS = ["bartlett", "blackman", "hamming", "hanning"]


def kaiser_tapered(x, beta):
    return x * np.kaiser(x.shape[0], beta * 2.0)


@pytest.mark.parametrize("window", WINDOWS)
def test_a_window_of_a_dynamic_length_is_one_graph_that_matches_numpy(window, tmp_path):
    fn = load_source(f"def fn(x):\n    return x * np.{window}(x.shape[0])\n", "fn", prefix="window")
    f = distjit.trace(fn, (np.ones(7),), dynamic_axes={"x": {0: "N"}}, fallback=False)
    assert f"np.{window}(" in str(f.graph)
    s = distjit.script(fn)
    distjit.save(f, tmp_path / "w.djit")
    loaded = distjit.load(tmp_path / "w.djit")
    for n in (1, 2, 7, 16):
        x = np.random.default_rng(n).standard_normal(n)
        for name, run in (("trace", f), ("optimized", distjit.optimize(f)), ("script", s), ("loaded", loaded)):
            assert_same(run(x), fn(x), 0.0, f"{name}, n={n}")


def test_kaiser_takes_a_computed_beta_and_a_dynamic_length():
    f = distjit.trace(kaiser_tapered, (np.ones(5), 3.0), dynamic_axes={"x": {0: "N"}}, fallback=False)
    s = distjit.script(kaiser_tapered)
    for n, beta in ((1, 0.0), (5, 3.0), (12, 7.5)):
        x = np.random.default_rng(n).standard_normal(n)
        for name, run in (("trace", f), ("optimized", distjit.optimize(f)), ("script", s)):
            assert_same(run(x, beta), kaiser_tapered(x, beta), 0.0, f"{name}, n={n}")


@pytest.mark.parametrize("m", [0, -3])
def test_a_window_of_fewer_than_one_point_is_empty_as_in_numpy(m):
    f = distjit.trace(lambda x: np.hanning(m) + x, (np.ones(1),), fallback=False)
    assert_same(f(np.ones(1)), np.hanning(m) + np.ones(1))


def test_kaiser_refuses_a_complex_beta_at_the_line():
    with pytest.raises(distjit.ShapeError, match="beta must be a real number") as e:
        distjit.trace(lambda x: np.kaiser(4, x[0]), (np.ones(2, complex),), fallback=False)
    assert __file__ in str(e.value)
