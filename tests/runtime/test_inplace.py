"""In-place updates (distjit/core/inplace.py): differential against eager NumPy, and the cost of an update.

Random programs of item, slice and view writes, scalar reads kept across writes, aliases and
augmented assignments, straight-line and in loops, run scripted (loops kept), traced (loops
unrolled), through the reference interpreter and optimized: results and the caller's arrays
after the call must be NumPy's bit for bit. The cost of a scalar assignment in a loop is
measured by what it allocates (tracemalloc) and by whether each update returns its base's
buffer (an interpreter that watches), never by time.
"""
from __future__ import annotations

import importlib.util
import itertools
import re
import textwrap
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

import distjit
from distjit.errors import DistJitError, ExecutionError, ScriptError
from distjit.core.inplace import checked_outputs, copied_on_entry, plan_in_place, updates_in_place
from distjit.ir.graph import Graph
from distjit.runtime.executor import compile_graph
from distjit.runtime.interpreter import Interpreter
from tests.compare import assert_same, fresh

_modules = itertools.count()

# Statements over a (4, 5) array `a` (a local copy, or the argument itself), `b` (another array, or an alias of
# a), `v` (a view of a) and `s` (a 0-d value read from a). {i} is a row, {j} a column, {c} a constant.
STATEMENTS = [
    "a[{i}, {j}] = {c}",
    "a[{i}] = b[{k}]",
    "s = a[{i}, {j}]",
    "a[{i}, {j}] = s + {c}",
    "v = a[{i}:]",
    "v[0, {j}] = {c}",
    "a += {c}",
    "b = a",
    "b = a.copy()",
    "b[{k}, {j}] = {c}",
    "a[:, {j}] = a[:, {k}]",
    "a[1:] = a[:-1]",
    "a = a * {c}",
    "x[{i}, {j}] = {c}",
    "a, b = b, a",
]


@st.composite
def programs(draw):
    # Every statement may be in the loop: aliases made and broken there (`b = a`, `a, b = b, a`), views
    # re-made (`v = a[{i}:]`) and `a = a * c` after `a` was the argument (NOTE: [Identity of loop-carried
    # arrays] in script_loops.py). What a graph loop cannot do is a ScriptError or a failed assertion at
    # the user's line (see `check_or_refused`), never another result.
    def stmt():
        return draw(st.sampled_from(STATEMENTS)).format(
            i=draw(st.integers(0, 3)), j=draw(st.integers(0, 4)), k=draw(st.integers(0, 3)),
            c=draw(st.sampled_from(["1.5", "-2.0", "0.25"])))

    before = [stmt() for _ in range(draw(st.integers(0, 3)))]
    loop = [stmt() for _ in range(draw(st.integers(0, 4)))]
    after = [stmt() for _ in range(draw(st.integers(0, 3)))]
    own = draw(st.booleans())              # a = x.copy(), or a = x: writes reach the caller's array
    lines = ["def f(x, y, n):",
             "    a = x.copy()" if own else "    a = x",
             "    b = y.copy()",
             "    v = a[2:]",
             "    s = a[0, 0]"]
    lines += ["    " + s for s in before]
    if loop:
        lines.append("    for t in range(n):")
        lines += ["        " + s for s in loop]
    lines += ["    " + s for s in after]
    lines.append("    return a, b, v, s")
    return "\n".join(lines) + "\n", draw(st.integers(0, 3)), draw(st.integers(0, 3))


