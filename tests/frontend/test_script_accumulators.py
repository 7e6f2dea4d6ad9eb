"""Augmented assignments of number and 0-d array accumulators through nests of scripted graph loops.

`s = 0.0; for ...: for ...: s += z[i]` widens `s` from a Python float to f64[] in the inner loop; the
enclosing loop must carry that widened value, not the number it entered with (NOTE: [Identity of
loop-carried arrays] in script_loops.py: a number has no array identity to keep). A 0-d array made
with np.zeros(()) or passed in is updated in place by `+=`, and its aliases and the caller see it.
Every program runs scripted (optimization levels 0 and 2) and eagerly on several trip counts, zero
among them.
"""
from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import distjit
from tests.compare import assert_same, fresh
from tests.source_modules import load_source


def _load(source: str, name: str = "f"):
    return load_source(source, name, "acc_prog")


def _check(fn, inputs_list, levels=(0, 2)) -> None:
    scripted = distjit.script(fn)
    runners = [scripted if level == 0 else scripted.optimize(level=level) for level in levels]
    for inputs in inputs_list:
        expected_inputs = fresh(inputs)
        expected = fn(*expected_inputs)
        for level, run in zip(levels, runners):
            got_inputs = fresh(inputs)
            got = run(*got_inputs)
            assert_same(got, expected, 0.0, f"level {level}: result")
            assert_same(got_inputs, expected_inputs, 0.0, f"level {level}: inputs after the call")


def nested_float(z, n):
    s = 0.0
    for k in range(n):
        for i in range(z.shape[0]):
            s += z[i] * 2.0
    return s


def nested_complex(z, n):
    s = 0j
    for k in range(n):
        for i in range(z.shape[0]):
            s += z[i] * 2.0
    return s


def nested_int(z, n):
    s = 0
    for k in range(n):
        for i in range(z.shape[0]):
            s += i * k
    return s


def triple(z, n, m):
    s = 0.0
    for a in range(n):
        s *= 0.5
        for k in range(m):
            for i in range(z.shape[0]):
                s -= z[i]
            s += k
    return s


def zero_d_alias(z, n):
    s = np.zeros(())
    t = s
    for k in range(n):
        for i in range(z.shape[0]):
            s += z[i]
    return s, t


def zero_d_argument(z, acc, n):
    for k in range(n):
        for i in range(z.shape[0]):
            acc += z[i] * 0.5      # the caller's 0-d array is updated
    return z.sum()


def while_outside(z, n):
    s = 0.0
    k = 0
    while k < n:
        for v in z:                 # the rows of z: NumPy scalars
            s += v
        k += 1
    return s


def if_around_inner(z, n):
    s = 0.0
    for k in range(n):
        if k % 2 == 0:
            for i in range(z.shape[0]):
                s += z[i]
        else:
            s -= 1.0
    return s


@pytest.mark.parametrize("fn", [nested_float, nested_complex, nested_int, zero_d_alias, while_outside,
                                if_around_inner],
                         ids=lambda f: f.__name__)
def test_nested_augmented_assignment(fn):
    _check(fn, [(np.array([1.0, 3.0]), 3), (np.array([1.0, 3.0]), 0), (np.zeros(0), 2),
                (np.array([0.25, -1.0, 2.0]), 5)])


def number_argument(z, n, x):
    s = x                       # a traced Python float: a number, whose loop result is no "other array"
    for i in range(n):          # may run zero times
        s = s + z[i % 2]
    s += 1.0                    # was refused as an update of an array of ambiguous identity
    return s


def test_number_argument_widened_in_a_loop_that_may_not_run():
    _check(number_argument, [(np.array([1.0, 3.0]), 3, 0.5), (np.array([1.0, 3.0]), 0, 0.5)])


def test_three_loops():
    _check(triple, [(np.array([1.0, 3.0]), 3, 2), (np.array([1.0, 3.0]), 2, 0), (np.array([2.0]), 0, 4)])


def test_zero_d_argument_is_updated_for_the_caller():
    _check(zero_d_argument, [(np.array([1.0, 3.0]), np.array(1.0), 3), (np.array([1.0, 3.0]), np.array(1.0), 0)])


# -- generated nests ----------------------------------------------------------------------------

_INITS = {
    "float": "0.0", "int": "0", "complex": "0j",
    "zeros": "np.zeros(())", "array": "np.array(0.0)", "czeros": "np.zeros((), dtype=np.complex128)",
    "izeros": "np.zeros((), dtype=np.int64)",
}
_INT_KINDS = ("int", "izeros")


@st.composite
def nests(draw):
    """(source, kind): a function f(z, n0, n1, n2) of 1-3 nested loops that update accumulator `s`."""
    kind = draw(st.sampled_from(["float", "float", "complex", "int", *sorted(set(_INITS) - {"float", "complex", "int"})]))
    depth = draw(st.sampled_from([1, 2, 2, 3, 3]))
    over_z = [draw(st.booleans()) for _ in range(depth - 1)] + [draw(st.sampled_from([True, True, False]))]

    def statement(level):
        zs = [j for j in range(level + 1) if over_z[j]]
        j = zs[-1] if zs and draw(st.booleans()) else draw(st.integers(0, level))
        var = f"i{j}"
        op = draw(st.sampled_from(["+=", "+=", "-=", "*="]))
        if kind in _INT_KINDS:
            return f"s {'+=' if op == '*=' else op} {draw(st.sampled_from([var, f'{var} * 2', '1']))}"
        if op == "*=":
            return "s *= 0.5"
        exprs = [f"{var} * 0.5", "1.5"]
        if over_z[j]:       # an item of z is a NumPy scalar: it widens a Python number to f64[]
            exprs += [f"z[{var}]", f"z[{var}] * 2.0"] * 2
        if kind in ("complex", "czeros"):
            exprs += ["1j", f"{var} * 0.25j"]
        return f"s {op} {draw(st.sampled_from(exprs))}"

    lines = ["def f(z, n0, n1, n2):", f"    s = {_INITS[kind]}", "    t = s"]

    def emit(level):
        pad = "    " * (level + 1)
        bound = "z.shape[0]" if over_z[level] else f"n{level}"
        lines.append(f"{pad}for i{level} in range({bound}):")
        for _ in range(draw(st.integers(0, 1))):
            lines.append(f"{pad}    {statement(level)}")
        if level + 1 < depth:
            emit(level + 1)
        for _ in range(draw(st.integers(0 if level + 1 < depth else 1, 1))):
            lines.append(f"{pad}    {statement(level)}")
    emit(0)
    lines.append("    return s, t")
    return "\n".join(lines) + "\n", kind


@settings(max_examples=25, deadline=None)
@given(prog=nests(), trips=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3),
                                               st.integers(0, 3)), min_size=2, max_size=3))
def test_generated_nests(prog, trips):
    source, _ = prog
    fn = _load(source)
    rng = np.random.default_rng(len(source))
    inputs = [(np.round(rng.standard_normal(length) * 4) / 4, n0, n1, n2) for length, n0, n1, n2 in trips]
    inputs.append((np.array([1.0, -2.0]), 0, 0, 0))     # every loop over n runs zero times
    _check(fn, inputs)
