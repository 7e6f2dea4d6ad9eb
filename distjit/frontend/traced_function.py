"""`TracedFunction`: what `distjit.trace` returns when the trace specialized a Python scalar argument.

A graph specialized on `n == 5` (NOTE: [Scalar specialization] in trace.py) must not run for
`n == 7`. Since the Python function is at hand, a call with another value traces it again,
and each graph is kept under its guarded values, as torch.compile caches one graph per
specialization: the set's dispatch (function_set.py) picks the graph whose guards the
arguments satisfy, and this class compiles the ones it has not seen. Saved, it is the set of
graphs traced so far; a loaded set cannot trace, so another value is a ShapeError there.
"""
from __future__ import annotations

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
                 optimizations: tuple = ()):
        super().__init__([first], name=first.name)
        self.fn = fn
        self._options = (dynamic_axes, name, static_argnames, dynamic_argnames)
        # (level, options) of each distjit.optimize applied, in order: a graph traced later gets them all.
        self._optimizations = tuple(optimizations)
        self.traces = 1      # how many times `fn` was traced (a new guarded value traces once)

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

        f = trace_function(self.fn, tuple(values), *self._options)
        self.traces += 1
        for level, options in self._optimizations:
            f = f.optimize(level, **options)
        self._store(f)
        return f

    def optimize(self, level: int = 2, **options) -> "TracedFunction":
        """Every graph traced so far, and every one traced later, `distjit.optimize`d with these options."""
        check_optimize_options(level, options)
        functions = [f.optimize(level, **options) for f in self.functions]
        out = TracedFunction(self.fn, functions[0], *self._options,
                             optimizations=self._optimizations + ((level, dict(options)),))
        for f in functions[1:]:
            out._store(f)
        out.metadata = dict(self.metadata)
        out._last = functions[self.functions.index(self._last)] if self._last is not None else None
        return out

    def __repr__(self):
        return f"<distjit.TracedFunction {self.name}: {len(self)} specialization(s), traced {self.traces} time(s)>"

