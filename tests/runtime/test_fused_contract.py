"""The numerical contract of fused expressions (README, "The numerical contract"), tested differentially.

Generated elementwise chains (broadcast operands, 0-d operands, Python constants, float64/float32/
int64/int32/bool, where, several outputs) are traced, optimized at levels 2 and 3 and run through the
native loops with tiny blocks and two threads, so every block boundary and the NumPy steps between
loop stages are exercised; each result must be eager NumPy's bit for bit (NaNs equal), ulp distance 0.
"""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import distjit
from distjit.runtime import fused_eval, fused_native
from tests.compare import assert_same

DTYPES = [np.float64, np.float32, np.int64, np.int32]
BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum"]
UNARY = ["negative", "absolute", "sqrt", "square", "exp", "log", "tanh", "sin", "log1p", "reciprocal"]
COMPARE = ["greater", "less_equal", "equal", "not_equal"]


@pytest.fixture
def native_everywhere(monkeypatch):
    """Native loops for every size, blocks of a few rows, two threads."""
    monkeypatch.setattr(fused_eval, "BACKEND", "auto")
    monkeypatch.setattr(fused_eval, "NUMBA_MIN_ELEMENTS", 1)
    monkeypatch.setattr(fused_eval, "NATIVE_BLOCK_ELEMENTS", 24)
    monkeypatch.setattr(fused_eval, "NATIVE_THREAD_ELEMENTS", 16)
    monkeypatch.setattr(fused_eval, "THREADS", 2)


def ulp_distance(a: np.ndarray, b: np.ndarray) -> int:
    """The largest distance in units in the last place between finite floats (NaN against NaN: 0)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind != "f":
        return 0 if np.array_equal(a, b) else math.inf
    both_nan = np.isnan(a) & np.isnan(b)
    ints = {4: np.int32, 8: np.int64}[a.dtype.itemsize]

    def ordered(x):       # the float's position on the number line, as an integer
        i = x.view(ints).astype(np.int64)
        return np.where(i < 0, np.iinfo(ints).min - i, i)

    d = np.abs(ordered(a) - ordered(b))
    d = np.where(both_nan, 0, d)
    return int(d.max()) if d.size else 0


@st.composite
def chains(draw):
    """(source of a NumPy function f(x, y, z), its inputs): x of shape (R, C), y broadcasting to it, z 0-d."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    rows, cols = draw(st.integers(1, 40)), draw(st.integers(1, 6))
    y_shape = draw(st.sampled_from([(rows, cols), (cols,), (rows, 1), (1, cols), ()]))
    y_dtype = np.dtype(draw(st.sampled_from([dtype, np.float64, np.int32])))
    if dtype.kind == "f":
        elements = st.floats(-1e6, 1e6, width=dtype.itemsize * 8) | st.sampled_from([0.0, -0.0, np.inf, -np.inf, np.nan])
    else:
        elements = st.integers(-1000, 1000)
    x = draw(hnp.arrays(dtype, (rows, cols), elements=elements))
    y = draw(hnp.arrays(y_dtype, y_shape, elements=st.integers(-50, 50).map(float) if y_dtype.kind == "f"
                        else st.integers(-50, 50)))
    z = np.array(draw(st.integers(-3, 3)), dtype)
    names, bools, lines = ["x", "y", "z"], [], []
    for k in range(draw(st.integers(2, 9))):
        kind = draw(st.sampled_from(["binary", "unary", "const", "where"]))
        a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names))
        if kind == "binary":
            expr = f"np.{draw(st.sampled_from(BINARY))}({a}, {b})"
        elif kind == "unary":
            expr = f"np.{draw(st.sampled_from(UNARY))}({a})"
        elif kind == "const":
            c = draw(st.sampled_from(["0.5", "3", "-2.25", "1e-3", "2", "2.0"]))
            expr = f"({a} {draw(st.sampled_from(['+', '*', '-', '**']))} {c})"
        else:
            if not bools:
                lines.append(f"    c{k} = np.{draw(st.sampled_from(COMPARE))}({a}, {b})")
                bools.append(f"c{k}")
            expr = f"np.where({draw(st.sampled_from(bools))}, {a}, {b})"
        lines.append(f"    v{k} = {expr}")
        names.append(f"v{k}")
    outs = sorted({names[-1], draw(st.sampled_from(names[3:]))})
    source = "def f(x, y, z):\n" + "\n".join(lines) + f"\n    return ({', '.join(outs)},)\n"
    return source, (x, y, z)


