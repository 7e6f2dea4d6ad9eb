"""`distjit.trace`: record what a NumPy function does on example inputs.

The function runs once on `TracedArray`s. Every NumPy call on them becomes a node
(typed by the op registry). In-place updates (`a[i] = v`, `a += b`, `out=`) are
made functional (functionalize.py): the traced array is rebound to a new value;
when the array is a view, the update is written back to its base as NumPy would;
when it is an input, the Function writes the final contents back into the
caller's array.

NOTE: [Scalar specialization]
A Python bool, int or float argument is a graph input, and its proxy also carries the
example's value (`TracedArray._known`), as does Python arithmetic on such proxies
(`n - 1`, `2 * n`, `n > 0`). While the program only computes with it, it stays an input
(`x * n` reads %n). Where the program needs its value (range(), a shape or another
attribute, a slice bound, bool(), int(), float(), a list index), the tracer uses the
example's value and records a guard on every argument it came from (`Graph.guards`,
printed `guard %n == 5`): torch.compile's SymInt specialization, JAX's static
arguments found by use instead of declared. A plain integer index (`x[i]`) stays
dynamic, as the IR indexes by a run-time value and the result's shape does not depend
on it. A call whose arguments break a guard does not run the graph: `distjit.trace`
then returns a `TracedFunction` that traces again, one graph per guarded value
(frontend/traced_function.py); a loaded file raises ShapeError. `static_argnames`
specializes an argument up front (the function sees the plain Python value),
`dynamic_argnames` forbids it (needing its value is a TracingError that says so).
"""
from __future__ import annotations

import functools
import inspect
import operator
from typing import Any, Callable

import numpy as np

from distjit.errors import ShapeError, TracingError
from distjit.frontend.aliased_inputs import hidden_name, linked_proxies
from distjit.frontend.fallbacks import DataDependentError, SymbolicScalarError
from distjit.frontend.functionalize import Functionalizer, indexing_makes_view
from distjit.frontend.params import find_params, params_as_proxies
from distjit.frontend.patching import patched, user_namespaces_and_cells
from distjit.frontend.proxy import TracedArray
from distjit.ir.source import user_loc
from distjit.core.apply import call
from distjit.function import Function, Signature
from distjit.ir.builder import Builder
from distjit.ir.collector import collector_paused
from distjit.ir.graph import Graph, Value
from distjit.types import Ref, ScalarType, TensorType, type_of
from distjit.ops import REGISTRY, composite, get_op
from distjit.pytree import flatten, leaf_paths, unflatten
from distjit.frontend.user_code import run_user



def trace(fn: Callable, example_inputs, dynamic_axes: dict | None = None, name: str | None = None, *,
          static_argnames=(), dynamic_argnames=(), fallback: bool = True):
    """Trace `fn` on `example_inputs` (a tuple of arguments, or one array) into a `Function`.

    `dynamic_axes` makes dims symbolic, by argument name or position:
    ``{"x": {0: "B"}}`` lets the Function accept any size on x's first axis.
    A callable object traces like a function; its array attributes become named
    parameters (`f.params`).

    A Python scalar argument whose value the function needs (a trip count, a size) is
    specialized on its example value behind a guard (NOTE: [Scalar specialization]); the
    result is then a `TracedFunction`, which traces again for another value.
    `static_argnames` names scalar arguments to specialize whatever their use,
    `dynamic_argnames` those that must stay graph inputs.

    Python control flow or a conversion that needs a value the trace does not know (`if a[i] > x:`,
    `int(a[k])`, `range(indptr[i], indptr[i + 1])`, `len()` of a dynamic dim) makes distjit script `fn`
    instead, with the same static_argnames and dynamic_argnames, and return a `TracedFunction` over the
    scripted graphs; a FallbackWarning names the line, `.fallback` keeps the reason (NOTE: [Fallbacks]).
    `fallback=False` raises the TracingError instead, as torch.compile's fullgraph=True does.
    """
    from distjit.frontend.traced_function import TracedFunction, script_instead

    try:
        f = trace_function(fn, example_inputs, dynamic_axes, name, static_argnames, dynamic_argnames)
    except DataDependentError as e:
        if not fallback:
            raise
        return script_instead(fn, example_inputs, e, name, static_argnames, dynamic_argnames)
    if not f.graph.guards:
        return f
    return TracedFunction(fn, f, dynamic_axes, name, static_argnames, dynamic_argnames, fallback=fallback)


