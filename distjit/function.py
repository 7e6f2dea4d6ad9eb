"""`distjit.Function`: a graph, its named parameters and its calling convention.

What a frontend returns and what users call. A call flattens the (possibly
nested) arguments, checks them against the traced signature, runs the compiled
graph, writes results back into the caller's arrays that the function mutated
(so the caller sees NumPy's in-place semantics), and rebuilds nested outputs.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from distjit.errors import AliasedArgumentsError, ShapeError
from distjit.ir.collector import collector_off
from distjit.ir.graph import Graph
from distjit.ir.source import user_loc
from distjit.types import ScalarType, TensorType, Type
from distjit.pytree import TreeSpec, flatten, leaf_paths, unflatten
from distjit.runtime.aliased_args import AliasPattern, ParamMemory, alias_pattern
from distjit.runtime.donation import donated_indices, donated_program, owned_inputs, write_back
import distjit.runtime.calibrate  # noqa: F401,E402  (gives the partitioner a way to measure this machine)


@dataclass
class Signature:
    """How Python arguments map to graph inputs, and graph outputs to Python results.

    `mutations` pairs a flattened input index with the graph output that holds its
    new contents; those outputs come after the user's outputs.
    """

    arg_names: tuple[str, ...]
    in_spec: TreeSpec
    out_spec: TreeSpec
    mutations: tuple[tuple[int, int], ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    # The user outputs NumPy returns as 0-d arrays (np.zeros(()), z[0, ...]); the runtime gives a 0-d result
    # as a NumPy scalar, which is what NumPy returns from ufuncs, reductions and z[0]. Saved since format 1.4.
    zero_d_arrays: tuple[int, ...] = ()

    def input_paths(self) -> list[str]:
        """A readable name for each flattened input (`x`, `batch['y']`), for error messages."""
        return list(self._input_paths)

    @functools.cached_property
    def _input_paths(self) -> tuple[str, ...]:
        paths = []
        for name, child in zip(self.arg_names, self.in_spec.children):
            paths.extend(leaf_paths(child, name))
        return tuple(paths)

    @functools.cached_property
    def mutated_leaves(self) -> tuple[int, ...]:
        """The leaf index of each mutated argument (the alias check runs over them on every call)."""
        return tuple(leaf for leaf, _ in self.mutations)

    @functools.cached_property
    def flat(self) -> bool:
        """Every argument is one array or scalar: a call's arguments are its leaves (the fast path)."""
        return all(child.kind == "leaf" for child in self.in_spec.children)


