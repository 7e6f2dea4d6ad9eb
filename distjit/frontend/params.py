"""The arrays a traced callable object holds (its weights), and the proxies that stand in for them.

While the object's method runs, each weight found in its attributes (and in the
dicts and lists it holds) is replaced by a `TracedArray` of the graph's parameter,
so that what the code does with it (`self.weight.T`, `self.w[0]`, `self.w * 2`) is
recorded as a computation on the parameter. Left as a NumPy array, NumPy would compute
it at trace time and the graph would hold the result as a constant: a file twice the
size of its weights, and a loaded Function whose `params` no longer mattered.
The object is restored when the trace ends, also when it fails.
"""
from __future__ import annotations

import contextlib
import inspect

import numpy as np

from distjit.errors import TracingError
from distjit.frontend.proxy import TracedArray
from distjit.ir.source import user_loc


def find_params(fn) -> dict[str, tuple[np.ndarray, list]]:
    """name -> (array, places): the arrays held by a callable object or a bound method's object, named by
    attribute path (`fc1.weight`); `places` are the (holder, key) slots that hold it (a tuple's are none)."""
    if inspect.ismethod(fn):
        fn = fn.__self__
    if inspect.isfunction(fn) or inspect.isbuiltin(fn) or inspect.ismodule(fn) or not hasattr(fn, "__dict__"):
        return {}
    found: dict[str, tuple[np.ndarray, list]] = {}
    by_id: dict[int, str] = {}
    seen: set[int] = set()

    def visit(obj, prefix: str, depth: int, holder, key):
        if isinstance(obj, np.ndarray):
            name = by_id.get(id(obj))
            if name is None:
                name = by_id[id(obj)] = prefix
                found[name] = (obj, [])
            if holder is not None and not isinstance(holder, tuple):
                found[name][1].append((holder, key))
            return
        if id(obj) in seen or depth > 8:
            return
        seen.add(id(obj))
        if isinstance(obj, dict):
            items = list(obj.items())
        elif isinstance(obj, (list, tuple)):
            items = list(enumerate(obj))
        elif hasattr(obj, "__dict__") and not inspect.ismodule(obj) and not inspect.isclass(obj) \
                and not callable(getattr(obj, "__func__", None)) and not inspect.isfunction(obj):
            items = list(vars(obj).items())
            obj = vars(obj)          # written as a dict: no user __setattr__ runs
        else:
            return
        for k, child in items:
            visit(child, f"{prefix}.{k}" if prefix else str(k), depth + 1, obj, k)

    visit(fn, "", 0, None, None)
    return found


@contextlib.contextmanager
def params_as_proxies(ctx, found: dict[str, tuple[np.ndarray, list]]):
    """Stand a proxy of each parameter in every slot holding its array while the trace runs; refuse an update
    or a rebinding of a parameter (the graph cannot change the object's state), and put every array back."""
    proxies = {}
    for name, (array, places) in found.items():
        proxy = proxies[name] = TracedArray(ctx, ctx.param_values[id(array)])
        ctx.frozen[id(proxy)] = name
        for holder, key in places:
            holder[key] = proxy
    try:
        yield      # an update in place is refused where it happens (Functionalizer.assign)
        for name, proxy in proxies.items():
            for holder, key in found[name][1]:
                if holder[key] is not proxy:
                    raise TracingError(f"the traced code rebinds its parameter {name!r} "
                                       f"(`self.{name} = ...`); a compiled function cannot change the object's "
                                       f"state: compute the new value and return it", user_loc())
    finally:
        for name, (array, places) in found.items():
            for holder, key in places:
                holder[key] = array         # also a slot rebound during the trace (refused above)