@collector_paused
def trace_function(fn: Callable, example_inputs, dynamic_axes=None, name=None, static_argnames=(),
                   dynamic_argnames=(), aliases=None) -> Function:
    """One trace of `fn` on `example_inputs`: a Function, whose graph has guards if it specialized a scalar.

    `aliases`: (AliasPattern, hidden base arrays, the mutated leaves) to trace the arguments as the views of
    each other the pattern says (NOTE: [Aliased arguments]); the Function's mutations are then those given,
    so its outputs are laid out as the Function's it is a variant of."""
    if not isinstance(example_inputs, tuple):
        example_inputs = (example_inputs,)
    arg_names, defaults = _arg_names(fn, len(example_inputs))
    static_argnames, dynamic_argnames = _scalar_names(static_argnames, dynamic_argnames, arg_names)
    graph = Graph(name or _name_of(fn))
    ctx = TraceContext(graph)
    found_params = find_params(fn)
    ctx.add_params({pname: array for pname, (array, _) in found_params.items()})
    try:
        leaves, in_spec = flatten(example_inputs)
    except TypeError as e:
        raise TracingError(f"example_inputs: {e}") from None
    paths = []
    for arg_name, child in zip(arg_names, in_spec.children):
        paths.extend(leaf_paths(child, arg_name))
    symbols = _dynamic_dims(dynamic_axes, arg_names, in_spec, leaves)
    leaf_args = _leaf_args(arg_names, in_spec)
    proxies = [ctx.add_input(leaf, path, symbols.get(i, {}), dynamic=leaf_args[i] in dynamic_argnames)
               for i, (leaf, path) in enumerate(zip(leaves, paths))]
    if aliases is not None:
        pattern, bases, _ = aliases
        hidden = [ctx.add_input(base, hidden_name(k), {}) for k, base in enumerate(bases)]
        proxies = linked_proxies(proxies, hidden, pattern)
    originals = [p._value for p in proxies]
    given = [ctx.static(p, leaves[i], paths[i]) if leaf_args[i] in static_argnames else p
             for i, p in enumerate(proxies)]
    args = unflatten(in_spec, given)
    with patched(ctx, *user_namespaces_and_cells(fn)), params_as_proxies(ctx, found_params):
        _refuse_generators(fn)
        result = run_user(fn, args)
    try:
        out_leaves, out_spec = flatten(result, is_leaf=lambda x: isinstance(x, TracedArray))
    except TypeError as e:
        raise TracingError(f"{graph.name} returned something distjit cannot represent: {e}") from None
    for leaf in out_leaves:
        graph.add_output(ctx.value_of(leaf))
    mutations = []
    for index, (proxy, original) in enumerate(zip(proxies, originals)):
        proxy = ctx.storage(proxy)
        if (ctx.current(proxy) is not original) if aliases is None else index in aliases[2]:
            if not isinstance(leaves[index], np.ndarray):
                raise TracingError(f"{graph.name} updates argument {paths[index]} in place, which is not an array")
            mutations.append((index, len(graph.outputs)))
            graph.add_output(ctx.current(proxy))
    graph.verify()
    signature = Signature(tuple(arg_names), in_spec, out_spec, tuple(mutations), defaults,
                          zero_d_arrays(out_leaves))
    f = Function(graph, signature, ctx.param_arrays, graph.name)
    if mutations:
        f.recompile = functools.partial(_retrace, fn, in_spec, dynamic_axes, name, static_argnames, dynamic_argnames,
                                        tuple(leaf for leaf, _ in mutations))
    return f


def _retrace(fn, in_spec, dynamic_axes, name, static_argnames, dynamic_argnames, mutated, leaves, pattern,
             bases) -> Function:
    """`Function.recompile` of a traced Function: `fn` traced again on the call's arguments, aliased as they are."""
    return trace_function(fn, tuple(unflatten(in_spec, list(leaves))), dynamic_axes, name, static_argnames,
                          dynamic_argnames, aliases=(pattern, bases, mutated))


