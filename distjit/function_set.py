"""`distjit.FunctionSet`: one program compiled for several argument signatures; a call picks the one that fits.

A scripted function is typed by its arguments (NOTE: [Script design] in frontend/script.py):
one `Function` per signature, the (dtype, number of dimensions) of each array and the
kind of each Python number. This class is what such a family of Functions can do without
the Python source at hand, which is what `distjit.load` returns for a file that holds
several signatures; `ScriptFunction` extends it by compiling the signatures it has not seen.

Everything a Function does, a FunctionSet does for the signature of the arguments at hand
(`f(x)`, `f.run(x, cluster=...)`, `f.interpret(x)`, `f.function_for(x)`), and for the
most recent specialization where there are no arguments to choose by (`.graph`,
`.params`, `.plan()`, `.code`, `.optimization`), as `torch.jit` shows a scripted
module's code for its last compiled form. The attributes are explicit properties, never
a `__getattr__` forwarding to a Function: a misuse then raises a DistJitError that says
what to do instead, not an AttributeError from deep inside.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from distjit.errors import DistJitError, ScriptError, ShapeError
from distjit.function import Function, Signature, bind_arguments
from distjit.ir.graph import Graph
from distjit.pytree import TreeSpec, flatten, leaf_paths
from distjit.types import ScalarType, TensorType, Type

# The metadata entry (saved with the set) that says why some Functions were compiled another way than asked.
FALLBACK_METADATA = "distjit.fallback"

# The dispatch key of one flattened argument: ("array", dtype, ndim) or ("py", kind). A NumPy scalar is a
# 0-d array, as the tracer types it; a Python number is keyed by its kind, which NEP 50 makes part of the meaning.
LeafKey = tuple


def leaf_key(x) -> LeafKey:
    """The dispatch key of a call's argument leaf; ShapeError for a value no graph input can take."""
    if isinstance(x, (np.ndarray, np.generic)):
        return ("array", x.dtype, x.ndim)
    for kind in ("bool", "int", "float", "complex"):       # bool before int: True is an int too
        if isinstance(x, ScalarType(kind).pytype):
            return ("py", kind)
    raise ShapeError(f"arguments must be NumPy arrays, NumPy scalars, Python numbers, or tuples, lists and "
                     f"dicts of them; got {type(x).__name__}")


def type_key(t: Type) -> LeafKey:
    """The dispatch key of a graph input of type `t` (what `leaf_key` gives for the arguments it accepts)."""
    if isinstance(t, TensorType):
        return ("array", t.dtype, t.ndim)
    if isinstance(t, ScalarType):
        return ("py", t.kind)
    raise ShapeError(f"a graph input of type {t} cannot be an argument of a FunctionSet")


def signature_key(f: Function) -> tuple:
    """The key under which a FunctionSet files `f`: its argument structure, each input's key, its guards and
    its inputs' static dims (a graph specialized on shapes is one per shape, NOTE: [Fallbacks])."""
    return (*types_key(f), guard_key(f), shape_key(f))


def types_key(f: Function) -> tuple:
    """What a call is dispatched by first: the argument structure and each input's key."""
    return (f.signature.in_spec, tuple(type_key(v.type) for v in f.graph.inputs))


def guard_key(f: Function) -> tuple:
    """((input index, value), ...): the scalar values `f`'s graph was specialized on (trace.py's guards)."""
    guards = f.graph.guards
    if not guards:
        return ()
    return tuple((i, guards[v]) for i, v in enumerate(f.graph.inputs) if v in guards)


def shape_key(f: Function) -> tuple:
    """((input index, axis, size), ...): the static dims of `f`'s array inputs."""
    return tuple((i, axis, d) for i, v in enumerate(f.graph.inputs) if isinstance(v.type, TensorType)
                 for axis, d in enumerate(v.type.shape) if isinstance(d, int))


def guards_hold(guards: tuple, leaves) -> bool:
    return all(leaves[i] == value for i, value in guards)


def shapes_fit(shapes: tuple, leaves) -> bool:
    return all(np.shape(leaves[i])[axis] == d for i, axis, d in shapes)


def describe_key(key: LeafKey) -> str:
    if key[0] == "array":
        dtype = str(key[1])
        return f"{'an' if dtype[0] in 'aeio' else 'a'} {dtype} array with {key[2]} dimension{'' if key[2] == 1 else 's'}"
    return f"a Python {key[1]}"


