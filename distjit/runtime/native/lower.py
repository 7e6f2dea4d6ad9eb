"""A region of a graph (a `prim.Loop` nest) written as the source of one numba function.

NOTE: [What a region is]
A region is a `prim.Loop`, its whole nest included, whose every node has a numba
lowering: `prim.Loop`/`prim.If`, scalar constants, `prim.DimSize`, scalar reads and
writes of arrays (`array.getitem`/`array.setitem` whose index is one integer per axis),
and scalar arithmetic: the `py.*` ops and the NumPy ufuncs, from the registry's
`templates["numba"]`; `prim.Assert` (a raise); and views (slices and partial indices, as
NumPy's) read by `np.dot`, `np.matmul` or `np.linalg.norm` of vectors (all summed by
`_dot1`: NumPy's norm of a real vector is `sqrt(x.dot(x))`) or by elementwise ops over
arrays (NOTE: [Vector elementwise]), whose fresh results np.sum adds bit for bit as NumPy
does (`_pairwise`), along one axis too (lanes.py, NOTE: [Lane sums]); the dtype-dependent
scalar ops of scalar_templates.py and the vector reductions, flips and array creation of
vectors.py; the matrix products, np.outer and np.transpose of products.py
(NOTE: [Matrix products]); writes of scalars and arrays into views of any rank and gathers
by an integer vector (views.py); gathers by a boolean vector and np.any/np.all (masks.py);
complex numbers (complexes.py); elementwise chains in one loop (chains.py); NumPy's own loops
for the transcendentals of a vector (numpy_loops.py, `staged_loop`); a loop over long vectors
run block by block of rows (blocked.py). Its values are scalars, views, fresh arrays those ops
make, or arrays that come in from outside or are loop-carried and updated by setitem (in
place: inplace.py). Anything else (an op without a lowering, a read through a boolean mask of
several axes) makes the node unsupported, and the generated code runs that loop with NumPy,
while the loops nested in it may still be regions.

Types follow the IR, not numba's inference: every result is cast to its declared type
and every ufunc operand to the dtype of the loop NumPy would pick (`resolve_dtypes`,
with Python scalars weak as NEP 50 says), so `i32 + int` stays int32 as in NumPy. A
Python `int` is an int64 here: arithmetic that overflows int64 wraps where Python would
grow (a difference from the NumPy path, which keeps Python ints).

The source depends on the region only (names are numbered in the region's own order),
so equal regions of different graphs, or of another process, give equal source, which
is what the disk cache is keyed by (cache.py).
"""
from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from distjit.core.liveness import free_values
from distjit.core.aliasing import written_into
from distjit.ir.graph import Block, Node, Value
from distjit.ops import get_op
from distjit.types import Ref, ScalarType, TensorType
from distjit.runtime.native import (blocked, chains, complexes, lanes, masks, numpy_loops, products,
                                    scalar_templates, unchecked, vectors, views)
from distjit.runtime.native.inplace import SETITEM, InPlace
from distjit.runtime.native.unsupported import Unsupported

GETITEM = "array.getitem"
_DTYPE_KINDS = "biufc"
# numba options of every region: bounds-checked indexing (NOTE: [Bounds] in region.py), NumPy's float error
# model (1/0 is inf, not an exception), no fast-math (results round as NumPy's), the GIL released.
OPTIONS = 'boundscheck=True, error_model="numpy", nogil=True, cache={cache}'

# What every module of native code imports: a region's, and the prelude's.
IMPORTS = '''\
import cmath
import math
import numba
import numpy as np
from numba import njit
'''

PRELUDE = '''

# np.maximum/np.minimum as NumPy's loops pick: a NaN of either operand, else b where the two tie (so of +0.0
# and -0.0, the second); Python's max/min keep the first of a tie. Inlined by numba: the unchecked loops that
# call them (unchecked.py) are vectorized by LLVM only when it sees the compare and the select.
@njit({options}, inline="always")
def _nmax(a, b):
    return a if (a > b or a != a) else b


@njit({options}, inline="always")
def _nmin(a, b):
    return a if (a < b or a != a) else b


@njit({options}, inline="always")
def _pymax(a, b):
    return b if b > a else a


@njit({options}, inline="always")
def _pymin(a, b):
    return b if b < a else a


@njit({unchecked}, fastmath={{"reassoc"}})
def _dot1(a, b):
    # np.dot of two vectors of one dtype (the lowering casts them to NumPy's result dtype first, as NumPy
    # does). BLAS sums in blocks of its own choosing, so NumPy's result is one rounding among others, not an
    # order to copy: reassociation alone of fast-math (NaN, inf and signed zeros keep IEEE's rules) lets LLVM
    # split the sum into vectors of partial sums, so a dot runs at the speed of its loads, equal to NumPy's
    # to rounding, not bit for bit. The zero of the sum's type is a product of sums of empty views: an
    # empty product array would be an allocation per call. Unchecked: its indices are below len(a), in
    # range of both vectors once their lengths are equal.
    if a.ndim != 1 or b.ndim != 1 or a.shape[0] != b.shape[0]:
        raise ValueError("shapes not aligned")
    s = a[:0].sum() * b[:0].sum()
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


@njit({unchecked})
def _pairwise_leaf(a, lo, n):
    # NumPy's pairwise_sum (loops_utils.h.src) of a[lo:lo + n], n <= 128: a serial sum below 8 elements, else
    # 8 interleaved sums. Unchecked: the caller passes lo + n <= len(a), and every index is below lo + n.
    if n < 8:
        res = -0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    m = n - n % 8
    for i in range(lo + 8, lo + m, 8):
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(lo + m, lo + n):
        res += a[i]
    return res


@njit({options})
def _pairwise(a):
    # NumPy's sum of a float64 vector: its pairwise_sum, which above 128 elements adds the sums of two halves
    # split at a multiple of 8, in its order. The recursion runs on an explicit stack (a recursive version
    # segfaulted inside a region): a frame is (start, length, state: 1 left half pending, 2 right half pending).
    los = np.empty(64, np.int64)
    ns = np.empty(64, np.int64)
    states = np.zeros(64, np.int64)      # 64 frames: each halves the length
    lefts = np.empty(64, np.float64)
    top = 0
    los[0] = 0
    ns[0] = a.shape[0]
    while True:
        if ns[top] > 128:
            half = ns[top] // 2
            half -= half % 8
            states[top] = 1
            los[top + 1] = los[top]
            ns[top + 1] = half
            top += 1
            continue
        r = _pairwise_leaf(a, los[top], ns[top])
        while True:
            top -= 1
            if top < 0:
                return r
            if states[top] == 1:
                lefts[top] = r
                states[top] = 2
                half = ns[top] // 2
                half -= half % 8
                los[top + 1] = los[top] + half
                ns[top + 1] = ns[top] - half
                top += 1
                break
            r = lefts[top] + r


@njit({options})
def _bdim(n, x):
    # One operand's length along an axis merged into the broadcast length n (NumPy's rule); one call per
    # operand and axis keeps the region's own code small, which is most of numba's compile time.
    if x != 1:
        if n != 1 and x != n:
            raise ValueError("operands could not be broadcast together")
        return x
    return n


@njit({options})
def _widen(a, n):
    # A vector of length n for an unchecked loop (NOTE: [Unchecked loops]): a when it is that long, else (a
    # broadcast operand, its length 1) its element repeated, read before anything is written, as NumPy reads it.
    if a.shape[0] == n:
        return a
    return np.full(n, a[0])


@njit({options})
def _pydiv(a, b):
    if b == 0:
        raise ZeroDivisionError("division by zero")
    return a / b


@njit({options})
def _pyfloordiv(a, b):
    if b == 0:
        raise ZeroDivisionError("integer division or modulo by zero")
    return a // b


@njit({options})
def _pymod(a, b):
    if b == 0:
        raise ZeroDivisionError("integer division or modulo by zero")
    return a % b
'''


