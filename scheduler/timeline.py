"""The timeline of one run: a Chrome trace-event file (what `ray timeline` writes and Perfetto reads).

`f.run(..., timeline="run.json")` and `distjit run --timeline run.json` write it. One row per
worker (process `pid` = the node, thread `tid` = the worker process or thread), one complete
("ph": "X") slice per task, named after the task ("mlp:stage0/1"); each slice's args carry the
Plan's prediction for that task and the time it measured, so a glance shows where the cost model
is off. Times are each worker's wall clock (time.time), relative to the run's start on the driver,
in microseconds as the format wants.

A span is (task index, node, worker, start, end), reported by the executor: the LocalExecutor's
threads time their tasks, and Ray tasks return their span as one more return value, with the native
regions the task ran (only when stats, progress or a timeline are asked for, so an ordinary run pays
nothing).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass


@dataclass
class Span:
    task: int
    node: str
    worker: str
    start: float      # time.time() on the worker
    end: float


def now() -> float:
    return time.time()


def events(plan, spans: list[Span], start: float) -> list[dict]:
    """The trace events: metadata naming each row, then one slice per task."""
    rows: dict[tuple[str, str], tuple[int, int]] = {}
    nodes: dict[str, int] = {}
    out = []
    for s in sorted(spans, key=lambda s: s.start):
        pid = nodes.setdefault(s.node, len(nodes) + 1)
        if (s.node, s.worker) not in rows:
            tid = sum(1 for n, _ in rows if n == s.node) + 1
            rows[(s.node, s.worker)] = (pid, tid)
            if tid == 1:
                out.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": s.node}})
            out.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": s.worker}})
    for s in spans:
        pid, tid = rows[(s.node, s.worker)]
        t = plan.tasks[s.task]
        measured = max(0.0, s.end - s.start)
        out.append({"name": t.name, "cat": f"stage{t.stage}", "ph": "X", "pid": pid, "tid": tid,
                    "ts": round((s.start - start) * 1e6, 3), "dur": round(measured * 1e6, 3),
                    "args": {"task": f"t{s.task}", "stage": t.stage, "shard": t.shard,
                             "predicted_ms": round(predicted(t) * 1e3, 6), "measured_ms": round(measured * 1e3, 6),
                             "flops": t.flops, "bytes_in": t.bytes_in}})
    return out


def predicted(task) -> float:
    """The Plan's estimate of a task: its predicted time on the executor planned for (overhead, transfers and
    compute) where the cost model gives one, else its predicted compute."""
    return getattr(task, "predicted_seconds", 0.0) or task.seconds


def write(path, plan, spans: list[Span], start: float, executor: str) -> None:
    """Write the trace to `path` atomically (a reader never sees half a file)."""
    doc = {"traceEvents": events(plan, spans, start), "displayTimeUnit": "ms",
           "otherData": {"plan": plan.name, "executor": executor, "tasks": len(plan.tasks),
                         "workers": plan.workers}}
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w") as fh:
            json.dump(doc, fh)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
