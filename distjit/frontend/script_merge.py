"""Tracing a branch or loop body into its own Block, and merging the state of two paths into one typed value.

Shared by `if` (the two branches) and loops (the entry and the end of the body).

NOTE: [State merging]
At a merge (the two branches of an If; a loop's entry and the end of its body) a
name's two values must fit one IR type:
- the same Python object on both sides stays a Python value (no output);
- equal types merge; differing dims of one dtype and rank become unknown ("?");
- a Python number and a 0-d array whose dtype absorbs it (float with f64/f32,
  int with i64, bool with bool, complex with c128) become the 0-d array: this is
  what happens to `acc = 0.0; acc = acc + x[i]` in plain Python after the first
  iteration, and float64 arithmetic on either gives the same bits;
- a name bound on only one side is undefined after the merge (using it is a
  ScriptError), except the compiler's own return value, which is filled with a
  dummy of the right type on the side that does not return;
- anything else is a ScriptError naming the construct.
Loop-carried types are found by a fixpoint: trace the body with the entry types,
widen by the rules above, retrace until nothing changes.
"""
from __future__ import annotations

import numpy as np

from distjit.errors import ScriptError
from distjit.frontend.proxy import TracedArray
from distjit.frontend.script_context import ScriptContext, Undefined
from distjit.frontend.script_convert import Site, site_error
from distjit.ir.graph import Block, Value
from distjit.types import BOOL, ScalarType, TensorType, Type, type_of
from distjit.ops.infer import fresh_dim, is_unknown


class Frozen:
    """A traced leaf of a branch's result, read before the branch's in-place updates were undone."""

    __slots__ = ("proxy", "value")

    def __init__(self, proxy, value):
        self.proxy = proxy
        self.value = value


def _freeze(ctx, obj):
    from distjit.frontend.script_lists import RowList, StackedRows

    if isinstance(obj, RowList):          # a loop's list keeps its identity; its buffer is read now
        obj.frozen = [ctx.current(b) for b in obj.buffers] if obj.buffers is not None else []
        return obj
    if isinstance(obj, StackedRows):      # a finished loop's rows: a value already, not to be read row by row
        return obj
    if isinstance(obj, TracedArray):
        return Frozen(obj, ctx.current(obj))
    if isinstance(obj, tuple):
        return tuple(_freeze(ctx, o) for o in obj)
    if isinstance(obj, list):
        return [_freeze(ctx, o) for o in obj]
    return obj


def _within(value: Value, block: Block) -> bool:
    """Whether `value` is defined in `block` or in a block nested in it."""
    b = value.block if value.block is not None else (value.node.block if value.node is not None else None)
    while b is not None:
        if b is block:
            return True
        b = b.owner.block if b.owner is not None else None
    return False


def trace_branch(ctx: ScriptContext, block: Block, fn, setup=None, finish=None, watch=(), touched=None):
    """Run fn() recording into `block`; returns (frozen result, {id: (proxy, end value)} of outer proxies updated).

    `setup()` runs before the log opens (binding block params to proxies); every
    change made while the log is open is undone before returning. `finish(result)`
    runs inside the block before the freeze (a loop's next condition).
    """
    with ctx.in_block(block):
        undo_setup = []
        if setup is not None:
            undo_setup = setup()
        log = ctx.open_log()
        try:
            result = fn()
            if finish is not None:
                result = finish(result)
            with ctx.passing_along():
                frozen = _freeze(ctx, result)
            outer: dict[int, tuple] = {}
            first_old: dict[int, Value] = {}
            for proxy, old, _, _ in log:
                first_old.setdefault(id(proxy), old)
            for proxy, _, _, _ in log:
                key = id(proxy)
                if key not in outer and not _within(first_old[key], block):
                    outer[key] = (proxy, ctx.current(proxy))
            for proxy in watch:
                outer.setdefault(id(proxy), (proxy, ctx.current(proxy)))
            if touched is not None:
                touched.update(id(p) for p, _, _, _ in log)
        finally:
            if ctx.logs and ctx.logs[-1] is log:
                ctx.undo(log)
            for proxy, value, view, version in reversed(undo_setup):
                proxy._value, proxy._view, proxy._version = value, view, version
    return frozen, outer


def value_type(obj, name: str, site: Site) -> Type:
    """The IR type of a value a name holds (a traced array or a number)."""
    if isinstance(obj, TracedArray):
        return obj._ctx.current(obj).type
    if isinstance(obj, (bool, int, float, complex, np.generic, np.ndarray)):
        return type_of(obj)
    raise site_error(site, f"{name!r} gets a {type(obj).__name__}, which is not an array or a number")


