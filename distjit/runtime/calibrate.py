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
    # at least the sane floor: on a busy machine exp's time less its per-element part can be about nothing
    v["flop_s"] = max(max(t_exp - n * v["elem_s"], 1e-12 * n) / max(flops - n, 1.0), 1e-12)

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
    v.update(_native_loop_rates())
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
    """The fused evaluator's streaming rate on `a * b + a` through its NumPy backend (its inner work at
    in-cache rates taken out), and through the native backend, which every fused region that qualifies takes
    (at every level: fused_eval.runs_natively, what the cost model asks), when numba is importable."""
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
    kernel = fused_eval.FusedKernel(g)
    t = _seconds(lambda: kernel.numpy((A, B)))
    fused = nbytes / max(t - inner, 0.25 * t)
    native = {"native_bytes_s": fused, "native_flop_s": v["flop_s"], "native": 0}
    if fused_eval._want_numba():
        try:
            t = _seconds(lambda: kernel((A, B)))
            if kernel.native:                   # it ran on the native backend (else numba refused it here)
                native.update(native_bytes_s=nbytes / t, native=1)
        except Exception:       # numba present but unable to compile here: costed as the NumPy evaluator
            pass
    return fused, native


# A scalar loop nest as users write one (a Gauss-Seidel-like sweep with A[i, j] updates), in the text IR:
# the native backend's per-op rate is measured on it. `{dims}` are the array's dims.
_SWEEP = """graph calibrate_sweep(%A: f64[{dims}]) {{
  %0: int = prim.DimSize(%A) {{axis=0}}
  %2: int = prim.Constant() {{value=1}}
  %3: int = py.sub(%0, %2)
  %182: int = prim.Constant() {{value=0}}
  %184: bool = prim.Constant() {{value=True}}
  %i.187: int, %j.188: int, %189: f64[{dims}] = prim.Loop(%3, %184, %182, %182, %A)
    block(%i.120: int, %i.121: int, %j.122: int, %123: f64[{dims}]) {{
      %124: int = py.add(%2, %i.120)
      %126: int = prim.DimSize(%123) {{axis=1}}
      %127: int = py.sub(%126, %2)
      %j.177: int, %178: f64[{dims}] = prim.Loop(%127, %184, %j.122, %123)
        block(%i.159: int, %j.160: int, %161: f64[{dims}]) {{
          %162: int = py.add(%2, %i.159)
          %163: int = py.sub(%124, %2)
          %164: f64[] = array.getitem(%161, %163, %162) {{index=(ref(1), ref(2))}}
          %165: int = py.sub(%162, %2)
          %166: f64[] = array.getitem(%161, %124, %165) {{index=(ref(1), ref(2))}}
          %167: f64[] = np.add(%164, %166)
          %168: float = prim.Constant() {{value=0.5}}
          %169: f64[] = np.multiply(%168, %167)
          %170: f64[] = array.getitem(%161, %124, %162) {{index=(ref(1), ref(2))}}
          %171: float = prim.Constant() {{value=0.25}}
          %172: f64[] = np.multiply(%171, %170)
          %173: f64[] = np.subtract(%169, %172)
          %174: f64[{dims}] = array.setitem(%161, %173, %124, %162) {{index=(ref(2), ref(3))}}
          -> (%184, %162, %174)
        }}
      -> (%184, %124, %j.177, %178)
    }}
  return (%189)
}}
"""
_SWEEP_N = 200


def _native_loop_rates() -> dict:
    """`native_op_s` and `native_call_s`: a compiled loop nest's time per scalar op per iteration, counted as
    the cost model counts them (NOTE: [How a loop is costed]), and the time of one call of it; {} when the
    backend is off or does not compile it here (the reference numbers stay)."""
    from dataclasses import replace

    from distjit.ir.graph import Graph
    from distjit.partition.calibration import REFERENCE
    from distjit.partition.cost import CostModel
    from distjit.runtime import native
    from distjit.runtime.executor import compile_graph

    if not native.enabled():
        return {}
    try:
        counted = Graph.parse(_SWEEP.format(dims=f"{_SWEEP_N},{_SWEEP_N}"))     # static: trip counts known
        run = Graph.parse(_SWEEP.format(dims="?A_0,?A_1"))                       # runs on any size
        loop = next(n for n in run.block.nodes if n.op == "prim.Loop")
        program = compile_graph(run)
        big, tiny = np.random.default_rng(1).random((_SWEEP_N, _SWEEP_N)), np.ones((2, 2))
        program.fn(tiny)
        region = native.region_for(run, loop)
        if region is None or region.fn is None or region.failed is not None:
            return {}
        t_call = _seconds(lambda: program.fn(tiny))
        t_big = _seconds(lambda: program.fn(big))
    except Exception:           # noqa: BLE001 - numba unable to compile here: the reference numbers stay
        return {}
    units = CostModel(replace(REFERENCE, native=1, native_op_s=1.0, native_call_s=0.0, native_flop_s=0.0,
                              native_bytes_s=1e16))
    ops = units.node_seconds(next(n for n in counted.block.nodes if n.op == "prim.Loop"))
    return {"native_call_s": t_call, "native_op_s": max(t_big - t_call, 1e-12) / max(ops, 1.0)}


calibration.set_measure(measure)