_KNOWN_ELEMENTS = 64     # the largest array whose value the tracer computes alongside (see _propagate_known)


def _small(t) -> bool:
    return isinstance(t, TensorType) and all(isinstance(d, int) for d in t.shape) \
        and int(np.prod(t.shape)) <= _KNOWN_ELEMENTS


class TraceContext(Functionalizer):
    """The state of one trace: the graph being built and the map from Python objects to IR values."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.builder = Builder(graph.block)
        self.param_values: dict[int, Value] = {}
        self.param_arrays: dict[str, np.ndarray] = {}
        self.constants: dict[Any, tuple[Any, Value]] = {}
        self.busy = False   # inside the registry (type inference may call NumPy): patches step aside
        self.dims: dict[tuple[Value, int], TracedArray] = {}
        self.moved: dict[int, tuple[TracedArray, list]] = {}   # arrays whose shape was set (Functionalizer)
        self.frozen: dict[int, str] = {}     # id of a parameter's proxy -> its name: updates are refused
        self.examples: dict[Value, Any] = {}    # a scalar input's example value (what a guard assumes)

    # -- inputs and parameters --------------------------------------------------------
    def add_input(self, leaf, path: str, dims: dict[int, str], dynamic: bool = False) -> TracedArray:
        t = type_of(leaf)
        if isinstance(t, TensorType) and dims:
            t = TensorType(t.dtype, tuple(dims.get(i, d) for i, d in enumerate(t.shape)))
        value = self.graph.add_input(t, path)
        proxy = TracedArray(self, value)
        if type(leaf) in _SPECIALIZABLE and not dynamic:
            proxy._known, proxy._sources = leaf, (value,)
            self.examples[value] = leaf
        return proxy

    def static(self, proxy: TracedArray, leaf, path: str):
        """A scalar named in static_argnames: guarded now; the function sees the plain Python value."""
        if type(leaf) not in _SPECIALIZABLE:
            raise TracingError(f"static_argnames names {path}, which is a {type(leaf).__name__}; only Python bool, "
                               f"int and float arguments can be specialized")
        return self.specialize(proxy)

    def specialize(self, proxy: TracedArray):
        """The example value of a scalar whose value the program needs; the graph is guarded on its sources."""
        for source in proxy._sources:
            self.graph.guards[source] = self.examples[source]
        return proxy._known

    def add_params(self, named: dict[str, np.ndarray]) -> None:
        for pname, array in named.items():
            self.param_values[id(array)] = self.graph.add_param(pname, type_of(array))
            self.param_arrays[pname] = array

    # -- values -------------------------------------------------------------------------
    def value_of(self, x) -> Value:
        """The IR value for an operand: traced arrays, parameters, constants, dynamic dims."""
        if isinstance(x, TracedArray):
            if x._ctx is not self:
                raise TracingError("a traced array from another trace was used here (leaked out of its trace?)",
                                   user_loc())
            return self.current(x)
        if isinstance(x, np.ndarray):
            param = self.param_values.get(id(x))
            if param is not None:
                return param
            return self._constant(id(x), x)
        if x is None or isinstance(x, (bool, int, float, complex, np.generic)):
            return self._constant((type(x), repr(x)), x)
        if isinstance(x, (list, tuple)):
            if self.contains_traced(x):
                return self.value_of(self.as_traced(x))
            return self.value_of(np.asarray(x))
        raise TracingError(f"cannot use a value of type {type(x).__name__} as an array operand while tracing",
                           user_loc())

    def _constant(self, key, obj) -> Value:
        hit = self.constants.get(key)
        if hit is None:
            hit = self.constants[key] = (obj, self.builder.constant(obj, user_loc()))
        return hit[1]

    def constant_proxy(self, array: np.ndarray) -> TracedArray:
        """A traced constant (an array the traced code made from Python data), its value known."""
        proxy = self.wrap(self.value_of(array))
        proxy._known, proxy._sources = array, ()
        return proxy

    def contains_traced(self, obj) -> bool:
        if isinstance(obj, TracedArray):
            return True
        if isinstance(obj, (list, tuple)):
            return any(self.contains_traced(o) for o in obj)
        return False

    def as_traced(self, obj) -> TracedArray:
        """`np.asarray` of something holding traced values: a nested list of them is stacked."""
        if isinstance(obj, TracedArray):
            return obj
        if isinstance(obj, (list, tuple)):
            items = [self.as_traced(o) if self.contains_traced(o) else np.asarray(o) for o in obj]
            return self.function(np.stack, (items,), {})
        raise TypeError(type(obj).__name__)

    def dim(self, proxy: TracedArray, axis: int) -> TracedArray:
        """A dynamic dim as a traced Python int (one DimSize node per array value and axis)."""
        value = self.current(proxy)
        key = (value, axis)
        if key not in self.dims:
            self.dims[key] = self.wrap(self.builder.op("prim.DimSize", [value], {"axis": axis}, user_loc())[0])
        return self.dims[key]

    def scalar(self, fn, operands: tuple) -> TracedArray:
        """Python arithmetic on traced Python numbers (`n - 1`), keeping Python's (weak) scalar types: `fn` is
        the Python function (operator.sub, bool ...) whose op the registry knows."""
        result = self.record(REGISTRY.for_source(fn).name, list(operands), {}, user_loc())[0]
        traced = [o for o in operands if isinstance(o, TracedArray)]
        if all(o._known is not None for o in traced):
            try:
                result._known = fn(*(o._known if isinstance(o, TracedArray) else o for o in operands))
            except (ArithmeticError, ValueError, TypeError):
                return result     # `n // 0`: eagerly an error, here a value nothing can specialize on
            result._sources = tuple(dict.fromkeys(s for o in traced for s in o._sources))
        return result

    def iterate(self, proxy: TracedArray):
        """`for row in x`: the rows x[0], x[1] ... (views, as NumPy's), unrolled over a static first dim."""
        if not proxy.ndim:
            raise TracingError(f"iteration over a 0-d array ({proxy.type})", user_loc())
        n = proxy.shape[0]
        if isinstance(n, TracedArray):
            raise SymbolicScalarError(f"iterating over an array whose first dimension is dynamic ({proxy.type}) "
                                      f"would unroll the loop for the example's size only; keep the loop with "
                                      f"distjit.script and `for i in range(x.shape[0]): row = x[i]`", user_loc())
        return (proxy[i] for i in range(n))

    def wrap(self, value: Value, view=None) -> TracedArray:
        return TracedArray(self, value, view)

    # -- recording --------------------------------------------------------------------------
    def record(self, op: str, operands: list, attrs: dict, loc=None) -> list[TracedArray]:
        """Add a node for `op`; operands may be traced arrays, constants or scalars; attrs may hold traced ints."""
        loc = loc or user_loc(2)
        inputs = [self.value_of(o) for o in operands]
        attrs = self._dynamic_attrs(attrs, inputs)
        self.busy = True
        try:
            outs = self.builder.op(op, inputs, attrs, loc)
        except ShapeError:
            raise
        except (TypeError, ValueError) as e:
            raise TracingError(f"{op}: {e}", loc) from None
        finally:
            self.busy = False
        results = [self.wrap(v) for v in outs]
        self._propagate_known(op, operands, attrs, results)
        return results

    def _propagate_known(self, op: str, operands: list, attrs: dict, results: list[TracedArray]) -> None:
        """A pure op whose traced operands all derive from scalar arguments knows its result too, so that
        NumPy's own Python code on a size (`values = np.array((0.0, M)); M = values[1]; if M < 1:` in
        np.hanning) specializes as `if M < 1:` on the argument does. Kept to scalars and tiny arrays, where
        running the kernel costs nothing; an update of the array forgets it (Functionalizer.assign)."""
        traced = [o for o in operands if isinstance(o, TracedArray)]
        if not traced or any(o._known is None for o in traced) or any(isinstance(a, Ref) for a in attrs.values()):
            return
        if not all(isinstance(r.type, ScalarType) or _small(r.type) for r in results):
            return
        opdef = get_op(op)
        if not opdef.is_pure or opdef.kernel is None:
            return
        try:
            with np.errstate(all="ignore"):
                value = call(opdef, [o._known if isinstance(o, TracedArray) else o for o in operands], attrs)
        except Exception:        # eagerly an error on these values: nothing to specialize on
            return
        values = list(value) if len(results) > 1 else [value]
        sources = tuple(dict.fromkeys(s for o in traced for s in o._sources))
        for result, known in zip(results, values):
            result._known, result._sources = known, sources

    def _dynamic_attrs(self, attrs: dict, inputs: list[Value]) -> dict:
        """Replace traced values inside attributes (a dynamic dim in a shape) by Refs to new inputs."""
        def convert(a):
            if isinstance(a, TracedArray) and a._known is not None:
                return self.specialize(a)     # an attribute is a static fact: a shape, an axis, arange's bounds
            if isinstance(a, TracedArray):
                inputs.append(self.value_of(a))
                return Ref(len(inputs) - 1)
            if isinstance(a, tuple):
                return tuple(convert(x) for x in a)
            if isinstance(a, list):
                return [convert(x) for x in a]
            if isinstance(a, np.integer) and not isinstance(a, np.bool_):
                return int(a)
            return a
        return {k: convert(v) for k, v in attrs.items()}

    def ufunc(self, ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict):
        loc = user_loc()
        out = kwargs.pop("out", None)
        where = kwargs.pop("where", True)
        if where is not True and (out is None or method != "__call__"):
            # Without out=, NumPy leaves the masked-out elements uninitialized: no value to record.
            raise TracingError(f"np.{ufunc.__name__}(..., where=...) is supported with out= only (the other "
                               f"elements keep out's values); without it, use np.where", loc)
        if method == "__call__":
            opdef = REGISTRY.for_source(ufunc)
            if opdef is None:
                raise TracingError(f"np.{ufunc.__name__} is not supported by distjit", loc)
            operands, attrs = opdef.bind(inputs, kwargs)
            results = self.record(opdef.name, operands, attrs, loc)
        elif method in ("reduce", "accumulate"):
            named = REGISTRY.for_source(ufunc, method)     # np.add.reduce is np.sum over axis 0
            kwargs.setdefault("axis", 0)
            if named is not None:
                operands, attrs = named.bind(inputs, kwargs)
                results = self.record(named.name, operands, attrs, loc)
            else:
                operands, attrs = get_op(f"ufunc.{method}").bind(inputs, {**kwargs, "ufunc": ufunc.__name__})
                results = self.record(f"ufunc.{method}", operands, attrs, loc)
        elif method == "outer" and len(inputs) == 2:
            opdef = get_op("ufunc.outer")
            operands, attrs = opdef.bind(inputs, {**kwargs, "ufunc": ufunc.__name__})
            results = self.record(opdef.name, operands, attrs, loc)
        elif method == "reduceat" and len(inputs) == 2:
            x, indices = inputs
            if self.contains_traced(indices):
                raise TracingError(f"np.{ufunc.__name__}.reduceat: indices computed at run time are not supported; "
                                   f"pass them as a constant list", loc)
            indices = tuple(int(i) for i in np.asarray(indices).ravel())
            opdef = get_op("ufunc.reduceat")
            operands, attrs = opdef.bind((x,), {**kwargs, "ufunc": ufunc.__name__, "indices": indices})
            results = self.record(opdef.name, operands, attrs, loc)
        elif method == "at" and len(inputs) in (2, 3):
            target, key, values = inputs if len(inputs) == 3 else (*inputs, None)   # a unary ufunc takes no values
            index, dynamic = self._index(key, first_ref=2)
            result = self.record("ufunc.at", [target, values, *dynamic], {"ufunc": ufunc.__name__, "index": index}, loc)
            self.assign_out(target, result[0], ufunc=True, loc=loc)
            return None
        else:
            raise TracingError(f"np.{ufunc.__name__}.{method} is not supported by distjit", loc)
        if out is None:
            mark_scalar(results)      # NumPy returns a scalar from a ufunc whose result is 0-d, unless out= is given
        if out is not None:
            targets = out if isinstance(out, tuple) else (out,)
            for target, result in zip(targets, results):
                if target is not None:
                    if where is not True:     # out keeps its values where the mask is False
                        self.check_out_cast(target, result, loc)
                        kept = self.function(np.astype, (result, target.dtype), {}) \
                            if isinstance(target, TracedArray) else result
                        result = self.function(np.where, (where, kept, target), {})
                    self.assign_out(target, result, ufunc=True, loc=loc)
            results = [t if t is not None else r for t, r in zip(targets, results)]
        return results[0] if len(results) == 1 else tuple(results)

    def function(self, func, args: tuple, kwargs: dict):
        loc = user_loc()
        special = _STATIC.get(func)
        if special is not None:
            return special(self, *args, **kwargs)
        if func is np.where and len(args) + len(kwargs) == 1:    # np.where(condition) is np.nonzero(condition)
            func = np.nonzero
        opdef = REGISTRY.for_source(func)
        if opdef is None and composite.implementation(func) is not None:
            return self._composite(func, args, kwargs, loc)
        if opdef is None:
            name = getattr(func, "__name__", repr(func))
            module = getattr(func, "__module__", "") or ""
            qual = f"np.{name}" if module.startswith("numpy") else f"{module}.{name}"
            raise TracingError(f"{qual} is not supported by distjit's tracer: it is not in the op registry, and "
                               f"running it on example values would bake them into the graph", loc)
        kwargs = dict(kwargs)
        out = kwargs.pop("out", None)
        operands, attrs = opdef.bind(args, kwargs)
        results = self.record(opdef.name, operands, attrs, loc)
        base = opdef.view_of
        if base is not None and len(results) == 1 and isinstance(operands[base], TracedArray):
            results[0]._view = (operands[base], (opdef.name, attrs, operands[:base] + operands[base + 1:]),
                                operands[base]._version)
        if out is not None:
            self.assign_out(out, results[0], ufunc=False, loc=loc)
            return out
        if _SCALAR_FLAGS & opdef.flags and opdef.name not in _ARRAY_RESULTS:
            mark_scalar(results)      # np.sum(x), np.dot(a, b), np.clip(s, 0, 1): a 0-d result is a NumPy scalar
        if "updates_first" in opdef.flags:     # np.put_along_axis & co. write into their first argument
            self.assign_out(operands[0], results[0], ufunc=False, loc=loc)
            return None
        if "multi_output" in opdef.flags:      # np.split & co. return a list
            return results
        if "tuple_output" in opdef.flags:      # np.meshgrid & co. return a tuple, also of one array
            return tuple(results)
        named = opdef.named_result(attrs) if opdef.named_result is not None else None
        if named is not None:                  # np.linalg.qr's QRResult & co.
            return named(*results)
        return results[0] if len(results) == 1 else tuple(results)

    def _composite(self, func, args, kwargs, loc):
        """A NumPy function traced through NumPy's own Python implementation (distjit/ops/composite.py):
        the ops it calls are recorded, so it needs no op of its own."""
        try:
            return composite.implementation(func)(*args, **kwargs)
        except (TypeError, ValueError, IndexError) as e:
            raise TracingError(f"np.{func.__name__}: {e}", loc) from None

    # -- indexing and in-place updates -------------------------------------------------------
    def getitem(self, proxy: TracedArray, key):
        loc = user_loc()
        index, dynamic = self._index(key)
        results = self.record("array.getitem", [proxy, *dynamic], {"index": index}, loc)
        if indexing_makes_view(index, dynamic, proxy.ndim):     # how it was made: its node's op and attributes
            node = results[0]._value.node
            results[0]._view = (proxy, (node.op, {"index": index}, dynamic), proxy._version)
        elif all(isinstance(i, (int, Ref)) for i in index) and _integer_indices(dynamic):
            mark_scalar(results)      # `z[0]`, `m[i, j]`, `a[()]`: one element, a NumPy scalar
        return results[0]

    def setitem(self, proxy: TracedArray, key, value) -> None:
        loc = user_loc()
        index, dynamic = self._index(key, first_ref=2)
        result = self.record("array.setitem", [proxy, value, *dynamic], {"index": index}, loc)[0]
        self.assign(proxy, result, loc)

    def _index(self, key, first_ref: int = 1) -> tuple[tuple, list]:
        """A NumPy index as the `index` attribute: constants inline, arrays and traced scalars as Refs."""
        items = key if isinstance(key, tuple) else (key,)
        dynamic: list = []

        def ref(x):
            dynamic.append(x)
            return Ref(first_ref + len(dynamic) - 1)

        def item(x):
            if x is None or x is Ellipsis:
                return x
            if isinstance(x, TracedArray):
                return ref(x)
            if isinstance(x, (bool, np.bool_)):
                return ref(np.asarray(x))
            if isinstance(x, (int, np.integer)):
                return int(x)
            if isinstance(x, slice):
                return slice(*(part(p) for p in (x.start, x.stop, x.step)))
            if isinstance(x, (np.ndarray, list)):
                return ref(x)
            raise TracingError(f"unsupported index of type {type(x).__name__}", user_loc())

        def part(p):
            if p is None:
                return None
            if isinstance(p, TracedArray) and p._known is not None:
                return operator.index(self.specialize(p))    # a slice bound makes the result's shape
            if isinstance(p, TracedArray):
                return ref(p)
            return int(p)

        return tuple(item(x) for x in items), dynamic


_SPECIALIZABLE = (bool, int, float)

# Ops whose 0-d result NumPy returns as a scalar (np.float64 & co.) rather than a 0-d array, and the exceptions
# among them that always make an array.
_SCALAR_FLAGS = frozenset({"ufunc", "elementwise", "reduction", "contraction"})
_ARRAY_RESULTS = frozenset({"np.where", "np.astype", "np.tensordot"})


def mark_scalar(results) -> None:
    """Flag the 0-d array results as NumPy scalars (`TracedArray._scalar`): immutable, so `s += 1` rebinds s
    and leaves its aliases as they were, where a 0-d array would be updated in place."""
    for r in results:
        if isinstance(r, TracedArray) and isinstance(r._value.type, TensorType) and r._value.type.ndim == 0:
            r._scalar = True


def zero_d_arrays(out_leaves) -> tuple[int, ...]:
    """The outputs that are 0-d arrays, not NumPy scalars (Signature.zero_d_arrays)."""
    return tuple(i for i, leaf in enumerate(out_leaves) if isinstance(leaf, TracedArray) and not leaf._scalar
                 and isinstance(leaf.type, TensorType) and leaf.type.ndim == 0)


def flag_scalar_outputs(f, outs) -> None:
    """The proxies of a called Function's outputs: its 0-d outputs other than its 0-d arrays are NumPy scalars."""
    arrays = set(f.signature.zero_d_arrays)
    mark_scalar([o for i, o in enumerate(outs) if i not in arrays])


def _integer_indices(dynamic) -> bool:
    """Every run-time index is an integer (a Python int or a 0-d integer array), none an array of them."""
    for x in dynamic:
        if isinstance(x, (np.integer, int)) and not isinstance(x, (bool, np.bool_)):
            continue
        t = x.type if isinstance(x, TracedArray) else None
        if not (isinstance(t, ScalarType) and t.kind == "int"
                or isinstance(t, TensorType) and t.ndim == 0 and t.dtype.kind in "iu"):
            return False
    return True


def _scalar_names(static_argnames, dynamic_argnames, arg_names) -> tuple[frozenset, frozenset]:
    static, dynamic = (frozenset([names] if isinstance(names, str) else names)
                       for names in (static_argnames, dynamic_argnames))
    for option, names in (("static_argnames", static), ("dynamic_argnames", dynamic)):
        unknown = sorted(n for n in names if n not in arg_names)
        if unknown:
            raise TracingError(f"{option} names {', '.join(map(repr, unknown))}, which "
                               f"{'is not an argument' if len(unknown) == 1 else 'are not arguments'} "
                               f"(arguments: {', '.join(arg_names)})")
    both = sorted(static & dynamic)
    if both:
        raise TracingError(f"{', '.join(map(repr, both))} cannot be both in static_argnames and in dynamic_argnames")
    return static, dynamic


def _leaf_args(arg_names, in_spec) -> list[str]:
    """The argument each flattened leaf belongs to."""
    return [name for name, child in zip(arg_names, in_spec.children) for _ in range(child.num_leaves)]


def _copyto(ctx, dst, src, casting="same_kind", where=True):
    if where is not True:
        src = ctx.function(np.where, (where, src, dst), {})
    result = ctx.function(np.broadcast_to, (src, dst.shape), {}) if isinstance(dst, TracedArray) else src
    ctx.assign_out(dst, ctx.as_traced(result) if not isinstance(result, TracedArray) else result,
                   ufunc=casting == "same_kind", loc=user_loc())


def _size(ctx, a, axis=None):
    return a.size if axis is None else a.shape[axis]


def _static_dtype(x):
    """What np.result_type & co. take for a traced value: its dtype, or a weak Python scalar of its kind."""
    if isinstance(x, TracedArray):
        t = x.type
        return t.dtype if isinstance(t, TensorType) else t.pytype(0)
    return x


def _result_type(ctx, *arrays_and_dtypes):
    return np.result_type(*(_static_dtype(x) for x in arrays_and_dtypes))


def _can_cast(ctx, from_, to, casting="safe"):
    return np.can_cast(_static_dtype(from_) if not isinstance(_static_dtype(from_), (int, float, complex))
                       else np.result_type(_static_dtype(from_)), to, casting)


# NumPy functions answered from static facts (shape, ndim, dtypes) or by rebinding (copyto), not by an op.
_STATIC = {
    np.shape: lambda ctx, a: a.shape,
    np.ndim: lambda ctx, a: a.ndim,
    np.size: _size,
    np.copyto: _copyto,
    np.result_type: _result_type,
    np.can_cast: _can_cast,
}


def _arg_names(fn, count: int) -> tuple[list[str], dict]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return [f"arg{i}" for i in range(count)], {}
    names, defaults = [], {}
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.KEYWORD_ONLY):
            break
        names.append(p.name)
    if len(names) < count:
        names += [f"arg{i}" for i in range(len(names), count)]
    return names[:count], defaults


