"""Python's & | ^ >> on Python ints inside native regions, and element swaps written in place, against eager
Python/NumPy (runtime/native/scalar_templates.py, runtime/native/inplace.py).

Each program's loop must run natively (the explain report), so a passing test is about the native code.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import distjit
from distjit.errors import ExecutionError
from tests.programs.realcode import algorithms  # noqa: F401 - registers the kernels
from tests.programs.realcode.kernel import CORPORA


def _compiled(fn):
    return distjit.optimize(distjit.script(fn))


def _native_only(f):
    report = f.optimization.explain()
    assert "native (" in report and "NumPy code" not in report, report


def _bits(xs, a, b):
    out = np.zeros(len(xs), dtype=np.int64)
    for i in range(len(xs)):
        v = int(xs[i])
        out[i] = ((v & a) | (v ^ b)) + (v >> b) + (a >> (i % 70))
    return out


int64s = st.integers(-2**62, 2**62)


@given(st.lists(int64s, min_size=1, max_size=12), int64s, st.integers(-3, 80))
@settings(max_examples=60, deadline=None)
def test_python_int_bit_ops_match_python_and_negative_counts_raise(values, a, b):
    xs = np.array(values, dtype=np.int64)
    f = _compiled(_bits)
    try:
        expected = _bits(xs, a, b)
    except ValueError as e:                 # a negative count: Python's ValueError, as ExecutionError's cause
        with pytest.raises(ExecutionError) as info:
            f(xs, a, b)
        assert isinstance(info.value.__cause__, type(e))
        return
    got = f(xs, a, b)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    _native_only(f)


def _swaps(x, pairs):
    X = x.copy()
    for k in range(pairs.shape[0]):
        i, j = int(pairs[k, 0]), int(pairs[k, 1])
        if i < j:
            X[i], X[j] = X[j], X[i]
    return X


@given(st.integers(1, 20), st.integers(0, 30), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_element_swaps_written_in_place_match_numpy(n, m, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    pairs = rng.integers(0, n, (m, 2))
    f = _compiled(_swaps)
    given_x = x.copy()
    assert np.array_equal(f(given_x, pairs), _swaps(x, pairs))
    assert np.array_equal(given_x, x)           # the argument is not written into
    if m:
        _native_only(f)


@pytest.mark.parametrize("seed", [0, 5])
def test_fft_radix2_bit_reversal_runs_natively_and_matches_numpy(seed):
    k = CORPORA["realcode"]["algorithms.fft_radix2"]
    f = _compiled(k.fn)
    (x,) = k.inputs(seed, 256)
    got, expected = f(x.copy()), k.fn(x.copy())
    report = f.optimization.explain()
    assert "algorithms.py:141: native (" in report, report
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert np.allclose(got, np.fft.fft(x), rtol=1e-9, atol=1e-9)
