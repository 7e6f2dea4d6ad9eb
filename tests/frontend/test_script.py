"""distjit.script: the API, specialization, the subset's constructs, and mixing with the tracer."""
import linecache
import math

import numpy as np
import pytest

import distjit
from distjit import ExecutionError, ScriptError
from tests.compare import assert_same, fresh

SCALE = 3.0
OFFSETS = np.array([1.0, 2.0, 3.0])


def _check(f, fn, *args, rtol=0.0):
    """Scripted vs plain Python on the same (copied) arguments; the graph verifies and round-trips."""
    a, b = fresh(args), fresh(args)
    assert_same(f(*a), fn(*b), rtol)
    assert_same(a, b, 0.0, "arguments after the call")
    f.graph.verify()
    text = str(f.graph)
    assert str(distjit.Graph.parse(text)) == text


# ------------------------------------------------------------------------------ the issue's example

def relax(u: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, int]:
    it = 0
    while it < max_iter:
        new = 0.25 * (np.roll(u, 1, 0) + np.roll(u, -1, 0) + np.roll(u, 1, 1) + np.roll(u, -1, 1))
        new[0, :] = u[0, :]
        if np.abs(new - u).max() < tol:
            return new, it
        u = new
        it += 1
    return u, it


def test_issue_example():
    f = distjit.script(relax)
    rng = np.random.default_rng(0)
    for shape, tol, n in [((6, 6), 1e-3, 500), ((9, 4), 1e-9, 20), ((3, 3), 1.0, 5)]:
        _check(f, relax, rng.standard_normal(shape), tol, n)
    assert len(f.graphs) == 1                  # one graph serves every size
    ops = {n.op for n in f.graph.walk()}
    assert {"prim.Loop", "prim.If"} <= ops
    assert "control.py" not in str(f.graph) and "test_script.py" in str(f.graph)   # nodes carry user lines


# ------------------------------------------------------------------------------ API

def test_graph_before_first_call_says_what_to_do():
    f = distjit.script(relax)
    with pytest.raises(ScriptError, match="Call it once, or pass example_inputs"):
        f.graph


def test_example_inputs_compile_eagerly():
    f = distjit.script(relax, example_inputs=(np.ones((4, 4)), 1e-3, 10))
    assert "prim.Loop" in str(f.graph)


def test_decorator_forms_and_specializations():
    @distjit.script
    def double(x: np.ndarray) -> np.ndarray:
        return x * 2

    @distjit.script(example_inputs=(np.ones(2),))
    def triple(x: np.ndarray) -> np.ndarray:
        return x * 3

    assert isinstance(double, distjit.ScriptFunction) and double.__name__ == "double"
    double(np.ones(3))
    double(np.ones((2, 2)))
    double(np.ones(3, dtype=np.float32))
    double(np.ones(7))                         # same signature as the first: no new graph
    assert len(double.graphs) == 3
    assert_same(triple(np.arange(4.0)), np.arange(4.0) * 3)


def test_python_scalars_are_inputs_typed_by_kind():
    def f(x: np.ndarray, k: int, s: float, flag: bool) -> np.ndarray:
        if flag:
            return x * k
        return x + s
    g = distjit.script(f)
    x = np.arange(4, dtype=np.float32)
    for k, s, flag in [(2, 0.5, True), (3, 1.5, False), (-1, 2.0, True)]:
        _check(g, f, x, k, s, flag)
    assert len(g.graphs) == 1                  # values of scalars are not baked in
    assert [str(v.type) for v in g.graph.inputs[1:]] == ["int", "float", "bool"]


def test_defaults_closures_and_module_constants():
    bias = np.array([0.5, -0.5, 0.0])

    def f(x: np.ndarray, n: int = 2) -> np.ndarray:
        for _ in range(n):
            x = x * SCALE + bias + OFFSETS
        return x
    g = distjit.script(f)
    _check(g, f, np.ones(3))
    _check(g, f, np.ones(3), 5)


