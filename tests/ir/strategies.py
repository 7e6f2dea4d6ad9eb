"""Hypothesis strategies for IR tests, for any test folder to reuse.

`straight_line_graphs()` draws valid graphs of ufunc ops (symbolic dims, weak
scalars, constants, multi-output ufuncs, source locations); `attr_values()` draws
every kind of attribute value the text form knows; `same_attr(a, b)` compares
attribute values bit for bit.
"""
from __future__ import annotations

import struct

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from distjit.errors import ShapeError
from distjit.ir import FLOAT, INT, Builder, Graph, Ref, SourceLoc, tensor
from distjit.ops import get_op
from distjit.ops.registry import Kind

# Ufuncs with loops for most dtypes, plus the multi-output ones (divmod, modf, frexp).
UFUNCS = ["np.add", "np.subtract", "np.multiply", "np.divide", "np.maximum", "np.negative", "np.absolute",
          "np.sqrt", "np.exp", "np.sin", "np.square", "np.equal", "np.less", "np.logical_and", "np.isnan",
          "np.floor_divide", "np.bitwise_and", "np.divmod", "np.modf", "np.frexp"]
DTYPES = [np.bool_, np.int32, np.int64, np.uint8, np.float16, np.float32, np.float64, np.complex64, np.complex128]
# Shapes that broadcast with each other; "B" is a symbolic batch dim.
SHAPES = [(), (3,), (1, 3), ("B", 3), ("B", 1)]
FILES = ["model.py", "/home/u/my model.py", "C:\\work\\a:b.py"]


def value_types():
    return st.one_of(st.builds(tensor, st.sampled_from(DTYPES), st.sampled_from(SHAPES)), st.sampled_from([INT, FLOAT]))


def locs():
    return st.none() | st.builds(SourceLoc, st.sampled_from(FILES), st.integers(1, 9999))


@st.composite
def straight_line_graphs(draw, max_inputs: int = 3, max_nodes: int = 12) -> Graph:
    """A valid graph: ufunc nodes over a few inputs and constants, with one or more outputs."""
    g = Graph(draw(st.sampled_from(["f", "random_graph", "step"])))
    values = [g.add_input(draw(value_types()), f"x{i}") for i in range(draw(st.integers(1, max_inputs)))]
    b = Builder(g.block)
    for _ in range(draw(st.integers(1, max_nodes))):
        if draw(st.integers(0, 9)) == 0:
            const = draw(st.one_of(st.integers(-5, 5), st.floats(-2, 2), st.booleans()))
            values.append(b.constant(const, loc=draw(locs())))
            continue
        op = draw(st.sampled_from(UFUNCS))
        arity = sum(p.kind is Kind.OPERAND for p in get_op(op).params)
        args = [draw(st.sampled_from(values)) for _ in range(arity)]
        names = [draw(st.sampled_from([None, None, "y", "h.t", "_tmp"])) for _ in range(get_op(op).kernel.nout)]
        try:
            values.extend(b.op(op, args, loc=draw(locs()), names=names))
        except (ShapeError, TypeError):
            continue  # no NumPy loop for these dtypes, or shapes that do not broadcast
    for v in draw(st.lists(st.sampled_from(values), min_size=1, max_size=3)):
        g.add_output(v)
    return g


ATTR_DTYPES = [np.bool_, np.int8, np.int64, np.uint64, np.float16, np.float32, np.float64, np.longdouble,
               np.complex64, np.complex128]
STRINGS = st.text() | st.sampled_from(["", '"', "\\", "a}b{", "\n\t\r", "\ud800", "\U0001f600", "\u2028", "x  # f.py:3"])


def arrays():
    small = hnp.arrays(st.sampled_from(ATTR_DTYPES), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    large = hnp.arrays(st.sampled_from([np.float32, np.int64]), st.integers(65, 200))
    return small | large


def numpy_scalars():
    return st.sampled_from(ATTR_DTYPES).flatmap(lambda d: hnp.from_dtype(np.dtype(d))).map(lambda v: np.asarray(v)[()])


def attr_values(max_leaves: int = 8):
    leaves = st.one_of(
        st.none(), st.booleans(), st.integers() | st.integers(-2 ** 70, 2 ** 70),
        st.floats(), st.complex_numbers(), STRINGS, st.just(...), st.builds(Ref, st.integers(0, 5)),
        st.sampled_from(ATTR_DTYPES).map(np.dtype), arrays(), numpy_scalars(),
    )
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
        st.builds(slice, inner, inner, inner)), max_leaves=max_leaves)


def same_attr(a, b) -> bool:
    """Equal attribute values, bit for bit (NaN payloads and -0.0 included)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, np.generic):
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, complex):
        return same_attr(a.real, b.real) and same_attr(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(same_attr, a, b))
    if isinstance(a, slice):
        return all(map(same_attr, (a.start, a.stop, a.step), (b.start, b.stop, b.step)))
    return a == b