class Merger:
    """Plans how two sides of a merge become one value per leaf (NOTE: [State merging])."""

    def __init__(self, ctx: ScriptContext, site: Site, what: str):
        self.ctx = ctx
        self.site = site
        self.what = what
        self.proxy_types: dict[int, Type] = {}   # a loop's arrays updated in place, widened by its fixpoint

    # plans: ("keep", obj) | ("undef", Undefined) | ("out", type, [obj_then, obj_else], hint, same_proxy) | ("tuple", [plans])
    def plan2(self, a, b, name: str):
        if a is b and not isinstance(a, (Frozen, Undefined)):
            return ("keep", a)
        if isinstance(a, Frozen) and isinstance(b, Frozen) and a.proxy is b.proxy and a.value is b.value:
            return ("keep", a.proxy)
        if isinstance(a, Undefined) or isinstance(b, Undefined):
            defined = b if isinstance(a, Undefined) else a
            undef = a if isinstance(a, Undefined) else b
            if undef.is_return and not isinstance(defined, Undefined):
                return self.plan2(*((self.dummy_like(defined), b) if a is undef else (a, self.dummy_like(defined))),
                                  name)
            if isinstance(a, Undefined) and isinstance(b, Undefined):
                return ("undef", a)
            side = "else" if isinstance(a, Undefined) else "then"
            return ("undef", Undefined(name, f"it is assigned only in the {side} branch of the {self.what} at "
                                             f"line {self.site.line}", undef.is_return))
        if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
            return ("tuple", [self.plan2(x, y, f"{name}[{i}]") for i, (x, y) in enumerate(zip(a, b))])
        if const_equal(a, b):
            return ("keep", a)
        ta, tb = self.type_of(a, name), self.type_of(b, name)
        t = self.unify(ta, tb, name)
        same = a.proxy if isinstance(a, Frozen) and isinstance(b, Frozen) and a.proxy is b.proxy else None
        return ("out", t, [a, b], name, same)

    def dummy_like(self, obj):
        if isinstance(obj, tuple):
            return tuple(self.dummy_like(o) for o in obj)
        return DummyOf(self.type_of(obj, "return value"))

    def type_of(self, obj, name: str) -> Type:
        if isinstance(obj, Frozen):
            return obj.value.type
        if isinstance(obj, DummyOf):
            return obj.type
        if isinstance(obj, (bool, int, float, complex, np.generic, np.ndarray)):
            return type_of(obj)
        from distjit.frontend.script_lists import StackedRows

        if isinstance(obj, StackedRows):
            obj.materialize()        # a list of run-time length says so, at its loop
        raise site_error(self.site, f"{name!r} is a {type(obj).__name__} on one path of the {self.what} and "
                                    f"something else on another; only arrays and numbers can differ between paths",
                         "give it the same Python value on every path, or make it an array")

    def unify(self, a: Type, b: Type, name: str) -> Type:
        u = unify_types(a, b)
        if u is None:
            raise site_error(self.site, f"{name!r} has type {a} on one path of the {self.what} and {b} on another",
                             "give it one type on every path (e.g. initialize a float as 0.0, an array with "
                             "np.zeros of the right dtype)")
        return u

    def collect(self, plan, types: list):
        if plan[0] == "out":
            types.append(plan[1])
        elif plan[0] == "tuple":
            for p in plan[1]:
                self.collect(p, types)

    def hints(self, plan, hints: list):
        if plan[0] == "out":
            hints.append(plan[3].split("[")[0] if not plan[3].startswith("_dj") else None)
        elif plan[0] == "tuple":
            for p in plan[1]:
                self.hints(p, hints)

    def values(self, plan, side: int, out: list):
        if plan[0] == "out":
            out.append(self.coerce(plan[2][side], plan[1]))
        elif plan[0] == "tuple":
            for p in plan[1]:
                self.values(p, side, out)

    def rebuild(self, plan, outputs):
        kind = plan[0]
        if kind == "keep":
            return plan[1]
        if kind == "undef":
            return plan[1]
        if kind == "tuple":
            return tuple(self.rebuild(p, outputs) for p in plan[1])
        value = next(outputs)
        if plan[4] is not None:          # the same array object on both sides: it keeps its identity
            proxy = plan[4]
            self.ctx.note(proxy)
            proxy._value = value
            proxy._version += 1
            return proxy
        merged = self.ctx.wrap(value)
        # A number on every path (Python's, or a NumPy scalar) merges into a NumPy scalar: no identity to keep.
        merged._scalar = all(is_number_side(side) for side in plan[2] if not isinstance(side, DummyOf))
        return merged

    def coerce(self, obj, t: Type) -> Value:
        if isinstance(obj, DummyOf):
            return dummy_value(self.ctx, t)
        if isinstance(obj, Frozen):
            return self.coerce_value(obj.value, t)
        if isinstance(t, TensorType) and not isinstance(obj, (np.ndarray, np.generic)):
            return self.ctx.builder.constant(_ORIGINAL_ASARRAY(obj, dtype=t.dtype)[()], self.site.loc)
        return self.coerce_value(self.ctx.value_of(obj), t)

    def coerce_value(self, v: Value, t: Type) -> Value:
        from distjit.ir.verifier import types_match

        if types_match(v.type, t):
            return v
        b = self.ctx.builder
        if isinstance(v.type, ScalarType) and isinstance(t, TensorType):
            if v.type == BOOL:
                out = b.op("np.logical_or", [v, v], {}, self.site.loc)[0]
            else:
                out = b.op("np.positive", [v], {}, self.site.loc)[0]
            if out.type.dtype != t.dtype:
                out = b.op("np.astype", [out], {"dtype": t.dtype}, self.site.loc)[0]
            return out
        raise site_error(self.site, f"a value of type {v.type} cannot take the place of one of type {t} in this "
                                    f"{self.what}", "give the variable one type on every path and iteration")