class Function:
    """A compiled NumPy function: call it like the original; `.graph` is its IR.

    >>> f = distjit.trace(fn, (x, w))
    >>> print(f.graph)
    >>> f(x, w)            # same results as fn(x, w)
    """

    def __init__(self, graph: Graph, signature: Signature, params: dict[str, np.ndarray] | None = None,
                 name: str | None = None):
        self.graph = graph
        self.signature = signature
        self.params: dict[str, np.ndarray] = dict(params or {})
        self.name = name or graph.name
        self._program = None
        self._program_params: tuple = ()
        self._program_graph: Graph = graph      # the graph the program runs: a copy planned with donated inputs
        self._donated: frozenset[int] = frozenset()
        self._param_memory = ParamMemory({})   # what is known of the bound parameters' memory, made by _compiled
        # NOTE: [Aliased arguments] in runtime/aliased_args.py. `recompile(leaves, pattern, bases)` compiles this
        # Function again for arguments that share memory (set by the frontend that has the Python function; None
        # for a loaded Function); the variants made, by pattern; and, on a variant, the pattern it was made for.
        self.recompile = None
        self._alias_variants: dict[AliasPattern, Function] = {}
        self.alias_pattern: AliasPattern | None = None
        self.takes_alias_index = False      # a variant whose graph takes the pattern's index_values as inputs
        # The partition plans this Function carries, by plan_key(workers, shard): made by `plan` / `run`,
        # saved with the Function and restored by `distjit.load` (so a loaded Function runs without re-partitioning).
        self.plans: dict[tuple, Any] = {}
        self._shape_plans: dict[tuple, Any] = {}   # PlanPerShapes of a graph with symbolic dims, by plan_key
        self.loaded_plan_keys: set = set()         # the keys of the Plans `distjit.load` restored
        # Why this Function was compiled another way than asked for (frontend/fallbacks.py): Fallbacks, in order.
        self.fallbacks: tuple = ()

    # -- calling ---------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        leaves = self.flatten_inputs(args, kwargs)
        outputs = self.run_graph(leaves)
        return self.finish(leaves, outputs)

    def flatten_inputs(self, args: Sequence, kwargs: dict) -> Sequence:
        """Bind arguments by position and name, flatten them, and check them against the signature."""
        sig = self.signature
        if not kwargs and sig.flat and len(args) == len(sig.arg_names):
            check_inputs(self.name, self.graph.inputs, args, sig._input_paths)
            if self.graph.guards:
                check_guards(self.name, self.graph, args, sig._input_paths)
            return args
        values = bind_arguments(self.name, sig, args, kwargs)
        try:
            leaves, spec = flatten(values)
        except TypeError as e:
            raise ShapeError(f"{self.name}(): {e}") from None
        if spec != sig.in_spec:
            for arg_name, value, got, traced in zip(sig.arg_names, values, spec.children, sig.in_spec.children):
                if got != traced:
                    expected = "a NumPy array or scalar" if traced.kind == "leaf" else f"structured like {traced}"
                    raise ShapeError(f"{self.name}(): argument {arg_name} must be {expected} as when traced, "
                                     f"got {type(value).__name__} {got}")
        check_inputs(self.name, self.graph.inputs, leaves, sig._input_paths)
        if self.graph.guards:
            check_guards(self.name, self.graph, leaves, sig._input_paths)
        return leaves

    def run_graph(self, leaves: list) -> list:
        """The graph's outputs for these (checked) arguments; arguments that share memory with a mutated one
        run the variant compiled for how they alias (NOTE: [Aliased arguments])."""
        program = self._compiled()
        if self.signature.mutations:
            aliased = self._aliased(leaves, self._param_memory)
            if aliased is not None:
                variant = self.alias_variant(leaves, *aliased)
                return variant._run_program(variant._compiled(), variant.variant_inputs(leaves, *aliased))
        return self._run_program(program, leaves)

    def _run_program(self, program, leaves: Sequence) -> list:
        from distjit.runtime.executor import run

        if self._donated:
            leaves = owned_inputs(leaves, self._donated)
        return run(program, leaves)

    def _aliased(self, leaves: Sequence, params: ParamMemory | None = None):
        """(pattern, hidden bases) when a mutated argument shares memory with another or a parameter, else None.
        `params`: the compiled program's ParamMemory (made here for a path that compiles no program)."""
        return alias_pattern(self.name, leaves, self.signature.mutated_leaves, self.signature._input_paths,
                             params or ParamMemory(self.params))

    def alias_variant(self, leaves: Sequence, pattern: AliasPattern, bases: Sequence = ()) -> Function:
        """This Function compiled for arguments that alias as `pattern` says, cached per pattern (per its
        structure for a variant that takes the offsets as inputs); its outputs are laid out as this Function's
        (the same mutations), so `finish` writes them back."""
        variant = self._alias_variants.get(pattern.structure) or self._alias_variants.get(pattern)
        if variant is None:
            if self.recompile is None:
                paths = self.signature._input_paths
                leaf, source, _ = pattern.links[0]
                if source >= len(paths):    # both are views of a hidden base: name another one
                    source = next(other for other, s, _ in pattern.links[1:] if s == source)
                raise AliasedArgumentsError(
                    f"{self.name}(): arguments {paths[source]} and {paths[leaf]} share memory and {self.name} "
                    f"updates one of them in place; this Function has no Python function to compile again for that "
                    f"(it was loaded, or built from a graph): pass a copy ({paths[leaf]}.copy())", user_loc())
            variant = self.recompile(leaves, pattern, tuple(bases))
            variant.alias_pattern = pattern
            self._alias_variants[pattern.structure if variant.takes_alias_index else pattern] = variant
        return variant

    def variant_inputs(self, leaves: Sequence, pattern: AliasPattern, bases: Sequence) -> list:
        """The inputs of this alias variant for a call: the arguments, the hidden bases, and the offsets if it
        takes them."""
        return [*leaves, *bases, *(pattern.index_values() if self.takes_alias_index else ())]

    def _compiled(self):
        """The generated program, compiled again when a parameter was replaced (`f.params["w"] = new`): it
        binds the arrays it was compiled with. The program holds those arrays, so their ids stay theirs.
        It updates the arrays the function mutates in place, in the caller's memory when `run_graph` hands
        it over (NOTE: [Donated arguments] in runtime/donation.py)."""
        from distjit.runtime.executor import compile_graph

        bound = tuple(id(a) for a in self.params.values())
        if self._program is None or self._program_params != bound:
            with collector_off():
                donated = donated_indices(self.graph, self._written_inputs())
                if donated:
                    self._program_graph, self._program = donated_program(self.graph, self.params, donated)
                else:
                    self._program_graph, self._program = self.graph, compile_graph(self.graph, self.params)
            self._donated = donated
            self._program_params = bound
            self._param_memory = ParamMemory(self.params)
        return self._program

    def _written_inputs(self) -> list[int]:
        """The inputs the program may update in place: the mutated arguments, and, on an alias variant, the arrays
        the others are traced as views of (an argument or a hidden base: the writes go into them)."""
        written = list(self.signature.mutated_leaves)
        pattern = self.alias_pattern
        if pattern is not None:
            written += [source for _, source, _ in pattern.links]
            n = len(self.signature._input_paths)
            written += range(n, n + len(pattern.bases))
        return sorted(set(written))

    def finish(self, leaves: Sequence, outputs: Sequence):
        """Write mutated arguments back into the caller's arrays and rebuild the nested outputs."""
        sig = self.signature
        if sig.zero_d_arrays:
            outputs = list(outputs)
            for index in sig.zero_d_arrays:
                outputs[index] = np.asarray(outputs[index])
        if not sig.mutations and sig.out_spec.kind == "leaf":
            return outputs[0]
        for leaf_index, out_index in sig.mutations:
            write_back(leaves[leaf_index], outputs[out_index])
        n_user = len(outputs) - len(sig.mutations)
        return unflatten(sig.out_spec, outputs[:n_user])

    def interpret(self, *args, **kwargs):
        """Run node by node with the reference interpreter (slower; for debugging)."""
        from distjit.runtime.interpreter import Interpreter

        leaves = self.flatten_inputs(args, kwargs)
        f, inputs = self, leaves
        if self.signature.mutations:
            aliased = self._aliased(leaves)
            if aliased is not None:
                f = self.alias_variant(leaves, *aliased)
                inputs = f.variant_inputs(leaves, *aliased)
        outputs = Interpreter(f.graph, f.params).run(*inputs)
        return self.finish(leaves, outputs)

    # -- introspection -----------------------------------------------------------
    @property
    def program_graph(self) -> Graph:
        """The graph the generated program runs: `graph`, or, for a function that mutates its arguments, a copy
        planned with them donated (NOTE: [Donated arguments] in runtime/donation.py)."""
        self._compiled()
        return self._program_graph

    @property
    def code(self) -> str:
        """The Python source generated for this function (what actually runs)."""
        return self._compiled().source

    def with_graph(self, graph: Graph) -> "Function":
        """A Function with the same signature and parameters over another graph (what passes return)."""
        params = {p.name: self.params[p.name] for p in graph.params}
        out = Function(graph, self.signature, params, self.name)
        out.fallbacks = self.fallbacks
        out.recompile = self.recompile      # the same program: its variants compute the same (passes.optimize
        out.takes_alias_index = self.takes_alias_index      # gives an optimized Function optimized variants)
        return out

    def explain(self) -> str:
        """How this Function was made: the fallbacks that made it (the user's line and the first way's error),
        then, if it is optimized, what each pass did."""
        lines = [str(r) for r in self.fallbacks] or ["compiled as asked (no fallback)"]
        report = getattr(self, "optimization", None)
        if report is not None:
            lines.append(report.explain())
        return "\n".join(lines)

    @property
    def optimization(self):
        """The optimizer's Report (None for a Function `optimize` did not make); its `explain()` also says which
        loops run natively and which fell back to NumPy code, and why (distjit/runtime/native)."""
        report = self.__dict__.get("_optimization")
        if report is None:
            return None
        explained = self.__dict__.get("_explained")
        if explained is None or explained.report is not report or explained._graph is not self._program_graph:
            from distjit.runtime.native import Explained

            explained = self._explained = Explained(report, self._program_graph)
        return explained

    @optimization.setter
    def optimization(self, report) -> None:
        self._optimization = report

    def optimize(self, level: int = 2, **options) -> "Function":
        """An optimized copy: `distjit.optimize(self, level, ...)`; the result's `.optimization` says what changed."""
        from distjit.passes import optimize

        return optimize(self, level, **options)

    # -- distributed ---------------------------------------------------------------
    def plan(self, workers: int = 2, shard: dict | None = None, *, cost=None):
        """The partitioned Plan of this function for `workers` workers (see `distjit.partition`; `cost`, a
        distjit.partition.CostModel, is what it is planned for: by default this machine's calibration and
        Ray's per-task costs).

        The Plan is attached to the Function (`self.plans`, saved with it): asking again for the same
        (workers, shard) returns it without partitioning again.
        """
        from distjit.partition import partition

        from distjit.partition.per_shape import splits_symbolic

        if splits_symbolic(self, shard):
            return self.plan_per_shape(workers, shard, cost=cost)
        key = plan_key(workers, shard)
        if key not in self.plans:
            self.plans[key] = partition(self, workers=workers, shard=shard, cost=cost)
        return self.plans[key]

    def plan_per_shape(self, workers: int = 2, shard: dict | None = None, *, cost=None):
        """A PlanPerShape (distjit/partition/per_shape.py): the graph concretized and partitioned per call
        shape, cached; what `run` uses for a graph with symbolic dims. Kept in memory, not saved."""
        from distjit.partition.per_shape import PlanPerShape

        key = plan_key(workers, shard)
        if key not in self._shape_plans:
            self._shape_plans[key] = PlanPerShape(self, workers, shard, cost)
        return self._shape_plans[key]

    def static_for(self, types) -> "Function":
        """This Function with its graph made static for arguments of `types` (what a PlanPerShape partitions)."""
        from distjit.passes.specialize import concretize

        return Function(concretize(self.graph, list(types)), self.signature, self.params, self.name)

    @property
    def symbolic(self) -> bool:
        """Some input has a symbolic dim: Plans are made per call shape."""
        from distjit.partition.per_shape import is_symbolic

        return is_symbolic(self.graph)

    def run(self, *args, cluster="local", workers: int | None = None, shard: dict | None = None,
            stats: bool = False, progress=None, timeline=None, **kwargs):
        """Run the partitioned Plan: cluster="local" (threads), "auto", "ray://host:port" or "host:port" (Ray).

        Same results as calling the function (to rounding where partial reductions reorder sums).
        The Plan is built once per (workers, shard) and reused. `stats=True` returns
        `(result, scheduler.stats.RunStats)`: tasks, bytes through the object store, time per stage, each
        beside its predicted time. `progress(done, total)` is called as tasks finish. `timeline="run.json"`
        writes a Chrome trace-event file of the run (scheduler/timeline.py): one row per worker, one slice
        per task, each with the Plan's predicted and the measured time. A Plan made here is planned with
        the executor's own costs (`executor.cost_model()`).
        """
        from scheduler import executor_for   # lazily: distjit never imports the scheduler (or ray) at module level

        leaves = self.flatten_inputs(args, kwargs)
        if self.signature.mutations and self._aliased(leaves) is not None:
            raise AliasedArgumentsError(
                f"{self.name}.run(): arguments that share memory with an argument {self.name} updates in place run "
                f"only in one process (call {self.name}(...)); a Plan's tasks update their own copies: pass copies",
                user_loc())
        executor = executor_for(cluster)
        workers = workers or executor.default_workers()
        plan = self._plan_for(leaves, workers, shard, executor)
        if not stats and progress is None and timeline is None:
            return self.finish(leaves, executor.run(plan, leaves, self.params))
        from scheduler.stats import Tracker, predicted_run

        name = getattr(executor, "name", type(executor).__name__)
        tracker = Tracker(plan, name, progress, predicted_run(plan, executor), spans=timeline is not None)
        result = self.finish(leaves, executor.run(plan, leaves, self.params, tracker=tracker))
        run_stats = tracker.finish()
        if timeline is not None:
            from scheduler import timeline as trace

            trace.write(timeline, plan, tracker.spans, tracker.wall_start, name)
        return (result, run_stats) if stats else result

    def _plan_for(self, leaves: list, workers: int, shard: dict | None, executor=None):
        """The Plan for these arguments: for a graph with symbolic dims, the one made for their shapes
        (unless the Function was loaded with a saved Plan for this key: that Plan is the file's decision).
        A Plan made here is planned with `executor`'s costs."""
        key = plan_key(workers, shard)
        cost = executor.cost_model if hasattr(executor, "cost_model") else (lambda: None)
        if not self.symbolic or key in self.loaded_plan_keys:
            if key in self.plans:
                return self.plans[key]
            return self.plan(workers, shard, cost=cost())
        return self.plan_per_shape(workers, shard, cost=cost()).for_leaves(leaves)

    def __repr__(self):
        return f"<distjit.Function {self.name}: {len(self.graph.inputs)} inputs, {self.graph.node_count()} nodes>"


