"""`distjit.script`: compile a NumPy function from its source, keeping its control flow.

    @distjit.script
    def relax(u: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, int]:
        it = 0
        while it < max_iter:
            ...
            if np.abs(new - u).max() < tol:
                return new, it
        return u, it

    relax(u0, 1e-6, 500)     # compiles for (f64, 2 dims), float, int; then runs the graph
    print(relax.graph)       # prim.Loop / prim.If with their blocks

NOTE: [Script design: AutoGraph on the tracer]
Two designs are proven: TorchScript emits IR straight from the AST; AutoGraph
rewrites control flow into calls that dispatch on the condition's type and then
traces. We chose AutoGraph's, on top of our tracer:
- every expression (operators, methods, NumPy calls, indexing, in-place updates
  and their functionalization, NEP 50 scalar rules) is recorded by the same
  tracer, through the same op registry: one implementation of NumPy's semantics,
  not two that could drift apart;
- mixing frontends is free in both directions: a scripted function called while
  tracing embeds its graph (a prim.Call), and a traced Function called from
  scripted code is replayed into it;
- Python-valued control flow (a flag argument, a loop over range(3), a branch on
  x.ndim) simply runs as Python and specializes the graph, as a TorchScript user
  would wish `torch.jit.script` did for constants.
What it costs: the subset is checked on the AST up front (script_convert.py) so
errors still point at the user's line with a caret, and loop-carried types need a
small fixpoint (script_merge.py, NOTE: [State merging]).

Types come from the arguments of the first call (like jax.jit): one graph per
(dtype, ndim) of each array and kind of each Python number; every dim of an array
argument is a symbol (`x_0`, `x_1`), so one graph serves all sizes. `.graph` is
the most recent specialization, `.graphs` all of them; pass `example_inputs=` to
compile at decoration time. A ScriptFunction is a `distjit.FunctionSet` of those
Functions (function_set.py): it optimizes, plans, runs and saves like a Function.
"""
from __future__ import annotations

import functools
import inspect
import traceback
import weakref
from typing import Any, Callable

import numpy as np

from distjit.errors import DistJitError, ScriptError, ShapeError, TracingError
from distjit.frontend import script_runtime
from distjit.frontend.aliased_inputs import hidden_name, linked_proxies, shares_an_array
from distjit.frontend.fallbacks import StaticInfoNeeded, SymbolicScalarError, announce, fallback_for, needs_static
from distjit.frontend.patching import patched
from distjit.frontend.proxy import TracedArray
from distjit.frontend.script_context import ScriptContext, Undefined, activate
from distjit.frontend.script_convert import Site, convert, converted_source, site_error
from distjit.frontend.trace import _SPECIALIZABLE, _leaf_args, _scalar_names, flag_scalar_outputs, zero_d_arrays
from distjit.frontend.script_lists import as_python
from distjit.function import Function, Signature
from distjit.function_set import FunctionSet, check_optimize_options
from distjit.ir.collector import collector_paused
from distjit.ir.graph import Graph, SourceLoc
from distjit.types import ScalarType, TensorType, type_of
from distjit.pytree import flatten, leaf_paths, unflatten

_converted: "weakref.WeakKeyDictionary[Callable, Callable]" = weakref.WeakKeyDictionary()


