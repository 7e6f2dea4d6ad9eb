"""The pass manager: levels, custom pass lists, reports, explain, the rewrite budget; CSE's node count."""
import numpy as np
import pytest

import distjit
from distjit.passes import PASSES, PIPELINES, run_passes
from tests.passes.helpers import golden, run_text


def twice(x, y):
    a = np.exp(x * y) + 1.0
    b = np.exp(x * y) + 1.0      # the same subexpression, computed twice
    return a * b


def _f():
    x, y = np.linspace(0.0, 1.0, 16), np.linspace(1.0, 2.0, 16)
    return distjit.trace(twice, (x, y)), (x, y)


def test_cse_computes_a_repeated_subexpression_once():
    f, args = _f()
    g = distjit.optimize(f, level=1, verify=True)
    ops = [n.op for n in g.graph.walk()]
    assert ops.count("np.exp") == 1 and ops.count("np.multiply") == 2
    assert g.graph.node_count() < f.graph.node_count()
    np.testing.assert_array_equal(g(*args), f(*args))


def test_level_0_and_custom_passes():
    f, _ = _f()
    assert str(distjit.optimize(f, level=0).graph) == str(f.graph)
    g = distjit.optimize(f, passes=["cse"])
    assert g.optimization.pipeline == ["cse"]
    assert f.optimize(level=1).graph.node_count() == distjit.optimize(f, level=1).graph.node_count()
    with pytest.raises(KeyError, match="unknown pass"):
        distjit.optimize(f, passes=["nope"])
    for level, names in PIPELINES.items():
        assert all(n in PASSES for n in names)


def test_report_and_explain():
    f, _ = _f()
    g = distjit.optimize(f, level=2)
    text = g.optimization.explain()
    assert "cse: 3 rewrites" in text or "cse:" in text
    assert "duplicate" in text and "fused" in text
    table = g.optimization.table()
    assert "total" in table and "fuse" in table


def test_dump_after_each_pass():
    f, _ = _f()
    seen = []
    distjit.optimize(f, passes=["cse", "dce"], dump=seen.append)
    assert [s.splitlines()[0] for s in seen] == ["// after cse", "// after dce"]


def test_max_rewrites_bisects():
    f, args = _f()
    full = distjit.optimize(f, level=2)
    total = sum(r.rewrites for r in full.optimization.records)
    for n in range(total + 1):
        g = distjit.optimize(f, level=2, verify=True, max_rewrites=n)
        assert sum(r.rewrites for r in g.optimization.records) == n
        np.testing.assert_allclose(g(*args), f(*args), rtol=1e-12)


def test_cse_respects_nested_scopes():
    out, _ = run_text("""
        graph g(%x: f64[4], %c: bool) {
          %a: f64[4] = np.exp(%x)
          %r: f64[4] = prim.If(%c)
            block() {
              %b: f64[4] = np.exp(%x)
              %d: f64[4] = np.sin(%x)
              -> (%b)
            }
            block() {
              %e: f64[4] = np.sin(%x)
              -> (%e)
            }
          %s: f64[4] = np.add(%r, %a)
          return (%s)
        }""", "cse")
    assert out == golden("""
        graph g(%x: f64[4], %c: bool) {
          %a: f64[4] = np.exp(%x)
          %r: f64[4] = prim.If(%c)
            block() {
              %d: f64[4] = np.sin(%x)
              -> (%a)
            }
            block() {
              %e: f64[4] = np.sin(%x)
              -> (%e)
            }
          %s: f64[4] = np.add(%r, %a)
          return (%s)
        }""")


def test_dce_keeps_branches_with_effects():
    out, _ = run_text("""
        graph g(%x: f64[4], %c: bool) {
          prim.If(%c)
            block() {
              prim.Assert(%c) {message="x"}
              -> ()
            }
            block() {
              -> ()
            }
          %u: f64[4] = prim.If(%c)
            block() {
              -> (%x)
            }
            block() {
              -> (%x)
            }
          return (%x)
        }""", "dce")
    assert "prim.Assert" in out and out.count("prim.If") == 1


