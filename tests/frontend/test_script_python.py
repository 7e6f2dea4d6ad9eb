"""Python that people write around NumPy, under distjit.script, against plain Python on the same inputs:
lists appended in loops, comprehensions, enumerate/zip/reversed, unpacking, chained comparisons, min/max."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import distjit
from distjit import ScriptError
from tests.frontend.test_script import _check


def rows_appended(X: np.ndarray, n: int):
    acc = []
    for i in range(n):
        acc.append(X[i] * 2.0)
    return np.array(acc), np.stack(acc, axis=1), np.mean(acc)


def rnn(xs: np.ndarray, Wh: np.ndarray):
    h = np.zeros(Wh.shape[0])
    hs = []
    for x_t in xs:
        h = np.tanh(x_t + h @ Wh)
        hs.append(h)
    return np.stack(hs), h


def losses_list(X: np.ndarray):
    losses = [X[0, 0]]                      # items before the loop come first
    for i in range(20):                     # a long Python range: a graph loop with a static trip count
        losses.append(np.sum(X) * i)
    return losses, sum(losses)


def unrolled_list(X: np.ndarray):
    out = []
    for i in range(3):
        out.append(X[i].sum())
        out.append(X[i].max())
    return out


def comprehensions(X: np.ndarray):
    sums = np.array([row.sum() for row in X])
    total = sum(v * 2.0 for v in X[0])
    small = [i * X[0, 0] for i in range(3) if i != 1]
    pairs = {i: X[i, 0] for i in range(2)}
    nested = [a * b for a in range(2) for b in range(3)]
    return sums, total, small, pairs, nested


def iteration_forms(x: np.ndarray):
    s = 0.0
    for i, v in enumerate(x):
        s += i * v
    for a, b in zip(x, x[::-1]):
        s += a * b
    for i in reversed(range(x.shape[0])):
        s = s * 0.5 + x[i]
    for k, (a, b) in enumerate(zip(x, x)):
        s += k * a - b
    return s


def unpacking(sites: np.ndarray, grid: np.ndarray):
    total = 0.0
    for step in range(sites.shape[0]):
        i, j = sites[step]
        total += grid[i, j]
    return total


def chained(x: np.ndarray, lo: float, hi: float):
    c = 0
    for v in x:
        if lo < v < hi:
            c += 1
    inside = lo <= x[0] <= hi
    return c, inside


def min_max(x: np.ndarray):
    return min(x[0], x[1], x[2]), max([x[0], x[1] + 1.0, x[2]]), min(x[0], x[1])


def starred(X: np.ndarray):
    pair = (X, X * 2.0)
    first, second = X[0], X[1]
    return np.add(*pair), max(*[first[0], second[0]]), np.stack((*pair, X))


def nested_lists(X: np.ndarray, n: int):
    out = []
    for i in range(n):
        row = []
        for j in range(X.shape[1]):
            row.append(X[i, j] * j)
        out.append(np.array(row))
    return np.array(out)


def tuple_rows(X: np.ndarray, n: int):
    pairs = []
    for i in range(n):
        pairs.append((X[i, 0], X[i, 1] * i))
    history = []
    for k in range(20):
        history.append((X[0, 0] * k, k))
    return np.array(pairs), history


SCALE = 2.0


def local_helpers(X: np.ndarray, n: int):
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731

    def step(v, k):
        if v.sum() > 0:                       # compiled like a module-level helper: a prim.If
            return v * SCALE - k
        return v + k
    y = X
    for i in range(n):
        y = step(sig(y), i)
    return y, sorted([3, 1, 2], key=lambda t: -t)


def closure_reads_current_values(X: np.ndarray):
    a = 1.0

    def scaled(v):
        return v * a
    y = scaled(X)
    a = 3.0                                   # Python's closure reads a when called
    return y + scaled(X)


def python_sums(X: np.ndarray, n: int):
    a = sum(X[i, 0] * 0.1 for i in range(n))      # rows of run-time number: added in Python's order
    b = sum(X)
    c = sum([row * 3.3 for row in X], 1.5)
    return a, b, c


def set_shape(X: np.ndarray, n: int):
    y = X.copy()
    alias = y
    y.shape = (n, -1)                          # the same object: the alias sees the new shape too
    return alias * 2.0, y.sum(axis=1)


def containers_in_branches(X: np.ndarray):
    if X.sum() > 0:                            # a prim.If: its own list and dict change inside it
        d = {}
        d["a"] = X * 2.0
        pair = [X, X]
        pair[1] = X + 1.0
        y = d["a"] + pair[1]
    else:
        y = X
    out = {"s": X.sum()}
    out["m"] = X.max()
    return y, out


def python_builtins(X: np.ndarray, t: float):
    a = abs(X).sum() + abs(t)
    b = pow(X, 2) + round(float(X[0, 0]), 2) + round(t)
    kinds = isinstance(X, np.ndarray), isinstance(t, float), isinstance(X[0, 0], float), isinstance(X, list)
    e = getattr(X, "T")
    while True:                               # a data-dependent exit: a prim.Loop with a break
        t = t * 0.5
        if t < 0.1:
            break
    return a, b, kinds, e, t


def python_loops_with_lists(X: np.ndarray):
    acc = []
    i = 0
    while i < 3:                              # a Python while: the list stays a Python list
        acc.append(X[i] * 2.0)
        i += 1
    out = []
    for j in range(4):
        if j == 2:
            break
        out.append(X[j])
    return np.array(acc), out, len(acc)


def any_all(X: np.ndarray, tol: float):
    a = any(abs(v) > tol for v in X[0])
    b = all(row.sum() > -100.0 for row in X)     # rows of run-time number
    c = any([False, X[0, 0] > 100.0])
    if any(v > 1.5 for v in X[:, 0]):
        y = X * 2.0
    else:
        y = X
    return a, b, c, y


def min_max_of_appended_numbers(X: np.ndarray, n: int):
    """min()/max() of numbers appended in a loop of a run-time trip count: Python's first-of-the-best pick (a NaN
    only as the first item), without unrolling the loop."""
    per_row = [float(r.max()) for r in X]
    vals = []
    for i in range(n):
        vals.append(X[i, 0] * 2.0)
    ints = [i * 3 % 7 for i in range(n)]
    Y = X.copy()
    Y[0, 0], Y[2, 1] = np.nan, -0.0
    firsts = [Y[i, i % 2] for i in range(n)]
    return max(per_row), min(per_row), max(vals), min(vals), max(ints), min(ints), max(firsts), min(firsts)


def first_assigned_in_loop(X: np.ndarray, n: int):
    for _ in range(n):
        y = X * 2.0
    return y


CASES = [
    (rows_appended, lambda X: (X, 4)),
    (rnn, lambda X: (X, X[:3, :3].T.copy())),
    (losses_list, lambda X: (X,)),
    (unrolled_list, lambda X: (X,)),
    (comprehensions, lambda X: (X,)),
    (iteration_forms, lambda X: (X[:, 0].copy(),)),
    (chained, lambda X: (X[:, 0].copy(), -0.5, 0.5)),
    (min_max, lambda X: (X[:, 0].copy(),)),
    (min_max_of_appended_numbers, lambda X: (X, 4)),
    (first_assigned_in_loop, lambda X: (X, 3)),
    (starred, lambda X: (X,)),
    (nested_lists, lambda X: (X, 4)),
    (tuple_rows, lambda X: (X, 4)),
    (local_helpers, lambda X: (X, 3)),
    (closure_reads_current_values, lambda X: (X,)),
    (python_sums, lambda X: (X, 4)),
    (set_shape, lambda X: (X, 3)),
    (containers_in_branches, lambda X: (X,)),
    (python_builtins, lambda X: (X, 2.0)),
    (python_loops_with_lists, lambda X: (X,)),
    (any_all, lambda X: (X, 0.5)),
]


# Loops that compile natively compute tanh/exp with the C library and products in their own order: within a few
# ulp of NumPy's, which is the numerical contract of native loops (README), not bit for bit.
TO_ROUNDING = {rnn: 1e-12, local_helpers: 1e-12}


@settings(max_examples=8, deadline=None)
@given(rows=st.integers(5, 9), seed=st.integers(0, 2 ** 16))
@pytest.mark.parametrize("fn,make", CASES, ids=[c[0].__name__ for c in CASES])
def test_against_python(fn, make, rows, seed):
    X = np.random.default_rng(seed).standard_normal((rows, 3))
    _check(distjit.script(fn), fn, *make(X), rtol=TO_ROUNDING.get(fn, 0.0))


def test_unpacking_rows():
    rng = np.random.default_rng(0)
    sites = rng.integers(0, 4, size=(6, 2))
    _check(distjit.script(unpacking), unpacking, sites, rng.standard_normal((4, 4)))


def returns_rows_of_runtime_length(X: np.ndarray, n: int):
    acc = []
    for i in range(n):
        acc.append(X[i])
    return acc


def appends_under_data_branch(X: np.ndarray, n: int):
    acc = []
    for i in range(n):
        if X[i, 0] > 0:
            acc.append(X[i])
    return np.array(acc)


def appends_in_while(X: np.ndarray):
    acc = []
    i = 0
    while X[i, 0] > 0:
        acc.append(X[i])
        i += 1
    return np.array(acc)


@pytest.mark.parametrize("fn,what", [
    (returns_rows_of_runtime_length, "known only at run time"),
    (appends_under_data_branch, "data-dependent"),
    (appends_in_while, "may stop early"),
])
def test_lists_whose_length_depends_on_data_are_refused(fn, what):
    args = (np.ones((4, 3)), 3) if fn.__code__.co_argcount == 2 else (np.ones((4, 3)),)
    with pytest.raises(ScriptError, match=what) as info:
        distjit.script(fn, fallback=False)(*args)
    assert __file__.rstrip("c") in str(info.value)