def script(fn: Callable | None = None, *, example_inputs: tuple | None = None, name: str | None = None,
           static_argnames=(), dynamic_argnames=(), fallback: bool = True):
    """Compile `fn` from source into a `ScriptFunction`; usable as `@distjit.script` or `distjit.script(fn)`.

    `example_inputs` (a tuple of arguments) compiles one specialization right away.
    Unsupported Python raises ScriptError here, pointing at the line.

    A Python scalar argument stays a graph input (`range(n)` is a prim.Loop, `np.zeros(n)` a
    symbolic dim) unless named in `static_argnames`: the function then sees its plain value
    (Python control flow on it runs at compile time) and one graph is kept per value, each
    guarded on it as a trace's. `dynamic_argnames` states the default explicitly.

    A signature that does not compile with symbolic shapes and dynamic ints (an op that needs static
    shapes, a list as long as a run-time trip count, recursion that sizes end) is compiled again for
    the call's shapes and int values, guarded, one graph per such signature; a FallbackWarning names
    the line (NOTE: [Fallbacks]). `fallback=False` raises the first error instead.
    """
    if fn is None:
        return lambda f: script(f, example_inputs=example_inputs, name=name, static_argnames=static_argnames,
                                dynamic_argnames=dynamic_argnames, fallback=fallback)
    if isinstance(fn, ScriptFunction):
        return fn
    return ScriptFunction(fn, example_inputs=example_inputs, name=name, static_argnames=static_argnames,
                          dynamic_argnames=dynamic_argnames, fallback=fallback)


@collector_paused
def converted_function(fn: Callable) -> Callable:
    """The rewritten version of a Python function (cached per function object)."""
    hit = _converted.get(fn)
    if hit is None:
        hit, _ = convert(fn, script_runtime)
        _converted[fn] = hit
    return hit


