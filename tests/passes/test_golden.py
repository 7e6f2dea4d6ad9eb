"""Golden printed IR for each pass: a small input graph, the pass, the exact expected text."""
import pytest

from tests.passes.helpers import golden, run_text

CASES = {
    # DCE drops the unused pure chain, keeps the assert (stateful) and what it reads.
    "dce": (["dce"], """
        graph g(%x: f64[4]) {
          %a: f64[4] = np.exp(%x)
          %b: f64[4] = np.negative(%a)
          %c: f64[4] = np.sqrt(%x)
          %t: bool = prim.Constant() {value=True}
          prim.Assert(%t) {message="kept"}
          return (%c)
        }""", """
        graph g(%x: f64[4]) {
          %c: f64[4] = np.sqrt(%x)
          %t: bool = prim.Constant() {value=True}
          prim.Assert(%t) {message="kept"}
          return (%c)
        }"""),
    # CSE merges x+y with y+x (commutative), not x-y with y-x, never two np.empty_like.
    "cse": (["cse", "dce"], """
        graph g(%x: f64[4], %y: f64[4]) {
          %a: f64[4] = np.add(%x, %y)
          %b: f64[4] = np.add(%y, %x)
          %c: f64[4] = np.subtract(%x, %y)
          %d: f64[4] = np.subtract(%y, %x)
          %e: f64[4] = np.multiply(%a, %b)
          %f: f64[4] = np.multiply(%c, %d)
          %k: f64[4] = np.empty_like(%x)
          %l: f64[4] = np.empty_like(%x)
          return (%e, %f, %k, %l)
        }""", """
        graph g(%x: f64[4], %y: f64[4]) {
          %a: f64[4] = np.add(%x, %y)
          %c: f64[4] = np.subtract(%x, %y)
          %d: f64[4] = np.subtract(%y, %x)
          %e: f64[4] = np.multiply(%a, %a)
          %f: f64[4] = np.multiply(%c, %d)
          %k: f64[4] = np.empty_like(%x)
          %l: f64[4] = np.empty_like(%x)
          return (%e, %f, %k, %l)
        }"""),
    # Folding scalar arithmetic, then the If on the folded condition.
    "fold": (["fold", "dce"], """
        graph g(%x: f64[4]) {
          %two: float = prim.Constant() {value=2.0}
          %three: float = prim.Constant() {value=3.0}
          %s: float = py.mul(%two, %three)
          %c: bool = py.gt(%s, %two)
          %r: f64[4] = prim.If(%c)
            block() {
              %p: f64[4] = np.multiply(%x, %s)
              -> (%p)
            }
            block() {
              -> (%x)
            }
          return (%r)
        }""", """
        graph g(%x: f64[4]) {
          %0: float = prim.Constant() {value=6.0}
          %p: f64[4] = np.multiply(%x, %0)
          return (%p)
        }"""),
    # x*1 -> x, x+(-0.0) -> x, but x+0.0 stays (-0.0 + 0.0 is +0.0); double transpose -> x.
    "simplify": (["simplify", "dce"], """
        graph g(%x: f64[4], %i: i64[4], %m: f64[2,3]) {
          %one: int = prim.Constant() {value=1}
          %zero: float = prim.Constant() {value=0.0}
          %nzero: float = prim.Constant() {value=-0.0}
          %a: f64[4] = np.multiply(%x, %one)
          %b: f64[4] = np.add(%a, %zero)
          %c: f64[4] = np.add(%b, %nzero)
          %d: i64[4] = np.multiply(%i, %one)
          %e: f64[3,2] = np.transpose(%m) {axes=None}
          %f: f64[2,3] = np.transpose(%e) {axes=None}
          %h: f64[4] = np.exp(%c)
          %k: f64[2,3] = np.exp(%f)
          %l: i64[4] = np.negative(%d)
          return (%h, %l, %k)
        }""", """
        graph g(%x: f64[4], %i: i64[4], %m: f64[2,3]) {
          %zero: float = prim.Constant() {value=0.0}
          %b: f64[4] = np.add(%x, %zero)
          %h: f64[4] = np.exp(%b)
          %k: f64[2,3] = np.exp(%m)
          %l: i64[4] = np.negative(%i)
          return (%h, %l, %k)
        }"""),
    # Two groups: the sum reads %c, so the group of %c closes; %b is read outside, so it is an output too.
    "fuse": (["fuse", "dce"], """
        graph g(%x: f64[8], %y: f64[8]) {
          %half: float = prim.Constant() {value=0.5}
          %a: f64[8] = np.multiply(%x, %half)
          %b: f64[8] = np.exp(%a)
          %c: f64[8] = np.add(%b, %y)
          %s: f64[] = np.sum(%c) {axis=None, keepdims=False}
          %d: f64[8] = np.subtract(%c, %s)
          %e: f64[8] = np.sqrt(%d)
          return (%e, %b)
        }""", """
        graph g.fused1(%0: f64[8], %4: f64[8]) {
          %1: float = prim.Constant() {value=0.5}
          %2: f64[8] = np.multiply(%0, %1)
          %3: f64[8] = np.exp(%2)
          %5: f64[8] = np.add(%3, %4)
          return (%3, %5)
        }

        graph g.fused2(%0: f64[8], %1: f64[]) {
          %2: f64[8] = np.subtract(%0, %1)
          %3: f64[8] = np.sqrt(%2)
          return (%3)
        }

        graph g(%x: f64[8], %y: f64[8]) {
          %b: f64[8], %c: f64[8] = fused.elementwise(%x, %y) {graph=graph("g.fused1")}
          %s: f64[] = np.sum(%c)
          %e: f64[8] = fused.elementwise(%c, %s) {graph=graph("g.fused2")}
          return (%e, %b)
        }"""),
    "inline": (["inline"], """
        graph sq(%a: f64[4]) {
          %b: f64[4] = np.multiply(%a, %a)
          return (%b)
        }

        graph g(%x: f64[4]) {
          %y: f64[4] = prim.Call(%x) {graph=graph(sq)}
          %z: f64[4] = prim.Call(%y) {graph=graph(sq)}
          return (%z)
        }""", """
        graph g(%x: f64[4]) {
          %b: f64[4] = np.multiply(%x, %x)
          %b.0: f64[4] = np.multiply(%b, %b)
          return (%b.0)
        }"""),
    "unroll": (["fold", "dce"], """
        graph g(%x: f64[4]) {
          %n: int = prim.Constant() {value=3}
          %t: bool = prim.Constant() {value=True}
          %r: f64[4] = prim.Loop(%n, %t, %x)
            block(%i: int, %acc: f64[4]) {
              %k: f64[4] = np.multiply(%acc, %i)
              -> (%t, %k)
            }
          return (%r)
        }""", """
        graph g(%x: f64[4]) {
          %0: int = prim.Constant() {value=0}
          %k.1: f64[4] = np.multiply(%x, %0)
          %2: int = prim.Constant() {value=1}
          %k.3: f64[4] = np.multiply(%k.1, %2)
          %4: int = prim.Constant() {value=2}
          %k.5: f64[4] = np.multiply(%k.3, %4)
          return (%k.5)
        }"""),
    "specialize": (["specialize", "fold", "dce"], """
        graph g(%x: f64[5,3]) {
          %n: int = prim.DimSize(%x) {axis=0}
          %m: int = py.sub(%n, %n)
          return (%m)
        }""", """
        graph g(%x: f64[5,3]) {
          %1: int = prim.Constant() {value=0}
          return (%1)
        }"""),
    # A constant number referred to from an attribute moves into the attribute (the reshape is static again).
    "specialize_refs": (["specialize", "fold", "specialize", "dce"], """
        graph g(%x: f64[6,2]) {
          %n: int = prim.DimSize(%x) {axis=0}
          %two: int = prim.Constant() {value=2}
          %h: int = py.floordiv(%n, %two)
          %r: f64[?0,?1] = np.reshape(%x, %h) {shape=(ref(1), -1)}
          return (%r)
        }""", """
        graph g(%x: f64[6,2]) {
          %r: f64[3,4] = np.reshape(%x) {shape=(3, -1)}
          return (%r)
        }"""),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name):
    passes, before, after = CASES[name]
    out, _ = run_text(before, *passes)
    assert out == golden(after)


def test_memplan_respects_views():
    """%b is still read through the view %v, so sqrt(%b) must not write into %b; the others may reuse."""
    from distjit.core.buffers import written_into
    from distjit.ir import Graph
    from distjit.passes import run_passes
    g = Graph.parse(golden("""
        graph g(%x: f64[8], %y: f64[8]) {
          %a: f64[8] = np.add(%x, %y)
          %b: f64[8] = np.exp(%a)
          %v: f64[8] = np.reshape(%b) {shape=(8,)}
          %c: f64[8] = np.sqrt(%b)
          %d: f64[8] = np.negative(%c)
          %e: f64[8] = np.add(%d, %v)
          return (%e)
        }"""))
    run_passes(g, ["memplan"], verify=True)
    plan = {n.outputs[0].name: {k: v.name for k, v in written_into(n).items()} for n in g.nodes}
    assert plan == {"a": {}, "b": {0: "a"}, "v": {}, "c": {}, "d": {0: "c"}, "e": {0: "d"}}
