"""Native regions with gathers by a boolean mask and np.any/np.all (runtime/native/masks.py), differential
against eager NumPy, and checked to have run natively (the explain report)."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import distjit
from tests.programs.realcode import applied  # noqa: F401 - registers the kernels
from tests.programs.realcode.kernel import CORPORA
from tests.runtime.test_native_views import _eager_and_native, _native_only, _same


def frontier_levels(adj, start):
    # a gather of rows read by nothing but np.any along axis 0 (not made: NOTE: [Masked reductions])
    level = np.full(adj.shape[0], -1)
    frontier = np.zeros(adj.shape[0], dtype=bool)
    frontier[start] = True
    depth = 0
    while frontier.any():
        level[frontier] = depth
        frontier = adj[frontier].any(axis=0) & (level < 0)
        depth += 1
    return level


def common_columns(x, mask, n):
    # np.all along axis 0 of a gather (not made), then of the whole matrix, along axis 1, of all of it
    every = np.ones(x.shape[1], dtype=bool)
    rows = np.zeros(x.shape[0], dtype=bool)
    some = False
    for k in range(n):
        every = every & x[mask].all(axis=0)
        rows = rows | x.any(axis=1)
        some = some or x.all()
        every = every | x.all(axis=0)
    return every, rows, some


def gathered_then_used(x, mask, n):
    # gathers that are made: one whose mask is written before its np.any reads it, one reduced along axis 1,
    # and one by a max along axis 0
    cols = np.zeros(x.shape[1], dtype=bool)
    acc = np.zeros(x.shape[1])
    hits = np.zeros(x.shape[0], dtype=bool)
    for k in range(n):
        g = x[mask]
        mask[k % mask.shape[0]] = False
        cols = cols | g.any(axis=0)
        mask[(k + 1) % mask.shape[0]] = True
        hits = hits | x[mask].any(axis=1).any()
        acc = acc + x[mask].max(axis=0)
    return cols, acc, hits, mask


def column_max(x, mask, n):
    acc = np.zeros(x.shape[1])
    for _ in range(n):
        acc = acc + x[mask].max(axis=0)
    return acc


def filtered(v, t, n):
    # a vector filtered by a mask of its own values (the gather of a vector), and np.any of a view
    out = 0.0
    seen = False
    for k in range(n):
        out = out + v[v > t + k].sum()
        seen = seen or v[::2].any()
    return out, seen


_levels, _common, _used, _max, _filtered = (distjit.optimize(distjit.script(f)) for f in
                                            (frontier_levels, common_columns, gathered_then_used, column_max, filtered))


def _matrix(rng, n, m, dtype):
    x = rng.random((n, m)) < 0.3
    if dtype == "bool":
        return x
    if dtype == "float":
        return np.where(x, rng.choice(np.array([np.nan, -0.5, 2.0, np.inf]), (n, m)), 0.0)
    return (x * rng.integers(-3, 4, (n, m))).astype(dtype)


@given(st.integers(1, 30), st.sampled_from(["bool", "int8", "float", "int64"]), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_frontier_expansion_reduces_masked_rows_natively_as_numpy(n, dtype, seed):
    rng = np.random.default_rng(seed)
    adj = _matrix(rng, n, n, dtype)
    got, expected = _eager_and_native(_levels, frontier_levels, adj, int(rng.integers(0, n)))
    _native_only(_levels)
    assert _same(got, expected)


def test_frontier_expansion_of_a_transposed_adjacency_reads_its_strided_rows():
    adj = _matrix(np.random.default_rng(3), 9, 9, "bool")
    got, expected = _eager_and_native(_levels, frontier_levels, np.asarray(adj).T, 4)
    _native_only(_levels)
    assert _same(got, expected)


@given(st.integers(0, 6), st.integers(0, 6), st.integers(0, 3), st.sampled_from(["bool", "int8", "float"]),
       st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_all_and_any_along_axes_and_of_masked_rows_match_numpy(rows, cols, n, dtype, seed):
    # rows == 0 or an empty mask: no rows selected, all True as NumPy's identity
    rng = np.random.default_rng(seed)
    x = _matrix(rng, rows, cols, dtype)
    mask = rng.random(rows) < 0.5
    got, expected = _eager_and_native(_common, common_columns, x, mask, n)
    _native_only(_common)
    assert all(_same(g, e) for g, e in zip(got, expected))


@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 3), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_gathers_by_a_mask_are_made_when_something_else_reads_them(rows, cols, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols))
    mask = rng.random(rows) < 0.5
    got, expected = _eager_and_native(_used, gathered_then_used, x, mask, n)
    _native_only(_used)
    assert all(_same(g, e) for g, e in zip(got, expected))


@given(st.integers(0, 5), st.integers(1, 3), st.integers(0, 2**32 - 1))
@settings(max_examples=15, deadline=None)
def test_the_max_of_an_empty_gather_raises_numpys_value_error(rows, n, seed):
    mask = np.random.default_rng(seed).random(rows) < 0.3
    assume(not mask.any())
    assert _eager_and_native(_max, column_max, np.ones((rows, 2)), mask, n) is None
    _native_only(_max)


@given(st.integers(0, 40), st.floats(-2.0, 2.0), st.integers(0, 3), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_a_vector_filtered_by_its_own_mask_sums_as_numpy(n, t, k, seed):
    v = np.random.default_rng(seed).standard_normal(n)
    got, expected = _eager_and_native(_filtered, filtered, v, t, k)
    _native_only(_filtered)
    assert all(_same(g, e) for g, e in zip(got, expected))


@pytest.mark.parametrize("f, fn", [(_common, common_columns), (_used, gathered_then_used)])
@pytest.mark.parametrize("length", [3, 5])
def test_a_mask_of_another_length_raises_numpys_index_error(f, fn, length):
    # common_columns reduces its gather without making it, gathered_then_used makes it: both check first
    assert _eager_and_native(f, fn, np.ones((4, 4)), np.ones(length, dtype=bool), 2) is None
    _native_only(f)


@pytest.mark.parametrize("seed", [1, 4])
def test_the_corpus_breadth_first_levels_run_natively_bit_for_bit(seed):
    k = CORPORA["realcode"]["applied.bfs_levels"]
    f = distjit.optimize(distjit.script(k.fn))
    got, expected = _eager_and_native(f, k.fn, *k.inputs(seed))
    _native_only(f)
    assert _same(got, expected)
