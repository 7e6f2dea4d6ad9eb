"""The pass manager: passes registered by name, pipelines by level, and the report of what each pass did.

NOTE: [Pass contract]
A pass is a function ``run(graph, ctx)`` that rewrites `graph` in place. The
manager only ever gives a pass its own copy of the user's graph (`optimize` copies
once, up front), so the Function being optimized is never changed. Every rewrite a
pass makes goes through ``ctx.rewrite(message)``, which

- counts it (the report's "rewrites" column),
- keeps the message for `explain` (what changed, and why),
- and returns False once the debug budget ``max_rewrites`` is spent: the pass must
  then leave the graph as it is. Bisecting a miscompile is a binary search on
  ``max_rewrites``; the last rewrite allowed is the culprit.

Passes keep results bit for bit unless their `exact` flag is False (fusion into a
single expression evaluator, reordered reductions); those run only at level 2 and
up and say so in their docstrings.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from distjit.ir.collector import collector_off
from distjit.ir.graph import Graph


@dataclass(frozen=True)
class Pass:
    name: str
    run: Callable[[Graph, "PassContext"], None]
    doc: str
    exact: bool = True   # keeps results bitwise identical


PASSES: dict[str, Pass] = {}


def register_pass(name: str, exact: bool = True):
    """Decorator: register ``run(graph, ctx)`` as the pass `name`."""
    def wrap(fn):
        if name in PASSES:
            raise ValueError(f"pass {name!r} is registered twice")
        PASSES[name] = Pass(name, fn, (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else "", exact)
        return fn
    return wrap


# The cleanups that keep results bitwise identical, in the order they feed each other:
# inlining exposes constants, folding exposes simplifications, both expose duplicates, DCE sweeps up.
_CLEANUP = ["inline", "specialize", "fold", "simplify", "cse", "dce"]
PIPELINES: dict[int, list[str]] = {
    0: [],
    1: _CLEANUP + ["fold", "simplify", "cse", "dce"],
    2: _CLEANUP + ["fold", "simplify", "cse", "dce", "fuse", "dce", "memplan", "inplace"],
    3: _CLEANUP + ["fold", "simplify", "cse", "dce", "fuse", "dce", "memplan", "inplace"],
}


class StopRewriting(Exception):
    """Raised inside the manager when the rewrite budget is spent (never escapes `run_passes`)."""


@dataclass
class PassRecord:
    """What one pass did: time, node counts before and after, and its rewrites in order."""

    name: str
    seconds: float = 0.0
    nodes_before: int = 0
    nodes_after: int = 0
    rewrites: int = 0
    messages: list[str] = field(default_factory=list)


class PassContext:
    """What a pass can see of the manager: the level, and `rewrite` to count and log its changes."""

    def __init__(self, level: int = 2, max_rewrites: int | None = None, keep_messages: bool = True,
                 max_messages: int = 200):
        self.level = level
        self.max_rewrites = max_rewrites
        self.total = 0
        self.keep_messages = keep_messages
        self.max_messages = max_messages
        self.record: PassRecord | None = None

    def rewrite(self, message: str | Callable[[], str] = "") -> bool:
        """Ask to make one rewrite; False means the budget is spent and the pass must not change anything."""
        if self.max_rewrites is not None and self.total >= self.max_rewrites:
            return False
        self.total += 1
        rec = self.record
        if rec is not None:
            rec.rewrites += 1
            if self.keep_messages and len(rec.messages) < self.max_messages:
                rec.messages.append(message() if callable(message) else message)
        return True

    @property
    def exhausted(self) -> bool:
        return self.max_rewrites is not None and self.total >= self.max_rewrites


class Report:
    """The result of a pipeline run: a PassRecord per pass, printable as a table or as an explanation."""

    def __init__(self, level: int, records: list[PassRecord], dumps: list[tuple[str, str]]):
        self.level = level
        self.records = records
        self.dumps = dumps

    @property
    def pipeline(self) -> list[str]:
        return [r.name for r in self.records]

    def table(self) -> str:
        lines = [f"{'pass':<12} {'ms':>9} {'nodes':>15} {'rewrites':>9}"]
        for r in self.records:
            lines.append(f"{r.name:<12} {r.seconds * 1e3:9.2f} {r.nodes_before:>7}->{r.nodes_after:<7} {r.rewrites:9}")
        total = sum(r.seconds for r in self.records)
        lines.append(f"{'total':<12} {total * 1e3:9.2f}")
        return "\n".join(lines)

    def explain(self) -> str:
        """A readable account of what each pass did, in order (the first messages of each pass)."""
        out = [f"optimize at level {self.level}: {' -> '.join(self.pipeline) or '(no passes)'}"]
        for r in self.records:
            head = (f"{r.name}: {r.rewrites} rewrite{'s' if r.rewrites != 1 else ''}, "
                    f"{r.nodes_before} -> {r.nodes_after} nodes, {r.seconds * 1e3:.1f} ms")
            doc = PASSES[r.name].doc if r.name in PASSES else ""
            out.append(head + (f"  ({doc})" if doc else ""))
            for m in r.messages:
                out.append(f"    {m}")
            if r.rewrites > len(r.messages):
                out.append(f"    ... and {r.rewrites - len(r.messages)} more")
        return "\n".join(out)

    __str__ = explain


def run_passes(graph: Graph, passes: Sequence[str], level: int = 2, verify: bool = False,
               dump: bool | Callable[[str], None] = False, max_rewrites: int | None = None,
               keep_messages: bool = True) -> Report:
    """Run `passes` in order on `graph` (in place); returns the Report.

    verify: run the verifier after every pass (a VerifyError names the pass).
    dump: True prints the IR after every pass; a callable receives the text instead.
    max_rewrites: stop rewriting after that many rewrites in total (bisecting a miscompile).
    """
    # Passes allocate many small linked objects; the cyclic GC's full collections would make
    # big graphs quadratic, and nothing a pass frees is cyclic garbage worth collecting early.
    with collector_off():
        return _run(graph, passes, level, verify, dump, max_rewrites, keep_messages)


def _run(graph, passes, level, verify, dump, max_rewrites, keep_messages) -> Report:
    from distjit.errors import VerifyError

    ctx = PassContext(level, max_rewrites, keep_messages)
    records: list[PassRecord] = []
    dumps: list[tuple[str, str]] = []
    count = graph.node_count()          # only a pass changes the graph: its count after is the next one's before
    for name in passes:
        if name not in PASSES:
            raise KeyError(f"unknown pass {name!r}; the passes are: {', '.join(sorted(PASSES))}")
        p = PASSES[name]
        rec = PassRecord(name, nodes_before=count)
        ctx.record = rec
        start = time.perf_counter()
        p.run(graph, ctx)
        rec.seconds = time.perf_counter() - start
        rec.nodes_after = count = graph.node_count()
        records.append(rec)
        if verify:
            try:
                graph.verify()
            except VerifyError as e:
                raise VerifyError(f"after pass {name}: {e}", e.loc if hasattr(e, "loc") else None) from e
        if dump:
            text = f"// after {name}\n{graph}"
            dumps.append((name, text))
            if callable(dump):
                dump(text)
            else:
                print(text)
    ctx.record = None
    return Report(level, records, dumps)


def optimize(f, level: int = 2, passes: Sequence[str] | None = None, verify: bool = False,
             dump: bool | Callable[[str], None] = False, explain: bool = False,
             max_rewrites: int | None = None):
    """An optimized copy of the Function `f` (f itself is never changed).

    level: 0 none; 1 cleanups that keep results bitwise identical; 2 (default) adds
    elementwise fusion, memory planning and in-place updates; 3 also lets fusion reorder floating-point
    work. `passes` runs a custom list instead (names from `distjit.passes.PASSES`).

    The returned Function's ``.optimization`` is the Report; ``.explain()`` prints it.
    explain=True also prints the explanation.

    >>> g = distjit.optimize(f)
    >>> print(g.optimization.explain())
    """
    if level not in PIPELINES:
        raise ValueError(f"level must be one of {sorted(PIPELINES)}, not {level!r}")
    names = list(passes) if passes is not None else PIPELINES[level]
    with collector_off():       # the copy is as many new objects as the graph, kept as long as the passes run
        graph = f.graph.copy()
        report = run_passes(graph, names, level, verify, dump, max_rewrites)
    g = f.with_graph(graph)
    g.optimization = report
    if f.recompile is not None:
        g.recompile = functools.partial(_optimized_variant, f, level, passes, verify, max_rewrites)
    if explain:
        print(report.explain())
    return g


def _optimized_variant(f, level, passes, verify, max_rewrites, leaves, pattern, bases):
    """`Function.recompile` of an optimized Function: `f`'s variant for arguments that alias (NOTE: [Aliased
    arguments] in runtime/aliased_args.py), optimized as `f` was."""
    return optimize(f.alias_variant(leaves, pattern, bases), level, passes, verify, max_rewrites=max_rewrites)
