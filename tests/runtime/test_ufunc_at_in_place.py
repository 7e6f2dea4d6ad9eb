"""`np.<ufunc>.at` is an in-place update (ops/ufunc_methods.py): where its base dies there it writes into the
base's buffer, in a loop body too; a base still read afterwards, or the caller's array, keeps NumPy's
values. Differential against eager NumPy, the arguments after the call included."""
import numpy as np
from hypothesis import given, settings, strategies as st

import distjit
from distjit.core.inplace import updates_in_place
from tests.compare import assert_same


def histogram_rounds(x, idx, w, n):
    h = np.zeros(x.shape[0])
    kept = h                     # an alias read after the first update: that update copies
    for k in range(n):
        np.add.at(h, idx, w * k)
        np.maximum.at(h, idx[::2], x[idx[::2]])
    np.subtract.at(x, idx, 1.0)  # the caller's array, mutated as NumPy mutates it
    return h, kept, x


_f = distjit.optimize(distjit.script(histogram_rounds))


def _updates(graph):
    for node in graph.block.nodes:
        for b in node.blocks:
            yield from (n for n in b.nodes if n.op == "ufunc.at")
        if node.op == "ufunc.at":
            yield node


@given(st.integers(1, 12), st.integers(0, 3), st.integers(0, 2**32 - 1))
@settings(max_examples=10, deadline=None)
def test_ufunc_at_updates_in_place_and_matches_numpy(m, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(m)
    x[rng.integers(0, m)] = np.nan
    idx = rng.integers(-m, m, 2 * m + 1)          # duplicates and negative indices
    w = rng.standard_normal(2 * m + 1)
    args = (x, idx, w, n)
    eager = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    given_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    with np.errstate(invalid="ignore"):        # np.maximum of a NaN
        expected = histogram_rounds(*eager)
        got = _f(*given_args)
    for g, e in zip(got, expected):
        assert_same(g, e)
    for g, e in zip(given_args, eager):
        assert_same(g, e)
    assert any(updates_in_place(u) for u in _updates(_f.graph)), "no ufunc.at was planned in place"
