"""The two fallbacks (NOTE: [Fallbacks] in distjit/frontend/fallbacks.py), differentially against eager NumPy.

- `distjit.trace` of Python that needs a value the trace does not know scripts the function instead;
- `distjit.script` of code that needs static shapes or ints compiles the signature specialized on them.

Every kernel is checked on two input sets whose data (and, where it matters, sizes and ints) differ, so a
graph that baked the example's branch or size fails the second; the opt-out raises the first error.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import distjit
from tests.compare import assert_same
from tests.frontend.test_trace_errors import line_of
from tests.frontend.test_user_errors import SCRIPT_SPECIALIZES, WRAPPERS, _load, _program

HERE = __file__.rstrip("c")


# -- kernels -----------------------------------------------------------------------------------------------

def longest_common_subsequence(a, b):
    n, m = a.shape[0], b.shape[0]
    table = np.zeros((n + 1, m + 1))
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if a[i - 1] == b[j - 1]:  # marker:branch
                table[i, j] = table[i - 1, j - 1] + 1
            else:
                table[i, j] = max(table[i - 1, j], table[i, j - 1])
    return table[n, m]


def csr_matvec(data, indices, indptr, x):
    y = np.zeros(indptr.shape[0] - 1)
    for i in range(indptr.shape[0] - 1):
        for k in range(indptr[i], indptr[i + 1]):  # marker:range
            y[i] += data[k] * x[indices[k]]
    return y


def count_in_bins(values, lo, width, nbins):
    counts = np.zeros(nbins)
    for v in values:
        b = int((v - lo) / width)  # marker:int
        counts[min(max(b, 0), nbins - 1)] += 1
    return counts


def relax_until(u, tol, sweeps, scale):
    for _ in range(sweeps):
        new = 0.5 * (u + np.roll(u, 1)) * scale
        if np.abs(new - u).max() < tol:  # marker:converged
            return new
        u = new
    return u


def flagged_relax(u, tol, negate):
    out = relax_until(u, tol, 20, 1.0)
    if negate:
        out = -out
    return out


def uses_item(x):
    return range(x[0])  # marker:item


def insert_mean(x):
    return np.insert(x, 0, x.mean())  # marker:insert


def loss_history(w, X, y, lr, steps):
    losses = []
    for _ in range(steps):  # marker:list (the loop whose trip count is the list's length)
        p = 1.0 / (1.0 + np.exp(-(X @ w)))
        w = w - lr * X.T @ (p - y) / X.shape[0]
        losses.append(np.mean((p - y) ** 2))
    return w, losses[-1], losses[0]


def fft_rec(x):
    n = x.shape[0]
    if n <= 1:
        return x
    even = fft_rec(x[::2])  # marker:recurse
    odd = fft_rec(x[1::2])
    twiddle = np.exp(-2j * np.pi * np.arange(n // 2) / n) * odd
    return np.concatenate([even + twiddle, even - twiddle])


# -- helpers --------------------------------------------------------------------------------------------

def _quietly(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", distjit.FallbackWarning)
        return make()


def _csr(seed, rows, cols):
    rng = np.random.default_rng(seed)
    dense = rng.random((rows, cols)) * (rng.random((rows, cols)) < 0.4)
    indptr = np.concatenate([[0], np.cumsum((dense != 0).sum(axis=1))]).astype(np.int64)
    indices = np.nonzero(dense)[1].astype(np.int64)
    return dense[dense != 0], indices, indptr, rng.random(cols)


# -- trace falls back to script ---------------------------------------------------------------------------------

def test_trace_of_a_data_dependent_branch_scripts_instead_and_says_where():
    a, b = np.array([1.0, 2.0, 3.0, 2.0]), np.array([2.0, 3.0, 1.0])
    with pytest.warns(distjit.FallbackWarning, match="fell back to distjit.script") as caught:
        f = distjit.trace(longest_common_subsequence, (a, b))
    line = line_of(longest_common_subsequence, "marker:branch")
    assert (caught[0].filename, caught[0].lineno) == (HERE, line)
    assert isinstance(f, distjit.TracedFunction) and f.fallback.kind == "script"
    assert str(f.fallback.loc) == f"{HERE}:{line}" and "truth test" in f.fallback.message
    assert f.fallbacks == (f.fallback,) and f.latest.fallbacks == (f.fallback,)
    for a_, b_ in ((a, b), (np.array([5.0, 1.0, 5.0, 1.0, 5.0]), np.array([1.0, 5.0]))):
        assert_same(f(a_, b_), longest_common_subsequence(a_, b_))


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 6), m=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_the_fallen_back_trace_matches_numpy_for_any_data(n, m, seed):
    rng = np.random.default_rng(seed)
    example = (rng.integers(0, 3, 4).astype(float), rng.integers(0, 3, 3).astype(float))
    f = _quietly(lambda: distjit.trace(longest_common_subsequence, example))
    a, b = rng.integers(0, 3, n).astype(float), rng.integers(0, 3, m).astype(float)
    assert_same(f(a, b), longest_common_subsequence(a, b))


def test_range_bounds_read_from_an_array_script_instead():
    f = _quietly(lambda: distjit.trace(csr_matvec, _csr(0, 5, 4)))
    assert str(f.fallback.loc) == f"{HERE}:{line_of(csr_matvec, 'marker:range')}"
    for seed, rows, cols in ((0, 5, 4), (1, 7, 3)):
        args = _csr(seed, rows, cols)
        assert_same(f(*args), csr_matvec(*args), rtol=1e-12)


def test_int_of_an_array_value_scripts_instead():
    example = (np.array([0.1, 0.5, 0.9, 0.95]), 0.0, 0.25, 4)
    f = _quietly(lambda: distjit.trace(count_in_bins, example))
    assert f.fallback.loc.line == line_of(count_in_bins, "marker:int") and "int()" in f.fallback.message
    for args in (example, (np.array([0.3, 0.3, -1.0, 7.0, 0.6, 0.2]), 0.0, 0.25, 4)):
        assert_same(f(*args), count_in_bins(*args))


def test_len_of_a_dynamic_first_dim_scripts_instead():
    def total(x):
        acc = 0.0
        for i in range(len(x)):  # marker:len
            acc = acc + x[i].sum()
        return acc
    f = _quietly(lambda: distjit.trace(total, (np.ones((3, 2)),), dynamic_axes={"x": {0: "N"}}))
    assert f.fallback.loc.line == line_of(total, "marker:len")
    for x in (np.ones((3, 2)), np.arange(10.0).reshape(5, 2)):
        assert_same(f(x), total(x))


def test_the_opt_out_raises_the_trace_error_at_the_users_line():
    with pytest.raises(distjit.DataDependentError) as e:
        distjit.trace(relax_until, (np.ones(5), 1e-3, 10, 0.9), fallback=False)
    assert f"{HERE}:{line_of(relax_until, 'marker:converged')}" in str(e.value)
    assert isinstance(e.value, distjit.TracingError)
    with warnings.catch_warnings():
        warnings.simplefilter("error", distjit.FallbackWarning)    # and no fallback was attempted
        with pytest.raises(distjit.TracingError):
            distjit.trace(csr_matvec, _csr(0, 3, 3), fallback=False)


def test_when_the_script_fails_too_the_trace_error_is_raised():
    with pytest.raises(distjit.TracingError) as e:
        distjit.trace(uses_item, (np.array([3, 1]),))
    message = str(e.value)
    assert message.startswith(f"{HERE}:{line_of(uses_item, 'marker:item')}")
    assert "distjit.script, which failed too" in message
    assert isinstance(e.value.__cause__, distjit.DistJitError)


def test_static_argnames_are_honoured_by_the_fallback():
    u = np.linspace(0.0, 1.0, 6)
    f = _quietly(lambda: distjit.trace(flagged_relax, (u, 1e-3, True), static_argnames=["negate"]))
    assert f.fallback is not None and f.graph.guards
    for negate in (True, False):
        for data in (u, np.cos(np.arange(6.0))):
            assert_same(f(data, 1e-3, negate), flagged_relax(data, 1e-3, negate), rtol=1e-12)
    assert len(f) == 2


def test_a_fallen_back_trace_optimizes_saves_loads_and_runs(tmp_path):
    sets = [(np.linspace(0.0, 1.0, 8), 1e-4, 50, 0.99), (np.cos(np.arange(8.0)), 1e-2, 7, 1.0)]
    f = _quietly(lambda: distjit.trace(relax_until, sets[0]))
    g = distjit.optimize(f)
    assert isinstance(g, distjit.TracedFunction) and g.fallback == f.fallback
    assert g.optimization is not None and g.fallbacks[0].kind == "script"
    explained = g.explain()
    assert f"{HERE}:{line_of(relax_until, 'marker:converged')}: distjit.trace(relax_until) fell back" in explained
    assert "optimize at level 2" in explained
    path = tmp_path / "relax.djit"
    distjit.save(g, path)
    h = distjit.load(path)
    assert "fell back to distjit.script" in h.metadata["distjit.fallback"]
    for args in sets:
        expected = relax_until(*args)
        assert_same(g(*args), expected, rtol=1e-12)
        assert_same(h(*args), expected, rtol=1e-12)
        assert_same(h.run(*args, cluster="local"), expected, rtol=1e-12)


def test_a_fallen_back_trace_loads_in_a_fresh_process(tmp_path):
    sets = [_csr(0, 5, 4), _csr(3, 6, 4)]
    f = _quietly(lambda: distjit.trace(csr_matvec, sets[0]))
    path = tmp_path / "csr.djit"
    distjit.save(f, path)
    for i, args in enumerate(sets):
        np.savez(tmp_path / f"in{i}.npz", *args)
        np.save(tmp_path / f"out{i}.npy", csr_matvec(*args))
    program = textwrap.dedent(f"""
        import numpy as np, distjit
        h = distjit.load({str(path)!r})
        for i in range(2):
            args = list(np.load({str(tmp_path)!r} + f"/in{{i}}.npz").values())
            np.testing.assert_allclose(h(*args), np.load({str(tmp_path)!r} + f"/out{{i}}.npy"), rtol=1e-12)
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr


