"""RunStats: what one run of a Plan did (tasks, bytes through the object store, time per stage).

`f.run(x, stats=True)` returns `(result, stats)`; `print(stats)` is the summary `distjit run --stats`
shows. Times are observed from the driver: a stage's time runs from the end of the previous
stage (or the start of the run) to the moment its last task finished, so it includes scheduling
and transfer, not only compute. Beside each measured time is the cost model's prediction for
this Plan on this executor (distjit/partition/cost.py `predict`), timed the same way.

An executor is handed a `Tracker` (only when stats or progress were asked for, so the default
path does no extra work) and calls `task_done(i)` as each task finishes, and `ran(i, ...)` with the
native regions the task ran and how (distjit/runtime/native `recording`: compiled, loaded from the
disk cache, or fell back to NumPy), as the thread or worker process that ran it saw them.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable


@dataclass
class RunStats:
    executor: str
    tasks: int
    stages: list[float] = field(default_factory=list)   # seconds per stage, in stage order
    bytes_put: int = 0                 # arrays and subgraphs the driver put into the object store
    bytes_fetched: int = 0             # outputs the driver fetched from the object store
    bytes_between_tasks: float = 0.0   # the Plan's estimate of what tasks send each other
    seconds: float = 0.0
    predicted_seconds: float = 0.0     # the cost model's prediction of `seconds` for this Plan on this executor
    predicted_stages: list[float] = field(default_factory=list)
    predicted_tasks: list[float] = field(default_factory=list)   # each task's own predicted time
    # how each task's native regions ran, as the process that ran it saw them (distjit/runtime/native):
    # "t0 lu:stage0/0 (worker pid 123): loop %A.9 at lu.py:4: native (loaded from the disk cache in 2 ms)"
    native: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self):
        lines = [f"{self.tasks} tasks in {len(self.stages)} stage(s) on the {self.executor} executor, "
                 f"{self.seconds * 1e3:.1f} ms (predicted {self.predicted_seconds * 1e3:.1f} ms{_ratio(self.seconds, self.predicted_seconds)})",
                 f"object store: {_bytes(self.bytes_put)} put by the driver, {_bytes(self.bytes_fetched)} fetched, "
                 f"~{_bytes(self.bytes_between_tasks)} between tasks (planned)"]
        predicted = self.predicted_stages + [0.0] * (len(self.stages) - len(self.predicted_stages))
        lines += [f"  stage {i}: {s * 1e3:.1f} ms (predicted {p * 1e3:.1f} ms)"
                  for i, (s, p) in enumerate(zip(self.stages, predicted))]
        if self.native:
            lines += ["native regions, as each task ran them:", *("  " + line for line in self.native)]
        return "\n".join(lines)


class Tracker:
    """Counts finished tasks for a progress callback `progress(done, total)` and times the stages."""

    def __init__(self, plan, executor: str, progress: Callable[[int, int], None] | None = None,
                 prediction=None, spans: bool = False):
        """`prediction`: distjit.partition.cost.Prediction of this run (its numbers go into the stats)."""
        self.plan = plan
        self.progress = progress
        # with spans=True, executors report when and where each task ran (scheduler/timeline.py)
        self.spans: list | None = [] if spans else None
        self.wall_start = time.time()
        self.stats = RunStats(executor, len(plan.tasks), bytes_between_tasks=plan.bytes_moved())
        if prediction is not None:
            self.stats.predicted_seconds = prediction.seconds
            self.stats.predicted_stages = list(prediction.stages)
            self.stats.predicted_tasks = list(prediction.tasks)
        self._left = {}
        for t in plan.tasks:
            self._left[t.stage] = self._left.get(t.stage, 0) + 1
        self._stage_end: dict[int, float] = {}
        self._done = 0
        self._ran: list[tuple[int, str]] = []    # appended by the executors' threads (atomic)
        self._start = time.perf_counter()
        if progress:
            progress(0, len(plan.tasks))

    def restart(self) -> None:
        self._start = time.perf_counter()
        self.wall_start = time.time()

    def record(self, span) -> None:
        """A scheduler.timeline.Span of a finished task (appends are atomic: executors' threads call this)."""
        if self.spans is not None:
            self.spans.append(span)

    def ran(self, index: int, worker: str, lines: list[str]) -> None:
        """The native regions task `index` ran on `worker` (thread or process), one line each."""
        name = self.plan.tasks[index].name
        self._ran.extend((index, f"t{index} {name} ({worker}): {line}") for line in lines)

    def task_done(self, index: int) -> None:
        stage = self.plan.tasks[index].stage
        self._left[stage] -= 1
        if self._left[stage] == 0:
            self._stage_end[stage] = time.perf_counter()
        self._done += 1
        if self.progress:
            self.progress(self._done, len(self.plan.tasks))

    def finish(self) -> RunStats:
        end = time.perf_counter()
        self.stats.seconds = end - self._start
        previous = self._start
        for stage in sorted(self._left):
            at = self._stage_end.get(stage, end)
            self.stats.stages.append(max(0.0, at - previous))
            previous = max(previous, at)
        self.stats.native = [line for _, line in sorted(self._ran, key=lambda e: e[0])]
        return self.stats


def predicted_run(plan, executor):
    """The cost model's Prediction of `plan` on `executor` (its `cost_model()`; one without: this machine's
    calibration with the LocalExecutor's reference per-task cost)."""
    from distjit.partition.cost import LOCAL_REFERENCE, CostModel, predict

    model = executor.cost_model() if hasattr(executor, "cost_model") else CostModel(executor=LOCAL_REFERENCE)
    return predict(plan, model)


def _ratio(measured: float, predicted: float) -> str:
    return f", measured/predicted {measured / predicted:.2f}" if predicted > 0 else ""


def _bytes(n: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"