def bind_arguments(name: str, sig: Signature, args: Sequence, kwargs: dict) -> tuple:
    """The arguments of a call by position, `sig`'s defaults filled in; ShapeError for a call Python would refuse."""
    if len(args) > len(sig.arg_names):
        raise ShapeError(f"{name}() takes {len(sig.arg_names)} arguments but {len(args)} were given")
    bound = dict(zip(sig.arg_names, args))
    for key, value in kwargs.items():
        if key not in sig.arg_names:
            raise ShapeError(f"{name}() got an unexpected argument {key!r} "
                             f"(its arguments are {', '.join(sig.arg_names)})")
        if key in bound:
            raise ShapeError(f"{name}() got multiple values for argument {key!r}")
        bound[key] = value
    missing = [n for n in sig.arg_names if n not in bound and n not in sig.defaults]
    if missing:
        raise ShapeError(f"{name}() is missing argument(s): {', '.join(missing)}")
    return tuple(bound[n] if n in bound else sig.defaults[n] for n in sig.arg_names)


def plan_key(workers: int, shard: dict | None = None) -> tuple:
    """The key of a Plan in `Function.plans`: (workers, ((input name, axis or None), ...) sorted by name)."""
    return (workers, tuple(sorted((shard or {}).items(), key=lambda item: str(item[0]))))


