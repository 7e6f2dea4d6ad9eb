"""Timing and memory helpers, and the per-process measurement of one workload.

`measure_workload` runs in a fresh child process (one per workload per
environment, started by `python -m bench`) and returns a JSON-able dict:

* time: eager NumPy and the traced Function run in the same process, alternating
  (the order flips every round so neither side always runs on a just-freed heap),
  after one warm-up call each; a sample is `inner` back-to-back calls divided by
  `inner`; gc is off while a sample runs (as in `timeit`), and the result is
  released only after the clock stops.
* memory: in separate, untimed calls under tracemalloc (NumPy reports its data
  allocations to tracemalloc): the peak of traced memory during one call minus
  the traced memory just before it. The Function's first call is measured for
  array memory it keeps after returning (a buffer pool or cache would show up
  there as "held"); its second call gives the peak.
* match: eager and distjit outputs compared with np.array_equal ("bitwise") or
  else the largest elementwise relative difference.
"""
from __future__ import annotations

import gc
import os
import platform
import sys
import time
import tracemalloc
import traceback
from statistics import median
from typing import Any, Callable, Sequence

import numpy as np

try:
    import resource
except ImportError:   # not on Windows
    resource = None

NUMPY_TRACE_DOMAIN = 389047   # NPY_TRACE_DOMAIN: the tracemalloc domain of NumPy's data buffers


# -- timing ---------------------------------------------------------------------------------------------

def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource else 0


def time_calls(fn: Callable, args: Sequence, inner: int, faults: list | None = None) -> float:
    """Seconds per call over `inner` back-to-back calls, gc off, results released after the clock stops.

    When `faults` is a list, the minor page faults per call are appended to it (touching fresh
    pages that the allocator got from the OS is what makes eager NumPy's times bimodal)."""
    results = [None] * inner
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        faults0 = _minor_faults()
        start = time.perf_counter()
        for i in range(inner):
            results[i] = fn(*args)
        elapsed = time.perf_counter() - start
        faults1 = _minor_faults()
    finally:
        if was_enabled:
            gc.enable()
    del results
    if faults is not None:
        faults.append((faults1 - faults0) / inner)
    return elapsed / inner


def time_alternating(fns: dict[str, Callable], args: Sequence, repeat: int, inner: int = 1,
                     warmup: int = 1) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per-call seconds of each function, `repeat` samples each, interleaved (ABBA order);
    and the minor page faults per call of each sample."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            time_calls(fns[name], args, inner)
    samples: dict[str, list[float]] = {name: [] for name in names}
    faults: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeat):
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            samples[name].append(time_calls(fns[name], args, inner, faults[name]))
    return samples, faults


def summarize(samples: list[float]) -> dict[str, float]:
    return {"median": median(samples), "min": min(samples), "max": max(samples), "n": len(samples)}


# -- memory ---------------------------------------------------------------------------------------------

def peak_extra(fn: Callable, args: Sequence) -> tuple[int, Any]:
    """(peak traced bytes above the level before the call, the call's result). tracemalloc must be on."""
    gc.collect()
    tracemalloc.reset_peak()
    before, _ = tracemalloc.get_traced_memory()
    result = fn(*args)
    _, peak = tracemalloc.get_traced_memory()
    return peak - before, result


def numpy_bytes(snapshot: tracemalloc.Snapshot) -> int:
    traces = snapshot.filter_traces([tracemalloc.DomainFilter(True, NUMPY_TRACE_DOMAIN)])
    return sum(stat.size for stat in traces.statistics("filename"))


def held_after_first_call(fn: Callable, args: Sequence) -> int:
    """NumPy array bytes still allocated after a first call whose result was dropped (state kept by `fn`)."""
    gc.collect()
    before = numpy_bytes(tracemalloc.take_snapshot())
    result = fn(*args)
    del result
    gc.collect()
    after = numpy_bytes(tracemalloc.take_snapshot())
    return after - before


# -- correctness ----------------------------------------------------------------------------------------

def _leaves(x) -> list:
    if isinstance(x, (tuple, list)):
        return [leaf for item in x for leaf in _leaves(item)]
    if isinstance(x, dict):
        return [leaf for key in sorted(x) for leaf in _leaves(x[key])]
    return [x]


def compare(eager, got) -> dict[str, Any]:
    """{"bitwise": bool, "max_rel": float | None, "text": str} comparing distjit's output with eager's."""
    a_leaves, b_leaves = _leaves(eager), _leaves(got)
    if len(a_leaves) != len(b_leaves):
        return {"bitwise": False, "max_rel": None, "text": f"{len(b_leaves)} outputs, expected {len(a_leaves)}"}
    worst = 0.0
    problems = []
    for i, (a, b) in enumerate(zip(a_leaves, b_leaves)):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            problems.append(f"out{i}: {b.dtype}{list(b.shape)} vs {a.dtype}{list(a.shape)}")
            continue
        if np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
            continue
        if a.dtype.kind in "fc":
            if not np.array_equal(np.isnan(a), np.isnan(b)):
                problems.append(f"out{i}: NaNs differ")
            with np.errstate(all="ignore"):
                diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
                denom = np.maximum(np.abs(a.astype(np.float64)), np.finfo(np.float64).tiny)
                rel = np.where(np.isnan(diff), 0.0, diff / denom)
            worst = max(worst, float(rel.max()) if rel.size else 0.0)
        else:
            problems.append(f"out{i}: {int(np.count_nonzero(a != b))} of {a.size} differ")
    if problems:
        return {"bitwise": False, "max_rel": worst or None, "text": "; ".join(problems)}
    if worst == 0.0:
        return {"bitwise": True, "max_rel": 0.0, "text": "bitwise"}
    return {"bitwise": False, "max_rel": worst, "text": f"rel {worst:.1e}"}


