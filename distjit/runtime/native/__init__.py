"""The native backend: loop nests of a graph compiled by numba into machine code, region by region.

The generated code (runtime/codegen.py) asks `region_for` about every `prim.Loop` it
writes. A loop whose whole nest the backend lowers (lower.py, NOTE: [What a region
is]) becomes one call of a numba function, written beside the NumPy code of the same
loop, which runs instead when the region returns None (numba refused it, or an input
is not of the type it was lowered for). A loop that does not lower is written as
NumPy code, and the loops nested in it are asked in turn. In-place writes inside a
region: inplace.py; the disk cache: cache.py; bounds and type checks: region.py.

`DISTJIT_NATIVE=0` in the environment turns the backend off (every loop runs as NumPy
code), for comparison and debugging.

Two other readers: the cost model asks `lowers` which loops will run natively (the same
lowering, so it costs what will run), and the executors hear, through `recording`, which
regions a task ran and how (natively, loaded from the disk cache or compiled; or fell
back), which `RunStats.native` shows: a worker's own account, not the driver's guess.
"""
from __future__ import annotations

import os
import threading
import weakref
from contextlib import contextmanager

from distjit.ir.graph import Block, Graph, Node
from distjit.runtime.native.lower import Unsupported, lower

_regions: "weakref.WeakKeyDictionary[Graph, dict[Node, object]]" = weakref.WeakKeyDictionary()
_lowerings: "weakref.WeakKeyDictionary[Graph, dict[Node, bool]]" = weakref.WeakKeyDictionary()
_lowerings_lock = threading.Lock()
_here = threading.local()


def enabled() -> bool:
    return os.environ.get("DISTJIT_NATIVE", "1") != "0" and _numba_importable()


def region_for(graph: Graph, loop: Node):
    """The compiled region of `loop` (a callable returning its results, or None to run it with NumPy), or None
    when the loop's nest does not lower; the answer is kept for `explain`."""
    from distjit.runtime.native.region import Region

    decisions = _regions.setdefault(graph, {})
    if loop in decisions:
        found = decisions[loop]
        return found if isinstance(found, Region) else None
    try:
        found = Region(loop, lower(loop, graph.inputs))
    except Unsupported as e:
        found = str(e)
    decisions[loop] = found
    return found if isinstance(found, Region) else None


def lowers(graph: Graph, loop: Node) -> bool:
    """Whether `loop` will run as a native region: the backend is on and the loop's nest lowers (the decision
    `region_for` makes, without compiling; a region numba refuses once called is False). The cost model asks
    it about graphs it plans; the answer is kept per graph, apart from `region_for`'s, because a graph is
    planned before the runtime plans its buffers (a loop written into a planned buffer is not a region)."""
    if not enabled():
        return False
    from distjit.runtime.native.region import Region

    found = _regions.get(graph, {}).get(loop)
    if found is not None:
        return isinstance(found, Region) and found.failed is None
    with _lowerings_lock:
        known = _lowerings.setdefault(graph, {})
        if loop not in known:
            try:
                lower(loop, graph.inputs)
                known[loop] = True
            except Unsupported:
                known[loop] = False
        return known[loop]


@contextmanager
def recording():
    """Collect, for the code this thread runs inside the block, one line per native region called: where its
    loop is and how it ran (`Region.status`, or the fall back to NumPy); the executors wrap a task in it."""
    saved = getattr(_here, "log", None)
    log: list[str] = []
    _here.log = log
    try:
        yield log
    finally:
        _here.log = saved


def record(line: str) -> None:
    """Called by a region after it ran (or fell back); a no-op unless `recording` is on in this thread."""
    log = getattr(_here, "log", None)
    if log is not None and line not in log:
        log.append(line)


def explain(graph: Graph) -> str:
    """Which loops of the graph run natively and which fell back to NumPy, and why."""
    if not enabled():
        return "native backend: off (DISTJIT_NATIVE=0 or numba missing); every loop runs as NumPy code"
    lines: list[str] = []
    _explain_block(graph, graph.block, lines, 1)
    if not lines:
        return "native backend: the graph has no loops"
    return "\n".join(["native backend (numba), loop by loop:", *lines])


def _explain_block(graph: Graph, block: Block, lines: list[str], depth: int) -> None:
    for node in block.nodes:
        if node.op == "prim.Loop":
            region = region_for(graph, node)
            where = f" at {node.loc}" if node.loc is not None else ""
            outs = ", ".join("%" + v.name for v in node.outputs) or "(no results)"
            if region is not None:
                lines.append("    " * depth + f"loop {outs}{where}: {region.status()}")
                continue
            reason = _regions[graph][node]
            lines.append("    " * depth + f"loop {outs}{where}: NumPy code, as {reason}")
        for nested in node.blocks:
            _explain_block(graph, nested, lines, depth + (node.op == "prim.Loop"))


_importable: bool | None = None


def _numba_importable() -> bool:
    global _importable
    if _importable is None:
        try:
            import numba  # noqa: F401
            _importable = True
        except ImportError:
            _importable = False
    return _importable


class Explained:
    """An optimizer's Report whose `explain()` ends with the native backend's account of the graph's loops."""

    def __init__(self, report, graph: Graph):
        self.report = report
        self._graph = graph

    def __getattr__(self, name):
        return getattr(self.report, name)

    def explain(self) -> str:
        return self.report.explain() + "\n" + explain(self._graph)

    __str__ = explain
