"""Row blocks: the row-parallel part of a graph runs one block of rows at a time.

NOTE: [Row blocks]
The k-means step makes a chain of (N, k) temporaries (distances, their
expansion, the argmin, the one-hot matrix, its sum and its product with X). Each
node streams its whole temporary through memory, so the step runs at the speed
of the memory bus; and two tasks side by side share one bus, so a second core
barely helps. Cut into blocks of rows, the same chain reuses a few block-sized
buffers, stays in the cache, and touches main memory only for its inputs and
results: a loop fusion across reductions and matmuls, as XLA's or Halide's
tiling does, here made from the partitioner's own sharding rules.

A block is a shard that runs in time instead of on another worker. `plan` splits
the graph's biggest inputs along axis 0 and propagates that through the same
rules the partitioner uses (`shard_graph`): a node whose output is split runs on
every block ("S"); a reduction or contraction over the rows yields one partial
per block and one `dist.Combine` after the loop; everything else runs once
("R"). A node's phase counts the R-after-S steps behind it, so the program is
R0, loop S0, R1, loop S1, ... (standardize then covariance is two loops: the
mean and the spread first, then the centred product). An S value read after its
loop (a result, a `dist.Gather`, a later loop) is written block by block into a
whole array; every other S value lives one block at a time.

Partials are combined across blocks, so sums are reordered and results agree
with the unblocked graph's to rounding, not bit for bit: the executors compile
their tasks' subgraphs this way (the Plan already combines partials across
shards); `f(x)` does not.

NOTE: [Block size]
Blocks hold about BLOCK_BYTES of their widest temporary. Smaller blocks fit a
core's L2 cache, and one task alone ran fastest at 512 KiB (0.65 s against 0.81 s
at 16 MiB for half the k-means step); but every block costs a dozen NumPy calls,
each of which releases and takes back the GIL, and the LocalExecutor's tasks are
threads of one process: at 512 KiB two tasks side by side took 1.6 s, at 16 MiB
0.9 s (Ray's tasks, one per process, took the same at both sizes).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from distjit.ir.graph import Graph, Node, Value
from distjit.types import TensorType
from distjit.partition.sharding import ShardedGraph, bounds, shard_graph
from distjit.core.aliasing import returns_fresh
from distjit.core.buffers import lives, plan_reuse, share, write_into, written_into
from distjit.core.liveness import nested_reads

BLOCK_BYTES = 1 << 24        # the biggest temporary of one block (see NOTE: [Block size])
MIN_ROWS = 256               # fewer rows per block, and the loop's Python overhead shows
MIN_SAVED_BYTES = 1 << 23    # blocking must keep at least this much temporary memory out of main memory


@dataclass
class RowBlocks:
    """How to run `graph` (the sharded graph: dist.* nodes included) block by block."""

    graph: Graph
    sharding: ShardedGraph
    bounds: list[tuple[int, int]]
    phases: list[tuple[list[Node], list[Node]]]    # per phase: its R nodes, then its S nodes, in graph order
    kept: set[Value]                                # S values written whole, block by block
    partials: list[Value]                           # S values collected per block for a dist.Combine
    slot_of: dict[Value, int]                       # S temporaries in block-sized buffers, reused block by block
    slots: list[int]                                # each buffer's bytes (for the biggest block)

    def is_split(self, v: Value) -> bool:
        return self.sharding.of(v).is_split


def plan(graph: Graph, rows_per_block: int | None = None) -> RowBlocks | None:
    """The row blocks of `graph`, or None when blocks would not keep enough temporaries out of main memory.
    `rows_per_block` forces blocks of that many rows wherever the graph can run in blocks at all."""
    forced = rows_per_block is not None
    rows = _rows(graph, 1 if forced else 2 * MIN_ROWS)
    if rows is None:
        return None
    axes = [0 if _has_rows(v, rows) else None for v in graph.inputs]
    sg = shard_graph(graph, axes, 2)
    g = sg.graph
    nodes = g.block.nodes
    if any(n.op == "dist.Reshard" for n in nodes) or sg.shard_attrs or set(sg.split_dim.values()) != {rows}:
        return None
    if rows_per_block is None:
        widest = max((o.type.nbytes // rows for n in nodes for o in n.outputs
                      if sg.of(o).axis is not None and _static(o)), default=0)
        rows_per_block = max(MIN_ROWS, BLOCK_BYTES // max(widest, 1))
    parts = math.ceil(rows / rows_per_block)
    if parts < 2:
        return None
    sg.parts = parts             # propagation does not depend on the number of parts, only the bounds do

    kind = {n: "S" if any(sg.of(o).is_split for o in n.outputs) else "R" for n in nodes}
    phase: dict[Node, int] = {}
    for n in nodes:
        p = 0
        for v in [*n.inputs, *nested_reads(n)]:
            if v.node is not None and v.node in phase:
                p = max(p, phase[v.node] + (kind[n] == "R" and kind[v.node] == "S"))
        phase[n] = p
    count = 1 + max(phase.values(), default=0)
    phases = [([n for n in nodes if phase[n] == p and kind[n] == "R"],
               [n for n in nodes if phase[n] == p and kind[n] == "S"]) for p in range(count)]

    kept, partials = set(), []
    returned = set(g.outputs)
    for n in nodes:
        if kind[n] != "S":
            continue
        for o in n.outputs:
            readers = [u for u, _ in o.uses if isinstance(u, Node)]
            if sg.of(o).partial:
                if o in returned or any(u.op != "dist.Combine" for u in readers):
                    return None
                partials.append(o)
            elif o in returned or any(kind.get(u) != "S" or phase[u] != phase[n] for u in readers):
                kept.add(o)
    saved = sum(o.type.nbytes for n in nodes if kind[n] == "S" and returns_fresh(n) for o in n.outputs
                if o not in kept and not sg.of(o).partial and _static(o))
    written = sum(o.type.nbytes for o in kept if _static(o))
    combined = sum(o.type.nbytes * parts for o in partials if _static(o))
    if not forced and saved < max(MIN_SAVED_BYTES, 2 * written, 4 * combined):
        return None
    # The nodes in the order they will run, which is what memory planning and buffer lifetimes reason about:
    # a value's last reader in the graph's order may run in an earlier loop than another of its readers.
    g.block.nodes[:] = [n for r_nodes, s_nodes in phases for n in (*r_nodes, *s_nodes)]
    _write_in_place(graph, sg, kind)
    plan_reuse(g)
    cuts = bounds(rows, parts)
    slot_of, slots = _buffers(g, sg, kind, kept, max(b - a for a, b in cuts) / rows)
    return RowBlocks(g, sg, cuts, phases, kept, partials, slot_of, slots)


def _buffers(g: Graph, sg: ShardedGraph, kind: dict, kept: set, share_of_rows: float):
    """Block-sized buffers for the S temporaries a node can write with ``out=`` (fresh pages for every block
    would cost more than the arithmetic: glibc trims the heap as soon as two of them are freed)."""
    def size(n, k, o):
        if o in kept or sg.of(o).axis != 0 or not _static(o):
            return None
        return math.ceil(o.type.nbytes * share_of_rows)

    return share(lives(g.block, [n for n in g.block.nodes if kind[n] == "S"], size))


def _write_in_place(graph: Graph, sg: ShardedGraph, kind: dict) -> None:
    """An output the graph writes into a destination input (scheduler/in_place.py) is written there block
    by block, when both are split along the same axis."""
    for k, out in enumerate(graph.outputs):
        node = out.node
        dest = written_into(node).get(node.outputs.index(out)) if node is not None else None
        if dest is None or dest not in graph.inputs:
            continue
        new_out, new_dest = sg.graph.outputs[k], sg.graph.inputs[graph.inputs.index(dest)]
        if new_out.node is None or kind.get(new_out.node) != "S" or sg.of(new_out).axis != sg.of(new_dest).axis:
            continue
        write_into(new_out.node, new_out.node.outputs.index(new_out), new_dest)


def _static(v: Value) -> bool:
    return isinstance(v.type, TensorType) and v.type.is_static


def _has_rows(v: Value, rows: int) -> bool:
    return _static(v) and v.type.ndim >= 1 and v.type.shape[0] == rows


def _rows(graph: Graph, at_least: int) -> int | None:
    """The leading dim of the graph's inputs that holds the most bytes (its rows), if there are enough."""
    by_rows: dict[int, int] = {}
    for v in graph.inputs:
        if _static(v) and v.type.ndim >= 1:
            by_rows[v.type.shape[0]] = by_rows.get(v.type.shape[0], 0) + v.type.nbytes
    if not by_rows:
        return None
    rows = max(by_rows, key=by_rows.get)
    return rows if rows >= at_least else None
