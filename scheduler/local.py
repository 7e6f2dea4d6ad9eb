"""LocalExecutor: run a Plan's tasks on a thread pool in this process (NumPy releases the GIL in its kernels)."""
from __future__ import annotations

import os
import socket
import threading
import weakref
from contextlib import nullcontext
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import numpy as np

from distjit.ir.graph import Graph
from distjit.partition.plan import Plan, Source
from distjit.runtime import native
from distjit.runtime.executor import compile_graph, run
from distjit.runtime.fused_eval import limit_threads
from scheduler import timeline
from scheduler.common import arg_part, assemble, blas_threads, consumers
from scheduler.in_place import deliver, output_targets, part_of, placed_outputs, variant
from scheduler.shared_result import SharedResult


class LocalExecutor:
    """Runs every task of a Plan as soon as its inputs are ready, `max_workers` at a time.

    Intermediate values are dropped as soon as their last reader has run, so peak
    memory follows the Plan's live values, not all of them. The parts of a big split
    output go straight into the result array: the node that makes a part (a fused or
    ufunc node) writes it there with ``out=`` (a variant of the task's subgraph with
    the destination as an extra input), else the task copies it there as it finishes
    (in parallel, instead of one np.concatenate at the end); parts are not kept. The
    result arrays come from scheduler/shared_result.py's pool, so a loop of runs
    writes into the pages of the results it dropped instead of fresh ones.
    While tasks run side by side, OpenBLAS is limited to cores / max_workers threads
    (`scheduler.common.blas_threads`): N tasks each starting a BLAS thread per core
    oversubscribe the machine.
    """

    name = "local"

    def __init__(self, max_workers: int | None = None):
        self.max_workers = max_workers or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="distjit-task")
        self._variants: "weakref.WeakKeyDictionary[Graph, dict]" = weakref.WeakKeyDictionary()
        self._variants_lock = threading.Lock()
        self._model = None

    def default_workers(self) -> int:
        return self.max_workers

    def cost_model(self):
        """The distjit.partition.CostModel of this executor (measured once per machine, cached)."""
        if self._model is None:
            from scheduler.costs import local_model

            self._model = local_model(self)
        return self._model

    def run(self, plan: Plan, leaves: list, params: dict, tracker=None) -> list:
        """`tracker` (a scheduler.stats.Tracker, optional) hears of each finished task."""
        if self.max_workers > 1 and len(plan.tasks) > 1:
            with blas_threads(max(1, (os.cpu_count() or 1) // self.max_workers)):
                return self._run(plan, leaves, params, tracker)
        return self._run(plan, leaves, params, tracker)

    def _run(self, plan: Plan, leaves: list, params: dict, tracker=None) -> list:
        programs = {}
        values: dict[tuple[int, int], object] = {}
        readers = consumers(plan)
        shared = SharedResult() if SharedResult.available() else None
        dests, targets = output_targets(plan, shared.empty if shared else np.empty)
        for key in targets:                  # copied into its output by the task: not kept for the end
            readers[key] -= sum(1 for o in dests for s in plan.outputs[o].sources if (s.index, s.output) == key)
        misfits: dict[tuple[int, int], object] = {}   # a part whose shape the Plan did not predict (never, in theory)

        def source(s: Source):
            if s.kind == "arg":
                return arg_part(plan, leaves, s)
            if s.kind == "param":
                return params[plan.params[s.index]]
            key = (s.index, s.output)
            if key in misfits:
                return misfits[key]
            if key in values or key not in targets:
                return values[key]
            dest, index = targets[key][0]      # a part already copied into its output (and not kept)
            return dest[index]

        def program(t):
            sub = plan.tasks[t].subgraph
            if sub not in programs:
                programs[sub] = compile_graph(plan.subgraphs[sub], row_blocks=True)
            return programs[sub]

        timed = tracker is not None and tracker.spans is not None

        def task(i, prog, inputs):
            start = timeline.now() if timed else 0.0
            with limit_threads(max(1, (os.cpu_count() or 1) // self.max_workers)), \
                    native.recording() if tracker is not None else nullcontext() as ran:
                outs = run(prog, inputs)
            if timed:
                tracker.record(timeline.Span(i, f"{socket.gethostname()} (this process)",
                                             threading.current_thread().name, start, timeline.now()))
            if ran:
                tracker.ran(i, threading.current_thread().name, ran)
            for k, v in enumerate(outs):
                for dest, index in targets.get((i, k), ()):
                    if not deliver(v, dest[index]):
                        misfits[(i, k)] = v
            return outs

        def launch(i):
            inputs = [source(s) for s in plan.tasks[i].inputs]
            ks = placed_outputs(targets, i, plan.task_outputs(i))
            prog = self._variant(plan.subgraphs[plan.tasks[i].subgraph], ks) if ks else None
            if prog is None:
                return self._pool.submit(task, i, program(i), inputs)
            direct, prog = prog
            inputs += [part_of(targets[(i, k)][0]) for k in direct]
            return self._pool.submit(task, i, prog, inputs)

        waiting = {i: len(t.deps()) for i, t in enumerate(plan.tasks)}
        dependents: dict[int, list[int]] = {}
        for i, t in enumerate(plan.tasks):
            for d in t.deps():
                dependents.setdefault(d, []).append(i)
        ready = [i for i, n in waiting.items() if n == 0]
        running = {}
        finished = False
        try:
            while ready or running:
                for i in ready:
                    running[launch(i)] = i
                ready = []
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = running.pop(fut)
                    outs = fut.result()
                    if tracker is not None:
                        tracker.task_done(i)
                    for k, v in enumerate(outs):
                        if readers.get((i, k)):
                            values[(i, k)] = v
                    for s in plan.tasks[i].inputs:          # drop values nobody will read again
                        if s.kind == "task":
                            key = (s.index, s.output)
                            readers[key] -= 1
                            if readers[key] == 0:
                                values.pop(key, None)
                    for j in dependents.get(i, ()):
                        waiting[j] -= 1
                        if waiting[j] == 0:
                            ready.append(j)
            finished = True
        finally:
            for fut in running:
                fut.cancel()
            if shared:
                shared.close(reuse=finished)
        outs = []
        for o, out in enumerate(plan.outputs):
            if o in dests and not any((s.index, s.output) in misfits for s in out.sources):
                outs.append(dests[o])         # assembled already, part by part, by the tasks
            else:
                outs.extend(assemble([out], source))
        return outs

    def _variant(self, sub: Graph, ks: tuple):
        """(outputs written in place, program) of `sub` with its outputs `ks` written with ``out=`` into extra
        trailing inputs, one per output made by a node that can take ``out=``; None when none can."""
        with self._variants_lock:
            per_graph = self._variants.setdefault(sub, {})
            if ks not in per_graph:
                per_graph[ks] = variant(sub, ks)
            return per_graph[ks]

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