def test_fold_leaves_errors_for_run_time():
    out, _ = run_text("""
        graph g(%x: f64[4]) {
          %one: f64[] = prim.Constant() {value=scalar("f64", 1.0)}
          %zero: f64[] = prim.Constant() {value=scalar("f64", 0.0)}
          %q: f64[] = np.divide(%one, %zero)
          %r: f64[4] = np.add(%x, %q)
          return (%r)
        }""", "fold")
    assert "np.divide" in out


def test_simplify_keeps_signed_zero_and_dtypes():
    out, _ = run_text("""
        graph g(%x: f64[4], %b: bool[4], %f: f32[4]) {
          %zero: float = prim.Constant() {value=0.0}
          %one: int = prim.Constant() {value=1}
          %onef: float = prim.Constant() {value=1.0}
          %a: f64[4] = np.add(%x, %zero)
          %i: i64[4] = np.multiply(%b, %one)
          %g: f32[4] = np.multiply(%f, %onef)
          %h: f32[4] = np.exp(%g)
          return (%a, %i, %h)
        }""", "simplify", "dce")
    assert "np.add(%x, %zero)" in out and "np.multiply(%b, %one)" in out and "np.exp(%f)" in out


def _rolls(x):
    return np.roll(x, 0, axis=1) + np.roll(x, (0, 0), axis=(0, 1)) + np.roll(x, 1, axis=0) + np.roll(x, -1)


def test_simplify_drops_rolls_by_zero():
    from tests.compare import assert_same

    x = np.arange(12.0).reshape(3, 4)
    for f in (distjit.optimize(distjit.trace(_rolls, (x,))), distjit.optimize(distjit.script(_rolls))):
        assert_same(f(x), _rolls(x))
        graph = f.graph if isinstance(f, distjit.Function) else f.graphs[0]
        assert sum(n.op == "np.roll" for n in graph.nodes) == 2


def _scale_columns(X):
    for j in range(X.shape[1]):
        col = X[:, j]                  # re-bound every iteration: carried, never read across iterations
        X[:, j] = (col - col.min()) / (col.max() - col.min())
    return X


def _carried_and_read(x, n):
    acc = x * 0.0
    last = x
    for i in range(n):
        last = acc + i                 # read after the loop: stays carried
        acc = last * 0.5
    return acc, last


@pytest.mark.parametrize("fn, args", [
    (_scale_columns, (np.arange(60.0).reshape(12, 5) % 7,)),
    (_carried_and_read, (np.linspace(0, 1, 9), 4)),
    (_carried_and_read, (np.linspace(0, 1, 9), 0)),
])
def test_dce_drops_loop_carried_values_nobody_reads(fn, args):
    from tests.compare import assert_same

    f = distjit.optimize(distjit.script(fn))
    expected = fn(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    assert_same(f(*[a.copy() if isinstance(a, np.ndarray) else a for a in args]), expected)
    (loop,) = [n for g in f.graphs for n in g.walk() if n.op == "prim.Loop"]
    if fn is _scale_columns:
        assert len(loop.outputs) == 1          # only X is carried: j and col are gone
        assert any(n.op == "array.setitem" and n.meta.get("out") for n in loop.blocks[0].nodes)
    else:
        assert len(loop.outputs) >= 2


def _convolve_twice(x, h):
    return np.convolve(x, h), np.convolve(x, h)[:len(x)], np.convolve(x, h, mode="same")


def test_cse_merges_equal_nodes_whose_results_got_their_own_symbolic_lengths():
    from tests.compare import assert_same

    f = distjit.optimize(distjit.script(_convolve_twice))
    x, h = np.linspace(-1, 1, 50), np.array([0.25, 0.5, 0.25])
    assert_same(f(x, h), _convolve_twice(x, h))
    graph = f.graphs[0]
    assert sum(n.op == "np.convolve" for n in graph.walk()) == 2      # "same" is another convolution


def test_cse_keeps_a_duplicate_whose_fresh_length_another_type_names():
    out, _ = run_text("""
        graph g(%x: f64[?n], %h: f64[?m]) {
          %a: f64[?p] = np.convolve(%x, %h)
          %b: f64[?q] = np.convolve(%x, %h)
          %c: f64[?q] = np.negative(%b)
          return (%a, %c)
        }""", "cse")
    assert out.count("np.convolve") == 2
