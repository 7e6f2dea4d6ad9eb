"""Hand-built specimen graphs for IR tests (each covers a part of the text form)."""
from __future__ import annotations

import numpy as np

from distjit.ir import BOOL, INT, Builder, Graph, SourceLoc, tensor

F32 = np.float32


def mlp() -> Graph:
    """Params, locations, constants, a multi-output node, a node without outputs, If and Loop."""
    g = Graph("mlp")
    x = g.add_input(tensor(F32, ("B", 4)), "x")
    w = g.add_input(tensor(F32, (4,)), "w")
    bias = g.add_param("fc1.bias", tensor(F32, (4,)))
    b = Builder(g.block, loc=SourceLoc("/home/u/mlp.py", 3))
    h, = b.op("np.multiply", [x, w])
    h, = b.op("np.add", [h, bias])
    b.loc = None
    b.constant(np.array(1.5), name="c")
    q, r = b.op("np.divmod", [h, b.constant(3)])
    ok = b.constant(True, name="ok")
    b.op("prim.Assert", [ok], {"message": "x must be positive"}, loc=SourceLoc("f.py", 9))
    if_ = b.create("prim.If", [ok], {}, [q.type], loc=SourceLoc("f.py", 7))
    then = if_.add_block()
    then.add_return(Builder(then).op("np.negative", [q])[0])
    if_.add_block().add_return(r)
    n = b.constant(5, name="n")
    loop = b.create("prim.Loop", [n, ok, if_.output], {}, [q.type])
    body = loop.add_block()
    body.add_param(INT, "i")
    a = body.add_param(q.type, "a")
    body.add_return(ok)
    body.add_return(Builder(body).op("np.add", [a, a])[0])
    g.add_output(if_.output)
    g.add_output(loop.output)
    return g


MLP_TEXT = """\
graph mlp(%x: f32[B,4], %w: f32[4]) {
  params(%fc1.bias: f32[4])
  %0: f32[B,4] = np.multiply(%x, %w)  # /home/u/mlp.py:3
  %1: f32[B,4] = np.add(%0, %fc1.bias)  # /home/u/mlp.py:3
  %c: f64[] = prim.Constant() {value=tensor("f64[]", 1.5)}
  %2: int = prim.Constant() {value=3}
  %3: f32[B,4], %4: f32[B,4] = np.divmod(%1, %2)
  %ok: bool = prim.Constant() {value=True}
  prim.Assert(%ok) {message="x must be positive"}  # f.py:9
  %5: f32[B,4] = prim.If(%ok)  # f.py:7
    block() {
      %6: f32[B,4] = np.negative(%3)
      -> (%6)
    }
    block() {
      -> (%4)
    }
  %n: int = prim.Constant() {value=5}
  %7: f32[B,4] = prim.Loop(%n, %ok, %5)
    block(%i: int, %a: f32[B,4]) {
      %8: f32[B,4] = np.add(%a, %a)
      -> (%ok, %8)
    }
  return (%5, %7)
}"""


def nested_control() -> Graph:
    """An If inside a Loop inside an If, with values from every enclosing block used inside."""
    g = Graph("nested")
    x = g.add_input(tensor(F32, ("N",)), "x")
    flag = g.add_input(BOOL, "flag")
    n = g.add_input(INT, "n")
    outer = Builder(g.block).create("prim.If", [flag], {}, [x.type])
    then = outer.add_block()
    loop = Builder(then).create("prim.Loop", [n, flag, x], {}, [x.type], loc=SourceLoc("ctl.py", 4))
    body = loop.add_block()
    i = body.add_param(INT, "i")
    acc = body.add_param(x.type, "acc")
    bb = Builder(body)
    positive, = bb.op("np.greater", [i, bb.constant(0)])
    inner = bb.create("prim.If", [positive], {}, [x.type], loc=SourceLoc("ctl.py", 6))
    t = inner.add_block()
    t.add_return(Builder(t).op("np.add", [acc, x])[0])
    inner.add_block().add_return(acc)
    body.add_return(flag)
    body.add_return(inner.output)
    then.add_return(loop.output)
    outer.add_block().add_return(x)
    g.add_output(outer.output)
    return g


def callee(name: str, scale: float) -> Graph:
    g = Graph(name)
    x = g.add_input(tensor(F32, ("B",)), "x")
    b = Builder(g.block)
    g.add_output(b.op("np.multiply", [x, b.constant(scale)])[0])
    return g


def with_calls() -> Graph:
    """prim.Call of two different graphs that share a name, one of which calls a third graph."""
    inner = callee("scale", 2.0)
    middle = Graph("scale")
    y = middle.add_input(tensor(F32, ("B",)), "y")
    middle.add_output(Builder(middle.block).op("prim.Call", [y], {"graph": inner})[0])
    g = Graph("main")
    x = g.add_input(tensor(F32, ("B",)), "x")
    b = Builder(g.block)
    a, = b.op("prim.Call", [x], {"graph": middle})
    c, = b.op("prim.Call", [a], {"graph": inner})
    g.add_output(c)
    return g