def test_tuple_unpacking_augmented_and_subscript_assignment():
    def f(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, int]:
        a, b = x.copy(), np.zeros_like(x)
        count = 0
        for i in range(n):
            a, b = b + 1.0, a * 0.5
            b[i % 3] += 2.0
            a[0:2] = a[1:3]
            count += i
        a += b
        return a, b, count
    g = distjit.script(f)
    for n in (0, 1, 4):
        _check(g, f, np.arange(5.0), n)


def test_range_forms():
    def f(x: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, int]:
        x = x.copy()
        total = 0
        for i in range(lo, hi):
            total += i
        for i in range(hi, lo, -2):
            x = x + i
        for i in range(x.shape[0] - 1, -1, -3):
            x[i] = x[i] * 2.0
        for i in range(3):                      # a short Python range is unrolled
            x = x - i
        return x, total
    g = distjit.script(f)
    for lo, hi in [(0, 5), (2, 9), (5, 2), (-3, 3)]:
        _check(g, f, np.arange(7.0), lo, hi)


def test_for_over_rows_and_while_with_data_dependent_condition():
    def f(x: np.ndarray) -> tuple[np.ndarray, int]:
        acc = np.zeros(x.shape[1])
        for row in x:
            acc = acc + row
        n = 0
        while acc.max() > 1.0:
            acc = acc / 2.0
            n += 1
        return acc, n
    g = distjit.script(f)
    for seed in range(3):
        _check(g, f, np.random.default_rng(seed).uniform(0, 3, size=(5, 4)))


def test_break_continue_and_early_return_nested():
    def f(x: np.ndarray, limit: float) -> tuple[float, int]:
        total = 0.0
        for i in range(x.shape[0]):
            if x[i] < 0:
                continue
            j = 0
            while True:
                j += 1
                if j > 3:
                    break
                total = total + x[i] / j
            if total > limit:
                return total, i
        return total, -1
    g = distjit.script(f)
    for seed, limit in [(0, 1.0), (1, 100.0), (2, 3.0)]:
        _check(g, f, np.random.default_rng(seed).standard_normal(8), limit)


def test_ternary_boolean_operators_and_builtins():
    def f(x: np.ndarray, k: int) -> tuple[np.ndarray, float, int, bool]:
        s = x.sum()
        y = x * 2.0 if s > 0 and k > 1 else -x
        z = float(x.max()) if not (s < -1.0 or k == 0) else 0.0
        m = max(k, 3) + min(k, 2) + len(x)
        both = bool(s > 0) and k % 2 == 0
        return y, z, m, both
    g = distjit.script(f)
    for seed, k in [(0, 0), (1, 2), (2, 5), (3, 4)]:
        _check(g, f, np.random.default_rng(seed).standard_normal(4), k)


def test_types_unified_across_branches_and_iterations():
    def f(x: np.ndarray) -> tuple[float, float]:
        acc = 0.0                         # a Python float before the loop, np.float64 inside
        for v in x:
            acc = acc * 0.5 + v
        m = 0.0
        if x.sum() > 0:
            m = x.max()                   # np.float64 in one branch, the float 0.0 in the other
        return acc, m
    g = distjit.script(f)
    for n in (0, 1, 5):
        _check(g, f, np.arange(float(n)))
    _check(g, f, -np.ones(3))


def test_in_place_update_of_an_input_is_written_back():
    def f(x: np.ndarray) -> int:
        n = 0
        for i in range(x.shape[0]):
            if x[i] < 0:
                x[i] = 0.0
                n += 1
        return n
    g = distjit.script(f)
    _check(g, f, np.array([1.0, -2.0, 3.0, -4.0]))


def test_assert_becomes_an_execution_error_at_the_users_line():
    def f(x: np.ndarray) -> np.ndarray:
        assert x.ndim == 1, "static check"
        assert x.min() > 0, "x must be positive"
        return np.log(x)
    g = distjit.script(f)
    _check(g, f, np.array([1.0, 2.0]))
    assert "prim.Assert" in str(g.graph)
    with pytest.raises(ExecutionError, match="x must be positive") as info:
        g(np.array([1.0, -2.0]))
    assert info.value.loc.line == f.__code__.co_firstlineno + 2
    with pytest.raises(ExecutionError, match="static check"):
        g(np.ones((2, 2)))


