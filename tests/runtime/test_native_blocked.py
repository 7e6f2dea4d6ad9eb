"""Differential tests of time loops over long vectors in a native region: NumPy's own loops for the
transcendentals of vectors (runtime/native/numpy_loops.py, bit for bit NumPy's) and the loop run block by block
of rows (runtime/native/blocked.py, bit for bit the loop as written)."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import distjit
from distjit.runtime.native import blocked, numpy_loops
from tests.programs.realcode import models

# around the block's rows (blocked.ROWS) and the staged loop's slots (lower._BLOCK): the plain loop below two
# blocks, tails of every length
SIZES = [0, 1, 7, 2047, 2048, 2049, 4095, 4096, 4097, 9001]


def _compiled(fn):
    return distjit.optimize(distjit.script(fn))


def _run(fn, *args):
    """fn through distjit, and eagerly, on copies of args: results and the arguments after the call."""
    f = _compiled(fn)
    mine, theirs = copy.deepcopy(args), copy.deepcopy(args)
    got = f(*mine)
    report = f.optimization.explain()
    assert "native (" in report and "NumPy code" not in report, report
    return (got, mine), (fn(*theirs), theirs), f


def _bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(a, b, equal_nan=True), np.flatnonzero(~((a == b) | (np.isnan(a) & np.isnan(b))))[:5]


def transcendentals(x, n):
    acc = np.zeros_like(x)
    for i in range(n):
        acc = acc + np.exp(x * 0.5 - i) + np.log1p(np.abs(x)) * np.sin(x + i) - np.tanh(x * i) + np.cos(np.log(x * x + 1.0))
    return acc


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_transcendentals_of_vectors_in_a_loop_are_numpys_bit_for_bit(n, dtype):
    x = (np.random.default_rng(n).standard_normal(n) * 4).astype(dtype)
    (got, _), (want, _), _ = _run(transcendentals, x, 3)
    _bits(got, want)


def test_numpy_hands_out_the_loops_a_region_calls():
    for op in ("np.exp", "np.log", "np.sin", "np.cos", "np.tanh", "np.log1p", "np.expm1"):
        for dtype in ("float64", "float32"):
            assert numpy_loops.key(op, [np.dtype(dtype)], np.dtype(dtype)) == (op, dtype)
    assert numpy_loops.key("np.add", [np.dtype("float64")] * 2, np.dtype("float64")) is None
    assert numpy_loops.key("np.exp", [np.dtype("complex128")], np.dtype("complex128")) is None


def test_a_staged_loop_reads_special_values_as_numpy():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e308, -1e308, 710.0, -745.2, 5e-324] * 500)
    (got, _), (want, _), _ = _run(transcendentals, x, 2)
    _bits(got, want)


@pytest.mark.parametrize("n", SIZES)
def test_the_option_kernel_is_numpys_bit_for_bit(n):
    args = models._option_inputs(np.random.default_rng(n), n)
    (got, _), (want, _), _ = _run(models.monte_carlo_option, *args)
    assert got.keys() == want.keys()
    for k in got:
        _bits(got[k], want[k])


def _loop_of(f):
    loops = [n for n in f.graph.block.nodes if n.op == "prim.Loop"]
    assert len(loops) == 1
    return loops[0]


def test_the_option_kernels_time_loop_runs_in_blocks_of_rows():
    f = _compiled(models.monte_carlo_option)
    f(*models._option_inputs(np.random.default_rng(0), 50))
    assert blocked.plan(_loop_of(f)) is not None


def uses_the_length(S, z):
    for t in range(z.shape[1]):
        S = S + z[:, t] / len(S)
    return S


def reads_an_element(S, z):
    for t in range(z.shape[1]):
        S = S * z[0, t] + z[:, t]
    return S


@pytest.mark.parametrize("fn", [uses_the_length, reads_an_element])
def test_a_body_that_reads_across_rows_is_not_blocked(fn):
    n = 5000
    z = np.random.default_rng(1).standard_normal((n, 4))
    (got, _), (want, _), f = _run(fn, np.ones(n), z)
    _bits(got, want)
    assert blocked.plan(_loop_of(f)) is None


def updates_in_place(S, z, w, a):
    total = np.zeros_like(S)
    scale = 1.0
    for t in range(z.shape[1]):
        scale = scale * a
        S *= np.exp(z[:, t] * scale) + w
        total += S * scale
    return total, scale


@pytest.mark.parametrize("n", SIZES)
def test_a_mutated_argument_and_a_vector_from_outside_are_updated_as_numpy(n):
    rng = np.random.default_rng(n + 1)
    args = (rng.random(n), rng.standard_normal((n, 5)) * 0.1, rng.random(n), 0.9)
    (got, mine), (want, theirs), _ = _run(updates_in_place, *args)
    for g, w in zip(got, want):
        _bits(g, w)
    _bits(mine[0], theirs[0])           # the caller's S


@pytest.mark.parametrize("n", [1, 5000])
def test_an_operand_broadcast_from_one_element_runs_the_loop_as_written(n):
    rng = np.random.default_rng(3)
    args = (rng.random(5000), rng.standard_normal((5000, 3)), rng.random(n), 1.1)
    (got, mine), (want, theirs), _ = _run(updates_in_place, *args)
    for g, w in zip(got, want):
        _bits(g, w)
    _bits(mine[0], theirs[0])


def grows(z):
    acc = np.zeros(1)
    for t in range(z.shape[1]):
        acc = acc + np.exp(z[:, t])
    return acc


def stops_early(S, z, limit):
    t = 0
    s = 1.0
    while s < limit:
        S = S + np.sin(z[:, t]) * s
        s = s * 2.0
        t += 1
    return S, t


def test_a_vector_that_grows_from_one_element_and_a_while_loop_are_numpys():
    z = np.random.default_rng(4).standard_normal((6000, 6))
    (got, _), (want, _), _ = _run(grows, z)
    _bits(got, want)
    (got, _), (want, _), _ = _run(stops_early, np.zeros(6000), z, 20.0)
    _bits(got[0], want[0])
    assert got[1] == want[1]