def is_number_side(side) -> bool:
    """A merged side (a Frozen proxy or a constant) is a number: Python's, or a NumPy scalar."""
    if isinstance(side, Frozen):
        return side.proxy._scalar or isinstance(side.value.type, ScalarType)
    return isinstance(side, (bool, int, float, complex, np.generic))


class DummyOf:
    """A stand-in of a type on a path where the value is never read (the return value before returning)."""

    def __init__(self, t: Type):
        self.type = t


def dummy_value(ctx: ScriptContext, t: Type) -> Value:
    b = ctx.builder
    if isinstance(t, ScalarType):
        return b.constant(t.pytype(0))
    if isinstance(t, TensorType):
        if t.is_static:
            zeros = _ORIGINAL_ZEROS(t.shape, t.dtype)     # np.zeros itself is patched while tracing
            return b.constant(zeros[()] if t.ndim == 0 else zeros)
        zero = ctx.wrap(b.constant(0))
        shape = tuple(d if isinstance(d, int) else zero for d in t.shape)
        return ctx.value_of(ctx.function(_ORIGINAL_ZEROS, (shape,), {"dtype": t.dtype}))
    raise ScriptError(f"internal: no dummy for type {t}")


_ORIGINAL_ZEROS = np.zeros          # captured at import: np.zeros and np.asarray are patched while tracing
_ORIGINAL_ASARRAY = np.asarray


def const_equal(a, b) -> bool:
    if isinstance(a, (Frozen, DummyOf)) or isinstance(b, (Frozen, DummyOf)):
        return False
    if type(a) is not type(b):
        return False
    if isinstance(a, (bool, int, float, complex, str, np.generic)) or a is None:
        try:
            return repr(a) == repr(b)
        except Exception:
            return False
    return False


def unify_types(a: Type, b: Type) -> Type | None:
    """The type both fit (NOTE: [State merging]); None when there is none. unify(a, b) == a when b fits a."""
    if a == b:
        return a
    if isinstance(a, TensorType) and isinstance(b, TensorType):
        if a.dtype != b.dtype or a.ndim != b.ndim:
            return None
        dims = tuple(x if x == y or is_unknown(x) else fresh_dim() for x, y in zip(a.shape, b.shape))
        return TensorType(a.dtype, dims)
    if isinstance(a, ScalarType) and isinstance(b, TensorType):
        a, b = b, a
    if isinstance(a, TensorType) and isinstance(b, ScalarType) and a.ndim == 0:
        ok = {"bool": "b", "int": "i", "float": "f", "complex": "c"}[b.kind]
        if a.dtype.kind == ok and (b.kind != "int" or a.dtype == np.int64) \
                and (b.kind != "complex" or a.dtype == np.complex128):
            return a
    return None
