"""Samples for the ops without a NumPy callable: Python scalar arithmetic (`py.*`), ufunc methods
(`ufunc.reduce`, `ufunc.accumulate`, `ufunc.at`) and fused expressions, merged into `samples.SAMPLES`.

These ops have no source, so a sample's function spells the op out and its args are
the node's inputs, its kwargs the attributes (see test_every_op.py).
"""
from __future__ import annotations

import math
import operator

import numpy as np

from tests.ops.samples import Sample, arr

_PAIRS = [(7, 2), (7, 2.5), (True, 3), (2.5, -1.5), (1j, 2), (False, True), (-7, 3)]


def _pairs(fn, pairs=_PAIRS):
    return [Sample(fn, p) for p in pairs]


def _reduce(x, ufunc, axis=0, dtype=None, keepdims=False):
    return getattr(np, ufunc).reduce(x, axis=axis, dtype=dtype, keepdims=keepdims)


def _accumulate(x, ufunc, axis=0, dtype=None):
    return getattr(np, ufunc).accumulate(x, axis=axis, dtype=dtype)


def _at(x, values, ufunc, index):
    out = x.copy()
    getattr(np, ufunc).at(out, index, values)
    return out


def _fused_graph(dtype):
    """The expression (x * y + 1) and exp(x) as a fused node's graph: two outputs sharing an input."""
    from distjit.ir import Builder, Graph, tensor

    g = Graph("expr")
    x, y = g.add_input(tensor(dtype, (3, 4)), "x"), g.add_input(tensor(dtype, (3, 4)), "y")
    b = Builder(g.block)
    prod = b.op("np.multiply", [x, y])[0]
    g.add_output(b.op("np.add", [prod, b.constant(1.0)])[0])
    g.add_output(b.op("np.exp", [x])[0])
    return g


def _fused(x, y, graph, exact=True):
    return x * y + 1.0, np.exp(x)


_REAL = [p for p in _PAIRS if not any(isinstance(v, complex) for v in p)]

SAMPLES_FRONTEND: dict[str, list[Sample]] = {
    "py.add": _pairs(operator.add), "py.sub": _pairs(operator.sub), "py.mul": _pairs(operator.mul),
    "py.truediv": _pairs(operator.truediv), "py.pow": _pairs(operator.pow, [(7, 2), (2.0, 3), (True, 2)]),
    "py.floordiv": _pairs(operator.floordiv, _REAL), "py.mod": _pairs(operator.mod, _REAL),
    "py.lt": _pairs(operator.lt, _REAL), "py.le": _pairs(operator.le, _REAL), "py.gt": _pairs(operator.gt, _REAL),
    "py.ge": _pairs(operator.ge, _REAL), "py.eq": _pairs(operator.eq), "py.ne": _pairs(operator.ne),
    "py.bitand": _pairs(operator.and_, [(6, 3), (-7, 12), (True, False), (True, 5)]),
    "py.bitor": _pairs(operator.or_, [(6, 3), (-7, 12), (True, False), (False, 5)]),
    "py.bitxor": _pairs(operator.xor, [(6, 3), (-7, 12), (True, True), (True, 5)]),
    "py.rshift": _pairs(operator.rshift, [(1 << 40, 3), (-7, 1), (True, 0), (5, 70)]),
    "py.neg": [Sample(operator.neg, (v,)) for v in (3, -2.5, True, 1j)],
    "py.abs": [Sample(abs, (v,)) for v in (-3, -2.5, True)],
    "py.not": [Sample(operator.not_, (v,)) for v in (0, 2.5, True)],
    "py.bool": [Sample(bool, (v,)) for v in (0, 2.5, True, 0j)],
    "py.int": [Sample(int, (v,)) for v in (3, -2.5, True)],
    "py.float": [Sample(float, (v,)) for v in (3, -2.5, True)],
    "ufunc.reduce": [Sample(_reduce, (arr("f8", 3, 4),), {"ufunc": "maximum"}),
                     Sample(_reduce, (arr("i8", 3, 4),), {"ufunc": "add", "axis": 1, "keepdims": True}),
                     Sample(_reduce, (arr("b1", 3, 4),), {"ufunc": "logical_xor", "axis": None}),
                     Sample(_reduce, (arr("u1", 5),), {"ufunc": "add", "dtype": np.float32})],
    "ufunc.accumulate": [Sample(_accumulate, (arr("f8", 3, 4),), {"ufunc": "maximum"}),
                         Sample(_accumulate, (arr("i8", 3, 4),), {"ufunc": "subtract", "axis": 1}),
                         Sample(_accumulate, (arr("u1", 5),), {"ufunc": "add", "dtype": np.int64})],
    "fused.elementwise": [Sample(_fused, (arr(d, 3, 4), arr(d, 3, 4)), {"graph": _fused_graph(d)})
                          for d in ("f8", "f4")],
    "ufunc.at": [Sample(_at, (arr("f8", 5), 1.0), {"ufunc": "add", "index": np.array([0, 0, 3])}),
                 Sample(_at, (arr("i8", 3, 2), arr("i8", 2)), {"ufunc": "maximum", "index": (np.array([1, 2]),)})],
}


SAMPLES_FRONTEND["py.abs"].append(Sample(abs, (3 + 4j,)))
for _name in ("erf", "erfc", "gamma", "lgamma"):
    SAMPLES_FRONTEND[f"py.{_name}"] = [Sample(getattr(math, _name), (v,)) for v in (0.75, -1.5, 3, True)]


for _name, _builtin in (("py.max", max), ("py.min", min)):
    SAMPLES_FRONTEND[_name] = [Sample(_builtin, p) for p in [(7, 2), (2.5, -1.5), (False, True), (-7, 3),
                                                             (float("nan"), 1.0), (1.0, float("nan"))]]
# Of an int and a float, py.max gives the float kind whichever wins (a graph's type cannot depend on it):
# no sample, as Python's max returns the winner's own type.
