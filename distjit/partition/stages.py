"""Stage splitting: cut a sharded graph into tasks, with a cost model from the op registry.

NOTE: [How the graph is cut]
Each top-level node of the sharded graph is one of:

  floating   cheap, small, replicated, reading only the graph's inputs, parameters or
             other floating values (constants, `w.T`): recomputed in every task that
             needs it instead of becoming a task or a transfer
  S          per shard: it has a split or partial output (it runs once in each shard task)
  dup        replicated but cheap with a small result, and read only by S nodes (the
             combine of a mean that a later per-shard step subtracts): computed
             redundantly inside every shard task that reads it, which saves a round trip
  R          everything else: runs once, in a replicated task

A node's phase is the longest chain of kind changes (S <-> R) and cross-shard edges
(a collective reading every shard) behind it. A stage is (phase, kind); an S stage
becomes one task per shard, an R stage one task per connected component (independent
branches run in parallel), with components below the per-task overhead merged.
Edges inside a phase never cross kinds, so the task graph is acyclic. Every value a
task reads from elsewhere is one input of its subgraph, however many of its nodes
use it (each value crosses to a task once).

Which node floats, is duplicated, or gets a task of its own is decided by its
predicted seconds (distjit/partition/cost.py) against the target executor's
per-task overhead; a task's `seconds` is its subgraph's predicted compute.
"""
from __future__ import annotations

import warnings

import numpy as np

from distjit.errors import DistJitError
from distjit.ir.builder import Builder
from distjit.ir.clone import clone_node
from distjit.ir.collector import collector_paused
from distjit.ir.graph import Graph, Node, Value
from distjit.types import TensorType
from distjit.ops import get_op
from distjit.partition.cost import CostModel  # noqa: F401  (re-exported)
from distjit.partition.plan import InputLayout, Output, Plan, PlanWarning, Source, Task
from distjit.core.liveness import nested_reads
from distjit.partition.sharding import ShardedGraph, bounds, shard_graph


def _nbytes(v: Value) -> float:
    t = v.type
    if isinstance(t, TensorType):
        return float(t.nbytes if t.nbytes is not None else 1 << 20)
    return 8.0


def _top(node: Node) -> Node:
    while node.block is not None and node.block.owner is not None:
        node = node.block.owner
    return node


def _normal(a):
    """Attribute values as the text IR prints them (a NumPy scalar type as a dtype)."""
    if isinstance(a, type) and issubclass(a, (np.generic, bool, int, float, complex)):
        return np.dtype(a)
    return a


def _is_collective(node: Node) -> bool:
    return "collective" in get_op(node.op).flags


