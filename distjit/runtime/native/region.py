"""A compiled region: called by the generated code in place of its loop, or None to run the loop with NumPy.

NOTE: [Bounds]
Native code must be memory-safe on any file that loads, and a loaded graph's indices
are data (`A[idx[i]]`, or arithmetic no verifier can bound). Every array access of a
region is therefore bounds-checked by numba (``boundscheck=True``): negative indices
wrap as in NumPy, and an index still out of range raises IndexError, which the
generated code reports as NumPy's does (an ExecutionError naming the loop's line).
Proving accesses in range from the loop bounds (affine ranges over verified shapes)
would remove checks that cost a compare and a predictable branch each; it is done only for
one-axis unit-stride elementwise loops and vector writes, whose proof unchecked.py checks on the
helper it compiles without checks (NOTE: [Unchecked loops]).
Loop bounds are values of the graph, and an out-of-range bound only makes an access
fail its check. What enters a region is checked against the IR's types first (an
array's dtype and rank, a Python int within int64), so numba never compiles for a type
the lowering did not assume; a value that fails the check runs the loop with NumPy.
Regions take no `out=` buffers: a loop whose results are planned into given buffers is
not a region (lower.py). tests/security/test_native_fuzz.py holds this to account: mutated
files of native loop nests, run in a child process, must return or raise a DistJitError.
"""
from __future__ import annotations

import time

import numpy as np

from distjit.ir.graph import Node
from distjit.types import ScalarType, TensorType
from distjit.runtime import native
from distjit.runtime.native import cache, numpy_loops
from distjit.runtime.native.lower import Lowered

_dispatchers: dict[str, tuple] = {}    # digest -> (numba dispatcher, cached on disk), for every graph here


class Region:
    """One region of a graph: its lowering, and once called, its dispatcher or the reason it fell back."""

    def __init__(self, node: Node, lowered: Lowered):
        self.node = node
        self.lowered = lowered
        self.digest = cache.key(lowered.source)
        self.fn = None
        self.failed: str | None = None
        self.compile_seconds = 0.0
        self.from_disk = False         # its code was loaded from the disk cache
        self.reused = False            # ... or compiled earlier in this process, for another graph's region
        self.cached = False            # it is cached on disk (else compiled in memory)
        self._signatures: set = set()
        self._layouts: set = set()     # _layout of the arguments of every signature compiled
        # an array the region only reads is passed read-only: then a caller's writable array and a Ray worker's
        # read-only one (from the object store) are one numba type, and one compiled (and cached) function
        self._in = [_converter(v.type, k not in lowered.written) for k, v in enumerate(lowered.inputs)]
        self._out = [_out_converter(v.type) for v in lowered.outputs]
        # the addresses of NumPy's loops it calls, in this process (NOTE: [NumPy loops in a region])
        self._extra = [numpy_loops.table(lowered.loops)] if lowered.loops else []

    def __call__(self, *args):
        results = self._run(args)
        if getattr(native._here, "log", None) is not None:       # an executor asked what its task ran
            native.record(f"{self.where()}: " + (self.status() if results is not None or self.failed is not None
                                                 else "fell back to NumPy: an input not of the lowered type"))
        return results

    def _run(self, args):
        if self.failed is not None:
            return None
        try:
            args = [conv(a) for conv, a in zip(self._in, args)] + self._extra
        except _NotNative:
            return None
        if self.fn is None and not self._build():
            return None
        if not self._ready(args):
            return None
        results = self.fn(*args)
        return tuple(conv(r) for conv, r in zip(self._out, results))

    def where(self) -> str:
        """The loop this region runs, as explain() names it."""
        outs = ", ".join("%" + v.name for v in self.node.outputs) or "(no results)"
        return f"loop {outs}" + (f" at {self.node.loc}" if self.node.loc is not None else "")

    def _build(self) -> bool:
        found = _dispatchers.get(self.digest)
        if found is None:
            try:
                module = cache.load(self.lowered.source, self.digest)
                fn = module.region if module is not None else cache.uncached(self.lowered.source, self.digest)["region"]
            except Exception as e:                  # noqa: BLE001 - numba refuses the source: run with NumPy
                self.failed = _reason(e)
                return False
            found = _dispatchers[self.digest] = (fn, module is not None)
        self.fn, self.cached = found
        return True

    def _ready(self, args) -> bool:
        import numba

        # what numba's type of each argument depends on, read in a fraction of numba.typeof's time: a region is
        # called once per loop run, and typing every argument again would cost more than a small loop's work
        layout = tuple(_layout(a) for a in args)
        if layout in self._layouts:
            return True
        signature = tuple(numba.typeof(a) for a in args)
        if signature in self._signatures:
            self._layouts.add(layout)
            return True
        if signature in self.fn.overloads:          # another region of the same source compiled it here
            self.reused = not self._signatures
            self._signatures.add(signature)
            self._layouts.add(layout)
            return True
        start = time.perf_counter()
        hits = sum(self.fn.stats.cache_hits.values())
        try:
            self.fn.compile(signature)
        except Exception as e:                      # noqa: BLE001 - a type numba refuses: run with NumPy
            self.failed = _reason(e)
            return False
        self.compile_seconds += time.perf_counter() - start
        self.from_disk = sum(self.fn.stats.cache_hits.values()) > hits
        self.reused = False
        self._signatures.add(signature)
        self._layouts.add(layout)
        return True

    def status(self) -> str:
        if self.failed is not None:
            return f"fell back to NumPy: numba could not compile it: {self.failed}"
        if self.fn is None or not self._signatures:
            return "native (compiles on its first call)"
        kept = f", file r{self.digest[:12]}" if self.cached else ""     # which file of <cache>/native holds it
        if self.reused:
            return f"native (compiled earlier in this process{kept})"
        how = "loaded from the disk cache" if self.from_disk else "compiled" + ("" if self.cached else ", not cached")
        return f"native ({how} in {self.compile_seconds * 1e3:.0f} ms{kept})"