def test_a_traced_value_that_takes_an_unrecordable_path_on_retrace_scripts_that_value():
    def head(x, k):
        out = x[:k].sum()
        if k > 2:
            if out > 0:  # marker:late
                out = -out
        return out
    x = np.arange(6.0)
    f = distjit.trace(head, (x, 2))
    assert f.fallback is None
    with pytest.warns(distjit.FallbackWarning):
        assert_same(f(x, 4), head(x, 4))
    for k, data in ((2, x), (4, -x), (5, x)):
        assert_same(f(data, k), head(data, k))
    strict = distjit.trace(head, (x, 2), fallback=False)
    with pytest.raises(distjit.TracingError, match="truth test"):
        strict(x, 4)


def test_traced_functions_have_the_function_api():
    x = np.arange(6.0)
    f = _quietly(lambda: distjit.trace(relax_until, (x, 1e-3, 5, 1.0)))
    for t in (f, distjit.trace(lambda v, k: v[:k] * 2.0, (x, 3))):
        assert isinstance(t.plans, dict)
        g = t.with_graph(t.graph)
        assert isinstance(g, distjit.Function)
        assert isinstance(t.symbolic, bool)


# -- script falls back to static shapes and ints --------------------------------------------------------------

def test_an_op_that_needs_static_shapes_is_specialized_per_shape(tmp_path):
    s = distjit.script(insert_mean)
    small, large = np.arange(4.0), np.linspace(-1.0, 1.0, 7)
    with pytest.warns(distjit.FallbackWarning, match="needs static shapes") as caught:
        assert_same(s(small), insert_mean(small))
    assert caught[0].lineno == line_of(insert_mean, "marker:insert")
    assert s.fallbacks[0].kind == "static" and s.latest.fallbacks == s.fallbacks
    with warnings.catch_warnings():
        warnings.simplefilter("error", distjit.FallbackWarning)     # announced once per signature's types
        assert_same(s(large), insert_mean(large))
        assert_same(s(small + 1.0), insert_mean(small + 1.0))
    assert len(s) == 2
    path = tmp_path / "insert.djit"
    distjit.save(distjit.optimize(s), path)
    h = distjit.load(path)
    for x in (small, large):
        assert_same(h(x), insert_mean(x))
    assert "specialized" in h.metadata["distjit.fallback"]
    with pytest.raises(distjit.ShapeError):
        h(np.ones(5))


