"""LocalExecutor: run a Plan's tasks on a thread pool in this process (NumPy releases the GIL in its kernels)."""
from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from distjit.partition.plan import Plan, Source
from distjit.runtime.executor import compile_graph, run
from scheduler.common import arg_part, assemble, consumers


class LocalExecutor:
    """Runs every task of a Plan as soon as its inputs are ready, `max_workers` at a time.

    Intermediate values are dropped as soon as their last reader has run, so peak
    memory follows the Plan's live values, not all of them.
    """

    name = "local"

    def __init__(self, max_workers: int | None = None):
        self.max_workers = max_workers or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="distjit-task")

    def default_workers(self) -> int:
        return self.max_workers

    def run(self, plan: Plan, leaves: list, params: dict, tracker=None) -> list:
        """`tracker` (a scheduler.stats.Tracker, optional) hears of each finished task."""
        programs = {}
        values: dict[tuple[int, int], object] = {}
        readers = consumers(plan)

        def source(s: Source):
            if s.kind == "arg":
                return arg_part(plan, leaves, s)
            if s.kind == "param":
                return params[plan.params[s.index]]
            return values[(s.index, s.output)]

        def program(t):
            sub = plan.tasks[t].subgraph
            if sub not in programs:
                programs[sub] = compile_graph(plan.subgraphs[sub])
            return programs[sub]

        waiting = {i: len(t.deps()) for i, t in enumerate(plan.tasks)}
        dependents: dict[int, list[int]] = {}
        for i, t in enumerate(plan.tasks):
            for d in t.deps():
                dependents.setdefault(d, []).append(i)
        ready = [i for i, n in waiting.items() if n == 0]
        running = {}
        try:
            while ready or running:
                for i in ready:
                    inputs = [source(s) for s in plan.tasks[i].inputs]
                    running[self._pool.submit(run, program(i), inputs)] = i
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
        finally:
            for fut in running:
                fut.cancel()
        return assemble(plan, source)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
