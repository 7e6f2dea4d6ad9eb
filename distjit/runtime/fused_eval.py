"""Evaluating a fused elementwise expression (the `graph` of a ``fused.elementwise`` node).

NOTE: [Fused evaluation]
The expression is a small Graph of elementwise ops whose results all have the
output's shape S (inputs may broadcast to it). Two backends, chosen per call:

- ``numpy`` (always there): the expression compiled to a Python function that
  calls the same NumPy kernels as the unfused graph, each with ``out=`` a scratch
  buffer (an op whose kernel takes no out= declares an out-taking template,
  `OpDef.templates["numpy"]`; a custom op's result is copied into the buffer). Small arrays run it once on whole arrays (no scratch: exactly the
  unfused computation). Large ones run it block by block over the leading axis,
  blocks of about `BLOCK_ELEMENTS` elements, so every temporary is a few hundred
  KiB that stays in cache and is reused, instead of a fresh full-size array (page
  faults dominate eager NumPy on big temporaries); blocks are shared among
  `THREADS` threads (NumPy releases the GIL inside its loops). Each element sees
  the same kernels in the same order as unfused: results are bit for bit the same.
- ``native`` (numba, the ``fast`` extra; NOTE: [Fused native loops] in fused_native.py):
  for outputs of at least `NUMBA_MIN_ELEMENTS` elements, the expression as loop stages
  compiled by numba, run block by block (`NATIVE_BLOCK_ELEMENTS`) by `THREADS` threads
  (the kernels release the GIL). The ops a loop computes are those whose template is
  NumPy's result bit for bit; every other op (exp, log, ...) is NumPy's own kernel called
  on the block between two stages. So results are bit for bit the NumPy backend's at
  every level, whatever `exact` says; an expression or operand that does not qualify
  (a dtype outside f8/f4/i8/i4/bool, an output overlapping an input, numba refusing it)
  runs on the NumPy backend.

Threads: a native evaluation splits its blocks among threads only while that is measured
faster, per size class, than one thread (`_ThreadChoice`: the handoff costs tens of
microseconds, and another process on the cores makes threads a loss); the calling thread
runs one share itself. The evaluator's own pool rather than numba's ``parallel=True``, because
numba's default threading layer must not be entered by two threads at once, and the
executors run tasks side by side (`limit_threads` then keeps each node on its task's
thread).

`DISTJIT_FUSED_BACKEND` = ``numpy`` | ``numba`` | ``auto`` (default: native when numba
imports) and `DISTJIT_THREADS` choose at run time; the IR does not change.
"""
from __future__ import annotations

import math
import os
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

from distjit.ir.graph import Graph, Value
from distjit.core.apply import bind
from distjit.core.buffers import share
from distjit.core.liveness import last_uses
from distjit.ops import get_op
from distjit.runtime import fused_native, native

BLOCK_ELEMENTS = 1 << 16
SMALL_ELEMENTS = 1 << 16          # below this, one whole-array evaluation
NUMBA_MIN_ELEMENTS = 1 << 16
NATIVE_THREAD_ELEMENTS = 1 << 16   # a native loop gets another thread per this many elements
NATIVE_BLOCK_ELEMENTS = 1 << 14    # rows of a native block: its slots and operand blocks stay in L2
NATIVE_MAX_SCALE = 8               # a cheap expression's blocks grow up to this many times (`Expression.scale`)
THREADS = int(os.environ.get("DISTJIT_THREADS", "0")) or (os.cpu_count() or 1)
BACKEND = os.environ.get("DISTJIT_FUSED_BACKEND", "auto")

_kernels: "weakref.WeakKeyDictionary[Graph, FusedKernel]" = weakref.WeakKeyDictionary()
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_here = threading.local()


@contextmanager
def limit_threads(n: int):
    """Fused nodes evaluated by this thread inside the block use at most `n` threads: an executor running
    tasks side by side already keeps the cores busy, and more block threads would only oversubscribe them."""
    saved = getattr(_here, "threads", None)
    _here.threads = n
    try:
        yield
    finally:
        _here.threads = saved


