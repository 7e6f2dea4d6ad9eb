"""How many threads OpenBLAS uses: lowered while tasks run side by side, and to one while calibrating.

It lives in the runtime (not the scheduler) because the cost model's calibration, which
the partitioner runs, measures single-thread BLAS throughput too.
"""
from __future__ import annotations

import ctypes
import threading
from contextlib import contextmanager

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