# -- machine facts -------------------------------------------------------------------------------------

def machine_facts() -> dict[str, Any]:
    import distjit

    facts: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "distjit": getattr(distjit, "__version__", "?"),
        "cpu_count": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
    }
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        facts["blas"] = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:
        facts["blas"] = "?"
    try:
        import psutil
        facts["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:
        pass
    return facts


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


# -- one workload, in this process ---------------------------------------------------------------------

def _error(stage: str, e: BaseException) -> str:
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{stage}: {type(e).__name__}: {first}"[:300]


def measure_workload(name: str, quick: bool = False, repeat: int | None = None) -> dict[str, Any]:
    import distjit
    from bench.workloads import WORKLOADS

    wl = WORKLOADS[name]
    n_repeat = repeat if repeat is not None else (wl.quick_repeat if quick else wl.repeat)
    inner = wl.quick_inner if quick else wl.inner
    out: dict[str, Any] = {"name": name, "quick": quick, "repeat": n_repeat, "inner": inner,
                           "malloc_env": {k: os.environ.get(k) for k in ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_")},
                           "errors": []}
    args = wl.make(quick)
    out["input_mb"] = sum(a.nbytes for a in args if isinstance(a, np.ndarray)) / 2**20

    # Trace once, outside any timing.
    compiled = None
    try:
        t0 = time.perf_counter()
        compiled = distjit.trace(wl.fn, args)
        out["trace_s"] = time.perf_counter() - t0
        out["nodes"] = compiled.graph.node_count()
    except Exception as e:
        out["errors"].append(_error("trace", e))
        out["traceback"] = traceback.format_exc()

    # Memory (untimed). The Function's first call also compiles it; its second call gives the peak.
    tracemalloc.start()
    try:
        out["mem_eager"], eager_result = peak_extra(wl.fn, args)
        if compiled is not None:
            try:
                out["held_distjit"] = held_after_first_call(compiled, args)
                out["mem_distjit"], distjit_result = peak_extra(compiled, args)
                out["match"] = compare(eager_result, distjit_result)
                del distjit_result
            except Exception as e:
                out["errors"].append(_error("call", e))
                out["traceback"] = traceback.format_exc()
                compiled = None
        del eager_result
    finally:
        tracemalloc.stop()
    gc.collect()

    # Time: alternating, warm-up 1, median of n_repeat.
    fns = {"eager": wl.fn}
    if compiled is not None:
        fns["distjit"] = compiled
    try:
        samples, faults = time_alternating(fns, args, n_repeat, inner=inner, warmup=1)
    except Exception as e:   # distjit failing on a later call: keep eager's numbers
        out["errors"].append(_error("timing", e))
        samples, faults = time_alternating({"eager": wl.fn}, args, n_repeat, inner=inner, warmup=1)
    for key, values in samples.items():
        out[f"time_{key}"] = summarize(values)
        out[f"samples_{key}"] = values
        out[f"faults_{key}"] = median(faults[key])
    if wl.variants and compiled is not None:
        out["variants"] = measure_variants(wl.fn, compiled, args, n_repeat, inner, out["errors"])
    if resource:
        out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["loadavg"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return out


def measure_variants(fn: Callable, traced, args: Sequence, repeat: int, inner: int, errors: list) -> dict:
    """Eager against distjit's default optimization level, level 3, and torch.compile of the same NumPy
    function (when torch imports), alternating in this process: {name: {time, first_s, match}}.
    `first_s` is the first call's seconds (compilation included: distjit's optimize + kernels, torch's
    Dynamo + Inductor)."""
    import distjit

    makers = {"distjit optimized": lambda: distjit.optimize(traced),
              "distjit level 3": lambda: distjit.optimize(traced, level=3)}
    try:
        import torch

        makers["torch.compile"] = lambda: torch.compile(fn)
    except ImportError:
        pass
    reference = fn(*args)
    fns, found = {"eager": fn}, {}
    for name, make in makers.items():
        try:
            t0 = time.perf_counter()
            variant = make()
            result = variant(*args)
            found[name] = {"first_s": time.perf_counter() - t0, "match": compare(reference, result)}
            del result
            fns[name] = variant
        except Exception as e:
            errors.append(_error(name, e))
    del reference
    samples, _ = time_alternating(fns, args, repeat, inner=inner, warmup=1)
    found["eager"] = {}
    for name, values in samples.items():
        found[name]["time"] = summarize(values)
    return found


if __name__ == "__main__":   # pragma: no cover - use `python -m bench`
    sys.exit("run `python -m bench` from the repository root")