def load(source: str, tmp_path, name: str = "f"):
    """The function `name` of `source`, from a real file (the script frontend reads source)."""
    path = tmp_path / f"inplace_prog_{next(_modules)}.py"
    path.write_text("import numpy as np\n\n" + source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def check(fn, make_inputs, runners) -> None:
    """Every runner gives fn's results on fresh inputs and leaves the inputs as fn leaves them."""
    inputs = make_inputs()
    expected_inputs = fresh(inputs)
    expected = fn(*expected_inputs)
    for name, run in runners:
        got_inputs = fresh(inputs)
        got = run(*got_inputs)
        assert_same(got, expected, 0.0, f"{name}: result")
        assert_same(got_inputs, expected_inputs, 0.0, f"{name}: inputs after the call")


def _inputs():
    rng = np.random.default_rng(1)
    return rng.standard_normal((4, 5)), rng.standard_normal((4, 5))


def refused(error: Exception, fn) -> bool:
    """A clear refusal: a ScriptError, or a failed assertion of the graph, at a line of the user's file."""
    where = fn.__code__.co_filename
    return isinstance(error, ScriptError) and where in str(error) or \
        isinstance(error, ExecutionError) and "assertion failed" in str(error) and where in str(error)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(programs())
def test_random_update_programs_match_numpy(tmp_path, program):
    source, n, n2 = program
    fn = load(source, tmp_path)
    x, y = _inputs()
    traced = distjit.trace(fn, (x.copy(), y.copy(), n))
    check(fn, lambda: (x.copy(), y.copy(), n), [("trace", traced), ("trace optimized", distjit.optimize(traced))])
    scripted = distjit.script(fn)
    for trips in (n, n2):                                   # one signature: the trip count is a graph input
        try:
            scripted(x.copy(), y.copy(), trips)             # compiles (and plans) the signature
        except DistJitError as e:
            assert refused(e, fn), e
            event("script refused")
            continue
        signature = scripted.functions[0]
        runners = [("script", scripted), ("script optimized", distjit.optimize(signature)),
                   ("script interpreted", signature.interpret)]
        check(fn, lambda: (x.copy(), y.copy(), trips), runners)
        event("script ran")


def test_an_update_through_a_view_reaches_the_base(tmp_path):
    fn = load(textwrap.dedent("""
        def f(a, n):
            a = a.copy()
            x = a[1:]
            x[0] = 7.0
            for i in range(n):
                x = a[1:]
                x[i] = x[i] + a[0]
                a[0] = a[0] + 1.0
            return a, x
    """), tmp_path)
    a = np.arange(6.0)
    check(fn, lambda: (a.copy(), 4), [("script", distjit.script(fn)), ("trace", distjit.trace(fn, (a.copy(), 4)))])


def test_views_and_reads_of_a_loop_carried_buffer(tmp_path):
    fn = load(textwrap.dedent("""
        def f(a, n):
            a = a.copy()
            total = a[0, 0] * 0.0
            for i in range(n):
                row = a[0]                  # a view of the carried buffer, read after the write
                a[0, i] = a[0, i] + 1.0
                total = total + row.sum()
                old = a[1, i]               # a scalar read, kept past the write
                a[1, i] = 5.0
                total = total + old
                last = a[2]
                last[i] = -1.0              # a write through a view of the carried buffer
                total = total + a[2].sum()
            return a, total
    """), tmp_path)
    a = np.arange(12.0).reshape(3, 4)
    check(fn, lambda: (a.copy(), 4), [("script", distjit.script(fn)), ("trace", distjit.trace(fn, (a.copy(), 4)))])


# Loops written as IR, for what the script frontend does not make today: carried values that swap buffers, one
# value carried in two places, a carried input read after the loop, a fresh initial value the loop takes over.
LOOP_GRAPHS = {
    "swap": ("""
        %x: f64[5], %y: f64[5] = prim.Loop(%n, %c, %a, %b)
          block(%i: int, %p: f64[5], %q: f64[5]) {
            %e: f64[] = array.getitem(%q, %i) {index=(ref(1),)}
            %s: f64[] = np.add(%e, %one)
            %u: f64[5] = array.setitem(%p, %s, %i) {index=(ref(2),)}
            -> (%c, %q, %u)
          }
        return (%x, %y, %a, %b)""", [True]),
    "returned_twice": ("""
        %x: f64[5], %y: f64[5] = prim.Loop(%n, %c, %a, %b)
          block(%i: int, %p: f64[5], %q: f64[5]) {
            %u: f64[5] = array.setitem(%p, %one, %i) {index=(ref(2),)}
            %w: f64[5] = array.setitem(%q, %two, %i) {index=(ref(2),)}
            -> (%c, %u, %u)
          }
        return (%x, %y)""", [False]),      # the two carried values would share a buffer: no update in place
    "read_after": ("""
        %f: f64[5] = np.add(%a, %b)
        %x: f64[5] = prim.Loop(%n, %c, %f)
          block(%i: int, %p: f64[5]) {
            %u: f64[5] = array.setitem(%p, %two, %i) {index=(ref(2),)}
            -> (%c, %u)
          }
        %r: f64[5] = np.multiply(%f, %x)
        return (%r, %x)""", [True]),
    "taken": ("""
        %f: f64[5] = np.add(%a, %b)
        %x: f64[5] = prim.Loop(%n, %c, %f)
          block(%i: int, %p: f64[5]) {
            %u: f64[5] = array.setitem(%p, %two, %i) {index=(ref(2),)}
            -> (%c, %u)
          }
        %z: f64[5] = array.setitem(%x, %one, %n) {index=(ref(2),)}
        return (%z)""", [False]),
    "view_returned": ("""
        %x: f64[5], %y: f64[3] = prim.Loop(%n, %c, %a, %v)
          block(%i: int, %p: f64[5], %q: f64[3]) {
            %u: f64[5] = array.setitem(%p, %two, %i) {index=(ref(2),)}
            %w: f64[3] = array.getitem(%u, %zero) {index=(slice(ref(1), 3, None),)}
            -> (%c, %u, %w)
          }
        %z: f64[5] = array.setitem(%x, %one, %zero) {index=(ref(2),)}
        return (%z, %y)""", [False]),      # a view of the carried buffer is carried too: no update in place
    "elementwise_over_carried": ("""
        %f: f64[5] = np.add(%a, %b)
        %x: f64[5] = prim.Loop(%n, %c, %f)
          block(%i: int, %p: f64[5]) {
            %u: f64[5] = np.multiply(%p, %two)
            %w: f64[5] = array.setitem(%u, %one, %i) {index=(ref(2),)}
            -> (%c, %w)
          }
        return (%x)""", [False]),
}


@pytest.mark.parametrize("name", sorted(LOOP_GRAPHS))
def test_loop_carried_buffers_written_as_ir(name):
    body, entry_copies = LOOP_GRAPHS[name]
    text = ("graph g(%a: f64[5], %b: f64[5], %v: f64[3], %n: int) {\n"
            "  %c: bool = prim.Constant() {value=True}\n  %zero: int = prim.Constant() {value=0}\n"
            "  %one: float = prim.Constant() {value=1.0}\n  %two: float = prim.Constant() {value=2.0}\n"
            + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ") + "\n}\n")
    inputs = (np.arange(5.0), np.ones(5), np.full(3, 4.0), 4)
    reference = Graph.parse(text)                   # unplanned: every update a copy, the functional meaning
    expected = Interpreter(reference).run(*fresh(inputs))
    graph = Graph.parse(text)
    plan_in_place(graph)
    assert any(updates_in_place(n) for n in graph.walk()) == (name not in ("returned_twice", "view_returned"))
    assert [bool(copied_on_entry(n)) for n in graph.walk() if n.op == "prim.Loop"] == entry_copies
    if name == "elementwise_over_carried":     # x = x * 2 writes over the carried buffer, checked at run time
        assert [checked_outputs(n) for n in graph.walk() if n.op == "np.multiply"] == [(0,)]
    for run in (Interpreter(graph).run, compile_graph(graph)):
        got_inputs = fresh(inputs)
        assert_same(list(run(*got_inputs)), expected)
        assert_same(got_inputs, inputs, 0.0, "inputs after the call")


def test_a_mutated_argument_is_mutated_for_the_caller(tmp_path):
    fn = load(textwrap.dedent("""
        def sweep(A, steps):
            n = A.shape[0]
            for t in range(steps):
                for i in range(1, n - 1):
                    for j in range(1, n - 1):
                        A[i, j] = (A[i - 1, j] + A[i + 1, j] + A[i, j - 1] + A[i, j + 1]) / 4.0
                        if A[i, j] > 0.5:
                            A[i, j] = A[i, j] - 0.5
    """), tmp_path, "sweep")
    A = np.random.default_rng(0).random((7, 7))
    scripted = distjit.script(fn)
    check(fn, lambda: (A.copy(), 2), [("script", scripted)])
    f = scripted.functions[0]
    # planned as any graph: the caller's array is copied once, at the entry of the outermost loop, never per
    # iteration
    graph = f.graph.copy()
    plan_in_place(graph)
    assert any(updates_in_place(n) for n in graph.walk())
    entries = [(n, copied_on_entry(n)) for n in graph.walk() if n.op == "prim.Loop"]
    assert [bool(c) for _, c in entries] == [True, False, False], entries
    # what the Function runs: the argument donated (runtime/donation.py), updated in place without a copy
    graph = f.program_graph
    assert any(updates_in_place(n) for n in graph.walk())
    entries = [(n, copied_on_entry(n)) for n in graph.walk() if n.op == "prim.Loop"]
    assert [bool(c) for _, c in entries] == [False, False, False], entries


@pytest.mark.parametrize("x_len, y_len", [(5, 5), (5, 1), (1, 5)])
def test_augmented_assignment_of_a_carried_array_where_shapes_broadcast(tmp_path, x_len, y_len):
    fn = load(textwrap.dedent("""
        def f(x, y, n):
            x = x * 1.0
            for i in range(n):
                x = x * 0.5                 # over the carried buffer (its shape checked at run time)
                x = x * y
                x[0] = i
            return x
    """), tmp_path)
    x, y = np.arange(1.0, x_len + 1), np.full(y_len, 1.5)
    check(fn, lambda: (x.copy(), y.copy(), 3), [("script", distjit.script(fn))])


def test_an_argument_not_mutated_stays_as_it_was(tmp_path):
    fn = load(textwrap.dedent("""
        def f(x, n):
            for i in range(n):
                x = x + 0.0 if i == 0 else x
                x[i] = 1.0
            return x
    """), tmp_path)
    x = np.zeros(6)
    check(fn, lambda: (x.copy(), 6), [("script", distjit.script(fn))])


def test_straight_line_updates_are_in_place_after_one_copy():
    def f(x):
        a = x.copy()
        for i in range(6):          # traced: six updates in a row
            a[i] = i
        return a

    g = distjit.trace(f, (np.zeros(8),))
    g(np.zeros(8))                  # compiles and plans
    updates = [n for n in g.graph.walk() if n.op == "array.setitem"]
    assert len(updates) == 6 and all(updates_in_place(n) for n in updates)
    np.testing.assert_array_equal(g(np.zeros(8)), f(np.zeros(8)))


def test_an_argument_is_written_in_place_only_when_donated():
    def f(x):
        x[0] = 1.0
        x[1] = 2.0
        return x * 2.0

    g = distjit.trace(f, (np.zeros(3),))
    x = np.zeros(3)
    out = g(x)
    graph = g.graph.copy()
    plan_in_place(graph)
    first, second = [n for n in graph.walk() if n.op == "array.setitem"]
    assert not updates_in_place(first) and updates_in_place(second)
    # the program the Function runs has the argument donated (runtime/donation.py): both updates write into it
    assert all(updates_in_place(n) for n in g.program_graph.walk() if n.op == "array.setitem")
    np.testing.assert_array_equal(x, [1.0, 2.0, 0.0])
    np.testing.assert_array_equal(out, [2.0, 4.0, 0.0])


def test_the_pass_reports_its_updates():
    def f(x):
        a = x + 1.0
        a[0] = 5.0
        return a

    g = distjit.optimize(distjit.trace(f, (np.zeros(4),)))
    explanation = g.optimization.explain()
    assert "inplace: 1 rewrite" in explanation and "writes in place" in explanation
    budget = distjit.optimize(distjit.trace(f, (np.zeros(4),)), passes=["inplace"], max_rewrites=0)
    assert not any(updates_in_place(n) for n in budget.graph.walk())


# ----------------------------------------------------------------- the cost of an update

BIG = 1 << 20       # 8 MiB of float64


def _peak_bytes(fn, *args) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_scalar_assignment_in_a_loop_allocates_nothing(tmp_path):
    fn = load(textwrap.dedent("""
        def writes(a, n):
            for i in range(n):
                a[i % 7] = i * 0.5
            return a
    """), tmp_path, "writes")
    scripted = distjit.script(fn)
    big = np.zeros(BIG)
    scripted(big.copy(), 3)                                     # compile outside the measurement
    peak = _peak_bytes(scripted, big.copy(), 200)
    # one copy of the caller's array at loop entry (the function must not write it), then O(1) per write;
    # a copy per write would keep two arrays alive at once
    assert peak < 1.5 * big.nbytes, peak
    np.testing.assert_array_equal(scripted(big.copy(), 20), fn(big.copy(), 20))


class _Watch(Interpreter):
    """The reference interpreter, counting updates that returned a new buffer instead of their base."""

    copies = 0

    def run_node(self, node, env):
        results = super().run_node(node, env)
        if node.op == "array.setitem" and results[0] is not env[node.inputs[0]]:
            _Watch.copies += 1
        return results


def test_the_interpreter_updates_a_carried_buffer_without_copies(tmp_path):
    fn = load(textwrap.dedent("""
        def writes(a, n):
            a = a * 1.0
            for i in range(n):
                for j in range(n):
                    a[i, j] = a[j, i] + 1.0
            return a
    """), tmp_path, "writes")
    scripted = distjit.script(fn)
    a = np.arange(25.0).reshape(5, 5)
    scripted(a.copy(), 5)
    signature = scripted.functions[0]
    graph = signature.graph
    plan_in_place(graph)
    _Watch.copies = 0
    got = _Watch(graph, signature.params).run(a.copy(), 5)
    assert _Watch.copies == 0
    assert not any(copied_on_entry(n) for n in graph.walk())     # a * 1.0 is the function's own array
    np.testing.assert_array_equal(got[0], fn(a.copy(), 5))


@pytest.mark.parametrize("level", [0, 1, 2])
def test_every_level_updates_in_place(tmp_path, level):
    fn = load(textwrap.dedent("""
        def writes(a, n):
            for i in range(n):
                a[i % 7] = i * 0.5
            return a
    """), tmp_path, "writes")
    scripted = distjit.script(fn)
    scripted(np.zeros(16), 3)
    g = distjit.optimize(scripted, level=level)
    big = np.zeros(BIG)
    g(big.copy(), 3)
    assert _peak_bytes(g, big.copy(), 100) < 1.5 * big.nbytes


def test_optimized_loop_rebinding_to_an_updated_argument(tmp_path):
    fn = load(textwrap.dedent("""
        def f(x, y, n):
            a = x
            b = y.copy()
            v = a[2:]
            s = a[0, 0]
            a += 1.5
            for t in range(n):
                b = a.copy()
                b = a
            a = a * 1.5
            return a, b, v, s
    """), tmp_path)
    x, y = _inputs()
    scripted = distjit.script(fn)
    scripted(x.copy(), y.copy(), 0)
    check(fn, lambda: (x.copy(), y.copy(), 2), [("script optimized", distjit.optimize(scripted.functions[0]))])


@pytest.mark.parametrize("native", [False, True])
@pytest.mark.parametrize("x_len, v_len", [(300, 300), (300, 1)])
def test_a_fused_expression_writes_over_its_carried_array(tmp_path, monkeypatch, native, x_len, v_len):
    """counts += (v >> i) & 1 is one fused node over the carried counts: it writes into them (when no operand
    broadcasts them at run time); a carried value the expression reads after computing the output that
    would overwrite it keeps its own buffer."""
    from distjit.runtime import fused_eval

    monkeypatch.setenv("DISTJIT_NATIVE", "0")      # the loop itself would lower: the fused nodes are the subject
    if native:
        monkeypatch.setattr(fused_eval, "NUMBA_MIN_ELEMENTS", 1)
        monkeypatch.setattr(fused_eval, "NATIVE_BLOCK_ELEMENTS", 24)
        monkeypatch.setattr(fused_eval, "NATIVE_MAX_SCALE", 1)
        monkeypatch.setattr(fused_eval, "NATIVE_THREAD_ELEMENTS", 16)
        monkeypatch.setattr(fused_eval, "THREADS", 2)
    fn = load(textwrap.dedent("""
        def f(counts, v, w, n):
            counts = counts * 1
            w = w * 1.0
            for i in range(n):
                counts += (v >> i) & 1
                a = w * 0.01 - 1.0
                w = np.exp(a) + w           # w is read again after exp: a is written first
            return counts, w
    """), tmp_path)
    rng = np.random.default_rng(x_len + v_len)
    make = lambda: (np.zeros(x_len, np.int64), rng.integers(0, 2 ** 20, v_len), np.linspace(0, 1, x_len), 5)
    scripted = distjit.optimize(distjit.script(fn))
    check(fn, make, [("script", scripted)])
    loop = next(n for g in scripted.graphs for n in g.walk() if n.op == "prim.Loop")
    assert any(n.op == "fused.elementwise" and checked_outputs(n) for n in loop.blocks[0].nodes)


# Control flow that decides aliasing at run time (NOTE: [Zero-trip links] in script_context.py): up to two
# loops (for, while) that may run zero times and ifs, over the caller's arrays or copies, views made before,
# in and after them. What the frontend cannot follow is refused at the user's line, never another result.
CONTROL_STATEMENTS = STATEMENTS + ["w = a[{i}:, {j}:]", "w[0, 0] = {c}", "a = a + {c}", "v = b[{i}:]",
                                   "x[{i}] = {c}", "b = x"]


@st.composite
def control_programs(draw):
    def stmt():
        return draw(st.sampled_from(CONTROL_STATEMENTS)).format(
            i=draw(st.integers(0, 3)), j=draw(st.integers(0, 4)), k=draw(st.integers(0, 3)),
            c=draw(st.sampled_from(["1.5", "-2.0", "0.25"])))

    lines = ["def f(x, y, n):",
             "    a = x.copy()" if draw(st.booleans()) else "    a = x",
             "    b = y.copy()" if draw(st.booleans()) else "    b = y",
             "    v = a[2:]", "    w = b[1:]", "    s = a[0, 0]"]
    lines += ["    " + stmt() for _ in range(draw(st.integers(0, 2)))]
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["for", "while", "if"]))
        body = [stmt() for _ in range(draw(st.integers(1, 3)))]
        if kind == "for":
            lines.append("    for t in range(n):")
        elif kind == "while":
            lines += ["    k = 0", "    while k < n:"]
            body.append("k += 1")
        else:
            lines.append("    if x[0, 0] > 0:")
        lines += ["        " + s for s in body]
        if kind == "if" and draw(st.booleans()):
            lines.append("    else:")
            lines += ["        " + stmt() for _ in range(draw(st.integers(1, 2)))]
        lines += ["    " + stmt() for _ in range(draw(st.integers(0, 2)))]
    lines.append("    return a, b, v, w, s")
    return "\n".join(lines) + "\n", draw(st.integers(0, 3)), draw(st.integers(0, 3)), draw(st.booleans())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(control_programs())
