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
- ``numba`` (optional, the ``fast`` extra; only for nodes with ``exact=False``,
  which level 3 makes): one parallel loop over the elements,
  every intermediate in registers. Used for float64 expressions of ops that
  declare a numba template (`OpDef.templates["numba"]`), when every array input has shape S and the output has at least
  `NUMBA_MIN_ELEMENTS` elements; transcendental functions may differ from NumPy's
  in the last bit (level 2 allows that inside fused nodes). Compiled on first use,
  cached per expression text.

`DISTJIT_FUSED_BACKEND` = ``numpy`` | ``numba`` | ``auto`` (default: numba when
importable) and `DISTJIT_THREADS` choose at run time; the IR does not change.
"""
from __future__ import annotations

import math
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

from distjit.ir.graph import Graph, Node, Value
from distjit.types import TensorType
from distjit.core.apply import bind
from distjit.core.buffers import share
from distjit.core.liveness import last_uses
from distjit.ops import get_op

BLOCK_ELEMENTS = 1 << 16
SMALL_ELEMENTS = 1 << 16          # below this, one whole-array evaluation
NUMBA_MIN_ELEMENTS = 1 << 16
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
    kernel = _kernels.get(graph)
    if kernel is None:
        kernel = _kernels[graph] = FusedKernel(graph)
    results = kernel(inputs, out, exact)
    return results[0] if len(results) == 1 else tuple(results)


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
        self.numba = None        # compiled lazily; False when not applicable
        self._scratch = threading.local()

    def __call__(self, inputs, out=None, exact=True):
        shape = np.broadcast_shapes(*(np.shape(x) for x in inputs if x is not None))
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
        if not exact and size >= NUMBA_MIN_ELEMENTS and _want_numba():
            fn = self._numba(inputs, shape)
            if fn is not None and all(o is None or o.flags.c_contiguous and o.flags.writeable for o in outs):
                outs = [o if o is not None else np.empty(shape, d) for o, d in zip(outs, self.dtypes)]
                # NOTE: [Native loop bounds] the loop runs over `size`, the inputs' checked broadcast
                # shape; every array it indexes has exactly that many elements (numba checks no bounds).
                fn(size, *[x.reshape(-1) if isinstance(x, np.ndarray) and x.ndim else x for x in inputs],
                   *[o.reshape(-1) for o in outs])
                return outs
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

        if workers <= 1:
            work(0)
        else:
            for f in [_threads().submit(work, k) for k in range(workers)]:
                f.result()
        return outs

    def _buffers(self, shape):
        cache = getattr(self._scratch, "bufs", None)
        if cache is None or cache[0] != shape:
            cache = (shape, [np.empty(shape, d) for d in self.slots])
            self._scratch.bufs = cache
        return cache[1]

    def _numba(self, inputs, shape):
        if self.numba is False:
            return None
        for x in inputs:
            if isinstance(x, np.ndarray) and x.ndim and (x.shape != shape or not x.flags.c_contiguous
                                                          or x.dtype != np.float64):
                return None
            if isinstance(x, np.ndarray) and x.ndim == 0 or isinstance(x, np.generic):
                return None
        if self.numba is None:
            self.numba = _compile_numba(self.graph) or False
        return self.numba or None


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


# ---- the numba backend ------------------------------------------------------------------------------

_numba_cache: dict[str, object] = {}


def _is_constant(opdef) -> bool:
    return "constant" in opdef.flags


def _numba_template(node: Node) -> str | None:
    """The op's expression of one element for the numba backend (`OpDef.templates["numba"]`), or None."""
    return get_op(node.op).templates.get("numba")


def _numba_ok(graph: Graph) -> bool:
    def ok_type(t):
        return isinstance(t, TensorType) and t.dtype in (np.dtype(np.float64), np.dtype(np.bool_))

    for v in graph.inputs:
        if not (ok_type(v.type) or str(v.type) in ("float", "int")):
            return False
    for node in graph.block.nodes:
        if _is_constant(get_op(node.op)):
            if type(node.attrs["value"]) not in (float, int):
                return False
            continue
        if _numba_template(node) is None or explicit_dtype(node) or not ok_type(node.outputs[0].type):
            return False
    return all(v.type.dtype == np.float64 for v in graph.outputs)


def explicit_dtype(node: Node) -> bool:
    return node.attrs.get("dtype") is not None


def _compile_numba(graph: Graph):
    """A numba-compiled ``fn(n, *flat_inputs, *flat_outputs)`` looping over n elements (NOTE: [Native loop
    bounds]: the caller passes n from the inputs' shape and arrays of exactly n elements), or None when the
    expression does not qualify."""
    if not _numba_ok(graph):
        return None
    names: dict[Value, str] = {}
    arrays = []
    for i, v in enumerate(graph.inputs):
        names[v] = f"x{i}[i]" if isinstance(v.type, TensorType) and v.type.ndim else f"x{i}"
        arrays.append(f"x{i}")
    body = []
    for k, node in enumerate(graph.block.nodes):
        out = node.outputs[0]
        if _is_constant(get_op(node.op)):
            names[out] = repr(node.attrs["value"]) if math.isfinite(node.attrs["value"]) else f"float('{node.attrs['value']}')"
            continue
        expr = _numba_template(node).format(*[names[v] for v in node.inputs])
        body.append(f"        t{k} = {expr}")
        names[out] = f"t{k}"
    outs = [f"o{j}" for j in range(len(graph.outputs))]
    for j, v in enumerate(graph.outputs):
        body.append(f"        o{j}[i] = {names[v]}")
    params = ", ".join(["n"] + arrays + outs)
    source = (f"def fused({params}):\n    for i in numba.prange(n):\n" + "\n".join(body) + "\n")
    fn = _numba_cache.get(source)
    if fn is None:
        import numba

        glb = {"math": math, "numba": numba, "_nmax": _numba_helpers()[0], "_nmin": _numba_helpers()[1]}
        exec(compile(source, "<distjit-fused-numba>", "exec"), glb)
        fn = _numba_cache[source] = numba.njit(parallel=True, error_model="numpy", cache=False)(glb["fused"])
    return fn


_helpers = None


def _numba_helpers():
    global _helpers
    if _helpers is None:
        import numba

        @numba.njit(inline="always")
        def nmax(a, b):
            return a if (a >= b or a != a) else b

        @numba.njit(inline="always")
        def nmin(a, b):
            return a if (a <= b or a != a) else b

        _helpers = (nmax, nmin)
    return _helpers