class _Cutter:
    def __init__(self, sg: ShardedGraph, cost: CostModel, name: str):
        self.sg, self.cost, self.name = sg, cost, name
        self.g = sg.graph
        self.nodes = list(self.g.block.nodes)
        self.outputs = set(self.g.outputs)
        self.graph_level = set(self.g.inputs) | set(self.g.params)
        self.work: dict[Node, tuple[float, float]] = {}
        self.secs: dict[Node, float] = {}
        for n in self.nodes:
            flops, nbytes, seconds = cost.node_cost(n)
            self.work[n] = (flops, nbytes)
            self.secs[n] = seconds / (sg.parts if self._split_out(n) else 1)
        self.users: dict[Node, set[Node]] = {n: set() for n in self.nodes}
        for n in self.nodes:
            for v in self._reads(n):
                if v.node is not None:
                    self.users[_top(v.node)].add(n)

    def _split_out(self, n: Node) -> bool:
        return any(self.sg.of(o).is_split for o in n.outputs)

    def _reads(self, n: Node) -> list[Value]:
        return list(dict.fromkeys([*n.inputs, *nested_reads(n)]))

    def _small(self, n: Node) -> bool:
        return sum(_nbytes(o) for o in n.outputs) <= self.cost.small_bytes

    def classify(self) -> None:
        self.kind: dict[Node, str] = {}
        for n in self.nodes:
            if self._split_out(n):
                self.kind[n] = "S"
            elif (not _is_collective(n) and not n.blocks and get_op(n.op).is_pure and self._small(n)
                  and self.secs[n] <= self.cost.floating_s and not any(o in self.outputs for o in n.outputs)
                  and all(v in self.graph_level or (v.node is not None and self.kind.get(v.node) == "float")
                          for v in n.inputs)):
                self.kind[n] = "float"
            else:
                self.kind[n] = "R"
        cheap = 0.2 * self.cost.task_overhead_s
        for n in reversed(self.nodes):   # users come later: decide them first
            if self.kind[n] == "R" and not n.blocks and self._small(n) and self.secs[n] <= cheap \
                    and self.users[n] and not any(o in self.outputs for o in n.outputs) \
                    and all(self.kind[u] in ("S", "dup") for u in self.users[n]):
                self.kind[n] = "dup"

    def phases(self) -> None:
        self.phase: dict[Node, int] = {}
        for n in self.nodes:
            if self.kind[n] == "float":
                continue
            mine = "S" if self.kind[n] in ("S", "dup") else "R"
            p = 0
            for v in self._reads(n):
                src = v.node and _top(v.node)
                if src is None or self.kind[src] == "float":
                    continue
                theirs = "S" if self.kind[src] in ("S", "dup") else "R"
                bump = 1 if (theirs != mine or (_is_collective(n) and self.sg.of(v).is_split)) else 0
                p = max(p, self.phase[src] + bump)
            self.phase[n] = p

    def groups(self) -> list[tuple[int, str, list[Node]]]:
        """(phase, kind, nodes) of every task-to-be, in a topological order (shards expand later)."""
        stages: dict[tuple[int, str], list[Node]] = {}
        for n in self.nodes:
            if self.kind[n] != "float":
                key = (self.phase[n], "S" if self.kind[n] in ("S", "dup") else "R")
                stages.setdefault(key, []).append(n)
        out = []
        for (p, k) in sorted(stages, key=lambda pk: (pk[0], pk[1] != "S")):
            members = stages[(p, k)]
            if k == "S":
                out.append((p, k, members))
                continue
            comps = _components(members, self._reads)
            tiny = [c for c in comps if sum(self.secs[n] for n in c) < self.cost.task_overhead_s]
            big = [c for c in comps if sum(self.secs[n] for n in c) >= self.cost.task_overhead_s]
            if tiny:
                small = {n for c in tiny for n in c}
                big.append([n for n in members if n in small])
            position = {n: i for i, n in enumerate(members)}
            big.sort(key=lambda c: position[c[0]])
            out.extend((p, k, c) for c in big)
        return out


def _components(members: list[Node], reads) -> list[list[Node]]:
    parent = {n: n for n in members}

    def find(n):
        while parent[n] is not n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n
    for n in members:
        for v in reads(n):
            src = v.node and _top(v.node)
            if src in parent:
                parent[find(src)] = find(n)
    comps: dict[Node, list[Node]] = {}
    for n in members:
        comps.setdefault(find(n), []).append(n)
    return list(comps.values())


