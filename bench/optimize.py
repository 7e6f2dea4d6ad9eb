"""The optimizer's benchmark: `python -m bench.optimize [--quick] [--only NAME ...]`.

For each workload of bench/workloads.py, in one process: eager NumPy, the traced
Function unoptimized, and optimized at levels 2 and 3; median (min-max) seconds of
5 samples taken in alternating order after a warm-up call each, the ratio to
eager, and the peak memory of one call (tracemalloc, NumPy's allocations
included) as a ratio to eager's. Then the optimizer's own time on 10k- and
100k-node graphs at level 2.

The fused-node backend follows DISTJIT_FUSED_BACKEND (numpy | numba | auto) and
the thread count DISTJIT_THREADS (default: every core); see distjit/runtime/fused_eval.py.
"""
from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from statistics import median

import numpy as np

import distjit
from bench.workloads import WORKLOADS
from distjit.passes import PIPELINES, run_passes

TARGETS = {"black_scholes": 0.25, "standardize_cov": 0.5, "kmeans_step": 0.8, "mlp": 0.9}


def _time(fn, args, inner=1):
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(inner):
            r = fn(*args)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    del r
    return elapsed / inner


def _peak(fn, args) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        r = fn(*args)
        _, peak = tracemalloc.get_traced_memory()
        del r
    finally:
        tracemalloc.stop()
    return peak - before


def _max_rel(a, b) -> float:
    worst = 0.0
    for x, y in zip(_leaves(a), _leaves(b)):
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype.kind in "fc":
            with np.errstate(all="ignore"):
                d = np.abs(x - y) / np.maximum(np.abs(y), np.finfo(y.dtype).tiny)
            worst = max(worst, float(np.nanmax(d)) if d.size else 0.0)
        elif not np.array_equal(x, y):
            return float("inf")
    return worst


def _leaves(x):
    if isinstance(x, (tuple, list)):
        for v in x:
            yield from _leaves(v)
    else:
        yield x


def bench_workload(w, quick: bool, repeat: int) -> list[dict]:
    args = w.make(quick)
    inner = w.quick_inner if quick else w.inner
    f = distjit.trace(w.fn, args)
    variants = {"eager": w.fn, "traced": f}
    opt_seconds = {}
    for level in (2, 3):
        start = time.perf_counter()
        g = distjit.optimize(f, level=level)
        opt_seconds[level] = time.perf_counter() - start
        variants[f"level{level}"] = g
    reference = w.fn(*args)
    samples = {k: [] for k in variants}
    for fn in variants.values():
        _time(fn, args, inner)          # warm-up (native kernels compile or load from the disk cache here)
    for round_ in range(repeat):
        names = list(variants) if round_ % 2 == 0 else list(variants)[::-1]
        for name in names:
            samples[name].append(_time(variants[name], args, inner))
    peaks = {name: _peak(fn, args) for name, fn in variants.items()}
    eager = median(samples["eager"])
    rows = []
    for name, fn in variants.items():
        s = samples[name]
        rows.append({
            "workload": w.name, "variant": name, "median": median(s), "min": min(s), "max": max(s),
            "ratio": median(s) / eager, "mem": peaks[name] / max(peaks["eager"], 1),
            "err": 0.0 if name == "eager" else _max_rel(fn(*args), reference),
            "nodes": f.graph.node_count() if name == "traced" else
            variants[name].graph.node_count() if name.startswith("level") else None,
            "opt_s": opt_seconds.get(int(name[-1])) if name.startswith("level") else None,
        })
    return rows


def chain_graph(n: int):
    """A traced-style chain of n nodes: n/2 elementwise ops on 8x8 arrays, each with its constant."""
    from distjit.ir import Builder, Graph, tensor

    g = Graph("chain")
    x = g.add_input(tensor(np.float64, (8, 8)), "x")
    b = Builder(g.block)
    ops = ["np.multiply", "np.add", "np.subtract", "np.divide"]
    consts = [1.0001, 0.5, 0.499, 1.0001]
    for i in range(n // 2):
        x = b.op(ops[i % 4], [x, b.constant(consts[i % 4])])[0]
    g.add_output(x)
    return g


def optimizer_scaling(sizes=(10_000, 100_000)) -> list[tuple[int, float, int]]:
    """Seconds to run the level-2 pipeline on a traced-style elementwise chain of n nodes (8x8 arrays)."""
    out = []
    for n in sizes:
        g = chain_graph(n)
        nodes = g.node_count()
        start = time.perf_counter()
        run_passes(g, PIPELINES[2], level=2, keep_messages=False)
        out.append((nodes, time.perf_counter() - start, g.node_count()))
    return out


def _opt(seconds) -> str:
    return "" if seconds is None else f"{seconds:.3f}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.optimize", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--only", nargs="*", help="workload names")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-scaling", action="store_true")
    opts = parser.parse_args(argv)
    print(f"level 2 pipeline: {' -> '.join(PIPELINES[2])}")
    print(f"level 3 pipeline: {' -> '.join(PIPELINES[3])} (fused nodes exact=False)")
    print(f"{'workload':<16} {'variant':<8} {'median s':>9} {'min-max s':>15} {'ratio':>6} {'target':>6} "
          f"{'peak mem':>8} {'max rel err':>11} {'nodes':>6} {'opt s':>6}")
    for name, w in WORKLOADS.items():
        if opts.only and name not in opts.only:
            continue
        for r in bench_workload(w, opts.quick, opts.repeat):
            target = TARGETS.get(name) if r["variant"] == "level2" else None
            print(f"{r['workload']:<16} {r['variant']:<8} {r['median']:9.4f} {r['min']:7.4f}-{r['max']:<7.4f} "
                  f"{r['ratio']:6.2f} {target if target else '':>6} {r['mem']:8.2f} {r['err']:11.1e} "
                  f"{r['nodes'] if r['nodes'] is not None else '':>6} "
                  f"{_opt(r['opt_s']):>6}", flush=True)
    if not opts.no_scaling:
        for nodes, seconds, after in optimizer_scaling():
            print(f"optimizer, level 2, {nodes} nodes -> {after}: {seconds:.2f} s ({seconds / nodes * 1e6:.1f} us/node)")


if __name__ == "__main__":
    main()
