"""ufunc.at's native vector path (runtime/scatter_native.py, NOTE: [Native scatter]), differential against
NumPy's ``ufunc.at``: bit for bit, duplicates and negative indices, NumPy's IndexError, and NumPy's loop
wherever the path does not apply."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import distjit
from distjit.runtime import scatter_native
from tests.compare import assert_same

N = scatter_native.MIN_LENGTH


def segment_sums(data, indices, indptr, x):
    rows = np.repeat(np.arange(indptr.shape[0] - 1), np.diff(indptr))
    y = np.zeros(indptr.shape[0] - 1)
    np.add.at(y, rows, data * x[indices])
    np.subtract.at(y, rows[::3], 0.5)
    return y


_f = distjit.optimize(distjit.script(segment_sums))


@given(st.sampled_from(["add", "subtract", "multiply"]), st.sampled_from(["f8", "f4", "i8"]),
       st.sampled_from(["array", "numpy scalar", "python scalar"]), st.integers(0, 2**32 - 1))
@settings(max_examples=20, deadline=None)
def test_native_scatter_is_numpys_ufunc_at_bit_for_bit(ufunc, dtype, kind, seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 50))
    idx = rng.integers(-m, m, N + int(rng.integers(0, 3 * N)))
    d = np.dtype(dtype)
    if d.kind == "f":
        x = rng.standard_normal(m).astype(d)
        v = rng.choice(np.array([1.5, -0.0, np.nan, np.inf, 3e38, -2.0]), idx.shape[0]).astype(d)
    else:
        x = rng.integers(-2**62, 2**62, m)
        v = rng.integers(-2**62, 2**62, idx.shape[0])          # sums and products wrap as NumPy's
    if kind != "array":
        v = v[0] if kind == "numpy scalar" else v[0].item()
    expected = x.copy()
    with np.errstate(all="ignore"):
        getattr(np, ufunc).at(expected, idx, v)
        got = x.copy()
        native = scatter_native.scatter(got, (idx,), v, ufunc)
    assert native == (kind != "python scalar" or d in (np.float64, np.int64))
    if native:
        assert_same(got, expected)


def test_an_index_out_of_range_raises_numpys_index_error():
    x, idx = np.zeros(5), np.zeros(N, dtype=np.int64)
    idx[7] = 5
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 5"):
        scatter_native.scatter(x, (idx,), np.ones(N), "add")
    idx[7] = -6
    with pytest.raises(IndexError):
        np.add.at(np.zeros(5), idx, 1.0)
    with pytest.raises(IndexError, match="index -6 is out of bounds"):
        scatter_native.scatter(x, (idx,), 1.0, "add")


def test_other_operands_are_left_to_numpy():
    x, idx = np.zeros(5), np.zeros(N, dtype=np.int64)
    assert not scatter_native.scatter(x, (idx,), np.ones(N, dtype=np.float32), "add")       # a cast
    assert not scatter_native.scatter(x, (idx,), np.ones(N), "maximum")
    assert not scatter_native.scatter(x, (idx[:N - 1],), np.ones(N - 1), "add")            # short: no call
    assert not scatter_native.scatter(np.zeros((5, 2)), (idx,), 1.0, "add")
    assert not scatter_native.scatter(x, (idx.astype(np.int32),), 1.0, "add")
    ints = np.zeros(2 * N, dtype=np.int64)
    assert not scatter_native.scatter(ints, (ints[N:],), 1, "add")                        # x is its own index
    assert not (x != 0).any() and not ints.any()


@given(st.integers(1, 30), st.integers(0, 2**32 - 1))
@settings(max_examples=8, deadline=None)
def test_a_segmented_sum_through_distjit_is_numpys(rows, seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 9, rows)
    counts[0] += N                              # long enough for the native path
    indptr = np.concatenate([[0], np.cumsum(counts)])
    n = int(rng.integers(1, 20))
    args = (rng.standard_normal(indptr[-1]), rng.integers(-n, n, indptr[-1]), indptr, rng.standard_normal(n))
    assert_same(_f(*args), segment_sums(*args))