class _TaskBuilder:
    """Writes one task's subgraph: its inputs, the floating nodes it needs, its nodes, its exported values."""

    def __init__(self, cutter: _Cutter, plan_sources, name: str, nodes: list[Node], shard: int | None):
        self.c, self.sg = cutter, cutter.sg
        self.where = plan_sources           # (value, shard) -> Source
        self.shard = shard
        self.nodes = nodes
        self.members = set(nodes)
        self.g = Graph(name)
        self.local: dict[tuple[Value, int | None], Value] = {}
        self.sources: list[Source] = []
        self.bytes_in = 0.0

    def part_type(self, v: Value, j: int | None):
        s = self.sg.of(v)
        if j is None or s.axis is None or not isinstance(v.type, TensorType):
            return v.type
        start, stop = self.sg.bounds_of(v)[j]
        shape = list(v.type.shape)
        shape[s.axis] = stop - start
        return TensorType(v.type.dtype, tuple(shape))

    def value(self, v: Value, j: int | None, part: bool = False) -> Value:
        """The subgraph's value for part j of v (None: the whole); `part`: read as one of a collective's parts."""
        if not self.sg.of(v).is_split:
            j = None
        key = (v, j)
        if key in self.local:
            return self.local[key]
        if v.node is not None and self._floating(v.node):
            self.emit_floating(_top(v.node))
            return self.local[key]
        t = self.part_type(v, j)
        # names do not depend on which shard this task is, so equal shards share one subgraph (and its digest)
        nv = Value(self.g.fresh_name(f"{v.name}.p{j}" if part else v.name), t, block=self.g.block)
        self.g.block.params.append(nv)
        src = self.where.get(key)
        if src is None:
            raise DistJitError(f"partitioner: no source for %{v.name} (shard {j}) in task {self.g.name}")
        self.sources.append(src)
        self.bytes_in += _nbytes(nv)
        self.local[key] = nv
        return nv

    def _floating(self, node: Node) -> bool:
        return self.c.kind.get(_top(node)) == "float"

    def emit_floating(self, root: Node) -> None:
        """Emit floating node `root` after the floating nodes it reads that this task lacks, in dependency
        order, without recursion: a chain of cheap nodes can be as long as the graph."""
        order, done, stack = [], set(), [(root, False)]
        while stack:                # post-order: a node after everything it reads
            n, ready = stack.pop()
            if n in done:
                continue
            if ready:
                done.add(n)
                order.append(n)
                continue
            stack.append((n, True))
            for v in n.inputs:      # floating nodes read only graph-level or floating values (classify)
                src = v.node and _top(v.node)
                if src is not None and src not in done and self._floating(src) and (v, None) not in self.local:
                    stack.append((src, False))
        for n in order:
            self.emit(n, None)

    def emit(self, node: Node, k: int | None) -> None:
        opdef = get_op(node.op)
        attrs = {key: _normal(a) for key, a in node.attrs.items()}
        collective = _is_collective(node)
        if collective:
            parts = range(self.sg.parts)
            ins = [self.value(v, j, part=True) for j in parts for v in node.inputs]
            if node.op == "dist.Combine" and attrs.get("kind") in ("argmax", "argmin"):
                attrs["offsets"] = tuple(a for a, _ in self.sg.bounds_of(node.inputs[0]))
        else:
            ins = [self.value(v, k) for v in node.inputs]
        split_out = next((o for o in node.outputs if self.sg.of(o).axis is not None), None)
        if k is not None and split_out is not None:
            start, stop = self.sg.bounds_of(split_out)[k]
            if node.op in ("dist.Shard", "dist.Reshard"):
                attrs["start"], attrs["stop"] = start, stop
            elif node in self.sg.shard_attrs:
                attrs = self.sg.shard_attrs[node](attrs, start, stop)
        if node.blocks:
            mapping = dict(zip(node.inputs, ins))
            for v in nested_reads(node):
                mapping[v] = self.value(v, None)
            new = clone_node(node, self.g.block, mapping, rename=lambda n: self.g.fresh_name(n))
            self.g.block.append(new)
            for inner in new.walk():       # names inside nested blocks must be unique in the subgraph too
                for b in inner.blocks:
                    for v in b.params:
                        v.name = self.g.fresh_name(v.name)
                if inner is not new:
                    for v in inner.outputs:
                        v.name = self.g.fresh_name(v.name)
            new.attrs = attrs
        else:
            if k is None and not collective:
                types = [o.type for o in node.outputs]
            else:
                types = opdef.infer([v.type for v in ins], attrs)
            new = Builder(self.g.block).create(node.op, ins, attrs, types, node.loc, [o.name for o in node.outputs])
        for o, no in zip(node.outputs, new.outputs):
            self.local[(o, k if self.sg.of(o).is_split else None)] = no

    def build(self) -> Graph:
        for n in self.nodes:
            self.emit(n, self.shard)
        return self.g


