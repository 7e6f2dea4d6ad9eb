"""`distjit.custom_op`: a user's own op, declared in one place like the built-in ones.

    @distjit.custom_op("mylib.softplus", elementwise=True)
    def softplus(x):
        return np.logaddexp(x, 0.0)

The decorator registers an `OpDef` whose kernel is the function and returns a
wrapper that behaves like a NumPy function: called on arrays it runs the function;
called on a traced array (inside `trace` or `script`) it dispatches through NEP 18,
so the tracer's `__array_function__` records a ``mylib.softplus`` node, exactly as
for np.sum. Parameters without a default are operands (arrays or numbers);
parameters with a default are attributes (static values, saved in the file).

An elementwise op needs nothing more: its output has the operands' broadcast
shape and the dtype the function returns on stand-in arrays of the operands'
dtypes, it fuses with its neighbours, and it shards along any axis. Any other op
declares `infer(input_types, attrs) -> [output types]` and may declare `shard`,
`cost` and `effect` (the fields of `OpDef`, documented there).

NOTE: [Custom ops on other processes]
A saved file names the op and holds no code, so loading it where the op is not
declared is a FormatError naming the op: import the module that declares it
first. A Ray worker gets the declaration from the driver with each subgraph that
uses it (`pack` / `install`): the function is pickled by value (cloudpickle's
`register_pickle_by_value` for its module), so the worker needs neither the
module nor the user's source on its path.
"""
from __future__ import annotations

import functools
import inspect
import re
import sys
from dataclasses import dataclass

from distjit.errors import DistJitError
from distjit.ops import sharding
from distjit.ops.infer import broadcast_shapes, example_dtypes, shape_of
from distjit.ops.registry import REGISTRY, Effect, OpDef, attr, operand, register
from distjit.types import TensorType

_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")
# The namespaces of distjit's own ops.
_RESERVED = ("np", "prim", "dist", "fused", "py", "array", "ufunc")


@dataclass(frozen=True)
class CustomDef:
    """What `custom_op` was given: enough to declare the op again in another process."""
    name: str
    fn: object
    options: dict


def custom_op(name: str, fn=None, *, elementwise: bool = False, infer=None, shard=None, cost=None,
              effect: Effect = Effect.PURE):
    """Declare `fn` as the op `name` ("library.op"); usable as a decorator. See the module docstring."""
    if fn is None:
        return lambda f: custom_op(name, f, elementwise=elementwise, infer=infer, shard=shard, cost=cost,
                                   effect=effect)
    options = {"elementwise": elementwise, "infer": infer, "shard": shard, "cost": cost, "effect": effect}
    return _declare(CustomDef(name, fn, options))


def _declare(definition: CustomDef):
    name, fn, options = definition.name, definition.fn, definition.options
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise DistJitError(f"custom_op: {name!r} is not an op name of the form 'library.op'")
    if name.split(".", 1)[0] in _RESERVED:
        raise DistJitError(f"custom_op: {name!r} is in a namespace of distjit's own ops "
                           f"({', '.join(_RESERVED)}); name it after your library")
    if name in REGISTRY:
        raise DistJitError(f"custom_op: an op named {name!r} is already declared")
    if not callable(fn):
        raise DistJitError(f"custom_op {name}: {fn!r} is not a function")
    elementwise = options["elementwise"]
    infer = options["infer"]
    if infer is None and not elementwise:
        raise DistJitError(f"custom_op {name}: an op that is not elementwise must declare infer= "
                           f"(input types, attributes) -> output types")
    params = _params(name, fn)

    @functools.wraps(fn)
    def op(*args, **kwargs):
        for arg in _array_likes(args, kwargs):
            dispatch = getattr(type(arg), "__array_function__", None)
            if dispatch is not None and not _is_ndarray(arg):
                result = dispatch(arg, op, (type(arg),), args, kwargs)
                if result is not NotImplemented:
                    return result
        return fn(*args, **kwargs)

    register(OpDef(
        name=name, kernel=fn, infer=infer or _elementwise_infer(name, fn), params=params,
        effect=options["effect"], flags=frozenset({"custom", *(("elementwise",) if elementwise else ())}),
        sources=(op,), cost=options["cost"],
        shard=options["shard"] or (sharding.elementwise if elementwise else None),
        fusible=elementwise and options["effect"] is Effect.PURE,
        custom=definition,
        doc=(inspect.getdoc(fn) or f"The custom op {name}.").splitlines()[0],
    ))
    op.opdef = REGISTRY.get(name)
    return op


def _params(name: str, fn) -> tuple:
    """Parameters without a default are operands, those with one attributes; *args and **kwargs are refused."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        raise DistJitError(f"custom_op {name}: cannot read the parameters of {fn!r}") from None
    params = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise DistJitError(f"custom_op {name}: *{p.name} is not supported; name every parameter")
        if p.default is inspect.Parameter.empty:
            if p.kind is p.KEYWORD_ONLY:
                raise DistJitError(f"custom_op {name}: keyword-only parameter {p.name} needs a default "
                                   f"(it is an attribute)")
            params.append(operand(p.name))
        else:
            params.append(attr(p.name, p.default, keyword_only=p.kind is p.KEYWORD_ONLY))
    return tuple(params)


def _elementwise_infer(name: str, fn):
    def infer(in_types, attrs):
        shape = broadcast_shapes(name, *(shape_of(t) for t in in_types))
        return [TensorType(d, shape) for d in example_dtypes(name, fn, in_types, attrs)]
    return infer


def _array_likes(args, kwargs):
    for x in (*args, *kwargs.values()):
        if isinstance(x, (list, tuple)):
            yield from x
        else:
            yield x


def _is_ndarray(x) -> bool:
    import numpy as np

    return type(x) is np.ndarray or isinstance(x, np.generic)


# ---- shipping declarations to other processes (NOTE: [Custom ops on other processes]) -------------------

def used_by(graph) -> list[str]:
    """The custom ops a graph's nodes use, nested graphs (fused expressions, callees) included."""
    found: dict[str, None] = {}
    seen: set[int] = set()

    def visit(g):
        if id(g) in seen:
            return
        seen.add(id(g))
        for node in g.walk():
            opdef = REGISTRY.get(node.op)
            if opdef.custom is not None:
                found[node.op] = None
            for a in opdef.graph_attrs:
                if a in node.attrs:
                    visit(node.attrs[a])

    visit(graph)
    return list(found)


def pack(names: list[str]) -> bytes | None:
    """The declarations of these custom ops, for `install` in another process (None when there are none)."""
    if not names:
        return None
    import cloudpickle

    definitions = [REGISTRY.get(n).custom for n in names]
    modules = {getattr(d.fn, "__module__", None) for d in definitions}
    already = cloudpickle.list_registry_pickle_by_value()
    by_value = [sys.modules[m] for m in modules
                if m in sys.modules and m != "__main__" and not m.startswith("distjit") and m not in already]
    for module in by_value:
        cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(definitions)
    finally:
        for module in by_value:
            cloudpickle.unregister_pickle_by_value(module)


def install(blob: bytes | None) -> None:
    """Declare the custom ops of `pack`'s result that this process does not know yet."""
    if blob is None:
        return
    import cloudpickle

    for definition in cloudpickle.loads(blob):
        if definition.name not in REGISTRY:
            _declare(definition)