def test_the_static_fallback_opt_out_raises_the_shape_error():
    with pytest.raises(distjit.ShapeError, match="needs static shapes") as e:
        distjit.script(insert_mean, fallback=False)(np.arange(4.0))
    assert f"{HERE}:{line_of(insert_mean, 'marker:insert')}" in str(e.value)


@pytest.mark.filterwarnings("ignore::distjit.FallbackWarning")
def test_a_list_as_long_as_an_int_argument_specializes_on_the_int():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), (rng.random(20) > 0.5).astype(float)
    s = distjit.script(loss_history)
    for steps, data in ((5, X), (8, X * 0.5), (5, X + 1.0)):
        assert_same(s(np.zeros(3), data, y, 0.1, steps), loss_history(np.zeros(3), data, y, 0.1, steps), rtol=1e-12)
    assert len(s) == 2 and all(g.guards for g in s.graphs)
    assert s.fallbacks[0].loc.line == line_of(loss_history, "marker:list")
    with pytest.raises(distjit.ScriptError, match="known only at run time"):
        distjit.script(loss_history, fallback=False)(np.zeros(3), X, y, 0.1, 5)


@pytest.mark.filterwarnings("ignore::distjit.FallbackWarning")
def test_recursion_that_sizes_end_is_unrolled_per_size():
    s = distjit.script(fft_rec)
    for n in (8, 16):
        x = np.random.default_rng(n).normal(size=n).astype(complex)
        assert_same(s(x), fft_rec(x), rtol=1e-10)
        assert_same(s(x), np.fft.fft(x), rtol=1e-10)
    with pytest.raises(distjit.ScriptError, match="recursive call"):
        distjit.script(fft_rec, fallback=False)(np.ones(4, dtype=complex))


