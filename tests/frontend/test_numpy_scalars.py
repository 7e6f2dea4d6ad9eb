"""NumPy scalars against 0-d arrays under augmented assignment, aliases and loops, traced and scripted.

Both are f64[] in the IR, but `z[0]`, `z.sum()`, `z[0] * 1.0` and `np.float64(2.0)` are immutable NumPy
scalars: `s += 1.0` rebinds s and an alias `t = s` keeps the old number. `np.zeros(())`, `np.array(1.0)`
and `z[0, ...]` are 0-d arrays: `+=` updates them in place, and their aliases (and the caller, for a
view of an argument) see it (TracedArray._scalar, frontend/proxy.py). Every program is compared with eager
NumPy at optimization levels 0 and 2.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import distjit
from tests.compare import assert_same, fresh
from tests.source_modules import load_source


def _load(source: str, name: str = "f"):
    return load_source(source, name, "npscalar_prog")


def _compile(fn, mode, inputs):
    if mode == "trace":
        return distjit.trace(fn, fresh(inputs), fallback=False)
    return distjit.script(fn)


def _check(fn, mode, inputs_list, levels=(0, 2), kinds: bool = True) -> None:
    compiled = _compile(fn, mode, inputs_list[0])
    runners = [compiled if level == 0 else compiled.optimize(level=level) for level in levels]
    for inputs in inputs_list:
        expected_inputs = fresh(inputs)
        expected = fn(*expected_inputs)
        for level, run in zip(levels, runners):
            got_inputs = fresh(inputs)
            got = run(*got_inputs)
            assert_same(got, expected, 0.0, f"{mode} level {level}: result")
            if kinds:
                _assert_same_kind(got, expected, f"{mode} level {level}: result")
            assert_same(got_inputs, expected_inputs, 0.0, f"{mode} level {level}: inputs after the call")


def _assert_same_kind(got, expected, path) -> None:
    """A 0-d array comes back as a 0-d array, a NumPy scalar as a NumPy scalar (assert_same takes either)."""
    if isinstance(expected, tuple):
        for i, (g, e) in enumerate(zip(got, expected)):
            _assert_same_kind(g, e, f"{path}[{i}]")
        return
    assert isinstance(got, np.ndarray) == isinstance(expected, np.ndarray), \
        f"{path}: {type(got).__name__} where NumPy gives {type(expected).__name__}"


# -- the cases of the report ----------------------------------------------------------------------------

def index_alias(z):
    s = z[0]
    t = s
    s += 1.0
    return t, s


def product_alias(z):
    s = z[0] * 1.0
    t = s
    s += 1.0
    return t, s


def sum_alias(z):
    s = z.sum()
    t = s
    s *= 2.0
    return t, s


def float64_alias(z):
    s = np.float64(2.0)
    t = s
    s += z[1]
    return t, s


def loop_alias(z):
    s = z[0] * 1.0
    t = s
    for i in range(z.shape[0]):
        s += z[i]
        t = s
        s += 1.0
    return t, s


def zeros_alias(z):
    a = np.zeros(())
    b = a
    a += z[1]
    return a, b


def array_alias(z):
    a = np.array(1.0)
    b = a
    for i in range(3):
        a += z[i]
    return b


def view_of_argument(z):
    a = z[1, ...]
    b = a
    a += 5.0
    return b


def asarray_of_scalar(z):
    """np.asarray of a NumPy scalar is a new 0-d array (updated in place, the scalar stays), of a 0-d array
    the array itself."""
    s = z.max()
    a = np.asarray(s)
    a += 1.0
    b = np.asarray(z[1, ...])
    b += 2.0
    return a, s, np.array(z.sum()), np.asarray(len(z)), b, z


@pytest.mark.parametrize("mode", ["trace", "script"])
@pytest.mark.parametrize("fn", [asarray_of_scalar, index_alias, product_alias, sum_alias, float64_alias, loop_alias, zeros_alias,
                                array_alias, view_of_argument])
def test_numpy_scalar_or_zero_d_array(fn, mode):
    _check(fn, mode, [(np.arange(4.0),), (np.linspace(-1.0, 2.0, 4),)])


def branch_merge(z):
    s = z[0]
    if z[1] > 0.5:
        s = z[2]
    else:
        s = 1.0
    t = s
    s += 1.0
    return t, s


def test_if_merge_of_numbers_is_a_number():
    _check(branch_merge, "script", [(np.arange(4.0),), (np.zeros(4),)])


# -- generated programs ---------------------------------------------------------------------------------

_SCALARS = ["z[{k}]", "z[{k}] * 1.0", "z.sum()", "np.float64(2.0)", "z.max()", "0.5"]
_ARRAYS = ["np.zeros(())", "np.array(1.0)", "z[{k}, ...]"]
_NAMES = ("s", "t", "u")


@st.composite
def programs(draw, with_if: bool):
    """A straight-line or looping program over names bound to NumPy scalars, 0-d arrays and each other."""
    def init():
        pool = draw(st.sampled_from([_SCALARS, _ARRAYS]))
        return draw(st.sampled_from(pool)).format(k=draw(st.integers(0, 3)))

    def operand(index):
        return draw(st.sampled_from([f"z[{draw(st.integers(0, 3))}]", index or "z[1]", "1.5", "z.sum()"]))

    def statement(depth, index):
        kind = draw(st.sampled_from(["aug", "aug", "aug", "alias", "alias", "rebind", "loop", "if"]))
        name = draw(st.sampled_from(_NAMES))
        if kind == "loop" and depth < 2:
            var = "ij"[depth]
            body = [statement(depth + 1, f"z[{var}]") for _ in range(draw(st.integers(1, 3)))]
            trips = draw(st.sampled_from(["n", "3", "z.shape[0]"]))
            return [f"for {var} in range({trips}):"] + ["    " + line for part in body for line in part]
        if kind == "if" and with_if and depth < 2:
            then = [statement(depth + 1, index) for _ in range(draw(st.integers(1, 2)))]
            return [f"if z[{draw(st.integers(0, 3))}] > 1.0:"] + ["    " + line for part in then for line in part]
        if kind == "alias":
            return [f"{name} = {draw(st.sampled_from(_NAMES))}"]
        if kind == "rebind":
            return [f"{name} = {name} + {operand(index)}"]
        op = draw(st.sampled_from(["+=", "-=", "*="]))
        return [f"{name} {op} {operand(index)}"]

    lines = ["def f(z, n):"] + [f"    {name} = {init()}" for name in _NAMES]
    for part in [statement(0, None) for _ in range(draw(st.integers(1, 5)))]:
        lines += ["    " + line for line in part]
    lines.append("    return s, t, u")
    return "\n".join(lines) + "\n"


# What the script frontend refuses rather than compile wrongly (NOTE: [Identity of loop-carried arrays]): a
# name that is one array or another (or a number) depending on the trip count, then updated or read stale.
_REFUSED = ("one array or another", "bound to another array", "is read in this loop while")


def _kind(x):
    return tuple(isinstance(v, np.ndarray) for v in x)


def _run_generated(source, mode, trips):
    fn = _load(source)
    z = np.array([0.5, 1.5, -2.0, 3.0])
    inputs = [(z.copy(), n) for n in trips]
    # Whether a result is a 0-d array or a number may depend on the trip count (`t = s` in a loop that may not
    # run): the compiled function has one kind per output, so kinds are compared only when NumPy's agree.
    kinds = len({_kind(fn(*fresh(inp))) for inp in inputs}) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if mode == "trace":       # a trace is specialized on n: one trace per trip count
                for inp in inputs:
                    _check(fn, mode, [inp])
            else:
                _check(fn, mode, inputs, kinds=kinds)
        except distjit.ScriptError as e:
            assume(not any(why in str(e) for why in _REFUSED))
            raise


_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(source=programs(with_if=False), trips=st.lists(st.integers(0, 3), min_size=1, max_size=2, unique=True))
def test_generated_traced(source, trips):
    _run_generated(source, "trace", trips)


@_SETTINGS
@given(source=programs(with_if=True), trips=st.lists(st.integers(0, 3), min_size=2, max_size=3, unique=True))
def test_generated_scripted(source, trips):
    _run_generated(source, "script", trips)