def check_inputs(name: str, inputs, leaves: Sequence, paths: Sequence[str], at_caller: bool = True) -> None:
    """Raise ShapeError when an argument does not fit the type of its graph input, naming the user's line of
    the call (`at_caller=False` for arguments that come from a file, as `distjit run` reads them)."""
    symbols: dict[str, tuple[int, str]] = {}
    try:
        for value, leaf, path in zip(inputs, leaves, paths):
            _check_one(name, value.type, leaf, path, symbols)
    except ShapeError as e:
        if not at_caller:
            raise
        raise ShapeError(str(e), loc=user_loc()) from None


def check_guards(name: str, graph: Graph, leaves: Sequence, paths: Sequence[str]) -> None:
    """Raise ShapeError when a scalar argument differs from the value the graph was specialized on."""
    for i, value in enumerate(graph.inputs):
        if value in graph.guards and leaves[i] != graph.guards[value]:
            raise ShapeError(f"{name}(): argument {paths[i]} is {leaves[i]!r}, but the graph was specialized on "
                             f"{paths[i]} == {graph.guards[value]!r} (its value was used as a size, trip count or "
                             f"condition while tracing: `guard %{value.name} == {graph.guards[value]!r}` in the "
                             f"graph); trace the function again with this value, or keep the traced function "
                             f"(distjit.trace's result traces again for each value)")