@pytest.mark.filterwarnings("ignore::distjit.FallbackWarning")
def test_a_recursion_is_one_graph_per_signature_called_not_unrolled():
    """NOTE: [Recursive calls]: 2n-1 calls of log2(n)+1 signatures are that many graphs, each called; the
    optimized graph keeps the large calls as calls, and its results are NumPy's."""
    from distjit.ir.calls import callee

    n = 4096
    x = np.random.default_rng(3).normal(size=n).astype(complex)
    s = distjit.script(fft_rec)
    assert_same(s(x), fft_rec(x), rtol=1e-10)
    graph = s.graphs[0]
    seen, stack = set(), [graph]
    while stack:
        g = stack.pop()
        if id(g) not in seen:
            seen.add(id(g))
            stack.extend(c for c in map(callee, g.walk()) if c is not None)
    assert len(seen) == 13                                  # sizes 4096, 2048, ..., 1
    f = distjit.optimize(s)
    assert_same(f(x), np.fft.fft(x), rtol=1e-9)
    assert all(len(g.block.nodes) < 50 for g in f.graphs)  # one body, not 2n-1
    assert any(callee(node) is not None for g in f.graphs for node in g.walk())


@pytest.mark.filterwarnings("ignore::distjit.FallbackWarning")
def test_a_recursion_compiles_a_few_small_graphs():
    """passes/inline.py: a callee past the inlining bound stays a call, so an FFT of 16384 elements is a few
    hundred nodes to optimize and compile (inlined down to a callee of 8000 nodes, it took seconds) and gives
    NumPy's results."""
    from distjit.ir.calls import callee
    from distjit.passes import inline

    x = np.random.default_rng(5).normal(size=1 << 14).astype(complex)
    f = distjit.optimize(distjit.script(fft_rec))
    assert_same(f(x), np.fft.fft(x), rtol=1e-9)
    seen, stack = {}, list(f.graphs)
    while stack:
        g = stack.pop()
        if id(g) not in seen:
            seen[id(g)] = g
            stack.extend(c for c in map(callee, g.walk()) if c is not None)
    sizes = [g.node_count() for g in seen.values()]
    assert max(sizes) <= 2 * inline.MAX_INLINED_NODES and sum(sizes) < 2000, sizes


