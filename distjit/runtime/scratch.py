"""Scratch memory: a program's big temporaries live in buffers it keeps from one call to the next.

Eager NumPy, and a graph run node by node, allocate every big temporary afresh, and
glibc gives each freed block of 32 MiB or more straight back to the kernel. So each
call pays for fresh pages again: 0.06-1.2 s per 512 MiB on small VMs, and threads
of one process fault them in one at a time (two threads running the k-means step
side by side were slower than one). A compiled program knows every temporary's
shape and lifetime, so it does what an ahead-of-time compiler's buffer assignment
does (XLA, TVM): temporaries whose lifetimes do not overlap share a byte buffer, and
the buffers are allocated on the first call and reused by the next ones.

A value gets scratch memory when
- a node that can write with ``out=`` makes it (its op declares `takes_out`: ufuncs
  with one output, fused nodes, np.matmul) in the graph's top-level block, and memory planning has not
  already put it in a dying input's buffer;
- it has a static shape of at least MIN_BYTES;
- neither it nor anything that may alias it (the result of any op that is not known
  to return fresh memory, or of a node writing into its buffer) is returned: the
  caller never sees scratch memory.
Its buffer is busy from the node that makes it to the last read of it or its aliases.

Each call takes a set of buffers from its program's pool and gives it back at the
end, so calls running side by side (the LocalExecutor's threads) never share one;
the pool keeps at most one idle set per core, and none bigger than 1/KEEP_SHARE of
physical memory. Results are bit for bit the same: the same kernels write the same
values, only into older memory.
"""
from __future__ import annotations

import os
import threading

import numpy as np

from distjit.ir.graph import Block, Graph, Node, Value
from distjit.types import TensorType, iter_refs
from distjit.passes.memplan import returns_fresh
from distjit.passes.util import ancestor_in, opdef

MIN_BYTES = 1 << 18
KEEP_SHARE = 8


class Assignment:
    """Where each scratch value lives: `slot_of[value]` indexes `slots` (byte sizes); `index[value]` is its
    place in a scratch set."""

    def __init__(self, slot_of: dict[Value, int], slots: list[int]):
        self.slot_of, self.slots = slot_of, slots
        self.index = {v: i for i, v in enumerate(slot_of)}

    def pool(self) -> "Pool":
        return Pool(self)


def assign(graph: Graph) -> Assignment:
    """Scratch slots for the graph's big temporaries (see the module docstring)."""
    block = graph.block
    position = {node: i for i, node in enumerate(block.nodes)}
    lives = []
    for i, node in enumerate(block.nodes):
        if not takes_out(node):
            continue
        planned = set(node.meta.get("reuse", {})) | set(node.meta.get("dest", {}))
        for k, v in enumerate(node.outputs):
            if k in planned or not _big_static(v):
                continue
            end = last_read(v, block, position)
            if end is not None:
                lives.append((i, end, v, v.type.nbytes))
    return Assignment(*share(lives))


def takes_out(node: Node) -> bool:
    """Nodes whose result can be written into a given buffer: their op declares `takes_out`."""
    if node.blocks or any(True for _ in iter_refs(node.attrs)):
        return False
    d = opdef(node)
    return d is not None and d.takes_out


def share(lives: list[tuple[int, int, Value, int]]) -> tuple[dict[Value, int], list[int]]:
    """Byte slots for (start, end, value, bytes): values live from node `start` to node `end` (inclusive) whose
    lifetimes do not overlap share one, chosen best fit; (slot of each value, each slot's size in bytes)."""
    slot_of: dict[Value, int] = {}
    slots: list[int] = []
    busy_until: list[int] = []
    for start, end, v, nbytes in sorted(lives, key=lambda life: life[0]):
        free = [s for s in range(len(slots)) if busy_until[s] < start]
        fits = [s for s in free if slots[s] >= nbytes]
        if fits:
            s = min(fits, key=lambda s: slots[s])          # the smallest that fits
        elif free:
            s = max(free, key=lambda s: slots[s])          # grow the biggest free one
            slots[s] = nbytes
        else:
            s = len(slots)
            slots.append(nbytes)
            busy_until.append(end)
        busy_until[s] = end
        slot_of[v] = s
    return slot_of, slots


def _big_static(v: Value) -> bool:
    t = v.type
    return isinstance(t, TensorType) and t.is_static and t.ndim >= 1 and t.nbytes >= MIN_BYTES


def last_read(v: Value, block: Block, position: dict) -> int | None:
    """The position of the last node of `block` that reads `v` or an alias of it; None when one escapes
    (returned by a block, or read where the top-level block cannot see)."""
    end, stack, seen = position[v.node], [v], set()
    while stack:
        a = stack.pop()
        if a in seen:
            continue
        seen.add(a)
        for user, j in a.uses:
            if isinstance(user, Block):
                return None                       # returned: the caller (or a loop) keeps it
            owner = ancestor_in(user, block)
            if owner is None:
                return None
            end = max(end, position[owner])
            if owner is not user or not returns_fresh(owner):
                stack.extend(owner.outputs)       # a view, a reshape, an If or Loop result ... may alias it
            elif j in owner.meta.get("reuse", {}).values():
                stack.extend(owner.outputs[k] for k, i in owner.meta["reuse"].items() if i == j)
    return end


class Pool:
    """The idle scratch sets of one program: each a list of arrays, one per scratch value, viewing its slot."""

    def __init__(self, assignment: Assignment):
        self._values = list(assignment.slot_of.items())
        self._slots = assignment.slots
        self._lock = threading.Lock()
        self._idle: list[list] = []
        self._keep = os.cpu_count() or 1
        total = sum(self._slots)
        self._kept_bytes_ok = total <= os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // KEEP_SHARE

    def take(self) -> list:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        buffers = [np.empty(n, np.uint8) for n in self._slots]
        out = []
        for v, s in self._values:
            t = v.type
            out.append(buffers[s][:t.nbytes].view(t.dtype).reshape(t.shape))
        return out

    def give(self, scratch: list) -> None:
        with self._lock:
            if self._kept_bytes_ok and len(self._idle) < self._keep:
                self._idle.append(scratch)