def _how_to_vary(t: TensorType, leaf: np.ndarray, path: str) -> str:
    """What to write to accept this shape: NOTE: [Static shapes of a trace]."""
    if not path.isidentifier():
        return (f"a trace keeps the example's static shapes, and dynamic_axes names whole array arguments "
                f"only: pass this array as an argument of its own and trace with dynamic_axes, or trace "
                f"again with these shapes")
    axes = {axis: f"{path.upper()}{axis}"
            for axis, (dim, actual) in enumerate(zip(t.shape, leaf.shape)) if isinstance(dim, int) and dim != actual}
    spec = ", ".join(f"{axis}: {symbol!r}" for axis, symbol in axes.items())
    return (f"a trace keeps the example's static shapes (as torch.jit.trace does); to accept other sizes, "
            f"trace with distjit.trace(..., dynamic_axes={{{path!r}: {{{spec}}}}}), or distjit.script the "
            f"function (all dims symbolic)")


# NOTE: [Static shapes of a trace]
# A Function from distjit.trace is its graph: it has no Python function to trace again (a loaded file
# has none either), and a static dim of the example is a fact every pass and the partitioner may use.
# So a call of another size is a ShapeError, as with torch.jit.trace, and the error writes the
# dynamic_axes= that accepts it. Retracing per value is for Python scalars the trace needed (guards,
# TracedFunction) and per signature for distjit.script, where dims are symbolic from the start.