class FunctionSet:
    """Functions of one program, one per argument signature: call it like the program.

    >>> h = distjit.load("relax.djit")       # a file saved from a scripted function with two signatures
    >>> h(u64, 1e-6, 500)                    # runs the float64 specialization
    >>> h.function_for(u32, 1e-6, 500)       # the distjit.Function a call with these arguments runs
    """

    def __init__(self, functions: Iterable[Function] = (), name: str | None = None):
        self._functions: dict[tuple, Function] = {}
        # types_key -> [(guard_key, shape_key, Function)]: the Functions a call of those types may run, in order
        self._by_types: dict[tuple, list[tuple[tuple, tuple, Function]]] = {}
        self._last: Function | None = None
        self.metadata: dict[str, str] = {}
        self._fallbacks: list = []      # the Fallbacks of the Functions made here (NOTE: [Fallbacks])
        functions = list(functions)
        self.name = name or (functions[0].name if functions else "functions")
        for f in functions:
            self.add(f)

    def add(self, f: Function) -> None:
        """File `f` under its signature (replacing one of the same signature); it becomes the latest."""
        first = next(iter(self._functions.values()), None)
        if first is not None and first.signature.arg_names != f.signature.arg_names:
            raise ShapeError(f"{self.name}: every Function of a set takes the same arguments; "
                             f"{first.signature.arg_names} and {f.signature.arg_names} differ")
        self._store(f)
        self._last = f

    def _store(self, f: Function) -> None:
        key = signature_key(f)
        types, guards, shapes = key[:2], key[2], key[3]
        entries = self._by_types.setdefault(types, [])
        if key in self._functions:
            entries[:] = [(g, s, h) for g, s, h in entries if (g, s) != (guards, shapes)]
        entries.append((guards, shapes, f))
        self._functions[key] = f
        self._note_fallbacks(f)

    def _note_fallbacks(self, f: Function) -> None:
        """Keep `f`'s fallbacks, and their text in the metadata a saved file carries."""
        new = [r for r in getattr(f, "fallbacks", ()) if r not in self._fallbacks]
        if new:
            self._fallbacks.extend(new)
            self.metadata[FALLBACK_METADATA] = "\n".join(str(r) for r in self._fallbacks)

    # A call whose shapes no Function was specialized on compiles one (ScriptFunction), or else runs the one
    # whose guards hold, which raises the ShapeError.
    _compiles_per_shape = False

    def _same_types(self, spec: TreeSpec, keys: tuple) -> bool:
        """Some Function takes arguments of these types (a call that missed broke its guards)."""
        return (spec, keys) in self._by_types

    # -- choosing the Function for a call -------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        values = self._bind(args, kwargs)
        return self._function_for_values(values)(*values)

    def function_for(self, *args, **kwargs) -> Function:
        """The Function a call with these arguments runs (its `.graph`, `.plan()`, `.params` are that signature's)."""
        return self._function_for_values(self._bind(args, kwargs))

    def _function_for_values(self, values: tuple, flat: tuple | None = None) -> Function:
        """`flat`: (leaves, spec) of `values` when the caller has flattened them already."""
        if flat is None:
            try:
                flat = flatten(values)
            except TypeError as e:
                raise ShapeError(f"{self.name}(): {e}") from None
        leaves, spec = flat
        try:
            keys = tuple(leaf_key(x) for x in leaves)
        except ShapeError as e:
            raise ShapeError(f"{self.name}(): {e}") from None
        f = held = None
        for guards, shapes, candidate in self._by_types.get((spec, keys), ()):
            if guards_hold(guards, leaves):
                if not shapes or shapes_fit(shapes, leaves):
                    f = candidate
                    break
                held = held or candidate
        if f is None and not self._compiles_per_shape:
            f = held    # a set that cannot compile runs one whose guards hold: it names the dim that differs
        if f is None:
            f = self._missing(values, leaves, spec, keys)
        self._last = f
        return f

    def _missing(self, values: tuple, leaves: list, spec: TreeSpec, keys: tuple) -> Function:
        """No Function fits these arguments: a set without the source cannot compile one, so say which argument."""
        if self._same_types(spec, keys):
            raise ShapeError(self._mismatch(spec, keys, leaves) + "; save the set with this value too (call the "
                             "traced function with it before distjit.save), or trace it again")
        raise ShapeError(self._mismatch(spec, keys) + "; save the set with this signature too "
                         "(call the scripted function with such arguments before distjit.save, or pass example_inputs=)")

    def _guard_mismatch(self, spec: TreeSpec, leaves) -> str:
        """Which argument broke the guards, its value, and the values the graphs were specialized on."""
        paths = []
        for name, child in zip(self._arg_names(), spec.children):
            paths.extend(leaf_paths(child, name))
        keys = tuple(leaf_key(x) for x in leaves)
        entries = self._by_types[(spec, keys)]
        broken = {i for guards, _, _ in entries for i, value in guards if leaves[i] != value}
        i = min(broken)
        assumed = sorted({repr(value) for guards, _, _ in entries for j, value in guards if j == i})
        return (f"{self.name}(): argument {paths[i]} is {leaves[i]!r}, but {self.name} was specialized on "
                f"{paths[i]} == {' or '.join(assumed)} (its value was used as a size, trip count or "
                f"condition while tracing)")

    def _mismatch(self, spec: TreeSpec, keys: tuple, leaves=None) -> str:
        names = self._arg_names()
        if leaves is not None and (spec, keys) in self._by_types:
            return self._guard_mismatch(spec, leaves)
        known = list(self._functions)
        same_structure = [k for k in known if k[0] == spec]
        if not same_structure:
            for name, got, child in zip(names, spec.children, zip(*[k[0].children for k in known])):
                if got not in child:
                    return (f"{self.name}(): argument {name} is structured as {got}, but {self.name} takes it as "
                            f"{' or '.join(sorted({str(c) for c in child}))}")
            return f"{self.name}(): the arguments are structured as {spec}, which no signature of {self.name} has"
        paths = []
        for name, child in zip(names, spec.children):
            paths.extend(leaf_paths(child, name))
        for i, (path, key) in enumerate(zip(paths, keys)):
            accepted = {k[1][i] for k in same_structure}
            if key not in accepted:
                return (f"{self.name}(): argument {path} is {describe_key(key)}, but the signatures of {self.name} "
                        f"take {path} as {' or '.join(sorted(describe_key(a) for a in accepted))}")
        return (f"{self.name}(): no signature of {self.name} takes this combination of arguments ("
                + ", ".join(f"{p}: {describe_key(k)}" for p, k in zip(paths, keys)) + ")")

    def _bind(self, args: Sequence, kwargs: dict) -> tuple:
        """The arguments by position, defaults filled in (every Function of the set takes the same names)."""
        sig = self._latest().signature
        if not kwargs and len(args) == len(sig.arg_names):
            return tuple(args)
        return bind_arguments(self.name, sig, args, kwargs)

    def _arg_names(self) -> list[str]:
        return list(self._latest().signature.arg_names)

    def _latest(self) -> Function:
        if self._last is None:
            raise ScriptError(self._not_compiled())
        return self._last

    def _not_compiled(self) -> str:
        return f"{self.name} holds no Function yet"

    # -- running, for the arguments' signature ----------------------------------------------------------
    def run(self, *args, cluster="local", workers: int | None = None, shard: dict | None = None,
            stats: bool = False, progress=None, **kwargs):
        """`Function.run` of the specialization for these arguments: its Plan on the LocalExecutor or on Ray."""
        values = self._bind(args, kwargs)
        return self._function_for_values(values).run(*values, cluster=cluster, workers=workers, shard=shard,
                                                     stats=stats, progress=progress)

    def interpret(self, *args, **kwargs):
        """`Function.interpret` of the specialization for these arguments (the reference interpreter)."""
        values = self._bind(args, kwargs)
        return self._function_for_values(values).interpret(*values)

    # -- the latest specialization ----------------------------------------------------------------------
    @property
    def latest(self) -> Function:
        """The Function of the most recent call (or compile, or load): what `.graph`, `.params`, `.plan()` show."""
        return self._latest()

    @property
    def graph(self) -> Graph:
        """The graph of the most recent specialization (`function_for(*args).graph` for a given signature)."""
        return self._latest().graph

    @property
    def signature(self) -> Signature:
        return self._latest().signature

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The named parameters of the most recent specialization."""
        return self._latest().params

    @property
    def code(self) -> str:
        """The Python source generated for the most recent specialization's graph (what runs)."""
        return self._latest().code

    @property
    def program_graph(self) -> Graph:
        """The graph the most recent specialization's program runs (`Function.program_graph`)."""
        return self._latest().program_graph

    @property
    def optimization(self):
        """The optimizer's Report for the most recent specialization (`.explain()` prints it)."""
        f = self._latest()
        report = getattr(f, "optimization", None)
        if report is None:
            raise ScriptError(f"{self.name} is not optimized: distjit.optimize({self.name}) returns an optimized "
                              f"copy, whose .optimization says what changed")
        return report

    def explain(self) -> str:
        """`Function.explain` of the most recent specialization: its fallbacks, then what each pass did."""
        return self._latest().explain()

    def plan(self, workers: int = 2, shard: dict | None = None):
        """The partitioned Plan of the most recent specialization (`function_for(*args).plan()` for another)."""
        return self._latest().plan(workers, shard)

    def plan_per_shape(self, workers: int = 2, shard: dict | None = None):
        """`Function.plan_per_shape` of the most recent specialization."""
        return self._latest().plan_per_shape(workers, shard)

    @property
    def plans(self) -> dict:
        """The Plans the most recent specialization carries (`Function.plans`)."""
        return self._latest().plans

    @property
    def loaded_plan_keys(self) -> set:
        return self._latest().loaded_plan_keys

    @property
    def symbolic(self) -> bool:
        return self._latest().symbolic

    def with_graph(self, graph: Graph) -> Function:
        """A Function over `graph` with the most recent specialization's signature and parameters."""
        return self._latest().with_graph(graph)

    def static_for(self, types) -> Function:
        return self._latest().static_for(types)

    # The calling convention's steps, of the most recent specialization (what `function_for` chose).
    def flatten_inputs(self, args: Sequence, kwargs: dict) -> Sequence:
        return self.function_for(*args, **kwargs).flatten_inputs(args, kwargs)

    def run_graph(self, leaves: list) -> list:
        return self._latest().run_graph(leaves)

    def finish(self, leaves: Sequence, outputs: Sequence):
        return self._latest().finish(leaves, outputs)

    @property
    def fallbacks(self) -> tuple:
        """Why Functions of this set were compiled another way than asked for (NOTE: [Fallbacks] in
        frontend/fallbacks.py): `Fallback`s, each with the user's line (`.loc`) and the first error
        (`.message`). A loaded set has them as text, in `metadata["distjit.fallback"]`."""
        return tuple(self._fallbacks)

    # -- every specialization ---------------------------------------------------------------------------
    @property
    def functions(self) -> list[Function]:
        """One Function per signature, in the order they were compiled (or saved)."""
        return list(self._functions.values())

    @property
    def graphs(self) -> list[Graph]:
        return [f.graph for f in self._functions.values()]

    def optimize(self, level: int = 2, **options) -> "FunctionSet":
        """An optimized copy: `distjit.optimize` of every Function, with the same options."""
        check_optimize_options(level, options)
        out = FunctionSet([f.optimize(level, **options) for f in self._functions.values()], self.name)
        out.metadata = dict(self.metadata)
        if self._last is not None:
            out._last = out._functions[signature_key(self._last)]
        return out

    def functions_to_save(self, example_inputs=None) -> list[Function]:
        """What `distjit.save` writes: every Function so far, or those for `example_inputs` (one tuple of
        arguments, or a list of them)."""
        if example_inputs is None:
            functions = self.functions
        else:
            functions = []
            for args in example_sets(example_inputs):
                f = self.function_for(*args)
                if f not in functions:
                    functions.append(f)
        if not functions:
            raise ScriptError(self._not_compiled())
        return functions

    def __len__(self) -> int:
        return len(self._functions)

    def __repr__(self):
        return f"<distjit.{type(self).__name__} {self.name}: {len(self._functions)} signature(s)>"