class ScriptFunction(FunctionSet):
    """A scripted function: call it like the original. Compiles once per argument signature.

    Everything a `distjit.Function` does, it does for the signature at hand (see FunctionSet):

    >>> f = distjit.script(fn)
    >>> f(x, 3)                          # same results as fn(x, 3); compiles the signature on first sight
    >>> print(f.graph)                   # the graph of the most recent specialization
    >>> g = distjit.optimize(f)          # every specialization optimized, present and future
    >>> g.run(x, 3, cluster="local")     # the Plan of the signature at hand
    >>> distjit.save(g, "fn.djit")       # every signature compiled so far (or example_inputs=)
    """

    _compiles_per_shape = True     # a signature specialized on shapes compiles again for other shapes

    def __init__(self, fn: Callable, example_inputs: tuple | None = None, name: str | None = None,
                 optimizations: tuple = (), static_argnames=(), dynamic_argnames=(), fallback: bool = True):
        super().__init__(name=name or getattr(fn, "__name__", "script"))
        self.fn = fn
        functools.update_wrapper(self, fn, updated=())
        self.converted = converted_function(fn)
        self._signature = inspect.signature(fn)
        try:
            self._static, _ = _scalar_names(static_argnames, dynamic_argnames, list(self._signature.parameters))
        except TracingError as e:
            raise ScriptError(str(e), _fn_loc(fn)) from None
        self._defaults = _saved_defaults(self._signature)
        # (level, options) of each distjit.optimize applied, in order: a new specialization gets them all.
        self._optimizations = tuple(optimizations)
        self._embedded: dict[Any, Function] = {}   # graphs embedded into traces, by input types; never saved
        self._fallback = fallback
        # (spec, keys) -> the Fallback that made its signatures static: later calls of those types skip
        # the symbolic attempt that is known to fail.
        self._static_only: dict[tuple, Any] = {}
        if example_inputs is not None:
            if not isinstance(example_inputs, tuple):
                example_inputs = (example_inputs,)
            self.compile(*example_inputs)

    # -- calling -----------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        values = self._bind(args, kwargs)
        leaves, spec = flatten(values, is_leaf=_is_traced)
        if any(isinstance(x, TracedArray) for x in leaves):
            return self._embed(values, leaves, spec)
        return self._function_for_values(values, (leaves, spec))(*values)

    def compile(self, *args, **kwargs) -> Function:
        """The Function for these arguments' signature, compiled now if needed (the same as `function_for`)."""
        return self.function_for(*args, **kwargs)

    def _missing(self, values, leaves, spec, keys) -> Function:
        f = self.compile_new(leaves, spec, keys)
        for level, options in self._optimizations:
            f = f.optimize(level, **options)
        self._store(f)
        return f

    def compile_new(self, leaves, spec, keys) -> Function:
        """A new Function for these arguments, unoptimized: with symbolic shapes and dynamic ints, or, when
        that fails, for the call's shapes and int values (NOTE: [Fallbacks]); then the first error is
        raised if this fails too."""
        reason = self._static_only.get((spec, keys))
        first = None
        if reason is None:
            types = [_leaf_type(x, path) for x, path in zip(leaves, self._paths(spec))]
            try:
                return build(self.fn, self.converted, self._arg_names(), spec, leaves, types, self.name,
                             self._defaults, self._static)
            except DistJitError as e:
                if not (self._fallback and needs_static(e)):
                    raise
                first = e
        try:
            f = build(self.fn, self.converted, self._arg_names(), spec, leaves, [type_of(x) for x in leaves],
                      self.name, self._defaults, self._static, specialize=True)
        except (DistJitError, RecursionError) as e:
            if first is None:
                raise
            first.add_note(f"distjit.script compiled it again for the call's shapes and int values, which failed "
                           f"too: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            raise first from None
        if reason is None:
            reason = self._static_only[(spec, keys)] = fallback_for("static", self.name, first)
            announce(reason)
        f.fallbacks = f.fallbacks + (reason,)
        return f

    def _not_compiled(self) -> str:
        return (f"{self.name} is not compiled yet: its types come from its arguments. Call it once, or pass "
                f"example_inputs=(...) to distjit.script (or to distjit.save) to compile it for those")

    def _bind(self, args, kwargs) -> tuple:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as e:
            raise ShapeError(f"{self.name}(): {e}") from None
        bound.apply_defaults()
        return tuple(bound.arguments[n] for n in self._arg_names())

    def _arg_names(self) -> list[str]:
        return list(self._signature.parameters)

    def _paths(self, spec) -> list[str]:
        paths = []
        for arg_name, child in zip(self._arg_names(), spec.children):
            paths.extend(leaf_paths(child, arg_name))
        return paths

    def _embed(self, values, leaves, spec):
        """Called while tracing: embed this function's graph (control flow included) as a prim.Call."""
        ctx = next(x._ctx for x in leaves if isinstance(x, TracedArray))
        if isinstance(ctx, ScriptContext):
            return inline_function(ctx, self.fn, values, {}, None)
        types = [x.type if isinstance(x, TracedArray) else type_of(x) for x in leaves]
        key = (spec, tuple(types))
        f = self._embedded.get(key)
        if f is None:
            try:
                f = build(self.fn, self.converted, self._arg_names(), spec, leaves, types, self.name,
                          static=self._static)
            except DistJitError as e:
                if not (self._fallback and needs_static(e)):
                    raise
                # The caller's trace knows its ints' values: specialize on them (its graph is guarded on them),
                # uncached, as the graph holds those values.
                try:
                    f = build(self.fn, self.converted, self._arg_names(), spec, leaves, types, self.name,
                              static=self._static, specialize=True)
                except (DistJitError, RecursionError):
                    raise e from None
            else:
                self._embedded[key] = f
        if f.signature.mutations and shares_an_array(leaves, f.signature.mutated_leaves):
            # Two inputs of an embedded graph are two values: trace through the function, which keeps NumPy's
            # view semantics between its arguments (NOTE: [Aliased arguments]), as a nested jit is inlined.
            return self.fn(*values)
        inputs = [ctx.value_of(x) for x in leaves]
        from distjit.ir.source import user_loc

        outs = [ctx.wrap(v) for v in ctx.builder.op("prim.Call", inputs, {"graph": f.graph}, user_loc())]
        flag_scalar_outputs(f, outs[:len(outs) - len(f.signature.mutations)])
        for leaf_index, out_index in f.signature.mutations:
            ctx.assign(leaves[leaf_index], outs[out_index])
        n_user = len(outs) - len(f.signature.mutations)
        return unflatten(f.signature.out_spec, outs[:n_user])

    # -- optimizing ----------------------------------------------------------------------
    def optimize(self, level: int = 2, **options) -> "ScriptFunction":
        """A scripted function whose every specialization, compiled so far or later, is `distjit.optimize`d
        with these options (`.optimization` is the latest one's Report)."""
        check_optimize_options(level, options)
        out = ScriptFunction(self.fn, name=self.name, optimizations=self._optimizations + ((level, dict(options)),),
                             static_argnames=self._static, fallback=self._fallback)
        out.metadata = dict(self.metadata)
        out._static_only = dict(self._static_only)
        for f in self._functions.values():
            optimized = f.optimize(level, **options)
            out._store(optimized)
            if f is self._last:
                out._last = optimized
        return out

    # -- introspection --------------------------------------------------------------------
    @property
    def script_source(self) -> str:
        """The rewritten Python source (what is traced); `.code` is what the latest graph runs as."""
        return converted_source(self.converted)

    def __repr__(self):
        return f"<distjit.ScriptFunction {self.name}: {len(self._functions)} specialization(s)>"


def _saved_defaults(signature: inspect.Signature) -> dict[str, Any]:
    """The defaults a Function keeps in its Signature: those a file can hold (numbers, strings, None), so that
    a loaded function can be called without them as the Python one can."""
    return {name: p.default for name, p in signature.parameters.items()
            if p.default is not inspect.Parameter.empty
            and (p.default is None or type(p.default) in (bool, int, float, complex, str))}


def _is_traced(x) -> bool:
    return isinstance(x, TracedArray)


def _leaf_type(x, path: str):
    if isinstance(x, np.ndarray):
        base = "".join(c if c.isalnum() else "_" for c in path).strip("_") or "x"
        return TensorType(x.dtype, tuple(f"?{base}_{axis}" for axis in range(x.ndim)))
    return type_of(x)


@collector_paused
def build(fn, converted, arg_names, in_spec, leaves, types, name, defaults: dict | None = None,
          static: frozenset = frozenset(), specialize: bool = False, recursive_calls: dict | None = None,
          aliases=None) -> Function:
    """Trace the rewritten function on inputs of `types` into a Function; the leaves of arguments in `static`
    are given to it as their plain values, and the graph is guarded on them (NOTE: [Scalar specialization]).
    `specialize`: so are every int and bool leaf, and recursion is unrolled (NOTE: [Fallbacks]).
    `aliases`: (AliasPattern, hidden base arrays, the mutated leaves), as for `trace_function`."""
    graph = Graph(name)
    ctx = ScriptContext(graph)
    ctx.specialized = specialize
    ctx.recursive_calls = {} if recursive_calls is None else recursive_calls
    paths = []
    for arg_name, child in zip(arg_names, in_spec.children):
        paths.extend(leaf_paths(child, arg_name))
    proxies = [ctx.wrap(graph.add_input(t, p)) for t, p in zip(types, paths)]
    if aliases is not None:
        hidden = [ctx.wrap(graph.add_input(type_of(base) if specialize else _leaf_type(base, hidden_name(k)),
                                           hidden_name(k))) for k, base in enumerate(aliases[1])]
        numbers = None
        if not specialize:      # the offsets are inputs, as the shapes are symbols: one variant serves them all
            numbers = [ctx.wrap(graph.add_input(ScalarType("int"), f"alias_index{k}"))
                       for k in range(len(aliases[0].index_values()))]
        with activate(ctx):
            proxies = linked_proxies(proxies, hidden, aliases[0], numbers)
    originals = [p._value for p in proxies]
    given = list(proxies)
    if static or specialize:
        for i, arg_name in enumerate(_leaf_args(arg_names, in_spec)):
            if arg_name in static or (specialize and _int_like(leaves[i])):
                given[i] = graph.guards[proxies[i]._value] = _static_value(leaves[i], paths[i], fn)
    ctx.arguments = {id(p) for p in proxies}
    args = unflatten(in_spec, given)
    with activate(ctx), patched(ctx, getattr(fn, "__globals__", None)):
        ctx.inlining.append(fn)
        result = as_python(_run_user(converted, args, {}, fn))
    try:
        out_leaves, out_spec = flatten(result, is_leaf=lambda x: isinstance(x, (TracedArray, Undefined)))
    except TypeError as e:
        raise ScriptError(f"{name} returned something distjit cannot represent: {e}", _fn_loc(fn)) from None
    for leaf in out_leaves:
        if isinstance(leaf, Undefined):
            leaf._fail()
        try:
            graph.add_output(ctx.value_of(leaf))
        except TracingError as e:
            raise ScriptError(f"{name} returns a value distjit cannot represent: {e}", _fn_loc(fn)) from None
    mutations = []
    for index, (proxy, original) in enumerate(zip(proxies, originals)):
        if (ctx.current(proxy) is not original) if aliases is None else index in aliases[2]:
            if not isinstance(leaves[index], (np.ndarray, TracedArray)):
                raise ScriptError(f"{name} updates argument {paths[index]} in place, which is not an array",
                                  _fn_loc(fn))
            mutations.append((index, len(graph.outputs)))
            graph.add_output(ctx.current(proxy))
    graph.verify()
    signature = Signature(tuple(arg_names), in_spec, out_spec, tuple(mutations), dict(defaults or {}),
                          zero_d_arrays(out_leaves))
    f = Function(graph, signature, ctx.param_arrays, name)
    f.takes_alias_index = aliases is not None and not specialize
    if mutations:
        f.recompile = functools.partial(_rebuild, fn, converted, arg_names, in_spec, types, name, defaults, static,
                                        specialize, tuple(leaf for leaf, _ in mutations))
    return f


def _rebuild(fn, converted, arg_names, in_spec, types, name, defaults, static, specialize, mutated, leaves, pattern,
             bases) -> Function:
    """`Function.recompile` of a scripted Function: built again with the call's arguments aliased as they are."""
    return build(fn, converted, arg_names, in_spec, list(leaves), types, name, defaults, static, specialize,
                 aliases=(pattern, bases, mutated))


def _int_like(leaf) -> bool:
    """A Python int or bool, or a traced one whose value the caller's trace knows."""
    if isinstance(leaf, TracedArray):
        return type(leaf._known) in (bool, int)
    return type(leaf) in (bool, int)


def _static_value(leaf, path: str, fn):
    """The value a static argument's leaf specializes on (a traced scalar of a caller's trace: its example's)."""
    if isinstance(leaf, TracedArray):
        if leaf._known is None:
            raise ScriptError(f"static_argnames names {path}, whose value is not known where it is called",
                              _fn_loc(fn))
        leaf = leaf._ctx.specialize(leaf)
    if type(leaf) not in _SPECIALIZABLE:
        raise ScriptError(f"static_argnames names {path}, which is a {type(leaf).__name__}; only Python bool, "
                          f"int and float arguments can be specialized", _fn_loc(fn))
    return leaf


def _run_user(converted, args, kwargs, fn):
    """Run rewritten user code; a Python error inside becomes a ScriptError at the user's line."""
    try:
        return converted(*args, **kwargs)
    except DistJitError as e:
        if isinstance(e, TracingError) and not isinstance(e, ScriptError):
            raise _as_script_error(e, e.__traceback__) from None
        raise
    except RecursionError:
        raise
    except Exception as e:
        raise _as_script_error(e, e.__traceback__) from None


def _as_script_error(e: Exception, tb) -> ScriptError:
    site = _user_site(tb)
    if isinstance(e, TracingError):
        message = str(e)
        if e.loc is not None and message.startswith(str(e.loc) + ": "):
            message = message[len(str(e.loc)) + 2:]
        message = message.replace("Use distjit.script to keep data-dependent control flow, or ",
                                  "Use ").replace(" or use distjit.script to keep the loop", "")
    else:
        message = f"{type(e).__name__}: {e}"
    return site_error(site, message, cls=StaticInfoNeeded if isinstance(e, SymbolicScalarError) else ScriptError)


def _user_site(tb) -> Site | None:
    import linecache

    from distjit.ir.source import _SKIP, _is_internal

    site = None
    for frame, lineno in traceback.walk_tb(tb):
        filename = frame.f_code.co_filename
        if not filename.startswith(_SKIP) and not _is_internal(filename):
            site = Site(filename, lineno, _first_col(linecache.getline(filename, lineno)),
                        linecache.getline(filename, lineno))
    return site


def _first_col(line: str) -> int:
    return len(line) - len(line.lstrip())


# How deep a recursion a specialized build unrolls (its sizes are static, so Python ends it); a deeper one is
# refused as any recursion is, since it most likely never ends.
MAX_UNROLLED_RECURSION = 32


def inline_function(ctx, fn, args, kwargs, site: Site | None):
    """A call of a user function (or a ScriptFunction's) inside scripted code: its rewritten body is traced in place."""
    if fn in ctx.inlining and ctx.specialized and not fn.__closure__:
        called = _recursive_call(ctx, fn, args, kwargs, site)
        if called is not _NOT_CALLED:
            return called
    if fn in ctx.inlining and not (ctx.specialized and ctx.inlining.count(fn) < MAX_UNROLLED_RECURSION):
        raise site_error(site, f"recursive call of {fn.__name__}: scripted functions cannot recurse (the sizes "
                               f"that would end the recursion are known only at run time)",
                         "write the recursion as a loop, or use distjit.trace, which unrolls it for the example's "
                         "shapes", cls=StaticInfoNeeded)
    try:
        # A closure is compiled with the values its cells hold now (a nested def reads them when called).
        converted = converted_function(fn) if not fn.__closure__ else convert(fn, script_runtime)[0]
    except ScriptError as e:
        if site is None:
            raise
        raise type(e)(f"{e}\n(called from {site.file}:{site.line})", e.loc) from None
    ctx.inlining.append(fn)
    try:
        return _run_user(converted, tuple(args), kwargs, fn)
    except ScriptError as e:
        if site is None or f"{site.file}:{site.line}:" in str(e) or f"{site.file}:{site.line})" in str(e):
            raise
        raise type(e)(f"{e}\n(called from {site.file}:{site.line})", e.loc) from None
    finally:
        ctx.inlining.pop()


_NOT_CALLED = object()


def _recursive_call(ctx, fn, args, kwargs, site: Site | None):
    """A recursive call in a specialized build, as a prim.Call of one graph per argument signature (static
    shapes and int values), built once and shared by every call of that signature: unrolled in place, a
    recursion of 2N-1 calls would be 2N-1 inlined bodies to build and compile, where its signatures are
    log N. Returns _NOT_CALLED where the signature holds an int whose value is not known (inlined, as before).

    NOTE: [Recursive calls]
    A signature reached again while its own graph is being built is a recursion that does not end on
    its sizes: refused as any recursion is. Chains of new signatures are limited to
    MAX_UNROLLED_RECURSION deep, as the unrolling was. The passes' inline policy (passes/inline.py)
    leaves the large calls as calls, so the optimized graph stays one graph per signature too.
    """
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as e:
        raise site_error(site, f"calling {fn.__name__}: {e}") from None
    bound.apply_defaults()
    arg_names = list(bound.arguments)
    values = tuple(bound.arguments.values())
    try:
        leaves, spec = flatten(values, is_leaf=_is_traced)
    except TypeError:
        return _NOT_CALLED
    if any(isinstance(x, TracedArray) and _int_like(x) and x._known is None for x in leaves):
        return _NOT_CALLED
    types = tuple(x.type if isinstance(x, TracedArray) else type_of(x) for x in leaves)
    if any(isinstance(t, TensorType) and not all(isinstance(d, int) for d in t.shape) for t in types):
        return _NOT_CALLED
    known = tuple((x._known if isinstance(x, TracedArray) else x) if _int_like(x) else None for x in leaves)
    key = (fn, spec, types, known)
    calls = ctx.recursive_calls
    f = calls.get(key)
    if f is None:
        if key in calls or sum(1 for v in calls.values() if v is None) >= MAX_UNROLLED_RECURSION:
            raise site_error(site, f"recursive call of {fn.__name__}: the recursion does not end on its sizes",
                             "write the recursion as a loop", cls=StaticInfoNeeded)
        calls[key] = None                               # being built
        try:
            f = build(fn, converted_function(fn), arg_names, spec, leaves, list(types), fn.__name__,
                      specialize=True, recursive_calls=calls)
        except BaseException:
            del calls[key]
            raise
        calls[key] = f
    from distjit.ir.source import user_loc

    inputs = [ctx.value_of(x) for x in leaves]
    outs = [ctx.wrap(v) for v in ctx.builder.op("prim.Call", inputs, {"graph": f.graph}, user_loc())]
    for leaf_index, out_index in f.signature.mutations:
        ctx.assign(leaves[leaf_index], outs[out_index])
    n_user = len(outs) - len(f.signature.mutations)
    return unflatten(f.signature.out_spec, outs[:n_user])


def inline_traced(ctx, f: Function, args, kwargs, site: Site):
    """A traced Function called from scripted code: its graph's nodes are replayed here, types re-inferred."""
    try:
        values = _bind_function(f, args, kwargs)
        leaves, spec = flatten(values, is_leaf=_is_traced)
    except (TypeError, ShapeError) as e:
        raise site_error(site, f"calling {f.name}: {e}") from None
    if spec != f.signature.in_spec:
        raise site_error(site, f"calling {f.name}: the arguments are structured as {spec}, but it was traced with "
                               f"{f.signature.in_spec}")
    shared = shares_an_array(leaves, f.signature.mutated_leaves) if f.signature.mutations else None
    if shared is not None:
        paths = f.signature.input_paths()
        a, b = paths[shared[0]], paths[shared[1]]
        raise site_error(site, f"calling {f.name}: its arguments {a} and {b} are the same array or views of one, "
                               f"and it updates {a} in place; a traced Function's graph takes them as two arrays "
                               f"(NOTE: [Aliased arguments])", f"pass a copy ({b}.copy()), or script {f.name}")
    env = {}
    for value, leaf, path in zip(f.graph.inputs, leaves, f.signature.input_paths()):
        v = ctx.value_of(leaf)
        want, got = value.type, v.type
        if isinstance(want, TensorType) != isinstance(got, TensorType) or (
                isinstance(want, TensorType) and (want.dtype != got.dtype or want.ndim != got.ndim)) or (
                isinstance(want, ScalarType) and want != got):
            raise site_error(site, f"calling {f.name}: argument {path} is {got}, but it was traced with {want}",
                             "trace it with inputs of the same dtype and number of dimensions")
        env[value] = v
    for p in f.graph.params:
        env[p] = ctx.value_of(f.params[p.name])
    builder = ctx.builder
    for node in f.graph.nodes:
        if node.blocks:
            raise site_error(site, f"calling {f.name}: its graph has nested blocks, which cannot be replayed")
        outs = builder.op(node.op, [env[v] for v in node.inputs], dict(node.attrs), site.loc)
        env.update(zip(node.outputs, outs))
    outs = [ctx.wrap(env[v]) for v in f.graph.outputs]
    flag_scalar_outputs(f, outs[:len(outs) - len(f.signature.mutations)])
    for leaf_index, out_index in f.signature.mutations:
        ctx.assign(leaves[leaf_index], outs[out_index], site.loc)
    n_user = len(outs) - len(f.signature.mutations)
    return unflatten(f.signature.out_spec, outs[:n_user])


def _bind_function(f: Function, args, kwargs) -> tuple:
    sig = f.signature
    bound = dict(zip(sig.arg_names, args))
    bound.update(kwargs)
    missing = [n for n in sig.arg_names if n not in bound and n not in sig.defaults]
    if missing:
        raise TypeError(f"missing argument(s): {', '.join(missing)}")
    return tuple(bound[n] if n in bound else sig.defaults[n] for n in sig.arg_names)


def _fn_loc(fn):
    code = getattr(fn, "__code__", None)
    return SourceLoc(code.co_filename, code.co_firstlineno) if code else None