def _check_one(name: str, t: Type, leaf: Any, path: str, symbols: dict) -> None:
    if isinstance(t, TensorType):
        if not isinstance(leaf, (np.ndarray, np.generic)):
            raise ShapeError(f"{name}(): argument {path} must be a NumPy array of {t}, got {type(leaf).__name__}")
        if leaf.dtype != t.dtype:
            raise ShapeError(f"{name}(): argument {path} has dtype {leaf.dtype}, but the function was traced "
                             f"with {t.dtype} ({t}); convert it with .astype(np.{t.dtype})")
        if leaf.ndim != t.ndim:
            raise ShapeError(f"{name}(): argument {path} has shape {leaf.shape}, but the function was traced "
                             f"with {t.ndim} dimensions ({t})")
        for axis, (dim, actual) in enumerate(zip(t.shape, leaf.shape)):
            if isinstance(dim, int):
                if dim != actual:
                    raise ShapeError(f"{name}(): argument {path} has shape {leaf.shape}, but the function was "
                                     f"traced for {t} (axis {axis} must be {dim}); {_how_to_vary(t, leaf, path)}")
            elif dim in symbols and symbols[dim][0] != actual:
                raise ShapeError(f"{name}(): dimension {dim} is {symbols[dim][0]} in {symbols[dim][1]} "
                                 f"but {actual} in argument {path} (shape {leaf.shape})")
            else:
                symbols.setdefault(dim, (actual, path))
    elif isinstance(t, ScalarType):
        expected = t.pytype
        ok = isinstance(leaf, expected) and (expected is not int or not isinstance(leaf, bool))
        if expected is float and isinstance(leaf, int) and not isinstance(leaf, bool):
            ok = False
        if not ok:
            raise ShapeError(f"{name}(): argument {path} must be a Python {t.kind}, got {type(leaf).__name__} "
                             f"(Python scalars are weakly typed in NumPy, so their kind is part of the signature)")