def test_random_control_flow_update_programs_match_numpy(tmp_path, program):
    source, n, n2, positive = program
    fn = load(source, tmp_path)
    x, y = _inputs()
    x[0, 0] = abs(x[0, 0]) if positive else -abs(x[0, 0])
    scripted = distjit.script(fn)
    for trips in (n, n2):                                   # one signature: the trip count is a graph input
        try:
            scripted(x.copy(), y.copy(), trips)
        except DistJitError as e:
            assert refused(e, fn), e
            event("script refused")
            continue
        signature = scripted.functions[0]
        runners = [("script", scripted), ("script interpreted", signature.interpret)] + [
            (f"script at level {k}", distjit.optimize(signature, k)) for k in (1, 2, 3)]
        check(fn, lambda: (x.copy(), y.copy(), trips), runners)
        event("script ran")


@pytest.mark.parametrize("donated", [False, True])
def test_a_loop_carried_augmented_update_by_a_product_is_in_place(tmp_path, monkeypatch, donated):
    """`W -= lr * (X.T @ G)` over a loop-carried W of symbolic lengths (an SGD step; augmented assignment
    broadcasts the product to W's lengths, which its type names anew) writes into the carried buffer, as the
    inplace pass reports; results and the caller's arrays are NumPy's (a donated argument is updated for the
    caller as NumPy updates it)."""
    monkeypatch.setenv("DISTJIT_NATIVE", "0")      # the loop itself would lower: the NumPy plan is the subject
    fn = load(textwrap.dedent(f"""
        def f(W, b, X, lr, n):
            {"" if donated else "W = W.copy()"}
            b = b + 0.0
            for i in range(n):
                G = X @ W + b
                W -= lr * (X.T @ G)
                b -= lr * G.sum(axis=0)
            return W, b
    """), tmp_path)
    rng = np.random.default_rng(7)
    make = lambda: (rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((5, 3)), 0.1, 4)
    g = distjit.optimize(distjit.script(fn))
    check(fn, make, [("script optimized", g)])
    report = g.optimization.explain()
    loop = next(n for graph in g.graphs for n in graph.walk() if n.op == "prim.Loop")
    carried = {f"%{p.name}" for p in loop.blocks[0].params[1:]}
    over = re.findall(r"= np\.subtract\(\.\.\.\) writes into the buffer of (%\S+) when the shapes fit", report)
    assert len(over) == 1 and over[0] in carried, report