# The functions every region may call, one module of them per process and cache mode (cache.py, NOTE: [One
# prelude]): compiled once per signature there, not once per region.
SHARED = (PRELUDE + complexes.PRELUDE + scalar_templates.PRELUDE + vectors.PRELUDE + lanes.PRELUDE + views.PRELUDE
          + products.PRELUDE + numpy_loops.PRELUDE + masks.PRELUDE)
SHARED_NAMES = frozenset(re.findall(r"^def (\w+)\(", SHARED, re.M))


class Lowered:
    """A region's source: `inputs` are the graph values passed in order, `outputs` the Loop's results."""

    def __init__(self, source: str, inputs: list[Value], outputs: list[Value], copies: int,
                 written: frozenset = frozenset(), loops: tuple = ()):
        self.source = source
        self.inputs = inputs
        self.outputs = outputs
        self.copies = copies        # loop slots that copy their initial array once at entry
        self.written = written      # positions of the input arrays the region may write into (the others it
                                    # only reads: region.py passes them read-only, one numba type for all callers)
        self.loops = loops          # NumPy's loops it calls, (op, dtype) each: region.py passes their table after
                                    # the inputs (NOTE: [NumPy loops in a region])


def lower(loop: Node, graph_inputs) -> Lowered:
    """The numba source of the region rooted at `loop`; raises Unsupported."""
    return _Lowering(loop, graph_inputs).run()


def scalar_cast(t) -> str | None:
    """The numba expression that converts to type t (a scalar), or None for an array."""
    if isinstance(t, ScalarType):
        return {"int": "np.int64", "float": "np.float64", "bool": "bool", "complex": "np.complex128"}.get(t.kind)
    if isinstance(t, TensorType) and t.ndim == 0:
        return "bool" if t.dtype.kind == "b" else f"np.{t.dtype.name}"
    return None


