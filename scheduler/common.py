"""What both executors share: reading a Plan's sources and assembling its outputs."""
from __future__ import annotations

import ctypes
import threading
from contextlib import contextmanager
from typing import Any, Callable

import numpy as np

from distjit.partition.plan import Plan, Source


def arg_part(plan: Plan, leaves: list, source: Source) -> Any:
    """The call argument a source names: the whole leaf, or a view of one shard of it."""
    x = leaves[source.index]
    layout = plan.inputs[source.index]
    if source.shard is None or layout.axis is None:
        return x
    start, stop = layout.bounds[source.shard]
    return x[(slice(None),) * layout.axis + (slice(start, stop),)]


def consumers(plan: Plan) -> dict[tuple[int, int], int]:
    """How many times each task output is read (by tasks and by the plan's outputs)."""
    counts: dict[tuple[int, int], int] = {}
    for t in plan.tasks:
        for s in t.inputs:
            if s.kind == "task":
                counts[(s.index, s.output)] = counts.get((s.index, s.output), 0) + 1
    for o in plan.outputs:
        for s in o.sources:
            if s.kind == "task":
                counts[(s.index, s.output)] = counts.get((s.index, s.output), 0) + 1
    return counts


def assemble(outputs: list, fetch: Callable[[Source], Any], pool=None) -> list:
    """The values of a Plan's `outputs`: one each, split outputs concatenated along their axis.

    With `pool` (a concurrent.futures executor), the parts of big split outputs are
    copied into one preallocated array by the pool's threads in parallel (NumPy's copy
    releases the GIL): the same result as np.concatenate, one copy, spread over cores.
    """
    outs, copies = [], []
    for o in outputs:
        parts = [fetch(s) for s in o.sources]
        if o.axis is None:
            outs.append(parts[0])
        elif pool is not None and len(parts) > 1 and _same_kind(parts, o.axis) \
                and sum(p.nbytes for p in parts) >= PARALLEL_COPY_BYTES:
            dest, slices = concat_buffer([p.shape for p in parts], parts[0].dtype, o.axis)
            copies += [pool.submit(np.copyto, dest[sl], p) for sl, p in zip(slices, parts)]
            outs.append(dest)
        else:
            outs.append(np.concatenate(parts, axis=o.axis))
    for c in copies:
        c.result()
    return outs


PARALLEL_COPY_BYTES = 1 << 22


def _same_kind(parts: list, axis: int) -> bool:
    first = parts[0]
    return all(isinstance(p, np.ndarray) and p.dtype == first.dtype and p.ndim == first.ndim and p.ndim > axis
               and p.shape[:axis] == first.shape[:axis] and p.shape[axis + 1:] == first.shape[axis + 1:]
               for p in parts)


def concat_buffer(shapes: list, dtype, axis: int, empty=np.empty):
    """An empty array (made by `empty(shape, dtype)`) that np.concatenate of parts of these shapes along
    `axis` would return, and the index of each part in it."""
    shape = list(shapes[0])
    shape[axis] = sum(s[axis] for s in shapes)
    dest = empty(tuple(shape), dtype)
    slices, start = [], 0
    for s in shapes:
        slices.append((slice(None),) * axis + (slice(start, start + s[axis]),))
        start += s[axis]
    return dest, slices


# -- BLAS threads ----------------------------------------------------------------------------------------------
# N tasks at once in one process, each calling a BLAS that starts its own threads on every core, oversubscribe
# the cores (2 tasks x 2 OpenBLAS threads on 2 cores ran the k-means step 2.7x slower). OpenBLAS's thread count
# is process-wide (its "_local" setter is too, in practice), so an executor lowers it for the duration of a run.

_blas_lock = threading.Lock()
_blas_state = {"lib": None, "users": 0, "saved": None}


def _openblas():
    if _blas_state["lib"] is None:
        _blas_state["lib"] = False
        try:
            with open("/proc/self/maps") as f:
                paths = sorted({line.split()[-1] for line in f
                                if "openblas" in line.lower() and line.split()[-1].startswith("/")})
        except OSError:
            paths = []
        for path in paths:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for prefix in ("scipy_openblas", "openblas"):
                for suffix in ("64_", ""):        # the C functions (int by value)
                    get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                    put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        _blas_state["lib"] = (get, put)
                        return _blas_state["lib"]
    return _blas_state["lib"]


@contextmanager
def blas_threads(n: int):
    """OpenBLAS uses at most `n` threads inside the block (nested and concurrent blocks: the first sets, the
    last restores). A no-op where OpenBLAS is not found (another BLAS, or no /proc)."""
    lib = _openblas()
    if not lib:
        yield
        return
    get, put = lib
    with _blas_lock:
        if _blas_state["users"] == 0:
            _blas_state["saved"] = int(get())
            if n < _blas_state["saved"]:
                put(n)
        _blas_state["users"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_state["users"] -= 1
            if _blas_state["users"] == 0 and _blas_state["saved"] is not None:
                if int(get()) != _blas_state["saved"]:
                    put(_blas_state["saved"])
                _blas_state["saved"] = None
