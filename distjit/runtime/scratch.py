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
  with one output, fused nodes, np.matmul) in the graph's top-level block, and it
  has no buffer already (a dying input's, a destination's: distjit/core/buffers.py);
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

from distjit.core.buffers import lives, share
from distjit.ir.graph import Graph, Value
from distjit.types import TensorType

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
    return Assignment(*share(lives(block, block.nodes, lambda node, k, v: v.type.nbytes if _big_static(v) else None)))


def _big_static(v: Value) -> bool:
    t = v.type
    return isinstance(t, TensorType) and t.is_static and t.ndim >= 1 and t.nbytes >= MIN_BYTES


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