def helper_scale(x: np.ndarray, k: float) -> np.ndarray:
    if k > 1.0:
        return x * k
    return x


@distjit.script
def scripted_helper(x: np.ndarray) -> np.ndarray:
    total = x
    while total.sum() < 10.0:
        total = total * 2.0
    return total


def test_calls_to_user_functions_and_scripted_functions_are_inlined():
    def f(x: np.ndarray, k: float) -> np.ndarray:
        return scripted_helper(helper_scale(x, k)) + math.pi
    g = distjit.script(f)
    for k in (0.5, 3.0):
        _check(g, f, np.array([0.5, 1.0]), k)
    assert not any(n.op == "prim.Call" for n in g.graph.walk())


def test_source_from_exec_with_linecache_and_without():
    source = "def from_exec(x):\n    if x.sum() > 0:\n        return x\n    return -x\n"
    filename = "<notebook-cell-1>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {}
    exec(compile(source, filename, "exec"), namespace)
    g = distjit.script(namespace["from_exec"])
    assert_same(g(np.array([-1.0, -2.0])), np.array([1.0, 2.0]))
    namespace2 = {}
    exec(compile(source, "<no-source>", "exec"), namespace2)
    with pytest.raises(ScriptError, match="source of from_exec is not available"):
        distjit.script(namespace2["from_exec"])


# ------------------------------------------------------------------------------ mixing frontends

@distjit.script
def branchy(x: np.ndarray) -> np.ndarray:
    if x.sum() > 0:
        return x * 2.0
    return -x


def test_tracing_a_function_that_calls_a_scripted_one_keeps_the_branch():
    def model(x):
        return branchy(x + 1.0) - 1.0
    f = distjit.trace(model, (np.ones(3),))
    calls = [n for n in f.graph.walk() if n.op == "prim.Call"]
    assert len(calls) == 1 and any(n.op == "prim.If" for n in calls[0].attrs["graph"].walk())
    for x in (np.ones(3), -5.0 * np.ones(3)):         # both sides of the data-dependent branch
        assert_same(f(x), model(x))
    f.graph.verify()
    text = str(f.graph)
    assert str(distjit.Graph.parse(text)) == text


def test_tracing_a_function_that_calls_a_scripted_one_that_mutates():
    @distjit.script
    def clamp_(x: np.ndarray) -> int:
        n = 0
        for i in range(x.shape[0]):
            if x[i] > 1.0:
                x[i] = 1.0
                n += 1
        return n

    def model(x):
        y = x * 2.0
        n = clamp_(y)
        return y, n
    f = distjit.trace(model, (np.array([0.2, 0.9, 0.4]),))
    x = np.array([0.1, 0.7, 0.3])
    assert_same(f(x), model(x.copy()))


def test_scripted_function_calls_a_traced_function():
    traced = distjit.trace(lambda a, b: np.tanh(a) * b, (np.ones(3), np.ones(3)))

    def f(x: np.ndarray, n: int) -> np.ndarray:
        y = x
        for _ in range(n):
            y = traced(y, x)
        return y
    g = distjit.script(f)
    for n in (0, 1, 4):
        got = g(np.linspace(-1, 1, 5), n)            # another size than traced: types re-inferred
        expected = np.linspace(-1, 1, 5)
        for _ in range(n):
            expected = np.tanh(expected) * np.linspace(-1, 1, 5)
        # The loop runs as native code, whose tanh is the C library's (README: the numerical contract).
        assert_same(got, expected, rtol=1e-14)
    g.graph.verify()


def test_array_carried_by_name_and_updated_in_place_is_written_back():
    def f(acc: np.ndarray, x: np.ndarray) -> float:
        for row in x:
            acc += row
        return acc.sum()
    g = distjit.script(f)
    _check(g, f, np.zeros(3), np.arange(12.0).reshape(4, 3))
