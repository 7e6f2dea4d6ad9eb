"""Arguments that share memory, one of them updated in place (NOTE: [Aliased arguments] in
distjit/runtime/aliased_args.py): differential against eager NumPy.

`f(A, A)`, `f(A[1:], A)` and `f(A[1:], A[:-1])` must leave the caller's memory and return what
eager NumPy does, where a write through one argument is seen by a later read through the other;
each such call runs a variant compiled for its alias pattern. Overlaps that are no basic-index
view of one array raise AliasedArgumentsError at the caller's line, naming both arguments.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import distjit
from distjit.errors import AliasedArgumentsError
from tests.compare import assert_same


def relax_loop(a, b):
    """An in-place loop: each step reads b after the earlier steps wrote a."""
    for i in range(1, a.shape[0]):
        a[i] = 0.5 * a[i - 1] + b[i]
    return b.sum()


def update_lines(a, b):
    """Straight-line updates of both arguments: a slice's augmented assignment, an item set, a whole-array one."""
    a[1:] += b[:-1]
    b[0] = a[-1]
    b *= 2.0
    return a.sum() - b.sum()


KERNELS = {"relax_loop": relax_loop, "update_lines": update_lines}


def _compile(fn, frontend: str, example):
    if frontend == "script":
        return distjit.optimize(distjit.script(fn))
    return distjit.optimize(distjit.trace(fn, example))


def _arguments(n: int, extra: int, start_a: int, start_b: int, reverse_b: bool, same: bool):
    """A base of n + extra elements and two views of length n into it (the same view when `same`)."""
    base = np.linspace(1.0, 2.0, n + extra)
    a = base[start_a:start_a + n]
    b = a if same else base[start_b:start_b + n]
    if reverse_b and not same:
        b = b[::-1]
    return base, a, b


def _check(f, fn, make):
    """f on the views gives NumPy's result and leaves the base as NumPy does."""
    base, a, b = make()
    expected_base, ea, eb = make()
    expected = fn(ea, eb)
    got = f(a, b)
    assert_same(got, expected, 1e-12)
    assert_same(base, expected_base, 1e-12, "the arguments' memory after the call")


aliasings = st.tuples(st.integers(3, 5), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.booleans(),
                      st.booleans())


@pytest.mark.parametrize("frontend", ["script", "trace"])
@pytest.mark.parametrize("name", sorted(KERNELS))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(aliasing=aliasings)
def test_aliased_views_match_numpy_on_the_numpy_path(name, frontend, aliasing, monkeypatch):
    n, extra, start_a, start_b, reverse_b, same = aliasing
    assume(start_a <= extra and start_b <= extra)
    monkeypatch.setenv("DISTJIT_NATIVE", "0")
    fn = KERNELS[name]
    f = _compile(fn, frontend, (np.zeros(n), np.ones(n)))
    _check(f, fn, lambda: _arguments(n, extra, start_a, start_b, reverse_b, same))


@pytest.mark.parametrize("aliasing", ["same", "shifted"])    # (each pattern is a native compile)
def test_an_aliased_loop_runs_natively_and_matches_numpy(aliasing):
    f = distjit.optimize(distjit.script(relax_loop))

    def make():
        base = np.linspace(1.0, 2.0, 9)
        if aliasing == "same":
            return base, base, base
        return base, base[1:], base[:-1]

    _check(f, relax_loop, make)
    base, a, b = make()
    variant = f.function_for(a, b).alias_variant(*_pattern_of(f, a, b))
    assert "native (" in variant.optimization.explain()


def _pattern_of(f, a, b):
    g = f.function_for(a, b)
    pattern, bases = g._aliased((a, b))
    return (a, b), pattern, bases


def test_disjoint_interleaved_views_need_no_variant():
    f = distjit.script(update_lines)
    base = np.linspace(1.0, 2.0, 10)
    expected_base = base.copy()
    expected = update_lines(expected_base[::2], expected_base[1::2])
    assert_same(f(base[::2], base[1::2]), expected, 1e-12)
    assert_same(base, expected_base, 1e-12)
    assert not f.function_for(base[::2], base[1::2])._alias_variants


def scale_first(A, B):
    A *= 2.0
    return B.sum()


def test_an_overlap_that_is_no_basic_view_names_the_callers_line_and_both_arguments():
    f = distjit.script(scale_first)
    X = np.linspace(1.0, 2.0, 9).reshape(3, 3)
    before = X.copy()
    with pytest.raises(AliasedArgumentsError, match=r"test_aliased_args\.py:\d+: .*arguments A and B share memory"):
        f(X, X.T)
    assert_same(X, before)                       # raised before anything ran
    assert_same(f(X, X.T.copy()), scale_first(before.copy(), before.T.copy()))


class Shift:
    def __init__(self):
        self.w = np.linspace(0.0, 1.0, 4)

    def __call__(self, x, y):
        x += self.w
        return y.sum()


def test_a_mutated_argument_that_is_a_parameter_is_refused():
    model = Shift()
    f = distjit.trace(model, (np.zeros(4), np.zeros(4)))
    with pytest.raises(AliasedArgumentsError, match=r"test_aliased_args\.py:\d+: .*parameter 'w'"):
        f(model.w, np.zeros(4))
    assert_same(model.w, np.linspace(0.0, 1.0, 4))