def _layout(a):
    """The facts of a converted argument numba's type of it depends on (an array's dtype, rank, contiguity,
    writability, alignment; else the Python type)."""
    if type(a) is np.ndarray:
        f = a.flags
        return (a.dtype.str, a.ndim, f.c_contiguous, f.f_contiguous, f.writeable, f.aligned)
    return type(a)


class _NotNative(Exception):
    pass


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


def _converter(t, read_only: bool = False):
    """The check and conversion of one input: the lowering's assumption about its type, or _NotNative; an array
    the region only reads (`read_only`) becomes a read-only view of itself."""
    if isinstance(t, ScalarType):
        if t.kind == "int":
            def conv(a):
                if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)) or not -2**63 <= a < 2**63:
                    raise _NotNative
                return int(a)
            return conv
        if t.kind == "float":
            return lambda a: float(a) if isinstance(a, (float, int, np.floating, np.integer)) else _refuse()
        if t.kind == "complex":
            return lambda a: complex(a) if isinstance(a, (complex, float, int, np.number)) and \
                not isinstance(a, (bool, np.bool_)) else _refuse()
        return lambda a: bool(a) if isinstance(a, (bool, np.bool_)) else _refuse()
    scalar = t.dtype.type
    if t.ndim == 0:
        return lambda a: scalar(a) if np.ndim(a) == 0 and np.asarray(a).dtype == t.dtype else _refuse()
    dtype, ndim = t.dtype, t.ndim

    def array(a):
        if type(a) is not np.ndarray or a.dtype != dtype or a.ndim != ndim:
            raise _NotNative
        if read_only and a.flags.writeable:
            a = a.view()
            a.flags.writeable = False
        return a
    return array


def _refuse():
    raise _NotNative


def _out_converter(t):
    if isinstance(t, ScalarType):
        return {"int": int, "float": float, "bool": bool, "complex": complex}[t.kind]
    if t.ndim == 0:
        return t.dtype.type
    return lambda a: a