# Cutting a graph allocates nodes and values by the hundred thousand, all reachable until the Plan is returned.
@collector_paused
def partition_graph(graph: Graph, input_axes: list[int | None], parts: int, *, input_names: list[str],
                    params: list[str] | None = None, workers: int | None = None,
                    cost: CostModel | None = None, warn: bool = True) -> Plan:
    """Shard `graph` (an axis or None per input) into `parts` parts and cut it into a Plan;
    `warn`: a PlanWarning when its tasks are smaller than the per-task overhead."""
    cost = cost or CostModel()
    sg = shard_graph(graph, input_axes, parts)
    cutter = _Cutter(sg, cost, graph.name)
    cutter.classify()
    cutter.phases()
    g = sg.graph
    param_index = {p: i for i, p in enumerate(g.params)}
    where: dict[tuple[Value, int | None], Source] = {}
    for i, v in enumerate(g.inputs):
        if sg.of(v).is_split:
            for j in range(parts):
                where[(v, j)] = Source("arg", i, 0, j)
        else:
            where[(v, None)] = Source("arg", i)
    for p, i in param_index.items():
        where[(p, None)] = Source("param", i)

    subgraphs: list[Graph] = []
    compute: list[float] = []          # predicted seconds of each subgraph
    by_text: dict[str, int] = {}
    tasks: list[Task] = []
    groups = cutter.groups()
    stage_of: dict[tuple[int, str], int] = {}
    groups_of: dict[tuple[int, str], int] = {}        # how many tasks-to-be a stage has
    for (p, k, members) in groups:
        stage_of.setdefault((p, k), len(stage_of))
        groups_of[(p, k)] = groups_of.get((p, k), 0) + 1
    for gi, (p, k, members) in enumerate(groups):
        stage = stage_of[(p, k)]
        member_set = set(members)
        shards = list(range(parts)) if k == "S" else [None]
        for j in shards:
            suffix = f"/{j}" if j is not None else ("" if groups_of[(p, k)] == 1 else f".{gi}")
            name = f"{graph.name}:stage{stage}{suffix}"
            tb = _TaskBuilder(cutter, where, name, members, j)
            sub = tb.build()
            exported = []
            for n in members:
                for o in n.outputs:
                    if o in cutter.outputs or any(u not in member_set or (j is not None and _is_collective(u))
                                                  for u in (_top(x) for x in o.users())):
                        exported.append(o)
            for out_index, o in enumerate(exported):
                sub.add_output(tb.local[(o, j if sg.of(o).is_split else None)])
                where[(o, j if sg.of(o).is_split else None)] = Source("task", len(tasks), out_index)
            sub.name = f"{graph.name}_stage{stage}"
            if j is None:       # the one task of its group: no other subgraph prints the same (names are unique)
                index = len(subgraphs)
            else:               # equal shards share one subgraph
                index = by_text.setdefault(str(sub), len(subgraphs))
            if index == len(subgraphs):
                subgraphs.append(sub)
                compute.append(cost.graph_seconds(sub))
            flops = sum(cutter.work[n][0] for n in members) / (parts if j is not None else 1)
            nbytes = sum(cutter.work[n][1] for n in members) / (parts if j is not None else 1)
            tasks.append(Task(name, index, stage, j, tb.sources, flops, nbytes, compute[index], tb.bytes_in))

    outputs = []
    for v in g.outputs:
        s = sg.of(v)
        if s.axis is not None:
            outputs.append(Output([where[(v, j)] for j in range(parts)], s.axis))
        else:
            outputs.append(Output([where[(v, None)]]))
    layouts = []
    for v in g.inputs:
        s = sg.of(v)
        layouts.append(InputLayout(s.axis, bounds(sg.split_dim[v], parts) if s.axis is not None else []))
    plan = Plan(graph.name, parts, workers or parts, list(input_names), layouts,
                [p.name for p in g.params], subgraphs, tasks, outputs, cost.task_overhead_s)
    if warn and len(tasks) > 1:
        median = float(np.median([t.seconds for t in tasks]))
        if median < cost.task_overhead_s:
            warnings.warn(f"plan for {graph.name}: the median task is estimated at {median * 1e3:.3f} ms, below the "
                          f"{cost.task_overhead_s * 1e3:.1f} ms per-task overhead; fewer workers or larger inputs "
                          f"would run faster", PlanWarning, stacklevel=4)
    return plan
