"""`distjit.trace`: record what a NumPy function does on example inputs.

The function runs once on `TracedArray`s. Every NumPy call on them becomes a node
(typed by the op registry). In-place updates (`a[i] = v`, `a += b`, `out=`) are
made functional (functionalize.py): the traced array is rebound to a new value;
when the array is a view, the update is written back to its base as NumPy would;
when it is an input, the Function writes the final contents back into the
caller's array.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np

from distjit.errors import ShapeError, TracingError
from distjit.frontend.functionalize import Functionalizer, indexing_makes_view
from distjit.frontend.patching import patched
from distjit.frontend.proxy import TracedArray
from distjit.frontend.source import user_loc
from distjit.function import Function, Signature
from distjit.ir.builder import Builder
from distjit.ir.graph import Graph, Value
from distjit.types import Ref, TensorType, type_of
from distjit.ops import REGISTRY, composite, get_op
from distjit.pytree import flatten, leaf_paths, unflatten



def trace(fn: Callable, example_inputs, dynamic_axes: dict | None = None, name: str | None = None) -> Function:
    """Trace `fn` on `example_inputs` (a tuple of arguments, or one array) into a `Function`.

    `dynamic_axes` makes dims symbolic, by argument name or position:
    ``{"x": {0: "B"}}`` lets the Function accept any size on x's first axis.
    A callable object traces like a function; its array attributes become named
    parameters (`f.params`).
    """
    if not isinstance(example_inputs, tuple):
        example_inputs = (example_inputs,)
    arg_names, defaults = _arg_names(fn, len(example_inputs))
    graph = Graph(name or _name_of(fn))
    ctx = TraceContext(graph)
    ctx.add_params(_find_params(fn))
    try:
        leaves, in_spec = flatten(example_inputs)
    except TypeError as e:
        raise TracingError(f"example_inputs: {e}") from None
    paths = []
    for arg_name, child in zip(arg_names, in_spec.children):
        paths.extend(leaf_paths(child, arg_name))
    symbols = _dynamic_dims(dynamic_axes, arg_names, in_spec, leaves)
    proxies = [ctx.add_input(leaf, path, symbols.get(i, {})) for i, (leaf, path) in enumerate(zip(leaves, paths))]
    originals = [p._value for p in proxies]
    args = unflatten(in_spec, proxies)
    with patched(ctx, getattr(fn, "__globals__", None)):
        _refuse_generators(fn)
        result = fn(*args)
    try:
        out_leaves, out_spec = flatten(result, is_leaf=lambda x: isinstance(x, TracedArray))
    except TypeError as e:
        raise TracingError(f"{graph.name} returned something distjit cannot represent: {e}") from None
    for leaf in out_leaves:
        graph.add_output(ctx.value_of(leaf))
    mutations = []
    for index, (proxy, original) in enumerate(zip(proxies, originals)):
        if ctx.current(proxy) is not original:
            if not isinstance(leaves[index], np.ndarray):
                raise TracingError(f"{graph.name} updates argument {paths[index]} in place, which is not an array")
            mutations.append((index, len(graph.outputs)))
            graph.add_output(ctx.current(proxy))
    graph.verify()
    signature = Signature(tuple(arg_names), in_spec, out_spec, tuple(mutations), defaults)
    return Function(graph, signature, ctx.param_arrays, graph.name)


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

    # -- inputs and parameters --------------------------------------------------------
    def add_input(self, leaf, path: str, dims: dict[int, str]) -> TracedArray:
        t = type_of(leaf)
        if isinstance(t, TensorType) and dims:
            t = TensorType(t.dtype, tuple(dims.get(i, d) for i, d in enumerate(t.shape)))
        value = self.graph.add_input(t, path)
        return TracedArray(self, value)

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
        return self.record(REGISTRY.for_source(fn).name, list(operands), {}, user_loc())[0]

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
        return [self.wrap(v) for v in outs]

    def _dynamic_attrs(self, attrs: dict, inputs: list[Value]) -> dict:
        """Replace traced values inside attributes (a dynamic dim in a shape) by Refs to new inputs."""
        def convert(a):
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
        if kwargs.get("where", True) is not True:
            raise TracingError(f"np.{ufunc.__name__}(..., where=...) is not supported; use np.where", loc)
        kwargs.pop("where", None)
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
        if out is not None:
            targets = out if isinstance(out, tuple) else (out,)
            for target, result in zip(targets, results):
                if target is not None:
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
        if "updates_first" in opdef.flags:     # np.put_along_axis & co. write into their first argument
            self.assign_out(operands[0], results[0], ufunc=False, loc=loc)
            return None
        if "multi_output" in opdef.flags:      # np.split & co. return a list
            return results
        if "tuple_output" in opdef.flags:      # np.meshgrid & co. return a tuple, also of one array
            return tuple(results)
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
            if isinstance(p, TracedArray):
                return ref(p)
            return int(p)

        return tuple(item(x) for x in items), dynamic


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


def _find_params(fn) -> dict[str, np.ndarray]:
    """Arrays held by a callable object (its weights), named by attribute path: `fc1.weight`."""
    if inspect.isfunction(fn) or inspect.ismethod(fn) or inspect.isbuiltin(fn) or not hasattr(fn, "__dict__"):
        return {}
    found: dict[str, np.ndarray] = {}
    seen: set[int] = set()

    def visit(obj, prefix: str, depth: int):
        if id(obj) in seen or depth > 8:
            return
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            if prefix not in found and not any(a is obj for a in found.values()):
                found[prefix] = obj
            return
        if isinstance(obj, dict):
            items = obj.items()
        elif isinstance(obj, (list, tuple)):
            items = enumerate(obj)
        elif hasattr(obj, "__dict__") and not inspect.ismodule(obj) and not inspect.isclass(obj) \
                and not callable(getattr(obj, "__func__", None)) and not inspect.isfunction(obj):
            items = vars(obj).items()
        else:
            return
        for key, child in items:
            visit(child, f"{prefix}.{key}" if prefix else str(key), depth + 1)

    visit(fn, "", 0)
    return found


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
