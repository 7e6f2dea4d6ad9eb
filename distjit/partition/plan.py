"""The Plan: a DAG of tasks over subgraphs, what an executor runs.

NOTE: [Plan structure]
A Plan is plain data, references by index, so it serializes field by field:

  Plan
    name, parts, workers          the source graph's name; shards per split value; workers planned for
    input_names[i]                the flattened argument path of graph input i ("x", "batch['y']")
    inputs[i]: InputLayout        axis (None: replicated) and bounds [(start, stop)] per shard
    params[j]                     names of the Function's parameters the tasks read (put once per cluster)
    subgraphs[s]: Graph           self-contained graphs: no named parameters, every value they read is an input
    tasks[t]: Task                in topological order (a task's sources name earlier tasks only)
      name                        shown in the Ray dashboard ("kmeans_step:stage1/0")
      subgraph, stage, shard      index into subgraphs; its stage; its shard (None: a replicated task)
      inputs[k]: Source           where subgraph input k comes from
      flops, bytes, seconds       the registry's work and the cost model's predicted compute; bytes_in: bytes it receives
      predicted_seconds           its predicted time on the executor planned for (overhead, transfers, compute)
    outputs[o]: Output            graph output o: one Source, or one per shard concatenated along `axis`
  Source(kind, index, output, shard)
    "arg"    flattened call argument `index`; `shard` k takes part k of a split argument, None the whole
    "param"  plan.params[index]
    "task"   output `output` of tasks[index]

Subgraphs print (and parse) in the text IR, so a Plan carries no Python objects
besides its Graphs; `digest(s)` names a subgraph by the hash of its text, which
is how workers cache compiled subgraphs.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from distjit.ir.graph import Graph


class PlanWarning(UserWarning):
    """A Plan whose tasks are so small that per-task overhead dominates (or another performance hazard)."""


@dataclass(frozen=True)
class Source:
    kind: str                 # "arg" | "param" | "task"
    index: int
    output: int = 0
    shard: int | None = None

    def __str__(self):
        if self.kind == "task":
            return f"t{self.index}.{self.output}"
        if self.kind == "param":
            return f"param{self.index}"
        return f"arg{self.index}" + ("" if self.shard is None else f"[{self.shard}]")


@dataclass
class InputLayout:
    axis: int | None
    bounds: list[tuple[int, int]] = field(default_factory=list)

    def __str__(self):
        if self.axis is None:
            return "replicated"
        cuts = " ".join(f"[{a}:{b}]" for a, b in self.bounds)
        return f"split(axis={self.axis}) into {len(self.bounds)}: {cuts}"


@dataclass
class Task:
    name: str
    subgraph: int
    stage: int
    shard: int | None
    inputs: list[Source]
    flops: float = 0.0
    bytes: float = 0.0
    seconds: float = 0.0
    bytes_in: float = 0.0
    predicted_seconds: float = field(default=0.0, compare=False)   # on the executor planned for; not saved

    def deps(self) -> list[int]:
        return sorted({s.index for s in self.inputs if s.kind == "task"})


@dataclass
class Output:
    sources: list[Source]
    axis: int | None = None   # concatenate the sources along this axis (a split output); None: one source


@dataclass
class Plan:
    name: str
    parts: int
    workers: int
    input_names: list[str]
    inputs: list[InputLayout]
    params: list[str]
    subgraphs: list[Graph]
    tasks: list[Task]
    outputs: list[Output]
    task_overhead_s: float = 1e-3
    # the partitioner's reason for its shards, and its cost.Prediction on the executor it planned for:
    # facts of the planning, not of the Plan, so not saved (a loaded Plan's explain() omits them)
    why: str = field(default="", compare=False)
    predicted: object = field(default=None, repr=False, compare=False)
    _digests: dict = field(default_factory=dict, repr=False, compare=False)

    def digest(self, index: int) -> str:
        """A stable name for subgraph `index`: sha256 of its text form (workers cache compiled code by it)."""
        if index not in self._digests:
            self._digests[index] = hashlib.sha256(str(self.subgraphs[index]).encode()).hexdigest()[:24]
        return self._digests[index]

    def task_outputs(self, t: int) -> int:
        return len(self.subgraphs[self.tasks[t].subgraph].outputs)

    @property
    def stages(self) -> int:
        return 1 + max((t.stage for t in self.tasks), default=-1)

    def bytes_moved(self) -> float:
        return sum(t.bytes_in for t in self.tasks)

    def explain(self) -> str:
        """Tasks, subgraph sizes, estimated flops, bytes moved, and the sharding of each input."""
        lines = [f"Plan {self.name}: {len(self.tasks)} tasks in {self.stages} stages, {self.parts} shard(s), "
                 f"planned for {self.workers} worker(s)"]
        symbols = sorted({str(d) for g in self.subgraphs for v in g.inputs
                          if hasattr(v.type, "shape") for d in v.type.shape if not isinstance(d, int)})
        if symbols:
            lines.append(f"the graph has symbolic dim(s) {', '.join(symbols)}, which this Plan does not split; "
                         f"f.run makes a Plan per call shape that does (f.plan_per_shape(), or shard= on them)")
        lines.append("inputs:")
        for name, layout in zip(self.input_names, self.inputs):
            lines.append(f"  {name:<14} {layout}")
        for p in self.params:
            lines.append(f"  {p:<14} parameter, replicated (put in the object store once)")
        lines.append("tasks:")
        for i, t in enumerate(self.tasks):
            g = self.subgraphs[t.subgraph]
            ins = ", ".join(self._source_name(s) for s in t.inputs) or "-"
            lines.append(f"  t{i:<3} {t.name:<28} {g.node_count():>4} nodes  {_si(t.flops)}FLOP  "
                         f"in {_si(t.bytes_in)}B  est {t.seconds * 1e3:.2f} ms  <- {ins}")
        lines.append("outputs:")
        for i, o in enumerate(self.outputs):
            how = f"concatenated along axis {o.axis}" if o.axis is not None else "whole"
            lines.append(f"  out{i}: {', '.join(self._source_name(s) for s in o.sources)} ({how})")
        total = sum(t.seconds for t in self.tasks)
        lines.append(f"total: {_si(sum(t.flops for t in self.tasks))}FLOP, {_si(self.bytes_moved())}B moved "
                     f"between tasks and the driver, est. compute {total * 1e3:.1f} ms + overhead "
                     f"{len(self.tasks) * self.task_overhead_s * 1e3:.1f} ms")
        p = self.predicted
        if p is not None:
            lines.append(f"predicted {p.seconds * 1e3:.1f} ms on {p.executor} with {self.workers} worker(s) "
                         f"(overhead {p.overhead * 1e3:.1f} ms, transfers {p.transfers * 1e3:.1f} ms)")
        if self.why:
            lines.append(f"why: {self.why}")
        return "\n".join(lines)

    def _source_name(self, s: Source) -> str:
        if s.kind == "arg":
            return self.input_names[s.index] + ("" if s.shard is None else f"[{s.shard}]")
        if s.kind == "param":
            return self.params[s.index]
        return f"t{s.index}.{s.output}"

    def __repr__(self):
        return f"<distjit Plan {self.name}: {len(self.tasks)} tasks, {self.parts} shards>"


def _si(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.1f} {unit}"
    return f"{x:.0f} "