class _Lowering:
    def __init__(self, root: Node, graph_inputs):
        self.root = root
        self.inplace = InPlace(root, graph_inputs)
        self.names: dict[Value, str] = {}
        self.count = 0
        self.lines: list[str] = []
        self.fresh_arrays: set[Value] = set()     # C-contiguous arrays the region allocated, overlapping none
        self.inputs: set[Value] = set()           # the region's inputs
        self.written: set[Value] = set()          # ... whose buffer it may write into (a slot taking one uncopied)
        self.deferred: dict[Value, Node] = {}     # elementwise results computed in their reader's loop (chains.py)
        self.masked_rows: dict[Value, tuple] = {} # gathers x[mask] reduced by their reader: (x, mask) (masks.py)
        self.helpers: dict[str, str] = {}         # unchecked unit-stride loops (unchecked.py): source -> name
        self.elements = 0                         # > 0 while emitting one element of an array result
        self.loops: dict[tuple, int] = {}         # NumPy loops the region calls -> their index in its table
        self.stages: _Stages | None = None        # set while emitting a stage of a staged loop (staged_loop)

    def run(self) -> Lowered:
        if written_into(self.root):
            raise Unsupported(self.root, "its results are written into planned buffers")
        inputs = list(dict.fromkeys([*self.root.inputs, *_nested_free(self.root)]))
        self.inputs = set(inputs)
        for v in inputs:
            self.check_type(v, self.root)
        args = [self.name(v) for v in inputs]
        self.node(self.root, 1)
        outs = [self.name(v) for v in self.root.outputs]
        self.emit(f"return ({', '.join(outs)}{',' if len(outs) == 1 else ''})", 1)
        body = "\n".join(self.lines)
        helpers = "".join("\n\n" + h.replace("def _loop(", f"def {name}(", 1) for h, name in self.helpers.items())
        if self.loops:
            args.append("ufuncs")       # the table of NumPy's loops (NOTE: [NumPy loops in a region])
        code = helpers + f"\n\n@njit({{options}})\ndef region({', '.join(args)}):\n{body}\n"
        # the prelude's functions this region calls, from the one module of them (NOTE: [One prelude])
        called = sorted(set(re.findall(r"\b(_\w+)\(", code)) & SHARED_NAMES)
        source = IMPORTS + (f"from {{prelude}} import {', '.join(called)}\n" if called else "") + code
        copies = sum(self.inplace.copies.values())
        written = frozenset(i for i, v in enumerate(inputs) if v in self.written)
        return Lowered(source, inputs, list(self.root.outputs), copies, written, tuple(self.loops))

    # -- names and types -------------------------------------------------------------------------------------
    def name(self, v: Value) -> str:
        n = self.names.get(v)
        if n is None:
            n = self.names[v] = f"v{self.count}"
            self.count += 1
        return n

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count - 1}"

    def emit(self, line: str, depth: int) -> None:
        self.lines.append("    " * depth + line)

    def check_type(self, v: Value, node: Node) -> None:
        t = v.type
        if isinstance(t, ScalarType) and t.kind in ("int", "float", "bool", "complex"):
            return
        if isinstance(t, TensorType) and t.dtype.kind in _DTYPE_KINDS and all(isinstance(d, (int, str)) for d in t.shape):
            return
        raise Unsupported(node, f"%{v.name} has type {t}, which the native backend does not compile")

    def cast(self, expr: str, t, node: Node) -> str:
        c = scalar_cast(t)
        if c is None:
            raise Unsupported(node, f"an array-valued result ({t}) inside a loop region")
        return f"{c}({expr})"

    # -- blocks and nodes -----------------------------------------------------------------------------------
    def block(self, block: Block, depth: int) -> None:
        for node in block.nodes:
            for v in node.outputs:
                self.check_type(v, node)
            self.node(node, depth)

    def node(self, node: Node, depth: int) -> None:
        op = node.op
        if op == "prim.Loop":
            return self.loop(node, depth)
        if op == "prim.If":
            return self.if_(node, depth)
        if op == "prim.Constant":
            if isinstance(node.attrs["value"], np.ndarray) and node.attrs["value"].ndim > 0:
                return self.array_constant(node, depth)
            return self.assign(node, self.constant(node), depth)
        if op == "prim.DimSize":
            x = node.inputs[0]
            axis = node.attrs["axis"]
            if not isinstance(x.type, TensorType) or not isinstance(axis, int) or not -x.type.ndim <= axis < x.type.ndim:
                raise Unsupported(node, "not an axis of an array")
            return self.assign(node, f"np.int64({self.name(x)}.shape[{axis % x.type.ndim}])", depth)
        if op == "prim.Assert":
            message = node.attrs.get("message") or "assertion failed"
            if not isinstance(message, str):
                raise Unsupported(node, "a message that is not a string")
            self.emit(f"if not bool({self.name(node.inputs[0])}):", depth)
            return self.emit(f"raise AssertionError({message[:200]!r})", depth + 1)
        if op == GETITEM:
            return self.getitem(node, depth)
        if op == SETITEM:
            return self.setitem(node, depth)
        if node.blocks:
            raise Unsupported(node, "an op with nested blocks")
        if vectors.lowers(self, node, depth):        # reductions of vectors, np.flip, array creation
            return None
        if products.lowers(self, node, depth):       # matrix products, np.outer, np.transpose
            return None
        if op in _VECTOR_OPS:
            return self.vector_op(node, depth)
        if op == "fused.elementwise" or any(isinstance(o.type, TensorType) and o.type.ndim > 0 for o in node.outputs):
            return self.elementwise(node, depth)
        names = {v: self.name(v) for v in node.inputs}
        self.assign(node, self.scalar_op(node, names, {v: v.type for v in node.inputs}, node.output.type), depth)

    def scalar_op(self, node: Node, names: dict, types: dict, out_type) -> str:
        """The expression of one scalar op from its template, its operands named and typed by `names`/`types`."""
        opdef = get_op(node.op)
        if len(node.inputs) == 1 and complexes.scalar_template(node.op, types[node.inputs[0]]) is not None:
            template = complexes.scalar_template(node.op, types[node.inputs[0]])
            return self.cast(template.format(names[node.inputs[0]]), out_type, node)
        operand_indices = node.operand_indices()
        in_types = [types[node.inputs[i]] for i in operand_indices]
        loop_dtypes = _ufunc_loop(opdef.kernel, in_types)
        # A dtype-dependent expression (shifts, powers, invert: scalar_templates.py) before the registry's.
        template = scalar_templates.template(node.op, loop_dtypes, in_types, out_type) \
            or opdef.templates.get("numba")
        elements = self.elements > 0
        if template is None and node.op != "np.conjugate" and complexes.template(node.op, loop_dtypes, elements) is None:
            raise Unsupported(node, "the op has no numba template (OpDef.templates['numba'])")
        if len(node.outputs) != 1:
            raise Unsupported(node, "several results")
        explicit = {k: v for k, v in node.attrs.items() if v is not None}
        if explicit or len(operand_indices) != len(node.inputs):
            raise Unsupported(node, f"attributes {sorted(node.attrs)} have no numba lowering")
        operands = [names[node.inputs[i]] for i in operand_indices]
        if loop_dtypes is not None:
            operands = [scalar_templates.weak_int(node.op, x, d) if isinstance(t, ScalarType) and t.kind == "int" else
                        f"{'bool' if d.kind == 'b' else 'np.' + d.name}({x})"
                        for x, d, t in zip(operands, loop_dtypes, in_types)]
            template = complexes.template(node.op, loop_dtypes, elements) or complexes.real_only(template, loop_dtypes)
        if template is None:
            raise Unsupported(node, "the op has no numba template (OpDef.templates['numba'])")
        return self.cast(template.format(*operands), out_type, node)

    def vector_op(self, node: Node, depth: int) -> None:
        """np.copy of a vector (a fresh vector); np.dot and np.matmul of two vectors and np.linalg.norm of one,
        which NumPy computes as a dot (`sqrt(x.dot(x))` for a real vector), so they sum as np.dot does (_dot1);
        np.sum of a fresh array; np.broadcast_to."""
        x = node.inputs[0]
        if node.op == "np.broadcast_to":
            return self.broadcast_to(node, depth)
        explicit = {k: v for k, v in node.attrs.items() if v not in (None, False, "K")}
        if node.op == "np.sum":
            # NumPy sums a C-contiguous float64 array in one pairwise pass from its identity (_pairwise, bit for
            # bit); another layout or dtype it sums in another order, which is not lowered.
            if x not in self.fresh_arrays or x.type.dtype != np.float64 or explicit or len(node.outputs) != 1:
                raise Unsupported(node, "np.sum of other than a float64 array this region made")
            return self.assign(node, self.cast(f"0.0 + _pairwise({self.name(x)}.reshape({self.name(x)}.size))",
                                               node.output.type, node), depth)
        if not _is_vector(x.type) or explicit or len(node.outputs) != 1:
            raise Unsupported(node, "only the plain form of the op on vectors is lowered")
        if node.op == "np.copy":
            self.fresh_arrays.add(node.output)
            return self.assign(node, f"{self.name(x)}.copy()", depth)
        if node.op == "np.linalg.norm":
            if x.type.dtype.kind != "f":
                raise Unsupported(node, "the norm of a vector that is not real floating point")
            return self.assign(node, self.cast(f"np.sqrt(_dot1({self.name(x)}, {self.name(x)}))",
                                               node.output.type, node), depth)
        y = node.inputs[1]
        if not _is_vector(y.type) or len(node.inputs) != 2:
            raise Unsupported(node, f"{node.op} of other than two vectors")
        # NumPy casts both vectors to their result dtype and sums products of that dtype; numba's scalar
        # product of two dtypes would follow other rules (int64 * uint64 is no float64 there).
        dtype = np.result_type(x.type.dtype, y.type.dtype)
        a, b = (self.name(v) if v.type.dtype == dtype else f"{self.name(v)}.astype(np.{dtype.name})" for v in (x, y))
        self.assign(node, self.cast(f"_dot1({a}, {b})", node.output.type, node), depth)

    def broadcast_to(self, node: Node, depth: int) -> None:
        """A fresh vector broadcast to a length (`v -= w` becomes this): itself, or filled from its one element.
        NumPy's result is a read-only view; the region's is the vector or a new one, equal in value, and
        no write of the region goes into it (it is not the base of a setitem that inplace.py allows)."""
        x, shape = node.inputs[0], node.attrs["shape"]
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        if x not in self.fresh_arrays or not _is_vector(x.type) or len(shape) != 1 or node.attrs.get("subok") or \
                not _is_vector(node.output.type):
            raise Unsupported(node, "only a vector this region made, broadcast to a length")
        n, y = self.integer(node, shape[0]), self.name(node.output)
        self.emit(f"if {self.name(x)}.shape[0] == {n}:", depth)
        self.emit(f"{y} = {self.name(x)}", depth + 1)
        self.emit(f"elif {self.name(x)}.shape[0] == 1 and {n} >= 0:", depth)
        self.emit(f"{y} = np.full({n}, {self.name(x)}[0])", depth + 1)
        self.emit("else:", depth)
        self.emit('raise ValueError("operands could not be broadcast together")', depth + 1)
        self.fresh_arrays.add(node.output)

    def elementwise(self, node: Node, depth: int, at: Node | None = None) -> None:
        """An array result of elementwise ops (a fused.elementwise, or one ufunc over arrays) as inner loops.

        NOTE: [Vector elementwise]
        The result is a fresh C-contiguous array filled element by element with the same scalar
        expressions (and casts) as the region's scalar ops, so it rounds as NumPy's ufunc loops
        do. Operands are arrays (views included) and scalars, broadcast as NumPy does at run time
        (trailing axes aligned; the IR's lengths are claims of a file that may be hostile): an
        axis's loop bound is the one length other than 1 among the operands, an operand of
        length 1 there is read at 0 (step 0), and two other lengths raise NumPy's ValueError, so
        every read is in range. Such a fresh array overlaps nothing, so a vector of them may be
        written into a one-axis view (setitem) and np.sum reads it in NumPy's pairwise order.
        """
        params, body, returns = self.expression_parts(node)
        arrays = list(dict.fromkeys(v for v in chains.leaves(self, node)
                                    if isinstance(v.type, TensorType) and v.type.ndim > 0))
        rank = max((o.type.ndim for o in node.outputs if isinstance(o.type, TensorType)), default=0)
        if not arrays or rank == 0 or any(not isinstance(o.type, TensorType) or o.type.ndim != rank for o in node.outputs) \
                or any(v.type.ndim > rank for v in arrays) or rank > 4:
            raise Unsupported(node, "an elementwise op whose result is not an array of its operands' rank")
        if any("elementwise" not in get_op(inner.op).flags for inner in body if inner.op != "prim.Constant"):
            raise Unsupported(node, "an op that is not elementwise inside an elementwise expression")
        if chains.defer(self, node, rank, at):
            return                              # computed inside its one reader's loop (chains.py)
        dims = [self.fresh("n") for _ in range(rank)]
        ts = [self.fresh("t") for _ in range(rank)]
        steps: dict[Value, list[str]] = {}
        # Equal views (A[1:-1, 1:-1] read three times in a stencil) read the same elements: one operand.
        same = views.equal_views(arrays)
        every = arrays
        arrays = list(dict.fromkeys(same.get(v, v) for v in arrays))
        for d, n in enumerate(dims):
            merged = "1"
            for v in arrays:
                axis = d - (rank - v.type.ndim)        # NumPy aligns the trailing axes
                if axis >= 0:
                    merged = f"_bdim({merged}, {self.name(v)}.shape[{axis}])"
            self.emit(f"{n} = {merged}", depth)
        for v in arrays:
            steps[v] = self.axis_steps(self.name(v), v.type.ndim, depth)
        shape = f"({', '.join(dims)},)"
        into = self.reusable_operand(node, every, rank)
        for o in node.outputs:
            if into is not None:            # NOTE: [Elementwise in place]
                fits = " and ".join(f"{n} == {self.name(into)}.shape[{d}]" for d, n in enumerate(dims))
                self.emit(f"if {fits}:", depth)
                self.emit(f"{self.name(o)} = {self.name(into)}", depth + 1)
                self.emit("else:", depth)
                self.emit(f"{self.name(o)} = np.empty({shape}, np.{o.type.dtype.name})", depth + 1)
                if into in self.fresh_arrays:
                    self.fresh_arrays.add(o)    # either buffer is fresh, and the operand's dies here
                continue
            self.emit(f"{self.name(o)} = np.empty({shape}, np.{o.type.dtype.name})", depth)
            self.fresh_arrays.add(o)
        if rank == 1 and self.stages is None and self.staged_loop(node, dims[0], arrays, same, depth):
            return
        if rank == 1:
            # NOTE: [Unchecked loops]: every step 1 means every operand has length dims[0]; else the operands
            # of length 1 are widened to it
            proven = {self.name(v) for v in arrays} | {self.name(o) for o in node.outputs}
            steps_one = " and ".join(f"{steps[v][0]} == 1" for v in arrays)
            depth = self.unchecked_loop(node, dims[0], proven, steps_one, depth, lambda t: self.expression(
                node, lambda v: f"{self.name(same.get(v, v))}[{t}]", 0), lambda t, results: [
                    f"{self.name(o)}[{t}] = {results[o]}" for o in node.outputs], widen=[self.name(v) for v in arrays])
        else:
            depth = self.unchecked_elementwise(node, arrays, same, steps, dims, depth)
        if depth is None:
            return
        for d, (t, n) in enumerate(zip(ts, dims)):
            self.emit(f"for {t} in range({n}):", depth + d)
        depth += rank - 1

        def read(v: Value) -> str:
            v = same.get(v, v)
            at = ts[rank - v.type.ndim:]
            return f"{self.name(v)}[{', '.join(f'{t} * {s}' for t, s in zip(at, steps[v]))}]"
        results = self.expression(node, read, depth + 1)
        for o in node.outputs:
            self.emit(f"{self.name(o)}[{', '.join(ts)}] = {results[o]}", depth + 1)

    def reusable_operand(self, node: Node, arrays: list, rank: int) -> Value | None:
        """An operand whose buffer the elementwise result may take (``out += v`` in a loop), or None.

        NOTE: [Elementwise in place]
        Element t of the result is computed from element t of each operand before it is stored, so
        storing into an operand of the result's shape and dtype gives NumPy's values when no other
        operand shares that buffer. The operand must die at the node (inplace.py's analysis) and be a
        fresh array of the region's or a loop slot that owns its buffer; every other array operand must be a view of
        a value from outside the region's loop, which an owned buffer never is (it is copied at entry,
        or fresh memory read by the loop only), or a fresh array: its own new buffer, or one it took
        whole, in the same layout, from an operand that died (so, at worst, the candidate's, read at
        the element being written: `v -= r * q` subtracts a fresh product). The shapes are compared at run time (they are the
        broadcast result's exactly when no operand widens the candidate)."""
        if len(node.outputs) != 1:
            return None
        out = node.outputs[0].type
        for a in dict.fromkeys(v for v in node.inputs if v in arrays):
            t = a.type
            if t.ndim != rank or t.dtype != out.dtype or self.deferred.get(a) is not None:
                continue
            if not (a in self.fresh_arrays or (a.node is None and a.block is not None and a.block.owner is not None
                                               and a.block.owner.op == "prim.Loop")):
                continue    # a fresh array (the result stays one) or a loop slot; not an If's merge of either
            if not self.inplace.dead_after(a, node, node.block):
                continue
            if all(self._outside_root(w) or w in self.fresh_arrays for w in arrays if w is not a):
                return a
        return None

    def _outside_root(self, v: Value) -> bool:
        """v is, or is a view of, a value defined outside the region's root loop."""
        v = views.view_root(v)
        root = self.inplace.root
        blk = v.node.block if v.node is not None else v.block
        while blk is not None:
            if blk.owner is root:
                return False
            blk = blk.owner.block if blk.owner is not None else None
        return True

    def axis_steps(self, array: str, ndim: int, depth: int) -> list[str]:
        """Per axis of `array`, a variable that is 0 where its run-time length is 1 (NumPy repeats such an axis)
        and 1 elsewhere: an element's index along the axis is the loop's index times it."""
        steps = []
        for axis in range(ndim):
            step = self.fresh("s")
            self.emit(f"{step} = 1 if {array}.shape[{axis}] != 1 else 0", depth)
            steps.append(step)
        return steps

    def unchecked_elementwise(self, node: Node, arrays: list, same: dict, steps: dict, dims: list[str],
                              depth: int) -> int | None:
        """The unchecked version of an elementwise loop nest of rank 2 or more (NOTE: [Unchecked loops]): an
        operand's axis of length 1 in its type (a column view `a[:, None]`) is read at 0 when its step is 0
        at run time, every other axis at the loop's index when its step is 1 (then its length is the loop's:
        `_bdim` raised otherwise); the outputs have the loops' lengths. Returns the checked loop's depth (None when
        the helper runs in every case)."""
        hs = [self.fresh("t") for _ in dims]
        rank = len(dims)
        at: dict[str, tuple[str, ...]] = {}
        conditions = []
        for v in arrays:
            items = []
            for axis in range(v.type.ndim):
                one = v.type.shape[axis] == 1
                items.append("0" if one else hs[axis + rank - v.type.ndim])
                conditions.append(f"{steps[v][axis]} == {0 if one else 1}")
            at[self.name(v)] = tuple(items)
        for o in node.outputs:
            at[self.name(o)] = tuple(hs)
        saved, self.lines = self.lines, []
        try:
            results = self.expression(node, lambda v: f"{self.name(same.get(v, v))}"
                                                      f"[{', '.join(at[self.name(same.get(v, v))])}]", 0)
            body = list(self.lines) + [f"{self.name(o)}[{', '.join(hs)}] = {results[o]}" for o in node.outputs]
        finally:
            self.lines = saved
        made = unchecked.nest("_loop", hs, dims, at, body)
        if made is None:
            return depth
        name, args = self.helper(made)
        if not conditions:
            self.emit(f"{name}({', '.join(args)})", depth)
            return None             # no checked loop after it
        self.emit(f"if {' and '.join(conditions)}:", depth)
        self.emit(f"{name}({', '.join(args)})", depth + 1)
        self.emit("else:", depth)
        return depth + 1

    def unchecked_loop(self, node: Node, n: str, proven: set[str], condition: str | None, depth: int, element,
                       stores, backward: str | None = None, outer=None, widen=()) -> int | None:
        """Emits `if condition: <helper over range(n)>` then `else:`, and returns the depth of the else branch
        (where the caller emits its checked loop); or emits nothing and returns depth if unchecked.py refuses
        the helper. With the condition None the helper runs in every case; with `widen`, the operands (vectors
        of length n or, broadcast, 1) are made n long first (`_widen`: the vector itself, or its element
        repeated) and the helper runs once, on them, in every case. Either way None is returned: no checked loop
        follows, which numba would compile though it rarely runs.
        `element(t)` emits one element's lines and returns its results, `stores(t, results)` the lines that write
        them (NOTE: [Unchecked loops]). With `backward` (a bool variable), the helper runs over the reversed proven
        arrays when it is true (a second specialization, which the caller asks for only where it can be needed).
        With `outer(depth)`, which emits loops that name a row of each proven array and returns their depth, the
        helper runs over each row (the innermost axis)."""
        t = self.fresh("t")
        saved, self.lines = self.lines, []
        try:
            results = element(t)
            body = [line for line in self.lines] + stores(t, results)
        finally:
            self.lines = saved
        made = unchecked.helper("_loop", t, n, proven, body)
        if made is None:
            return depth
        name, args = self.helper(made)

        def calls(d: int, wide: dict) -> None:
            d = outer(d) if outer is not None else d
            for a, w in wide.items():
                self.emit(f"{w} = _widen({a}, {n})", d)
            if backward is not None:
                self.emit(f"if {backward}:", d)
                self.emit(f"{name}({', '.join(wide.get(a, a) + '[::-1]' if a in proven else a for a in args)})", d + 1)
                self.emit("else:", d)
                d += 1
            self.emit(f"{name}({', '.join(wide.get(a, a) for a in args)})", d)

        if condition is None:
            calls(depth, {})
            return None
        if widen:
            # one call of the helper on the widened operands (each the operand itself when it is n long, of the
            # operand's type either way), not a checked loop numba compiles too, nor a second call to compile
            calls(depth, {a: self.fresh("r") for a in dict.fromkeys(widen)})
            return None
        self.emit(f"if {condition}:", depth)
        calls(depth + 1, {})
        self.emit("else:", depth)
        return depth + 1

    def staged_loop(self, node: Node, n: str, arrays: list, same: dict, depth: int) -> bool:
        """A one-axis elementwise loop whose element calls ops NumPy's own loops compute (exp, log ...: NOTE:
        [NumPy loops in a region]) as blocks of `_BLOCK` elements, each a sequence of unchecked helpers (NOTE:
        [Unchecked loops]) and NumPy loops: helper s computes the operand of the s-th such op into its slot (a
        block-sized buffer, the earlier ops' results read from theirs), NumPy's loop updates the slot in place,
        and the last helper stores the outputs. Every helper recomputes the element's exact arithmetic from the
        operands, which nothing writes before the last helper of the block stores its outputs (an output that
        took an operand's buffer is written at the element read there, after every read of it: NOTE: [Elementwise
        in place]). Operands of length 1 are widened first (`_widen`). False, emitting nothing, when the element
        calls no such op or unchecked.py refuses a helper: then the caller's loop calls the C library's."""
        counting = _Stages(-1)
        saved, self.lines, self.stages = self.lines, [], counting
        try:
            self.expression(node, lambda v: "x", 0)
        finally:
            self.lines, self.stages = saved, None
        if not counting.slots:
            return False
        t, m, b = self.fresh("t"), self.fresh("m"), self.fresh("b")
        blocks = {v: self.fresh("w") for v in [*arrays, *node.outputs]}
        buffers = [self.fresh("q") for _ in counting.slots]
        slots = [self.fresh("w") for _ in counting.slots]
        made = []
        for s in range(len(counting.slots) + 1):
            st = self.stages = _Stages(s)
            st.t, st.names = t, slots
            saved, self.lines = self.lines, []
            try:
                results = self.expression(node, lambda v: f"{blocks[same.get(v, v)]}[{t}]", 0)
                body = self.lines + ([f"{blocks[o]}[{t}] = {results[o]}" for o in node.outputs]
                                     if s == len(counting.slots) else [])
            finally:
                self.lines, self.stages = saved, None
            text = "\n".join(body)
            proven = {x for x in [*blocks.values(), *slots] if re.search(rf"\b{x}\b", text)}
            helper = unchecked.helper("_loop", t, m, proven, body)
            if helper is None:
                return False
            made.append(helper)
        calls = [self.helper(h) for h in made]
        wide = {v: self.fresh("r") for v in arrays}
        for v in arrays:
            self.emit(f"{wide[v]} = _widen({self.name(v)}, {n})", depth)
        for q, k in zip(buffers, counting.slots):
            self.emit(f"{q} = np.empty({_BLOCK}, np.{k[1]})", depth)
        self.emit(f"for {b} in range(0, {n}, {_BLOCK}):", depth)
        self.emit(f"{m} = min({_BLOCK}, {n} - {b})", depth + 1)
        for v in arrays:
            self.emit(f"{blocks[v]} = {wide[v]}[{b}:{b} + {m}]", depth + 1)
        for o in node.outputs:
            self.emit(f"{blocks[o]} = {self.name(o)}[{b}:{b} + {m}]", depth + 1)
        for q, w in zip(buffers, slots):
            self.emit(f"{w} = {q}[:{m}]", depth + 1)
        for s, (name, args) in enumerate(calls):
            self.emit(f"{name}({', '.join(args)})", depth + 1)
            if s < len(slots):
                index = self.loops.setdefault(counting.slots[s], len(self.loops))
                self.emit(f"_numpy_loop(ufuncs, {index}, {slots[s]}, {slots[s]})", depth + 1)
        return True

    def helper(self, made: tuple[str, list[str]]) -> tuple[str, list[str]]:
        """The name of an unchecked helper (`unchecked.nest`'s source and arguments) and its arguments: one helper
        for the loops of a region whose helpers have the same text (two writes of one stencil), so numba
        compiles it once."""
        source, args = made
        name = self.helpers.get(source)
        if name is None:
            name = self.helpers[source] = f"_loop{len(self.helpers)}"
        return name, args

    def expression_parts(self, node: Node) -> tuple[list, list, list]:
        """The parameters, scalar nodes and returns of an elementwise node's expression."""
        if node.op == "fused.elementwise":
            sub = node.attrs["graph"]
            params, body, returns = list(sub.inputs), list(sub.block.nodes), list(sub.outputs)
            if len(params) != len(node.inputs):
                raise Unsupported(node, "an expression whose inputs differ from the node's")
            return params, body, returns
        return list(node.inputs), [node], list(node.outputs)

    def expression(self, node: Node, read, depth: int) -> dict[Value, str]:
        """Emits one element of an elementwise node: its outputs' scalar expressions (cast to their dtypes), its
        array operands read by `read`, the operands made by deferred producers (chains.py) computed first."""
        self.elements += 1
        try:
            return self._expression(node, read, depth)
        finally:
            self.elements -= 1

    def _expression(self, node: Node, read, depth: int) -> dict[Value, str]:
        params, body, returns = self.expression_parts(node)
        names: dict[Value, str] = {}
        types: dict[Value, Any] = {}
        for p, v in zip(params, node.inputs):
            producer = self.deferred.get(v)
            if producer is not None:
                names[p], types[p] = self.expression(producer, read, depth)[v], TensorType(v.type.dtype, ())
            elif isinstance(v.type, TensorType) and v.type.ndim > 0:
                names[p], types[p] = read(v), TensorType(v.type.dtype, ())
            else:
                names[p], types[p] = self.name(v), v.type
        for inner in body:
            if inner.blocks or len(inner.outputs) != 1:
                raise Unsupported(inner, "not a scalar op inside an elementwise expression")
            out = inner.output
            scalar_t = TensorType(out.type.dtype, ()) if isinstance(out.type, TensorType) else out.type
            if inner.op == "prim.Constant":
                expr = self.constant(inner)
            else:
                expr = self.numpy_loop(inner, names, types, scalar_t, depth) or \
                    self.scalar_op(inner, names, types, scalar_t)
            e = self.fresh("e")
            self.emit(f"{e} = {expr}", depth)
            names[out], types[out] = e, scalar_t
        results = {}
        for o, r in zip(node.outputs, returns):
            if r not in names:
                raise Unsupported(node, "an expression that returns a value it does not compute")
            e = self.fresh("e")
            self.emit(f"{e} = {self.cast(names[r], TensorType(o.type.dtype, ()), node)}", depth)
            results[o] = e
        return results

    def numpy_loop(self, inner: Node, names: dict, types: dict, scalar_t, depth: int) -> str | None:
        """Inside a stage of a staged loop (`staged_loop`), the element of a node NumPy's own loop computes: read
        from its slot in the stages after its own, stored into the slot (its operand) in its own, and before that
        the operand itself, a stand-in that no store of the stage reads. None for any other node, or outside one."""
        st = self.stages
        if st is None or len(inner.inputs) != 1 or not isinstance(scalar_t, TensorType) or \
                any(v is not None for v in inner.attrs.values()):
            return None
        x = inner.inputs[0]
        loop_dtypes = _ufunc_loop(get_op(inner.op).kernel, [types[x]])
        k = numpy_loops.key(inner.op, loop_dtypes, scalar_t.dtype)
        if k is None:
            return None
        operand = f"np.{loop_dtypes[0].name}({names[x]})"
        i = st.seen
        st.seen += 1
        if st.stage < 0:
            st.slots.append(k)          # the counting pass
        if i < st.stage:
            return self.cast(f"{st.names[i]}[{st.t}]", scalar_t, inner)
        if i == st.stage:
            self.emit(f"{st.names[i]}[{st.t}] = {operand}", depth)
        return self.cast(operand, scalar_t, inner)

    def assign(self, node: Node, expr: str, depth: int) -> None:
        self.emit(f"{self.name(node.output)} = {expr}", depth)

    def constant(self, node: Node) -> str:
        value, t = node.attrs["value"], node.output.type
        if isinstance(value, np.ndarray) and value.ndim == 0 or isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, bool):
            return self.cast(repr(value), t, node)
        if isinstance(value, int):
            if not -2**63 <= value < 2**63:
                raise Unsupported(node, "an integer beyond int64")
            return self.cast(repr(value), t, node)
        if isinstance(value, complex):
            return self.cast(f"complex({self.float_text(value.real)}, {self.float_text(value.imag)})", t, node)
        if isinstance(value, float):
            text = repr(value) if math.isfinite(value) else ("np.nan" if value != value else
                                                            "np.inf" if value > 0 else "-np.inf")
            return self.cast(text, t, node)
        raise Unsupported(node, f"a constant of type {type(value).__name__}")

    def array_constant(self, node: Node, depth: int) -> None:
        """A small constant array (a row `np.array([0.0, 0.0, 1.0])` in a loop body) written into the source as
        its elements; the region makes a fresh copy where it stands, so nothing it writes reaches the constant."""
        value, t = node.attrs["value"], node.output.type
        if not isinstance(t, TensorType) or value.size > _MAX_CONSTANT or value.dtype.kind not in "biuf" or \
                value.dtype != t.dtype or value.shape != tuple(t.shape):
            raise Unsupported(node, f"a constant array of {value.size} elements of {value.dtype}")
        items = ", ".join(repr(bool(x)) if value.dtype.kind == "b" else
                          self.float_text(float(x)) if value.dtype.kind == "f" else repr(int(x)) for x in value.ravel())
        dtype = "np.bool_" if value.dtype.kind == "b" else f"np.{value.dtype.name}"
        self.assign(node, f"np.array([{items}], {dtype}).reshape({tuple(value.shape)!r})", depth)
        self.fresh_arrays.add(node.output)

    @staticmethod
    def float_text(value: float) -> str:
        if math.isfinite(value):
            return repr(value)
        return "np.nan" if value != value else "np.inf" if value > 0 else "-np.inf"

    def index(self, node: Node, base: Value, index: Any, views: bool = False) -> str:
        """The subscript: one integer per axis, or with `views` integers and slices (a view, as NumPy's)."""
        items = tuple(index) if isinstance(index, (tuple, list)) else (index,)
        sliced = views and (any(isinstance(item, slice) for item in items)
                            or isinstance(base.type, TensorType) and len(items) < base.type.ndim)
        if not isinstance(base.type, TensorType) or not items or \
                (len(items) > base.type.ndim if sliced else len(items) != base.type.ndim):
            raise Unsupported(node, "not one integer per axis (a partial index makes a view)")
        parts = []
        for item in items:
            if isinstance(item, slice) and sliced:
                parts.append(":".join("" if p is None else self.integer(node, p) for p in
                                      (item.start, item.stop, item.step)))
            else:
                parts.append(self.integer(node, item))
        return ", ".join(parts)

    def integer(self, node: Node, item: Any) -> str:
        if isinstance(item, Ref):
            v = node.inputs[item.index]
            t = v.type
            if not (isinstance(t, ScalarType) and t.kind == "int"
                    or isinstance(t, TensorType) and t.ndim == 0 and t.dtype.kind in "iu"):
                raise Unsupported(node, f"an index of type {t}")
            return f"np.int64({self.name(v)})"
        if isinstance(item, int) and not isinstance(item, bool):
            return repr(item)
        raise Unsupported(node, f"an index item {item!r}")

    def getitem(self, node: Node, depth: int) -> None:
        base = node.inputs[0]
        if masks.is_row_mask(base, node.attrs["index"], node):
            return masks.gather(self, node, depth)
        if views.is_gather(base, node.attrs["index"], node):
            return views.gather(self, node, depth)
        if views.is_view(base, node.attrs["index"]):
            subscript = views.view_subscript(self, node, base, node.attrs["index"])
            return self.assign(node, f"{self.name(base)}[{subscript}]", depth)
        idx = self.index(node, base, node.attrs["index"], views=True)
        read = f"{self.name(base)}[{idx}]"
        if scalar_cast(node.output.type) is None:       # a view: read by the ops after it (np.dot)
            return self.assign(node, read, depth)
        self.assign(node, self.cast(read, node.output.type, node), depth)

    def setitem(self, node: Node, depth: int) -> None:
        base, value = node.inputs[0], node.inputs[1]
        if views.is_view(base, node.attrs["index"]) or views.is_mask(base, node.attrs["index"], node):
            return self.setitem_view(node, depth)
        vector = scalar_cast(value.type) is None
        if vector:
            # Only a vector this region made (an elementwise loop's, a copy's) is written, into a one-axis view
            # of the same dtype, whose length is checked at run time (numba copies first where they overlap).
            index = node.attrs["index"]
            items = tuple(index) if isinstance(index, (tuple, list)) else (index,)
            axes = sum(isinstance(item, slice) for item in items) + base.type.ndim - len(items)
            if value not in self.fresh_arrays or not _is_vector(value.type) or axes != 1 or \
                    value.type.dtype != base.type.dtype:
                raise Unsupported(node, "an array written into an array (only a fresh vector into a 1-D view)")
            idx = self.index(node, base, index, views=True)
        else:
            idx = self.index(node, base, node.attrs["index"])
        if self.inplace.in_place(node):
            if base in self.inputs:
                self.written.add(base)
            out = self.names[node.output] = self.name(base)    # one variable: no reference counting per write
        else:
            out = self.name(node.output)
            self.emit(f"{out} = {self.name(base)}.copy()", depth)
        if vector:
            dst = self.fresh("w")
            self.emit(f"{dst} = {out}[{idx}]", depth)
            self.emit(f"if {dst}.shape[0] != {self.name(value)}.shape[0]:", depth)
            self.emit('raise ValueError("could not broadcast the value into the indexed shape")', depth + 1)
            # An explicit loop: numba's slice assignment of an array is generic code (overlap checks and
            # broadcasting) that takes longer to compile; the value is fresh, so it overlaps nothing.
            t = self.fresh("t")
            self.emit(f"for {t} in range({dst}.shape[0]):", depth)
            self.emit(f"{dst}[{t}] = {self.name(value)}[{t}]", depth + 1)
            return
        self.emit(f"{out}[{idx}] = {self.cast(self.name(value), TensorType(base.type.dtype, ()), node)}", depth)

    def setitem_view(self, node: Node, depth: int) -> None:
        """A write into a view or through a boolean mask (NOTE: [Writes into views], [Masked writes] in views.py),
        in place where inplace.py allows."""
        base = node.inputs[0]
        if self.inplace.in_place(node):
            out = self.names[node.output] = self.name(base)
        else:
            out = self.name(node.output)
            self.emit(f"{out} = {self.name(base)}.copy()", depth)
        if views.is_mask(base, node.attrs["index"], node):
            return views.write_masked(self, node, out, depth)
        views.write_into_view(self, node, out, depth)

    def loop(self, node: Node, depth: int) -> None:
        p = blocked.plan(node)
        if p is not None:               # NOTE: [Blocked time loops]
            return blocked.emit(self, node, p, depth)
        trip, cond, *init = node.inputs
        body = node.blocks[0]
        carried = [self.fresh("c") for _ in init]
        for k, (c, v) in enumerate(zip(carried, init)):
            if scalar_cast(v.type) is not None:
                self.emit(f"{c} = {self.cast(self.name(v), body.params[1 + k].type, node)}", depth)
            elif self.inplace.copy_at_entry(node, k):
                self.emit(f"{c} = {self.name(v)}.copy()", depth)
            else:
                if v in self.inputs:
                    self.written.add(v)
                self.emit(f"{c} = {self.name(v)}", depth)
        self.loop_body(node, carried, depth)
        for o, c in zip(node.outputs, carried):
            if scalar_cast(o.type) is None:
                self.names[o] = c
            else:
                self.emit(f"{self.name(o)} = {c}", depth)

    def loop_body(self, node: Node, carried: list[str], depth: int) -> None:
        """The loop's `for` over its trip count, its cond checked, updating the slot variables `carried`."""
        trip, cond, *init = node.inputs
        body = node.blocks[0]
        for v in body.params:
            self.check_type(v, node)
        flag = self.fresh("k")
        self.emit(f"{flag} = bool({self.name(cond)})", depth)
        counter = self.name(body.params[0])
        self.emit(f"for {counter} in range(np.int64({self.name(trip)})):", depth)
        self.emit(f"if not {flag}:", depth + 1)
        self.emit("break", depth + 2)
        for p, c in zip(body.params[1:], carried):
            if scalar_cast(p.type) is None:
                self.names[p] = c           # an array slot is one variable through the body (see setitem)
            else:
                self.emit(f"{self.name(p)} = {c}", depth + 1)
        self.block(body, depth + 1)
        self.emit(f"{flag} = bool({self.name(body.returns[0])})", depth + 1)
        # One tuple assignment: a slot's next value may be another slot's current one (`a, b = b, a`).
        targets, sources = [], []
        for k, (c, r) in enumerate(zip(carried, body.returns[1:])):
            t = body.params[1 + k].type
            if scalar_cast(t) is not None:
                targets.append(c)
                sources.append(self.cast(self.name(r), t, node))
            elif self.name(r) != c:
                targets.append(c)
                sources.append(self.name(r))
        if targets:
            self.emit(f"{', '.join(targets)}, = {', '.join(sources)},", depth + 1)

    def if_(self, node: Node, depth: int) -> None:
        self.emit(f"if {self.name(node.inputs[0])}:", depth)
        ends = []
        for i, block in enumerate(node.blocks):
            if i == 1:
                self.emit("else:", depth)
            self.block(block, depth + 1)
            self.emit("pass", depth + 1)
            ends.append(len(self.lines))
        returns = [[self.name(r) for r in block.returns] for block in node.blocks]
        assigns: list[list[str]] = [[] for _ in node.blocks]
        for k, o in enumerate(node.outputs):
            same = {names[k] for names in returns}
            if scalar_cast(o.type) is None and len(same) == 1:
                self.names[o] = same.pop()     # both branches hold the same array variable
                continue
            for i, block in enumerate(node.blocks):
                r = block.returns[k]
                expr = self.cast(self.name(r), o.type, node) if scalar_cast(o.type) else self.name(r)
                assigns[i].append("    " * (depth + 1) + f"{self.name(o)} = {expr}")
        for i in reversed(range(len(node.blocks))):
            self.lines[ends[i]:ends[i]] = assigns[i]