def compile_source(source):
    namespace = {"np": np}
    exec(compile(source, "<chain>", "exec"), namespace)
    return namespace["f"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(chains(), st.sampled_from([2, 3]))
def test_fused_chains_are_numpy_bit_for_bit(native_everywhere, chain, level):
    source, args = chain
    fn = compile_source(source)
    with np.errstate(all="ignore"):
        expected = fn(*args)
        f = distjit.optimize(distjit.trace(fn, args), level=level)
        got = f(*args)
    assert_same(got, expected)
    for g, e in zip(got, expected):
        assert ulp_distance(g, e) == 0
    assert not [k.native_error for k in fused_eval._kernels.values() if k.native_error is not None]
    graphs = {n.attrs["graph"] for n in f.graph.walk() if n.op == "fused.elementwise"}
    event(f"native loops: {any(fused_eval._kernels[g].native for g in graphs if g in fused_eval._kernels)}")


def test_black_scholes_runs_as_native_stages_bit_for_bit(native_everywhere):
    """The bench's chain: one fused node, native loop stages with NumPy's exp/log between them."""
    from bench.workloads import black_scholes, make_black_scholes

    S, K, T = (a[:5000] for a in make_black_scholes(True))
    f = distjit.optimize(distjit.trace(black_scholes, (S, K, T)))
    (node,) = [n for n in f.graph.walk() if n.op == "fused.elementwise"]
    assert_same(f(S, K, T), black_scholes(S, K, T))
    expr = fused_eval._kernels[node.attrs["graph"]].native
    assert isinstance(expr, fused_native.Expression)
    assert [s[0] for s in expr.steps].count("loop") == 3 and any(s[0] == "numpy" for s in expr.steps)


def test_broadcast_0d_and_mixed_dtypes_run_natively(native_everywhere):
    def fn(x, y, z):
        a = x * y + z
        b = np.where(a > 0.5, a, np.float32(2) * x)
        return b, np.maximum(a, y) - 3

    x = np.linspace(-2, 2, 60, dtype=np.float32).reshape(12, 5)
    y = np.arange(5, dtype=np.int32)
    z = np.array(1.5, np.float32)
    f = distjit.optimize(distjit.trace(fn, (x, y, z)))
    assert_same(f(x, y, z), fn(x, y, z))
    assert_same(f(x.T.copy().T, y[::-1].copy(), z), fn(x.T.copy().T, y[::-1].copy(), z))
    natives = [k.native for k in fused_eval._kernels.values() if k.graph in
               {n.attrs["graph"] for n in f.graph.walk() if n.op == "fused.elementwise"}]
    assert natives and all(isinstance(e, fused_native.Expression) for e in natives)


def test_ulp_distance_counts_representable_floats_between():
    a = np.array([1.0, -0.0, np.nan, 2.0])
    b = np.array([np.nextafter(1.0, 2.0), 0.0, np.nan, np.nextafter(np.nextafter(2.0, 0.0), 0.0)])
    assert ulp_distance(a, b) == 2
    assert ulp_distance(a[:3], b[:3]) == 1


@pytest.mark.parametrize("k", [0, 1])
def test_an_output_written_over_an_input_gives_numpy_results(native_everywhere, k):
    """A memory plan may give a fused node a dying input as its output buffer: the input is read by
    steps after the first loop (np.exp of it, and the last stage), so the loops must not clobber it."""
    def fn(x, y):
        a = x * 2.0 + y
        return np.exp(a) + x - y

    x, y = np.linspace(-1, 1, 300), np.linspace(2, 3, 300)
    f = distjit.optimize(distjit.trace(fn, (x, y)))
    (node,) = [n for n in f.graph.walk() if n.op == "fused.elementwise"]
    expected = fn(x, y)
    args = [x.copy(), y.copy()]
    got = fused_eval.evaluate(*args, graph=node.attrs["graph"], out=(args[k],))
    assert got is args[k]
    assert_same(got, expected)
    assert fused_eval._kernels[node.attrs["graph"]].native


def test_an_output_written_before_its_input_is_read_again_is_left_to_numpy(native_everywhere):
    def fn(x, y):
        a = x * 2.0 + y
        return a, np.exp(a) + x

    x, y = np.linspace(-1, 1, 300), np.linspace(2, 3, 300)
    f = distjit.optimize(distjit.trace(fn, (x, y)))
    (node,) = [n for n in f.graph.walk() if n.op == "fused.elementwise"]
    kernel = fused_eval.FusedKernel(node.attrs["graph"])
    assert kernel._native([x, y], x.shape, [None, None]) is not None
    assert kernel._native([x, y], x.shape, [x, None]) is None      # a is written over x, read again after exp


INT_OPS = ["np.bitwise_and({a}, {b})", "np.bitwise_or({a}, {b})", "np.bitwise_xor({a}, {b})", "({a} & 1)",
           "({a} ** 2)", "np.power({a}, 2)", "({a} + {b})", "({a} >> 3)", "(({a} > {b}) & ({b} > 0))"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from([np.int64, np.int32, np.bool_]), st.integers(1, 50),
       st.lists(st.tuples(st.sampled_from(INT_OPS), st.integers(0, 9), st.integers(0, 9)), min_size=2, max_size=6),
       st.integers(0, 2 ** 32))
def test_bitwise_and_squares_run_natively_bit_for_bit(native_everywhere, dtype, n, ops, seed):
    """Bitwise ops of integers and bools, and powers by a constant 2 (x * x: NumPy's square), wrap-around
    included, are loop nodes; each chain must be eager NumPy's bit for bit."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-2 ** 40, 2 ** 40, n).astype(dtype)
    y = rng.integers(-2 ** 40, 2 ** 40, n).astype(dtype)
    names, lines = ["x", "y"], []
    for k, (op, i, j) in enumerate(ops):
        lines.append(f"    v{k} = " + op.format(a=names[i % len(names)], b=names[j % len(names)]))
        names.append(f"v{k}")
    fn = compile_source("def f(x, y):\n" + "\n".join(lines) + f"\n    return ({names[-1]},)\n")
    try:
        with np.errstate(all="ignore"):
            expected = fn(x, y)
    except TypeError:          # NumPy refuses the chain (a shift or power of bools): nothing to compare
        assume(False)
    with np.errstate(all="ignore"):
        got = distjit.optimize(distjit.trace(fn, (x, y)))(x, y)
    assert_same(got, expected)
    assert not [k.native_error for k in fused_eval._kernels.values() if k.native_error is not None]


def test_power_by_two_and_bitwise_and_are_loop_nodes(native_everywhere):
    def fn(v, s):
        return (((v >> s) & 1) + v ** 2,)

    v = np.arange(-500, 500, dtype=np.int64)
    f = distjit.optimize(distjit.trace(fn, (v, 3)))
    assert_same(f(v, 3), fn(v, 3))
    (node,) = [n for n in f.graph.walk() if n.op == "fused.elementwise"]
    expr = fused_eval._kernels[node.attrs["graph"]].native
    numpy_steps = [step[1].op for step in expr.steps if step[0] == "numpy"]
    assert "np.bitwise_and" not in numpy_steps and "np.power" not in numpy_steps


def test_threads_are_used_only_while_measured_faster():
    choice = fused_eval._ThreadChoice()
    assert choice.workers(1, 1000) == 1
    assert choice.workers(2, 1000) == 2                 # first: the threads are timed
    choice.record(2, 1000, 2e-3)
    assert choice.workers(2, 1000) == 1                 # then one thread
    choice.record(1, 1000, 1e-3)
    picks = [choice.workers(2, 1000) for _ in range(2 * choice.PROBE)]
    assert picks.count(2) == 2 and picks.count(1) == 2 * choice.PROBE - 2    # threads re-timed now and then
    choice.record(2, 1000, 0.5e-3)                      # the cores got free: threads win again
    assert [choice.workers(2, 1000) for _ in range(3)].count(2) >= 2
    assert choice.workers(2, 10 ** 6) == 2              # another size class is timed on its own