def evaluate(*inputs, graph: Graph, exact: bool = True, out=None):
    """The kernel of ``fused.elementwise``: the expression's outputs (a tuple when it has several)."""
    return kernel_for(graph).call(*inputs, out=out, exact=exact)


def kernel_for(graph: Graph) -> "FusedKernel":
    """The compiled evaluator of an expression graph, made once per graph (the generated code binds it, so a
    call in a loop body skips the lookup)."""
    kernel = _kernels.get(graph)
    if kernel is None:
        kernel = _kernels[graph] = FusedKernel(graph)
    return kernel


def _threads() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="distjit-fused")
        return _pool


def _into(result, out):
    """A kernel without out= (a custom op's): its result copied into the slot the expression gives it."""
    if out is None:
        return result
    out[...] = result
    return out


class FusedKernel:
    """The compiled evaluator of one expression graph."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.out_types = [v.type for v in graph.outputs]
        self.dtypes = [t.dtype for t in self.out_types]
        self.body, self.slots, self.source = _compile_numpy(graph)
        self.native = None       # fused_native.Expression, built on first use; False when it does not qualify
        self.native_error = None  # why numba refused it (kept for tests and debugging)
        self._steps: dict[tuple, list] = {}   # the native steps per (rank, which operands are arrays)
        self._scratch = threading.local()
        self._choice = _ThreadChoice()
        self.no_outs, self.no_bufs = [None] * len(self.dtypes), [None] * len(self.slots)
        self.single = len(self.dtypes) == 1

    def call(self, *inputs, out=None, exact=True):
        """fused.elementwise's kernel: the output, or a tuple of them when the expression has several.

        Array operands of one rank that broadcast by axes of length 1 (or of one shape; scalars beside
        them), of fewer than `SMALL_ELEMENTS` elements, into fresh memory or out= buffers of the result's
        shape and dtypes: one whole-array evaluation, which `__call__` would choose too, without its second
        look at the shapes and its checks (a loop body calls it per iteration on small arrays, where those
        cost more than the expression)."""
        shape = _one_rank_shape(inputs)
        if shape is not None:
            size = math.prod(shape)
            if size < SMALL_ELEMENTS and size < NUMBA_MIN_ELEMENTS:
                if out is None:
                    results = self.body(inputs, self.no_outs, self.no_bufs)
                    return results[0] if self.single else tuple(results)
                if self._outs_fit(out, shape):
                    results = self.body(inputs, list(out), self.no_bufs)
                    return results[0] if self.single else tuple(results)
        results = self(inputs, out, exact)
        return results[0] if len(results) == 1 else tuple(results)

    def _outs_fit(self, out, shape) -> bool:
        """out= buffers, one per output, each None or an array of `shape` and the output's dtype."""
        if not isinstance(out, tuple) or len(out) != len(self.dtypes):
            return False
        for o, d in zip(out, self.dtypes):
            if o is not None and (type(o) is not np.ndarray or o.shape != shape or o.dtype != d):
                return False
        return True

    def __call__(self, inputs, out=None, exact=True):
        shape = _broadcast_shape(inputs)
        size = math.prod(shape)
        outs = list(out) if out is not None else [None] * len(self.dtypes)
        if len(outs) != len(self.dtypes):
            raise ValueError(f"fused.elementwise {self.graph.name}: {len(outs)} out= buffers for "
                             f"{len(self.dtypes)} outputs")
        for o, d in zip(outs, self.dtypes):
            if o is not None and (not isinstance(o, np.ndarray) or o.shape != shape or o.dtype != d):
                raise ValueError(f"fused.elementwise {self.graph.name}: an out= buffer of "
                                 f"{getattr(o, 'dtype', type(o).__name__)}{list(np.shape(o))} for an output "
                                 f"of {d}{list(shape)}")
        if size >= NUMBA_MIN_ELEMENTS and _want_numba():
            done = self._native(inputs, shape, outs)
            if getattr(native._here, "log", None) is not None:      # an executor asked what its task ran
                native.record(f"fused {self.graph.name}: " + (
                    "native (numba loops over the expression)" if done is not None else
                    f"fell back to NumPy: numba refused it: {self.native_error}" if self.native_error is not None
                    else "NumPy backend: no op of it compiles, or an operand does not qualify"))
            if done is not None:
                return done
        return self._numpy(inputs, shape, outs)

    def numpy(self, inputs):
        """The outputs by the NumPy backend, whatever the native one would do (the calibration times both)."""
        return self._numpy(inputs, np.broadcast_shapes(*(np.shape(x) for x in inputs if x is not None)),
                           [None] * len(self.dtypes))

    def _numpy(self, inputs, shape, outs):
        size = math.prod(shape)
        if size < SMALL_ELEMENTS or len(shape) == 0:
            return self.body(inputs, outs, [None] * len(self.slots))
        row = math.prod(shape[1:])
        rows_per_block = max(1, BLOCK_ELEMENTS // max(row, 1))
        if shape[0] <= rows_per_block:
            return self.body(inputs, outs, [None] * len(self.slots))
        outs = [o if o is not None else np.empty(shape, d) for o, d in zip(outs, self.dtypes)]
        wide = [np.broadcast_to(x, shape) if isinstance(x, np.ndarray) and x.ndim else x for x in inputs]
        starts = list(range(0, shape[0], rows_per_block))
        workers = min(getattr(_here, "threads", None) or THREADS, len(starts))

        def work(k):
            bufs = self._buffers((rows_per_block, *shape[1:]))
            for s in starts[k::workers]:
                e = min(s + rows_per_block, shape[0])
                m = e - s
                ins = [x[s:e] if isinstance(x, np.ndarray) and x.ndim else x for x in wide]
                self.body(ins, [o[s:e] for o in outs], bufs if m == rows_per_block else [b[:m] for b in bufs])

        _run_split(work, workers)
        return outs

    def _buffers(self, shape):
        cache = getattr(self._scratch, "bufs", None)
        if cache is None or cache[0] != shape:
            cache = (shape, [np.empty(shape, d) for d in self.slots])
            self._scratch.bufs = cache
        return cache[1]

    def _native(self, inputs, shape, outs):
        """The outputs computed by native loops block by block (NOTE: [Fused native loops]), or None when
        this expression or these operands do not qualify (the NumPy backend runs it then)."""
        if self.native is None:
            self.native = fused_native.expression(self.graph) or False
        expr = self.native
        if not expr or not fused_native.runtime_ok(expr, inputs):
            return None
        kinds, operands = [], []
        for x in inputs:
            is_array = isinstance(x, np.ndarray) and x.ndim > 0
            kinds.append(is_array)
            # NumPy checks that x broadcasts to `shape` and gives the view exactly that shape.
            operands.append(np.broadcast_to(x, shape) if is_array else x[()] if isinstance(x, np.ndarray) else x)
        outs = [o if o is not None else np.empty(shape, d) for o, d in zip(outs, self.dtypes)]
        arrays = [v for v, a in zip(operands, kinds) if a]
        for j, o in enumerate(outs):
            if not o.flags.writeable:
                return None
            for k, v in enumerate(operands):
                # An output written over an operand: only element for element, and only when every step
                # reading the operand runs before (or is) the one writing the output.
                if kinds[k] and np.may_share_memory(o, v) and not (
                        _same_elements(o, v) and expr.last_read.get(k, -1) <= expr.write_step.get(j, -1)):
                    return None
        merged = _merged_shape(shape, arrays + outs)
        flat = [v.reshape(merged, copy=False) if a else v for v, a in zip(operands, kinds)]
        flat_outs = [o.reshape(merged, copy=False) for o in outs]
        rows, row = merged[0], math.prod(merged[1:])
        per_block = max(1, NATIVE_BLOCK_ELEMENTS * min(expr.scale, NATIVE_MAX_SCALE) // max(row, 1))
        try:
            kernels = expr.stage_kernels(len(merged), tuple(kinds))
            for fn in kernels:      # compiled for these argument types here, by an empty call (m = 0)
                if fn is not None:
                    fn(0, 0, *flat, *flat_outs, *self._slots_for(expr, (per_block, *merged[1:])))
        except Exception as e:      # numba refused the expression: the NumPy backend runs it from now on
            self.native, self.native_error = False, e
            return None
        starts = list(range(0, rows, per_block))
        workers = min(getattr(_here, "threads", None) or THREADS, len(starts),
                      max(1, math.prod(shape) // NATIVE_THREAD_ELEMENTS))
        key = (len(merged), tuple(kinds))
        steps = self._steps.get(key)
        if steps is None:
            steps = self._steps[key] = [kernels[step[1]] if step[0] == "loop" else _numpy_step(expr, step[1])
                                        for step in expr.steps]

        def work(k):
            slots = self._slots_for(expr, (per_block, *merged[1:]))
            args = (*flat, *flat_outs, *slots)
            # NOTE: [Native loop bounds] a kernel runs rows [lo, lo + m) of the inputs and outputs and
            # [0, m) of the slots: lo + m <= rows, m <= per_block, and the inner loops run over the
            # dimensions of o0, which every view shares (NumPy made them all of the merged shape).
            for lo in starts[k::workers]:
                m = min(per_block, rows - lo)
                for step in steps:
                    step(lo, m, *args)

        workers = self._choice.workers(workers, rows)
        start = time.perf_counter()
        _run_split(work, workers)
        self._choice.record(workers, rows, time.perf_counter() - start)
        for j, v in enumerate(self.graph.outputs):       # an output listed twice is written once
            first = self.graph.outputs.index(v)
            if first != j:
                outs[j][...] = outs[first]
        return outs

    def _slots_for(self, expr, shape):
        cache = getattr(self._scratch, "native", None)
        if cache is None or cache[0] != shape:
            cache = (shape, [np.empty(shape, d) for d in expr.slots])
            self._scratch.native = cache
        return cache[1]

def _run_split(work, workers: int) -> None:
    """work(0), ..., work(workers - 1), the first on this thread (one handoff fewer) and the others on the
    pool."""
    if workers <= 1:
        work(0)
        return
    futures = [_threads().submit(work, k) for k in range(1, workers)]
    try:
        work(0)
    finally:
        for f in futures:
            f.result()


class _ThreadChoice:
    """Whether a native evaluation splits its blocks among threads, decided by measured throughput.

    Threads pay for themselves only when the cores are free and the work per call outweighs the handoff;
    another process on the cores, or a call of a few hundred microseconds, makes them a loss. So the
    wall-clock time per row of each choice is measured, per size class (a power of two of the rows), the
    faster is taken, and the other is timed again every `PROBE` calls, so that a change of load is seen."""

    PROBE = 16

    def __init__(self):
        self._lock = threading.Lock()
        self._classes: dict[int, list] = {}       # size class -> [seconds per row with 1 thread, with n, calls]

    def workers(self, n: int, rows: int) -> int:
        if n <= 1:
            return n
        with self._lock:
            c = self._classes.setdefault(rows.bit_length(), [None, None, 0])
            c[2] += 1
            one, many, calls = c
        if many is None:
            return n
        if one is None:
            return 1
        best, other = (1, n) if one <= many else (n, 1)
        return other if calls % self.PROBE == 0 else best

    def record(self, workers: int, rows: int, seconds: float) -> None:
        c = self._classes.get(rows.bit_length())
        if c is not None and rows:
            with self._lock:
                c[0 if workers <= 1 else 1] = seconds / rows


def _broadcast_shape(inputs) -> tuple:
    """The shape the inputs broadcast to. In a loop body most calls are on operands of one shape (or
    scalars), which need no broadcasting rule, or of one rank with axes of length 1 (`z - z.max(axis=1,
    keepdims=True)`), and NumPy's `broadcast_shapes` costs as much as a small expression: so those cases
    are answered directly, and NumPy's rule (and its error) is asked for the others."""
    shape = _one_rank_shape(inputs)
    return shape if shape is not None else np.broadcast_shapes(*(np.shape(x) for x in inputs if x is not None))


def _one_rank_shape(inputs) -> tuple | None:
    """The broadcast shape of array operands of one rank whose lengths per axis are one length or 1 (numbers
    beside them), or None when that is not the case (other ranks, lengths that do not broadcast)."""
    shape = None
    for x in inputs:
        if isinstance(x, np.ndarray) and x.ndim:
            s = x.shape
            if shape is None or s == shape:
                shape = s
                continue
            if len(s) != len(shape):
                return None
            merged = []
            for a, b in zip(shape, s):
                if a != b and a != 1 and b != 1:
                    return None
                merged.append(b if a == 1 else a)
            shape = tuple(merged)
        elif not (x is None or isinstance(x, (np.ndarray, np.generic, int, float, complex, bool))):
            return None
    return shape if shape is not None else ()


def _numpy_step(expr, node):
    """``step(lo, m, *inputs, *outputs, *slots)``: `node` evaluated by its NumPy kernel on the block (exp,
    log, ...: NumPy's own SIMD loops, so the result is NumPy's bit for bit), into its output or slot."""
    opdef = get_op(node.op)
    _, operand_indices, attrs = bind(node)
    n_in, n_out = len(expr.in_kinds), expr.n_out
    offset = {"x": 0, "o": n_in, "b": n_in + n_out}
    sources = []              # per operand: (argument index, indexed by rows (True) or slot (False)) or a constant
    for j in operand_indices:
        v = node.inputs[j]
        if v.node is not None and "constant" in get_op(v.node.op).flags:
            sources.append(_Constant(v.node.attrs["value"]))
        else:
            where, k = expr.home[v]
            sources.append((offset[where] + k, where != "b"))
    where, k = expr.home[node.outputs[0]]
    dst, dst_rows = offset[where] + k, where != "b"
    template = opdef.templates.get("numpy")
    kernel = template or opdef.kernel
    takes_out = template is not None or opdef.takes_out

    def step(lo, m, *args):
        ops = []
        for source in sources:
            if isinstance(source, _Constant):
                ops.append(source.value)
                continue
            index, rows = source
            a = args[index]
            ops.append(a if not isinstance(a, np.ndarray) or a.ndim == 0 else a[lo:lo + m] if rows else a[:m])
        out = args[dst][lo:lo + m] if dst_rows else args[dst][:m]
        if takes_out:
            kernel(*ops, out=out, **attrs)
        else:
            out[...] = kernel(*ops, **attrs)

    return step


class _Constant:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _same_elements(a: np.ndarray, b: np.ndarray) -> bool:
    """`a` and `b` are the same elements in the same order (an output written over its own input)."""
    return (a.shape == b.shape and a.strides == b.strides
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def _merged_shape(shape, arrays) -> tuple[int, ...]:
    """`shape` with axes of length 1 dropped and adjacent axes merged wherever every array's strides chain
    (so a contiguous operand of any rank is one flat loop); each array reshapes to it without a copy."""
    axes = [d for d in range(len(shape)) if shape[d] != 1] or [len(shape) - 1]
    merged, last = [], None
    for d in axes:
        if merged and all(a.strides[last] == shape[d] * a.strides[d] for a in arrays):
            merged[-1] *= shape[d]
        else:
            merged.append(shape[d])
        last = d
    return tuple(merged)


_qualifies: "weakref.WeakKeyDictionary[Graph, bool]" = weakref.WeakKeyDictionary()


def runs_natively(node) -> bool:
    """Whether this `fused.elementwise` node will run on the native backend: the choice `__call__` makes from
    the backend setting, the size and the expression (before it sees the operands' run-time dtypes, which
    the IR's types already fix). The cost model asks it (bound in distjit/runtime/__init__.py)."""
    graph = node.attrs.get("graph")
    sizes = [v.type.size for v in node.outputs if getattr(v.type, "size", None) is not None]
    if graph is None or not sizes or max(sizes) < NUMBA_MIN_ELEMENTS or not _want_numba():
        return False
    if graph not in _qualifies:
        _qualifies[graph] = fused_native.expression(graph) is not None
    return _qualifies[graph]


def _want_numba() -> bool:
    if BACKEND == "numpy":
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


# ---- the numpy backend ------------------------------------------------------------------------------

def _compile_numpy(graph: Graph):
    """Source for ``body(ins, outs, bufs)``: each node writes into its scratch slot (or its output)."""
    glb = {"np": np, "_into": _into}
    names: dict[Value, str] = {}
    lines = ["def body(ins, outs, bufs):"]
    for i, v in enumerate(graph.inputs):
        names[v] = f"x{i}"
    if graph.inputs:
        lines.append(f"    {', '.join(names[v] for v in graph.inputs)}{',' if len(graph.inputs) == 1 else ''} = ins")
    out_index = {}
    for i, v in enumerate(graph.outputs):
        out_index.setdefault(v, i)
    dying_at = last_uses(graph.block)
    slot_of, slots = _slots(graph, out_index, dying_at)
    for i, node in enumerate(graph.block.nodes):
        out = node.outputs[0]
        name = names[out] = f"t{i}"
        opdef = get_op(node.op)
        if _is_constant(opdef):
            glb[f"c{i}"] = node.attrs["value"]
            lines.append(f"    {name} = c{i}")
            continue
        dst = f"outs[{out_index[out]}]" if out in out_index else f"bufs[{slot_of[out]}]"
        _, operand_indices, attrs = bind(node)
        args = [names[node.inputs[j]] for j in operand_indices]
        # The op's own kernel when it takes out=, else its declared out-taking template, else its kernel
        # with the result copied into the slot (a custom op's).
        template = opdef.templates.get("numpy")
        glb[f"k{i}"] = template or opdef.kernel
        extra = ""
        for key, value in attrs.items():
            glb[f"a{i}_{key}"] = value
            extra += f", {key}=a{i}_{key}"
        if template is not None or opdef.takes_out:
            call = f"k{i}({', '.join(args)}, out={dst}{extra})"
        else:
            call = f"_into(k{i}({', '.join(args)}{extra}), {dst})"
        lines.append(f"    {name} = {call}")
        # Whole-array mode allocates like eager NumPy: drop each temporary after its last read.
        dying = [names[v] for v in dying_at[node]]
        if dying:
            lines.append(f"    del {', '.join(dying)}")
    lines.append(f"    return [{', '.join(names[v] for v in graph.outputs)}]")
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<distjit-fused:{graph.name}>", "exec"), glb)
    return glb["body"], slots, source


def _slots(graph: Graph, out_index: dict, dying_at: dict) -> tuple[dict[Value, int], list[np.dtype]]:
    """A block-shaped buffer per temporary of the expression, shared by temporaries of one dtype whose
    lifetimes do not overlap (the execution core's slot sharing: a slot read for the last time by a node is
    free from the next one)."""
    nodes = graph.block.nodes
    position = {n: i for i, n in enumerate(nodes)}
    end = {v: position[n] for n in nodes for v in dying_at[n]}
    by_dtype: dict[np.dtype, list] = {}
    for i, node in enumerate(nodes):
        out = node.outputs[0]
        if out in out_index or _is_constant(get_op(node.op)):
            continue
        by_dtype.setdefault(out.type.dtype, []).append((i, end.get(out, i), out, 1))
    slot_of: dict[Value, int] = {}
    slots: list[np.dtype] = []
    for dtype, lives in by_dtype.items():
        of, sizes = share(lives)
        slot_of.update((v, len(slots) + s) for v, s in of.items())
        slots += [dtype] * len(sizes)
    return slot_of, slots


def _is_constant(opdef) -> bool:
    return "constant" in opdef.flags