class _Stages:
    """Which stage of a staged loop is being emitted (`_Lowering.staged_loop`; -1 counts the NumPy loops), the
    element's index variable, the slots' names, and the NumPy loops met so far in the element."""

    def __init__(self, stage: int):
        self.stage = stage
        self.t = ""
        self.names: list[str] = []
        self.seen = 0
        self.slots: list[tuple] = []


_BLOCK = 2048      # elements of a staged loop's block: its slots stay in the first-level cache


def _is_vector(t) -> bool:
    return isinstance(t, TensorType) and t.ndim == 1


def _nested_free(node: Node) -> list[Value]:
    out: list[Value] = []
    for block in node.blocks:
        out += free_values(block)
    return out


_MAX_CONSTANT = 256        # elements of a constant array written into a region's source
_VECTOR_OPS = ("np.copy", "np.dot", "np.matmul", "np.linalg.norm", "np.broadcast_to", "np.sum")
_WEAK = {"int": int, "float": float, "bool": np.dtype(bool), "complex": complex}


def _ufunc_loop(kernel, in_types) -> list[np.dtype] | None:
    """The dtypes NumPy's ufunc loop casts the operands to (Python scalars weak), or None for a non-ufunc."""
    if not isinstance(kernel, np.ufunc):
        return None
    spec = []
    for t in in_types:
        if isinstance(t, ScalarType):
            spec.append(_WEAK[t.kind])
        else:
            spec.append(t.dtype)
    try:
        dtypes = kernel.resolve_dtypes((*spec, *[None] * kernel.nout))
    except (TypeError, ValueError):
        return None
    return list(dtypes[:kernel.nin])
