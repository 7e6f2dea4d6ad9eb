"""`TracedFunction`: what `distjit.trace` returns when the trace specialized a Python scalar argument.

A graph specialized on `n == 5` (NOTE: [Scalar specialization] in trace.py) must not run for
`n == 7`. Since the Python function is at hand, a call with another value traces it again,
and each graph is kept under its guarded values, as torch.compile caches one graph per
specialization: the set's dispatch (function_set.py) picks the graph whose guards the
arguments satisfy, and this class compiles the ones it has not seen. Saved, it is the set of
graphs traced so far; a loaded set cannot trace, so another value is a ShapeError there.

A trace that needed a value it does not know (NOTE: [Fallbacks] in fallbacks.py) gives a
`ScriptedTrace` instead: the same API, over graphs that `distjit.script` compiles, one per
signature, with `.fallback` saying which line forced it.
"""
from __future__ import annotations

from distjit.errors import DistJitError
from distjit.frontend.fallbacks import DataDependentError, announce, fallback_for
from distjit.frontend.proxy import TracedArray
from distjit.function import Function
from distjit.function_set import FunctionSet, check_optimize_options
from distjit.pytree import flatten


class TracedFunction(FunctionSet):
    """A traced function with one graph per value of the scalar arguments it specialized on.

    >>> f = distjit.trace(heat, (u, 10))     # range(steps) specialized steps == 10
    >>> f(u, 10)                             # runs the traced graph
    >>> f(u, 20)                             # traces again for steps == 20 (f.traces == 2)
    """

    def __init__(self, fn, first: Function, dynamic_axes=None, name=None, static_argnames=(), dynamic_argnames=(),
                 optimizations: tuple = (), fallback: bool = True):
        super().__init__([first], name=first.name)
        self.fn = fn
        self._options = (dynamic_axes, name, static_argnames, dynamic_argnames)
        self._may_fall_back = fallback   # a trace again that needs a value it does not know scripts instead
        self._script = None              # the ScriptFunction that does, made when first needed
        # (level, options) of each distjit.optimize applied, in order: a graph traced later gets them all.
        self._optimizations = tuple(optimizations)
        self.traces = 1      # how many times `fn` was traced (a new guarded value traces once)
        self.fallback = None  # a ScriptedTrace's reason for scripting instead

    def _copy(self, functions: list, optimizations: tuple) -> "TracedFunction":
        """A set like this one over `functions`, whose later graphs get `optimizations`."""
        return TracedFunction(self.fn, functions[0], *self._options, optimizations=optimizations,
                              fallback=self._may_fall_back)

    def __call__(self, *args, **kwargs):
        values = self._bind(args, kwargs)
        leaves, spec = flatten(values, is_leaf=lambda x: isinstance(x, TracedArray))
        if any(isinstance(x, TracedArray) for x in leaves):
            return self.fn(*values)     # called while tracing: trace through it, as JAX inlines a nested jit
        return self._function_for_values(values, (leaves, spec))(*values)

    def _missing(self, values, leaves, spec, keys) -> Function:
        """Arguments that break every graph's guards (and only those) trace again; others are a ShapeError."""
        if not self._same_types(spec, keys):
            return super()._missing(values, leaves, spec, keys)
        from distjit.frontend.trace import trace_function

        try:
            f = trace_function(self.fn, tuple(values), *self._options)
        except DataDependentError as e:      # this value takes a path the trace cannot record: script it
            if not self._may_fall_back:
                raise
            if self._script is None:
                self._script = scripted(self.fn, e, self._options[1:])
            f = compile_scripted(self._script, self.fn, values, e)
        self.traces += 1
        for level, options in self._optimizations:
            f = f.optimize(level, **options)
        self._store(f)
        return f

    def optimize(self, level: int = 2, **options) -> "TracedFunction":
        """Every graph traced so far, and every one traced later, `distjit.optimize`d with these options."""
        check_optimize_options(level, options)
        functions = [f.optimize(level, **options) for f in self.functions]
        out = self._copy(functions, self._optimizations + ((level, dict(options)),))
        for f in functions[1:]:
            out._store(f)
        out.metadata = dict(self.metadata)
        out._last = functions[self.functions.index(self._last)] if self._last is not None else None
        return out

    def __repr__(self):
        return f"<distjit.TracedFunction {self.name}: {len(self)} specialization(s), traced {self.traces} time(s)>"


