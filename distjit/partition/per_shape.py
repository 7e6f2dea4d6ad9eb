"""PlanPerShape: the Plan of a graph with symbolic dims, concretized per call shape and cached.

A Plan splits concrete row ranges ([0:500] [500:1000]), so a graph traced with
`dynamic_axes={"x": {0: "B"}}` cannot be partitioned once for every B. Rather than replicate
everything (one task), `f.plan()` on such a graph returns a PlanPerShape: at each call, the graph is
made static for the arguments' types (`f.static_for(types)`, which concretizes it) and partitioned for them, and
that Plan is cached by those types. A split along a symbolic dim (`shard={"x": 0}`, or the default
batch split) is thus decided per call, with the real size. `f.run` uses one for every graph with
symbolic dims (unless the Function was loaded with a saved Plan for those workers and shard: a
saved Plan is the decision the file carries); `f.plan(shard=...)` returns one when `shard` splits a
symbolic dim, and `f.plan_per_shape()` always. The plain Plan of such a graph (what `f.plan()`
gives otherwise, and what is saved) splits static dims only, and its explain() says so.
Per-shape Plans live with the Function in memory; they are not saved in `.djit` files.
"""
from __future__ import annotations

import threading

from distjit.errors import DistJitError
from distjit.types import TensorType


def is_symbolic(graph) -> bool:
    return any(isinstance(v.type, TensorType) and not v.type.is_static for v in graph.inputs)


def splits_symbolic(f, shard: dict | None) -> bool:
    """`shard` asks to split some input along one of its symbolic dims."""
    if not shard or not is_symbolic(f.graph):
        return False
    for name, v in zip(f.signature.input_paths(), f.graph.inputs):
        for key, axis in shard.items():
            if (name == key or name.startswith(f"{key}[")) and isinstance(axis, int) \
                    and isinstance(v.type, TensorType) and -v.type.ndim <= axis < v.type.ndim \
                    and not isinstance(v.type.shape[axis % v.type.ndim], int):
                return True
    return False


class PlanPerShape:
    """What `f.plan(workers, shard)` returns for a graph with symbolic dims; `for_types` gives the Plan."""

    def __init__(self, f, workers: int, shard: dict | None = None, cost=None):
        from distjit.partition.partition import check_overrides

        if workers < 1:
            raise DistJitError(f"partition: workers must be at least 1, got {workers}")
        self.function = f
        self.name = f.name
        self.workers = workers
        self.shard = dict(shard or {})
        self.cost = cost
        self.input_names = f.signature.input_paths()
        check_overrides(f, self.input_names, self.shard)
        self._plans: dict[tuple, object] = {}
        self._lock = threading.Lock()

    def for_leaves(self, leaves):
        from distjit.types import type_of

        return self.for_types(tuple(type_of(leaf) for leaf in leaves))

    def for_types(self, types: tuple):
        """The Plan for arguments of these (static) types, made once per types."""
        with self._lock:
            if types not in self._plans:
                from distjit.partition.partition import partition

                # the Function makes its static copy: concretizing runs passes, which the partitioner
                # (their peer) does not import
                static = self.function.static_for(types)
                self._plans[types] = partition(static, workers=self.workers, shard=self.shard or None,
                                               cost=self.cost)
            return self._plans[types]

    @property
    def plans(self) -> dict:
        """The Plans made so far, by argument types."""
        return dict(self._plans)

    def explain(self) -> str:
        f = self.function
        symbols = sorted({d for v in f.graph.inputs if isinstance(v.type, TensorType)
                          for d in v.type.shape if not isinstance(d, int)})
        lines = [f"Plan {self.name}: per call shape, planned for {self.workers} worker(s). The graph has "
                 f"symbolic dim(s) {', '.join(symbols)}: each call's shapes get a Plan of their own "
                 f"(the graph concretized for them, then partitioned; cached per shape)."]
        lines.append("inputs:")
        for name, v in zip(self.input_names, f.graph.inputs):
            lines.append(f"  {name:<14} {v.type}  {self._layout(name, v.type)}")
        if not self._plans:
            lines.append("no call yet: no shape has been planned")
        for types, plan in self._plans.items():
            shape = ", ".join(str(t) for t in types)
            lines.append(f"for ({shape}):")
            lines += ["  " + line for line in plan.explain().splitlines()]
        return "\n".join(lines)

    def _layout(self, name: str, t) -> str:
        keys = [k for k in self.shard if k == name or name.startswith(f"{k}[")]
        if keys:
            axis = self.shard[keys[0]]
            if axis is None:
                return "replicated (shard=)"
            dim = t.shape[axis % t.ndim]
            return f"split along axis {axis % t.ndim} ({dim}) into up to {self.workers} parts (shard=)"
        if not isinstance(t, TensorType) or t.ndim == 0 or self.workers == 1:
            return "replicated"
        return (f"split along axis 0 ({t.shape[0]}) into up to {self.workers} parts when the call's array "
                f"is big enough and the work outweighs the per-task overhead, else replicated")

    def __repr__(self):
        return f"<distjit PlanPerShape {self.name}: {len(self._plans)} shape(s) planned, {self.workers} workers>"