@pytest.mark.filterwarnings("ignore::distjit.FallbackWarning")
def test_a_recursion_on_the_same_signature_is_refused():
    def forever(x):
        if x.shape[0] > 0:
            return forever(x) + 1.0
        return x
    with pytest.raises(distjit.ScriptError, match="recursive call"):
        distjit.script(forever)(np.ones(3))


@pytest.mark.filterwarnings("ignore::distjit.FallbackWarning")
@pytest.mark.parametrize("n", [1, 2, 3, 5, 12])
def test_a_recursion_on_ints_matches_python(n):
    x = np.random.default_rng(n).normal(size=16)
    s = distjit.optimize(distjit.script(_tri_sum))
    assert_same(s(x, n), _tri_sum(x, n), rtol=1e-12)


def _tri_sum(x, k):
    if k <= 0:
        return x * 0.0
    return _tri_sum(x, k - 1) + x * k


def test_what_static_shapes_do_not_cure_is_not_retried():
    def bad(x):
        return x.tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error", distjit.FallbackWarning)
        with pytest.raises(distjit.ScriptError):
            distjit.script(bad)(np.ones(3))


# -- calling a fallen-back function from compiled code --------------------------------------------------------------

def test_a_fallen_back_trace_called_inside_a_trace_and_a_script_embeds_its_control_flow():
    inner = _quietly(lambda: distjit.trace(relax_until, (np.ones(6), 1e-3, 10, 0.9)))

    def outer(u, tol):
        return relax_until_twice(inner, u, tol)

    def scripted_outer(u: np.ndarray, tol: float):
        return inner(u, tol, 10, 0.9) * 2.0

    t = _quietly(lambda: distjit.trace(outer, (np.ones(6), 1e-3)))
    s = _quietly(lambda: distjit.script(scripted_outer))
    for u in (np.linspace(0.0, 1.0, 6), np.cos(np.arange(6.0))):
        want = relax_until(relax_until(u, 1e-3, 10, 0.9), 1e-3, 10, 0.9)
        assert_same(t(u, 1e-3), want, rtol=1e-12)
        assert_same(s(u, 1e-3), relax_until(u, 1e-3, 10, 0.9) * 2.0, rtol=1e-12)


def relax_until_twice(f, u, tol):
    return f(f(u, tol, 10, 0.9), tol, 10, 0.9)


@pytest.mark.filterwarnings("ignore::distjit.FallbackWarning")
def test_a_script_that_needs_static_ints_embedded_in_a_trace_specializes_on_the_traces_values():
    s = distjit.script(loss_history)
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(10, 3)), (rng.random(10) > 0.5).astype(float)

    def train(w, X, y, steps):
        return s(w, X, y, 0.1, steps)[0]

    f = distjit.trace(train, (np.zeros(3), X, y, 4))
    for steps, data in ((4, X), (6, X * 2.0)):
        assert_same(f(np.zeros(3), data, y, steps), loss_history(np.zeros(3), data, y, 0.1, steps)[0], rtol=1e-12)


@pytest.mark.filterwarnings("ignore::distjit.FallbackWarning")
@pytest.mark.parametrize("construct", SCRIPT_SPECIALIZES)
@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_what_the_script_compiles_by_specializing_matches_numpy(construct, wrapper):
    source, _ = _program([], construct, wrapper)
    kernel, _ = _load(source)
    s = distjit.script(kernel)
    for x, n in ((np.arange(12.0).reshape(4, 3), 3), (np.cos(np.arange(15.0)).reshape(5, 3), 2)):
        assert_same(s(x, n), kernel(x, n))
    assert s.fallbacks and all(f.kind == "static" for f in s.fallbacks)