def test_a_loaded_function_cannot_compile_a_variant(tmp_path):
    f = distjit.trace(scale_first, (np.ones(3), np.ones(3)))
    distjit.save(f, tmp_path / "f.djit")
    g = distjit.load(tmp_path / "f.djit")
    X = np.ones(3)
    with pytest.raises(AliasedArgumentsError, match=r"arguments A and B share memory.*no Python function"):
        g(X, X)
    assert_same(g(X, X.copy()), scale_first(np.ones(3), np.ones(3)))


def test_interpret_runs_the_variant_and_a_partitioned_run_refuses():
    f = distjit.trace(update_lines, (np.ones(4), np.ones(4)))
    base, a, b = _arguments(4, 2, 0, 2, False, False)
    expected_base, ea, eb = _arguments(4, 2, 0, 2, False, False)
    assert_same(f.interpret(a, b), update_lines(ea, eb), 1e-12)
    assert_same(base, expected_base, 1e-12)
    with pytest.raises(AliasedArgumentsError, match="only in one process"):
        f.run(a, b, cluster="local")


@distjit.script
def _bump(a, b):
    a[0] = 5.0
    return b + 1.0


def _bump_eager(a, b):
    a[0] = 5.0
    return b + 1.0


def _through_script(x):
    return _bump(x, x), _bump(x[1:], x[:-1])


def _through_eager(x):
    return _bump_eager(x, x), _bump_eager(x[1:], x[:-1])


def test_a_scripted_function_called_while_tracing_with_aliased_arguments():
    f = distjit.trace(_through_script, (np.zeros(4),))
    x, expected_x = np.zeros(4), np.zeros(4)
    assert_same(f(x), _through_eager(expected_x))
    assert_same(x, expected_x)


def test_a_traced_function_called_from_scripted_code_with_aliased_arguments_is_refused():
    traced = distjit.trace(_bump_eager, (np.zeros(4), np.zeros(4)))

    def caller(x):
        return traced(x, x)

    with pytest.raises(distjit.ScriptError, match=r"(?s)arguments a and b are the same array.*b\.copy\(\)"):
        distjit.script(caller)(np.zeros(4))


def _view_of_a_view(x):
    y = x[0:3]
    z = y[::-1]                  # a view of a view: an alias variant's reversed slice is one
    x[1:] += 5.0
    w = z * 1.0                  # reads through both views after their root changed
    z[0] = 100.0                 # writes through both
    return w, y * 1.0, x * 1.0


@pytest.mark.parametrize("frontend", ["script", "trace"])
def test_a_view_of_a_view_sees_its_roots_update(frontend, monkeypatch):
    monkeypatch.setenv("DISTJIT_NATIVE", "0")
    f = _compile(_view_of_a_view, frontend, (np.zeros(5),))
    assert_same(f(np.arange(5.0)), _view_of_a_view(np.arange(5.0)))


def test_one_scripted_variant_serves_every_offset(monkeypatch):
    monkeypatch.setenv("DISTJIT_NATIVE", "0")
    f = distjit.script(update_lines)
    for shift in (1, 2, 3):
        _check(f, update_lines, lambda: _arguments(4, 3, 0, shift, False, False))
    g = f.function_for(np.zeros(4), np.zeros(4))
    assert len(g._alias_variants) == 1


@st.composite
def _basic_views(draw):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    index = []
    for n in shape:
        if draw(st.booleans()) and len(index) < len(shape) - 1:
            index.append(draw(st.integers(0, n - 1)))
        else:
            start, stop = draw(st.integers(0, n - 1)), draw(st.integers(0, n))
            step = draw(st.sampled_from([1, 2, -1, -2]))
            index.append(slice(start, stop, step))
    return shape, tuple(index)


@settings(max_examples=60, deadline=None)
@given(_basic_views(), st.sampled_from(["C", "transposed", "reversed"]))
def test_basic_index_finds_the_index_of_a_basic_view(case, layout):
    from distjit.runtime.aliased_args import basic_index

    shape, index = case
    base = np.arange(float(np.prod(shape))).reshape(shape)
    if layout == "transposed":
        base, index = base.T, index[::-1]
    elif layout == "reversed":
        base = base[::-1]
    view = base[index]
    assume(view.size > 0)
    found = basic_index(base, view)
    assert found is not None
    again = base[found]
    assert again.shape == view.shape
    assert all(n == 1 or s == t for n, s, t in zip(view.shape, again.strides, view.strides))
    assert again.__array_interface__["data"][0] == view.__array_interface__["data"][0]


def put_row(A, r):
    A[1] = 2.0 * A[0]
    r += 1.0
    return A.sum() + r.sum()


@pytest.mark.parametrize("frontend", ["script", "trace"])
@pytest.mark.parametrize("which", ["row", "column", "transposed"])
def test_a_row_or_column_of_a_matrix_passed_beside_it(frontend, which, monkeypatch):
    monkeypatch.setenv("DISTJIT_NATIVE", "0")
    f = _compile(put_row, frontend, (np.zeros((3, 3)), np.zeros(3)))

    def make():
        A = np.arange(9.0).reshape(3, 3)
        r = {"row": A[1], "column": A[:, 0], "transposed": A.T[1]}[which]
        return A, A, r

    _check(f, put_row, make)
