"""Donated arguments (NOTE: [Donated arguments] in distjit/runtime/donation.py): differential against eager NumPy.

A function that mutates its argument runs with the caller's array as the buffer it updates,
when the array is writable; otherwise on a copy. Arguments that share memory run the variant
compiled for how they alias, which updates the caller's memory too (NOTE: [Aliased arguments];
tests/runtime/test_aliased_args.py compares those calls with NumPy).
Each test compares the results and the caller's arrays after the call with eager NumPy's, bit
for bit, on the native path and the NumPy path (DISTJIT_NATIVE=0), and checks which of the
two happened by whether the program's new contents are the caller's memory.
"""
from __future__ import annotations

import numpy as np
import pytest

import distjit
from distjit.errors import ExecutionError
from tests.compare import assert_same, fresh


def scale_columns(X):
    for j in range(X.shape[1]):
        col = X[:, j]
        X[:, j] = (col - col.min()) / (col.max() - col.min())


def center(X, Y):
    m = Y.mean(axis=0)
    X -= m
    return m


def shift_rows(X, Y):
    """Reads all of Y before it writes X: NumPy's result does not depend on whether they alias."""
    total = Y.sum()
    for i in range(X.shape[0]):
        X[i] = X[i] * 2.0 + 1.0
    return total


def clip_if_big(X):
    if X[0, 0] > 0.0:
        X[0] = 0.0
        X *= 0.5
    return X.sum()


def fill_until(X, idx):
    for i in range(idx.shape[0]):
        X[i] = X[idx[i]] + 1.0


PATHS = ["native", "numpy"]


def _compiled(fn, path, monkeypatch):
    if path == "numpy":
        monkeypatch.setenv("DISTJIT_NATIVE", "0")
    return distjit.optimize(distjit.script(fn))


def _check(fn, path, monkeypatch, make_args, donated: bool):
    """fn compiled gives NumPy's results and leaves the arguments as NumPy does; the program updates the first
    argument in the caller's memory exactly when `donated`."""
    f = _compiled(fn, path, monkeypatch)
    args, expected_args = make_args(), make_args()
    expected = fn(*expected_args)
    got = f(*args)
    assert_same(got, expected, 0.0)
    assert_same(args, expected_args, 0.0, "arguments after the call")
    # Run the calling convention's steps to see where the new contents of the first argument live.
    args = make_args()
    signature = f.functions[0]
    leaves = signature.flatten_inputs(args, {})
    outputs = signature.run_graph(leaves)
    (leaf, out), = [m for m in signature.signature.mutations if m[0] == 0]
    assert np.shares_memory(outputs[out], args[0]) == donated
    return f


def _matrix(seed=0, shape=(50, 4)):
    return np.random.default_rng(seed).random(shape) * 10.0


@pytest.mark.parametrize("path", PATHS)
def test_a_mutated_argument_is_updated_in_the_callers_memory(path, monkeypatch):
    _check(scale_columns, path, monkeypatch, lambda: (_matrix(),), donated=True)
    _check(center, path, monkeypatch, lambda: (_matrix(), _matrix(1)), donated=True)


@pytest.mark.parametrize("path", PATHS)
def test_the_same_array_passed_twice_is_updated_in_place(path, monkeypatch):
    def same():
        x = _matrix()
        return x, x

    _check(center, path, monkeypatch, same, donated=True)
    _check(shift_rows, path, monkeypatch, same, donated=True)


@pytest.mark.parametrize("path", PATHS)
def test_a_view_and_its_base_are_updated_in_place(path, monkeypatch):
    def view_first():
        x = _matrix(shape=(50, 8))
        return x[:, :4], x[:, 4:]         # disjoint columns: their bounds overlap, their elements do not

    def base_second():
        x = _matrix()
        return x[10:20], x

    _check(shift_rows, path, monkeypatch, view_first, donated=True)
    _check(shift_rows, path, monkeypatch, base_second, donated=True)


@pytest.mark.parametrize("path", PATHS)
def test_a_non_contiguous_argument_is_written_through(path, monkeypatch):
    base = _matrix(shape=(60, 9))
    f = _check(scale_columns, path, monkeypatch, lambda: (base.copy()[::2, ::2],), donated=True)
    # the writes reach the base as NumPy's do
    got, expected = base.copy(), base.copy()
    f(got.T[::2])
    scale_columns(expected.T[::2])
    assert_same(got, expected)


@pytest.mark.parametrize("path", PATHS)
def test_a_read_only_argument_is_not_written(path, monkeypatch):
    f = _compiled(scale_columns, path, monkeypatch)
    f(_matrix())
    x = _matrix()
    x.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        scale_columns(x)
    with pytest.raises(ValueError, match="read-only"):
        f(x)
    assert_same(x, _matrix())
    # a read-only array the function only reads is read where it is; the mutated one is still donated
    y = _matrix(1)
    y.flags.writeable = False
    _check(center, path, monkeypatch, lambda: (_matrix(), y), donated=True)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("seed", [0, 1])
def test_an_argument_mutated_on_some_paths(path, seed, monkeypatch):
    def args():
        x = _matrix(seed) - 5.0
        x[0, 0] = 1.0 if seed == 0 else -1.0
        return (x,)

    # (not mutated, the new contents are the argument itself: there is nothing to write back)
    _check(clip_if_big, path, monkeypatch, args, donated=True)


@pytest.mark.parametrize("path", PATHS)
def test_an_error_midway_leaves_what_numpy_leaves(path, monkeypatch):
    f = _compiled(fill_until, path, monkeypatch)
    idx = np.array([0, 1, 2, 40, 3])                  # X[40] is out of bounds after three writes
    f(_matrix(shape=(8,)), np.array([0, 1]))
    x, expected = _matrix(shape=(8,)), _matrix(shape=(8,))
    with pytest.raises(IndexError):
        fill_until(expected, idx)
    with pytest.raises(ExecutionError) as info:
        f(x, idx)
    assert isinstance(info.value.__cause__, IndexError)
    assert_same(x, expected)                          # the donated array holds the writes before the error
    assert not np.array_equal(x, _matrix(shape=(8,)))


@pytest.mark.parametrize("path", PATHS)
def test_an_error_midway_leaves_a_copied_argument_untouched(path, monkeypatch):
    f = _compiled(fill_until, path, monkeypatch)
    f(_matrix(shape=(8,)), np.array([0, 1]))
    x = _matrix(shape=(8,))
    x.flags.writeable = False                          # copied: the program writes into the copy
    with pytest.raises(ExecutionError):
        f(x, np.array([0, 1, 2, 40, 3]))
    assert_same(x, _matrix(shape=(8,)))


def test_interpret_and_a_partitioned_run_still_write_back(monkeypatch):
    f = _compiled(center, "native", monkeypatch)
    for run in (lambda g, *a: g.functions[0].interpret(*a), lambda g, *a: g.functions[0].run(*a, cluster="local")):
        x, y = _matrix(), _matrix(1)
        f(_matrix(), y)
        expected_x = _matrix()
        expected = center(expected_x, y)
        assert_same(run(f, x, y), expected, 1e-12)
        np.testing.assert_allclose(x, expected_x, rtol=1e-12)
