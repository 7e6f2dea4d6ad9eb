"""Measuring this machine for the cost model (distjit/partition/calibration.py holds the numbers and the cache).

Every rate is the registry's own estimate (`OpDef.cost`) of a real kernel call divided by
its time, one thread (BLAS and the fused evaluator held to one), in rounds of a few
milliseconds. Importing this module registers `measure` with the partitioner.
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np

from distjit.runtime import fused_eval
from distjit.partition import calibration
from distjit.partition.calibration import Calibration, from_values


def _seconds(fn, rounds: int = 3, round_s: float = 0.004) -> float:
    """Median seconds of one call over `rounds` rounds, each repeating the call for at least `round_s`.

    Rounds of a few milliseconds, not single fast calls: on a busy machine a call shorter than
    the scheduler's time slice runs at full speed, while real work shares the core."""
    fn()
    times = []
    for _ in range(rounds):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= round_s:
                break
        times.append(elapsed / n)
    return statistics.median(times)


def _cost(op: str, args: list, attrs: dict | None = None):
    """The registry's (flops, bytes) for `op` on these arrays, and a call of its kernel."""
    from distjit.core.apply import call
    from distjit.ops import get_op
    from distjit.types import type_of

    opdef = get_op(op)
    kernel_attrs = dict(attrs or {})
    result = call(opdef, args, kernel_attrs)
    outs = result if isinstance(result, tuple) else (result,)
    c = opdef.estimate([type_of(a) for a in args], [type_of(o) for o in outs], {**opdef.attr_defaults, **kernel_attrs})
    return c.flops, c.bytes, lambda: call(opdef, args, kernel_attrs)


def measure() -> Calibration:
    """Time real kernels on one thread (BLAS and the fused evaluator held to one thread too)."""
    from distjit.runtime.blas import blas_threads
    from distjit.runtime.fused_eval import limit_threads

    with blas_threads(1), limit_threads(1):
        return _measure()


def _measure() -> Calibration:
    rng = np.random.default_rng(0)
    v = {}
    tiny = np.ones(4)
    v["call_s"] = _seconds(lambda: np.add(tiny, tiny))

    n = 1 << 14                                       # three operands in L2
    a, b, o = rng.random(n) + 1.0, rng.random(n) + 1.0, np.empty(n)
    t_add = _seconds(lambda: np.add(a, b, out=o)) - v["call_s"]
    v["elem_s"] = max(t_add, 1e-12 * n) / n
    flops, _, _ = _cost("np.exp", [a])
    t_exp = _seconds(lambda: np.exp(a, out=o)) - v["call_s"]
    v["flop_s"] = max(t_exp - n * v["elem_s"], 1e-12 * n) / max(flops - n, 1.0)

    big = 1 << 21                                     # 16 MiB per operand: beyond the caches
    A, B, O = rng.random(big), rng.random(big), np.empty(big)
    _, nbytes, _ = _cost("np.add", [A, B])
    v["memory_bytes_s"] = nbytes / _seconds(lambda: np.add(A, B, out=O))
    v["shared_bytes_s"] = max(_shared_bandwidth(nbytes), v["memory_bytes_s"])
    X = A.reshape(-1, 16)
    _, nbytes, run = _cost("np.sum", [X], {"axis": 0})
    v["reduce_bytes_s"] = nbytes / _seconds(run)
    v["copy_bytes_s"] = A.nbytes / _seconds(lambda: np.copyto(O, A))          # bytes written, as _data_cost counts
    T, OT = A.reshape(1024, -1), O.reshape(-1, 1024)
    v["transpose_bytes_s"] = A.nbytes / _seconds(lambda: np.copyto(OT, T.T))

    for dtype in (np.float64, np.float32):      # a layer's shape: tall activations times a weight matrix
        M, W = rng.random((1024, 256)).astype(dtype), rng.random((256, 256)).astype(dtype)
        flops, _, run = _cost("np.matmul", [M, W])
        v[f"matmul_{np.dtype(dtype).name[0]}{np.dtype(dtype).itemsize * 8}_flops_s"] = flops / _seconds(run)

    v["fused_bytes_s"], native = _fused_rates(A, B, v)
    v["fused_block_elements"] = fused_eval.BLOCK_ELEMENTS
    v.update(native)
    v["cores"] = os.cpu_count() or 1
    return from_values(v, "measured")


def _shared_bandwidth(nbytes: float) -> float:
    """Bytes per second of one np.add per core, all at once (NumPy releases the GIL in its loops)."""
    import threading

    cores = os.cpu_count() or 1
    if cores == 1:
        return 0.0
    arrays = [(np.ones(1 << 21), np.ones(1 << 21), np.empty(1 << 21)) for _ in range(cores)]
    start = threading.Barrier(cores + 1)
    counts = [0] * cores
    stop = []

    def stream(k):
        a, b, o = arrays[k]
        start.wait()
        while not stop:
            np.add(a, b, out=o)
            counts[k] += 1

    threads = [threading.Thread(target=stream, args=(k,), daemon=True) for k in range(cores)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    time.sleep(0.03)
    stop.append(True)
    for t in threads:
        t.join()
    return sum(counts) * nbytes / (time.perf_counter() - t0)


def _fused_rates(A, B, v: dict):
    """The fused evaluator's streaming rate on `a * b + a` (its inner work at in-cache rates taken out), and
    the native backend's when numba is importable (else it is costed as the fused evaluator is)."""
    from distjit.ir.builder import Builder
    from distjit.ir.graph import Graph, Value
    from distjit.types import type_of

    g = Graph("calibrate")
    x, y = (Value(name, type_of(A), block=g.block) for name in ("x", "y"))
    g.block.params.extend([x, y])
    b = Builder(g.block)
    (m,) = b.op("np.multiply", [x, y], {})
    (s,) = b.op("np.add", [m, x], {})
    g.add_output(s)
    flops, nbytes, _ = _cost("fused.elementwise", [A, B], {"graph": g})
    inner = A.size * 2 * v["elem_s"]
    t = _seconds(lambda: fused_eval.evaluate(A, B, graph=g))
    fused = nbytes / max(t - inner, 0.25 * t)
    native = {"native_bytes_s": fused, "native_flop_s": v["flop_s"], "native": 0}
    if fused_eval._want_numba():
        try:
            t = _seconds(lambda: fused_eval.evaluate(A, B, graph=g, exact=False))
            native.update(native_bytes_s=nbytes / t, native=1)
        except Exception:       # numba present but unable to compile here: costed as the NumPy evaluator
            pass
    return fused, native


calibration.set_measure(measure)
