"""Functionalization: NumPy's in-place updates and views, on a graph of immutable values.

The IR has no mutation, so a traced array is a name that gets rebound: an update
(`a[i] = v`, `a += b`, `out=`) makes a new value and rebinds the `TracedArray` to
it (bumping its `_version`). NumPy's aliasing is kept by recording, on an array
NumPy would have made a view, how it was made from its base (`_view`):
- reading a view after its base changed re-derives it from the base's new value;
- writing a view writes the update back into its base, as NumPy would, by the
  view op's inverse (`OpDef.inverse_view`: array.setitem on the base for a basic
  index, the inverse reshape or transpose ...); a view op without one is a
  TracingError.
When the array is an input, the Function writes its final contents back into the
caller's array (trace.py).
"""
from __future__ import annotations

import numpy as np

from distjit.errors import ShapeError, TracingError
from distjit.frontend.proxy import TracedArray
from distjit.ir.source import user_loc
from distjit.ir.graph import Value
from distjit.ops import get_op
from distjit.types import Ref, ScalarType, TensorType


class Functionalizer:
    """The part of a trace's context that rebinds arrays on update and keeps views in step with their bases.

    A mixin of `TraceContext`: it records through the context's `builder`,
    `value_of`, `function` and `wrap`. Subclasses that need to see every update
    (the script frontend's undo log) override `writing` and `reading`.
    """

    def current(self, proxy: TracedArray) -> Value:
        """The value holding the proxy's contents now; a view re-reads its base if the base changed.

        A view's base may itself be a view (`y = y[1:]` in a loop): the chain is walked with a loop, not
        recursion, since its length is the user's trip count.
        """
        chain = []                           # (view, (base, how, base_version)), proxy first
        p = proxy
        self.reading(p)
        view = self._view_of(p)
        while view is not None:
            chain.append((p, view))
            p = view[0]
            self.reading(p)
            view = self._view_of(p)
        for q, (base, how, base_version) in reversed(chain):
            if base._version != base_version:
                self.reading(q)              # its base is now seen to have changed (the script's undo log)
                q._value = self._derive(how, base._value)
                q._known, q._sources = None, ()
                q._view = (base, how, base._version)
                q._version += 1              # its contents changed: so has every view made of it (`y[::-1]`)
        return proxy._value

    def reading(self, proxy: TracedArray) -> None:
        """Called on the proxy `current` reads and on each base it reads through (the script frontend's hook)."""

    def writing(self, proxy: TracedArray) -> None:
        """Called on the proxy `assign` updates and on each base it writes through (the script frontend's hook)."""

    def assign(self, proxy: TracedArray, new: TracedArray, loc=None) -> None:
        """Rebind `proxy` to `new`'s contents (cast to its dtype, as NumPy stores), writing through views.

        The write goes down the chain of bases with a loop (its length is the user's, as in `current`).
        """
        loc = loc or user_loc()
        written = []                         # (view, base, how): views whose base's version moves on
        while True:
            value = self._store(proxy, new, loc)
            view = self._view_of(proxy)
            if view is None:
                break
            base, how, _ = view
            new = self.wrap(self._write_back(how, base, value, loc))
            written.append((proxy, base, how))
            proxy = base
        for p, base, how in reversed(written):
            p._view = (base, how, base._version)

    def _store(self, proxy: TracedArray, new: TracedArray, loc) -> Value:
        """Rebind one proxy to `new`'s contents; returns the value stored."""
        if not isinstance(proxy, TracedArray):
            raise TracingError("an array created outside the traced function (a constant) is updated in place; "
                               "copy it first (`a = a.copy()`)", loc)
        self.writing(proxy)
        if id(proxy) in self.frozen:
            raise TracingError(f"the traced code updates its parameter {self.frozen[id(proxy)]!r} in place; a "
                               f"compiled function cannot change the object's state: compute the new value and "
                               f"return it", loc)
        target_type = self.current(proxy).type
        value = self.current(new)
        if isinstance(target_type, TensorType) and value.type != target_type:
            if isinstance(value.type, TensorType) and value.type.dtype != target_type.dtype:
                value = self.builder.op("np.astype", [value], {"dtype": target_type.dtype}, loc)[0]
            if not isinstance(value.type, TensorType) or value.type.shape != target_type.shape:
                # NumPy stores with broadcasting; proxy.shape has run-time values for dynamic dims.
                value = self.current(self.function(np.broadcast_to, (self.wrap(value), proxy.shape), {}))
        proxy._value = value
        proxy._version += 1
        proxy._known, proxy._sources = None, ()      # an example value derived before the update is stale
        return value

    def set_shape(self, proxy: TracedArray, shape) -> None:
        """`x.shape = s`: x becomes a reshape of its own data. The data keeps its identity in a hidden proxy
        that takes x's place as the base of the views made before (and as the input written back), and x
        becomes a view of it, so writes through x or through those views reach each other as in NumPy."""
        if proxy._view is None and any(proxy._value is v for v in self.graph.block.params):
            raise TracingError("setting the shape of an argument (`x.shape = ...`) changes the caller's array "
                               "object, which a compiled function cannot do; use `x = x.reshape(...)`", user_loc())
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        hidden = TracedArray(self, proxy._value, proxy._view)
        hidden._version = proxy._version
        reshaped = self.function(np.reshape, (hidden, shape), {})
        proxy._value, proxy._view = reshaped._value, reshaped._view
        proxy._version += 1
        proxy._known, proxy._sources = None, ()
        self.moved.setdefault(id(proxy), (proxy, []))[1].append((proxy._version, hidden))

    def storage(self, proxy: TracedArray) -> TracedArray:
        """The proxy that holds `proxy`'s data as it was first made (itself unless its shape was set)."""
        moved = self.moved.get(id(proxy))
        return moved[1][0][1] if moved is not None and moved[0] is proxy else proxy

    def _view_of(self, proxy: TracedArray):
        """proxy's (base, how, base_version), its base redirected if the base's shape was set since."""
        view = proxy._view
        if view is None or not self.moved:
            return view
        base, how, base_version = view
        moved = self.moved.get(id(base))
        if moved is None or moved[0] is not base:
            return view
        for version, hidden in moved[1]:
            if base_version < version:
                proxy._view = view = (hidden, how, base_version)
                break
        return view

    def assign_out(self, target, result: TracedArray, ufunc: bool, loc) -> None:
        if not isinstance(target, TracedArray):
            raise TracingError("out= names an array created outside the traced function (a constant); "
                               "NumPy would update it in place, which a graph cannot do", loc)
        target_t, result_t = self.current(target).type, self.current(result).type
        if isinstance(target_t, TensorType) and isinstance(result_t, TensorType):
            if ufunc:
                self.check_out_cast(target, result, loc)
            if result_t.shape != target_t.shape and len(result_t.shape) > len(target_t.shape):
                raise ShapeError(f"non-broadcastable output operand with shape {target_t.shape} doesn't match "
                                 f"the broadcast shape {result_t.shape}", loc)
        self.assign(target, result, loc)

    def check_out_cast(self, target, result, loc) -> None:
        """A ufunc's out= takes its result under NumPy's 'same_kind' casting rule."""
        if not isinstance(target, TracedArray):
            return
        target_t, result_t = self.current(target).type, self.current(result).type
        if isinstance(target_t, TensorType) and isinstance(result_t, TensorType) \
                and not np.can_cast(result_t.dtype, target_t.dtype, "same_kind"):
            raise TracingError(f"Cannot cast ufunc output from dtype('{result_t.dtype}') to "
                               f"dtype('{target_t.dtype}') with casting rule 'same_kind'", loc)

    def _derive(self, how, base_value: Value) -> Value:
        op, attrs, rest = how
        inputs = [base_value, *(self.value_of(r) for r in rest)]
        return self.builder.op(op, inputs, attrs, user_loc())[0]

    def _write_back(self, how, base: TracedArray, value: Value, loc) -> Value:
        """The base's new contents after its view (made by `how`) was set to `value`: the view op's inverse
        (`OpDef.inverse_view`)."""
        op, attrs, rest = how
        base_value = self.current(base)
        base_t = base_value.type
        inverse = get_op(op).inverse_view
        back = inverse(attrs, base_t) if inverse is not None and isinstance(base_t, TensorType) else None
        if back is None or not (back.onto_base or base_t.is_static):
            raise TracingError(f"an in-place update through a view made by {op} is not supported while tracing; "
                               f"update the original array instead", loc)
        if back.onto_base:
            inputs = [base_value, value, *(self.value_of(r) for r in rest)]
            return self.builder.op(back.op, inputs, back.attrs, loc)[0]
        return self.builder.op(back.op, [value], back.attrs, loc)[0]


def indexing_makes_view(index: tuple, dynamic: list, ndim: int) -> bool:
    """NumPy makes a view for basic indexing (ints, slices, None, Ellipsis, integer scalars) unless every
    axis gets an integer: then it returns a scalar, a copy."""
    if len(index) == ndim and all(isinstance(i, (int, Ref)) for i in index):
        return False
    for x in dynamic:
        t = x.type if isinstance(x, TracedArray) else None
        if isinstance(t, ScalarType) and t.kind == "int":
            continue
        if isinstance(t, TensorType) and t.ndim == 0 and t.dtype.kind in "iu":
            continue
        return False
    return True