class ScriptedTrace(TracedFunction):
    """What `distjit.trace` returns when the trace fell back to `distjit.script` (NOTE: [Fallbacks]).

    Its graphs are the scripted function's, one per signature (a new dtype or rank compiles one, as
    a scripted function does; a signature specialized on shapes, one per shape), optimized as the
    TracedFunction would be. `.fallback` is the reason: the user's line and the trace's error.

    >>> f = distjit.trace(sor, (A, b, 1.5, 100))   # FallbackWarning: algorithms.py:53 ... truth test
    >>> f.fallback.loc, f.fallback.message
    >>> f.script                                    # the distjit.ScriptFunction that compiles its graphs
    """

    _compiles_per_shape = True

    def __init__(self, fn, script, first: Function, fallback, options: tuple, optimizations: tuple = ()):
        super().__init__(fn, first, *options, optimizations=optimizations)
        self.script = script
        self.fallback = fallback
        self.traces = 0

    def __call__(self, *args, **kwargs):
        values = self._bind(args, kwargs)
        leaves, spec = flatten(values, is_leaf=lambda x: isinstance(x, TracedArray))
        if any(isinstance(x, TracedArray) for x in leaves):
            return self.script(*values)     # called while tracing or scripting: its control flow is embedded
        return self._function_for_values(values, (leaves, spec))(*values)

    def _missing(self, values, leaves, spec, keys) -> Function:
        f = self.script.compile_new(leaves, spec, keys)
        f.fallbacks = (self.fallback, *f.fallbacks)
        for level, options in self._optimizations:
            f = f.optimize(level, **options)
        self._store(f)
        return f

    def _copy(self, functions: list, optimizations: tuple) -> "ScriptedTrace":
        return ScriptedTrace(self.fn, self.script, functions[0], self.fallback, self._options, optimizations)

    def __repr__(self):
        return (f"<distjit.TracedFunction {self.name}: {len(self)} specialization(s), scripted instead of traced "
                f"(at {self.fallback.loc})>")


def script_instead(fn, example_inputs, error: DistJitError, name, static_argnames, dynamic_argnames) -> ScriptedTrace:
    """`distjit.trace`'s fallback: `fn` scripted and compiled for the example inputs; if that fails, the
    trace's error, which names the line that needed the value, with the script's failure mentioned."""
    if not isinstance(example_inputs, tuple):
        example_inputs = (example_inputs,)
    script = scripted(fn, error, (name, static_argnames, dynamic_argnames))
    first = compile_scripted(script, fn, example_inputs, error)
    return ScriptedTrace(fn, script, first, first.fallbacks[0], (None, name, static_argnames, dynamic_argnames))


def scripted(fn, error: DistJitError, options: tuple):
    """The ScriptFunction of `fn` with the trace's (name, static_argnames, dynamic_argnames)."""
    from distjit.frontend.script import ScriptFunction

    name, static_argnames, dynamic_argnames = options
    try:
        return ScriptFunction(fn, name=name, static_argnames=static_argnames, dynamic_argnames=dynamic_argnames)
    except Exception as e:     # whatever stops the script, the user's problem is the line the trace refused
        raise _script_failed_too(error, e) from e


def compile_scripted(script, fn, values: tuple, error: DistJitError) -> Function:
    """The scripted Function for these arguments, its reason recorded and announced; else the trace's error."""
    try:
        f = script.compile(*values)
    except Exception as e:
        raise _script_failed_too(error, e) from e
    reason = fallback_for("script", getattr(fn, "__name__", None) or type(fn).__name__, error)
    f.fallbacks = (reason, *f.fallbacks)
    announce(reason)
    return f


def _script_failed_too(error: DistJitError, e: Exception) -> DistJitError:
    text = str(e).splitlines()[0] if str(e) else ""
    return type(error)(f"{error}\n(distjit.trace fell back to distjit.script, which failed too: "
                       f"{type(e).__name__}: {text})", error.loc)