def _name_of(fn) -> str:
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "graph"


def _dynamic_dims(dynamic_axes, arg_names, in_spec, leaves) -> dict[int, dict[int, str]]:
    """Map dynamic_axes (by argument name or position) to flattened leaf index -> {axis: symbol}."""
    if not dynamic_axes:
        return {}
    first_leaf, offset = {}, 0
    for name, child in zip(arg_names, in_spec.children):
        first_leaf[name] = (offset, child.num_leaves)
        offset += child.num_leaves
    out: dict[int, dict[int, str]] = {}
    for key, axes in dynamic_axes.items():
        name = arg_names[key] if isinstance(key, int) and 0 <= key < len(arg_names) else key
        if name not in first_leaf:
            raise TracingError(f"dynamic_axes names {key!r}, which is not an argument "
                               f"(arguments: {', '.join(arg_names)})")
        start, count = first_leaf[name]
        if count != 1 or not isinstance(leaves[start], np.ndarray):
            raise TracingError(f"dynamic_axes: argument {name!r} must be a single array")
        ndim = leaves[start].ndim
        for axis, symbol in axes.items():
            if not -ndim <= axis < ndim:
                raise TracingError(f"dynamic_axes: axis {axis} of argument {name!r} is out of range (ndim {ndim})")
            if not isinstance(symbol, str) or not symbol.isidentifier():
                raise TracingError(f"dynamic_axes: symbol {symbol!r} must be an identifier such as 'B'")
            out.setdefault(start, {})[axis % ndim] = symbol
    return out


def _refuse_generators(fn) -> None:
    """A random Generator used inside the function would bake its draws; refuse it up front."""
    closure = getattr(fn, "__closure__", None) or ()
    code = getattr(fn, "__code__", None)
    candidates = [c.cell_contents for c in closure if _cell_filled(c)]
    if code is not None:
        g = getattr(fn, "__globals__", {})
        candidates += [g[n] for n in code.co_names if n in g]
    for obj in candidates:
        if isinstance(obj, (np.random.Generator, np.random.RandomState)):
            raise TracingError(f"{_name_of(fn)} uses a NumPy random generator; its draws would be baked into the "
                               f"graph. Draw the random numbers outside and pass them as inputs",
                               _fn_loc(fn))


def _cell_filled(cell) -> bool:
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False


def _fn_loc(fn):
    from distjit.ir.graph import SourceLoc

    code = getattr(fn, "__code__", None)
    return SourceLoc(code.co_filename, code.co_firstlineno) if code else None