def optimize(f, level: int = 2, **options):
    """`distjit.optimize`: an optimized copy of a Function, or of every specialization of a scripted function
    (present and future, with the same options); see `distjit.passes.optimize` for the levels and options.

    >>> g = distjit.optimize(f)
    >>> print(g.optimization.explain())
    """
    if isinstance(f, FunctionSet):
        return f.optimize(level, **options)
    if not isinstance(f, Function):
        raise DistJitError(f"distjit.optimize takes a distjit.Function or a scripted function, not a "
                           f"{type(f).__name__}: make one with distjit.trace(fn, example_inputs) or distjit.script(fn)")
    from distjit.passes import optimize as optimize_function

    return optimize_function(f, level, **options)


def example_sets(example_inputs) -> list[tuple]:
    """`example_inputs=` as a list of argument tuples: a tuple is one call's arguments, a list holds several."""
    if isinstance(example_inputs, list):
        sets = example_inputs
    else:
        sets = [example_inputs]
    out = []
    for args in sets:
        if not isinstance(args, tuple):
            args = (args,)
        out.append(args)
    if not out:
        raise ScriptError("example_inputs=[] names no signature: give a tuple of arguments, or a list of them")
    return out


def check_optimize_options(level: int, options: dict[str, Any]) -> None:
    """Refuse bad options now, not at the first call that compiles a new signature."""
    from distjit.passes import PASSES, PIPELINES

    if level not in PIPELINES:
        raise DistJitError(f"optimize(): level must be one of {sorted(PIPELINES)}, not {level!r}")
    allowed = {"passes", "verify", "dump", "explain", "max_rewrites"}
    unknown = set(options) - allowed
    if unknown:
        raise DistJitError(f"optimize() got unexpected option(s) {', '.join(sorted(unknown))} "
                           f"(it takes level, {', '.join(sorted(allowed))})")
    unknown_passes = [p for p in options.get("passes") or () if p not in PASSES]
    if unknown_passes:
        raise DistJitError(f"optimize(): unknown pass(es) {', '.join(unknown_passes)} "
                           f"(known: {', '.join(sorted(PASSES))})")
