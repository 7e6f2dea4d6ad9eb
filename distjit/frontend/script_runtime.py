"""The helpers that rewritten code calls (`_dj.if_`, `_dj.while_`, `_dj.for_`, ...): Python or graph, decided per call.

A construct whose condition is a Python value runs as Python (the tracer records
whatever the chosen path computes). A traced condition builds `prim.If` or
`prim.Loop`: each branch or body is traced into its own Block with the same
`ScriptContext`, and the *state* (the names the construct assigns, plus every
traced array it updates in place) becomes the node's outputs or carried values.

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

import builtins
import inspect
import os
import sysconfig
import threading
from contextlib import contextmanager

import numpy as np

from distjit.errors import DistJitError, ScriptError, TracingError
from distjit.frontend.proxy import TracedArray
from distjit.frontend.script_convert import Site, site_error
from distjit.frontend.trace import TraceContext
from distjit.ir.builder import Builder
from distjit.ir.graph import Block, Node, Value
from distjit.types import BOOL, INT, ScalarType, TensorType, Type, type_of
from distjit.ops.infer import fresh_dim, is_unknown

UNROLL_LIMIT = 16          # a Python range longer than this becomes a prim.Loop instead of being unrolled
_INT64_MAX = 2 ** 63 - 1
_MAX_FIXPOINT = 8

_state = threading.local()


# ------------------------------------------------------------------------------------ the context

class ScriptContext(TraceContext):
    """A TraceContext that can trace into nested blocks and undo in-place updates made by a branch.

    `assign` and view re-derivation (`current`) are logged while a log is open, so a
    branch's updates can be read off, then undone before the other branch runs.
    """

    def __init__(self, graph, symbols: dict | None = None):
        super().__init__(graph)
        self.logs: list[list] = []
        self.symbols = symbols or {}     # dim symbol -> (input proxy, axis)
        self.inlining: list = []         # functions being inlined (refuses recursion)

    def note(self, proxy: TracedArray) -> None:
        if self.logs:
            self.logs[-1].append((proxy, proxy._value, proxy._view, proxy._version))

    def assign(self, proxy, new, loc=None):
        if isinstance(proxy, TracedArray):
            self.note(proxy)
        super().assign(proxy, new, loc)

    def current(self, proxy):
        view = proxy._view
        if view is not None and view[0]._version != view[2]:
            self.note(proxy)
        return super().current(proxy)

    def getitem(self, proxy, key):
        result = super().getitem(proxy, key)
        items = key if isinstance(key, tuple) else (key,)
        if result._view is not None and result.ndim == 0 and not any(
                k is None or k is Ellipsis or isinstance(k, slice) for k in items):
            result._view = None      # NumPy: x[i, j] with an integer per axis is a scalar copy, not a view
        return result

    @contextmanager
    def in_block(self, block: Block):
        """Record into `block`; constants and dim sizes made here stay local to it."""
        saved = self.builder, self.constants, self.dims
        self.builder = Builder(block)
        self.constants, self.dims = dict(self.constants), dict(self.dims)
        try:
            yield
        finally:
            self.builder, self.constants, self.dims = saved

    def open_log(self) -> list:
        log: list = []
        self.logs.append(log)
        return log

    def undo(self, log: list) -> None:
        assert self.logs and self.logs[-1] is log
        self.logs.pop()
        for proxy, value, view, version in reversed(log):
            proxy._value, proxy._view, proxy._version = value, view, version


def active() -> ScriptContext:
    return _state.ctx


@contextmanager
def activate(ctx: ScriptContext):
    saved = getattr(_state, "ctx", None)
    _state.ctx = ctx
    try:
        yield
    finally:
        _state.ctx = saved


# ------------------------------------------------------------------------------------ undefined values

class Undefined:
    """A name with no value on this path. Any use is a ScriptError saying why."""

    def __init__(self, name: str, why: str = "", is_return: bool = False):
        self.name = name
        self.why = why
        self.is_return = is_return

    def _fail(self, *args, **kwargs):
        why = f" ({self.why})" if self.why else ""
        from distjit.frontend.source import user_loc

        raise ScriptError(f"{self.name!r} is used but may be undefined here{why}; assign it on every path before "
                          f"using it (e.g. before the loop or the if)", user_loc())

    __bool__ = __float__ = __int__ = __index__ = __iter__ = __len__ = __getitem__ = __call__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _fail
    __lt__ = __le__ = __gt__ = __ge__ = __neg__ = __matmul__ = __rmatmul__ = __pow__ = __mod__ = _fail
    __array_ufunc__ = __array_function__ = _fail

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        self._fail()

    def __repr__(self):
        return f"<undefined {self.name}>"


def undefined(name: str) -> Undefined:
    return Undefined(name)


def undefined_return() -> Undefined:
    return Undefined("return value", is_return=True)


# ------------------------------------------------------------------------------------ truth values

def is_traced(x) -> bool:
    return isinstance(x, TracedArray)


def truth(x, site: Site, normalize: bool = False):
    """A condition: a Python bool, or a traced bool / 0-d array (`normalize` makes it a traced bool)."""
    if isinstance(x, TracedArray):
        t = x.type
        if t == BOOL:
            return x
        if isinstance(t, ScalarType) or (isinstance(t, TensorType) and t.ndim == 0):
            return x._ctx.scalar("py.bool", (x,)) if normalize or isinstance(t, ScalarType) else x
        raise site_error(site, f"the truth value of an array ({t}) is ambiguous",
                         "reduce it first: use .any() or .all() (or compare a reduction such as x.max() > 0)")
    if isinstance(x, Undefined):
        x._fail()
    try:
        return bool(x)
    except Exception as e:
        raise site_error(site, f"cannot use this value as a condition: {type(e).__name__}: {e}") from None


def not_any(*flags):
    """`not (f1 or f2 ...)` on the compiler's flags (Python bools or traced bools)."""
    traced = []
    for f in flags:
        if isinstance(f, TracedArray):
            traced.append(f)
        elif f:
            return False
    if not traced:
        return True
    ctx = traced[0]._ctx
    acc = traced[0]
    for f in traced[1:]:
        acc = ctx.scalar("py.ge", (acc, ctx.scalar("py.not", (f,))))   # a or b == a >= (not b) on bools
    return ctx.scalar("py.not", (acc,))


def not_(x, site: Site):
    c = truth(x, site)
    if isinstance(c, TracedArray):
        return c._ctx.scalar("py.not", (c,))
    return not c


def and_(a_fn, b_fn, site: Site, test: bool = False):
    a = a_fn()
    c = truth(a, site, normalize=test)
    if not isinstance(c, TracedArray):
        if not c:
            return False if test else a
        b = b_fn()
        return truth(b, site, normalize=True) if test else b
    b_thunk = (lambda: truth(b_fn(), site, normalize=True)) if test else b_fn
    a_value = c if test else a
    return _graph_if(c, lambda: (b_thunk(),), lambda: (a_value,), (), ("and",), site)[0]


def or_(a_fn, b_fn, site: Site, test: bool = False):
    a = a_fn()
    c = truth(a, site, normalize=test)
    if not isinstance(c, TracedArray):
        if c:
            return True if test else a
        b = b_fn()
        return truth(b, site, normalize=True) if test else b
    b_thunk = (lambda: truth(b_fn(), site, normalize=True)) if test else b_fn
    a_value = c if test else a
    return _graph_if(c, lambda: (a_value,), lambda: (b_thunk(),), (), ("or",), site)[0]


def ifexp(cond, a_fn, b_fn, site: Site):
    c = truth(cond, site)
    if not isinstance(c, TracedArray):
        return a_fn() if c else b_fn()
    return _graph_if(c, lambda: (a_fn(),), lambda: (b_fn(),), (), ("ifexp",), site)[0]


def assert_(cond, msg_fn, text: str, site: Site):
    c = truth(cond, site)
    if not isinstance(c, TracedArray):
        if not c:
            from distjit.errors import ExecutionError

            message = msg_fn() if msg_fn is not None else text
            raise ExecutionError(f"assertion failed: {message}", site.loc)
        return
    message = text
    if msg_fn is not None:
        m = msg_fn()
        if isinstance(m, str):
            message = m
    c._ctx.record("prim.Assert", [c], {"message": message}, site.loc)


# ------------------------------------------------------------------------------------ if

def if_(cond, then_fn, else_fn, state: tuple, names: tuple, site: Site):
    c = truth(cond, site)
    if not isinstance(c, TracedArray):
        return (then_fn if c else else_fn)(*state)
    return _graph_if(c, lambda: then_fn(*state), lambda: else_fn(*state), state, names, site)


class Frozen:
    """A traced leaf of a branch's result, read before the branch's in-place updates were undone."""

    __slots__ = ("proxy", "value")

    def __init__(self, proxy, value):
        self.proxy = proxy
        self.value = value


def _freeze(ctx, obj):
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


def _trace_branch(ctx: ScriptContext, block: Block, fn, setup=None, finish=None, watch=(), touched=None):
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


def _graph_if(cond: TracedArray, then_fn, else_fn, state, names, site: Site):
    ctx: ScriptContext = cond._ctx
    cond_value = ctx.value_of(cond)
    node = Node("prim.If", {}, site.loc)
    node.add_input(cond_value)
    blocks = [Block(ctx.graph, owner=node), Block(ctx.graph, owner=node)]
    node.blocks = blocks
    results, updated = [], []
    for block, fn in zip(blocks, (then_fn, else_fn)):
        frozen, outer = _trace_branch(ctx, block, fn)
        results.append(frozen)
        updated.append(outer)
    # In-place updates of outer arrays: the side that did not update one passes its old value.
    proxies = {}
    for outer in updated:
        for key, (proxy, _) in outer.items():
            proxies.setdefault(key, proxy)
    proxy_sides = []
    for key, proxy in proxies.items():
        sides = []
        for outer in updated:
            sides.append(outer[key][1] if key in outer else ctx.current(proxy))
        proxy_sides.append(sides)
    merger = _Merger(ctx, site, "if")
    plans = [merger.plan2(results[0][i], results[1][i], names[i] if i < len(names) else "value")
             for i in range(len(results[0]))]
    out_types = []
    for plan in plans:
        merger.collect(plan, out_types)
    for sides in proxy_sides:
        out_types.append(merger.unify(sides[0].type, sides[1].type, "an array updated in place"))
    for side, block in enumerate(blocks):
        with ctx.in_block(block):
            vals = []
            for plan in plans:
                merger.values(plan, side, vals)
            for (sides, t) in zip(proxy_sides, out_types[len(out_types) - len(proxy_sides):]):
                vals.append(merger.coerce_value(sides[side], t))
            for v in vals:
                block.add_return(v)
    hints = []
    for plan in plans:
        merger.hints(plan, hints)
    hints += [None] * len(proxy_sides)
    for t, hint in zip(out_types, hints):
        node.outputs.append(Value(ctx.graph.fresh_name(hint), t, node=node))
    ctx.builder.block.append(node)
    outputs = iter(node.outputs)
    new_state = tuple(merger.rebuild(plan, outputs) for plan in plans)
    for proxy in proxies.values():
        ctx.note(proxy)
        proxy._value = next(outputs)
        proxy._version += 1
    return new_state


# ------------------------------------------------------------------------------------ merging

class _Merger:
    """Plans how two sides of a merge become one value per leaf (NOTE: [State merging])."""

    def __init__(self, ctx: ScriptContext, site: Site, what: str):
        self.ctx = ctx
        self.site = site
        self.what = what

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
        if _const_equal(a, b):
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
        return self.ctx.wrap(value)

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
        raise site_error(self.site, f"internal: cannot convert {v.type} to {t}")


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


def _const_equal(a, b) -> bool:
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


# ------------------------------------------------------------------------------------ loops

class RangeSpec:
    """range(start, stop, step) where some bound is traced."""

    def __init__(self, start, stop, step):
        self.start, self.stop, self.step = start, stop, step


def range_(site: Site, *args):
    if not 1 <= len(args) <= 3:
        raise site_error(site, f"range expected 1 to 3 arguments, got {len(args)}")
    for a in args:
        if isinstance(a, Undefined):
            a._fail()
    if not any(isinstance(a, TracedArray) for a in args):
        try:
            return range(*args)
        except TypeError as e:
            raise site_error(site, f"range: {e}") from None
    start, stop, step = (0, args[0], 1) if len(args) == 1 else (args[0], args[1], args[2] if len(args) == 3 else 1)
    if isinstance(step, TracedArray):
        raise site_error(site, "range() with a step computed at run time is not supported",
                         "use a constant step (range(a, b, 2)), or a while loop")
    if step == 0:
        raise site_error(site, "range() arg 3 must not be zero")
    for a in (start, stop):
        if isinstance(a, TracedArray):
            t = a.type
            if not (t == INT or isinstance(t, TensorType) and t.ndim == 0 and t.dtype.kind in "iu"):
                raise site_error(site, f"range() bounds must be integers, got {t}")
    return RangeSpec(start, stop, int(step))


def while_(test_fn, body_fn, state: tuple, names: tuple, site: Site):
    c = truth(test_fn(*state), site)
    if isinstance(c, TracedArray):
        return _graph_loop(c._ctx, _INT64_MAX, c, None, body_fn, lambda s: test_fn(*s), state, names, site)
    first = True
    while c:
        if first:
            first = False
            ctx = active()
            if _test_becomes_traced(ctx, lambda: body_fn(*state), lambda s: test_fn(*s), site):
                return _graph_loop(ctx, _INT64_MAX, True, None, body_fn, lambda s: test_fn(*s), state, names, site)
        state = body_fn(*state)
        c = truth(test_fn(*state), site)
        if isinstance(c, TracedArray):   # the condition became data-dependent: the rest is a graph loop
            return _graph_loop(c._ctx, _INT64_MAX, c, None, body_fn, lambda s: test_fn(*s), state, names, site)
    return state


def for_(iterable, body_fn, extra_fn, state: tuple, names: tuple, site: Site):
    ctx = active()
    extra = (lambda s: extra_fn(*s)) if extra_fn is not None else None
    if isinstance(iterable, RangeSpec):
        return _range_loop(ctx, iterable.start, iterable.stop, iterable.step, body_fn, extra, state, names, site)
    if isinstance(iterable, TracedArray):
        t = iterable.type
        if not isinstance(t, TensorType) or t.ndim == 0:
            raise site_error(site, f"cannot iterate over a {t} value", "iterate over an array or a range")
        trip = iterable.shape[0]
        item = lambda k: iterable[k]  # noqa: E731 - rows are views of the array, as NumPy iterates
        return _graph_loop(ctx, trip, True, item, body_fn, extra, state, names, site)
    if isinstance(iterable, range) and len(iterable) > UNROLL_LIMIT:
        r = iterable
        return _range_loop(ctx, r.start, r.stop, r.step, body_fn, extra, state, names, site)
    if isinstance(iterable, Undefined):
        iterable._fail()
    try:
        items = list(iterable)
    except DistJitError:
        raise
    except Exception as e:
        raise site_error(site, f"cannot iterate over this value: {type(e).__name__}: {e}") from None
    first = True
    for i, item in enumerate(items):
        if extra is not None:
            c = truth(extra(state), site)
            if isinstance(c, TracedArray):
                if isinstance(iterable, range):
                    r = iterable[i:]
                    return _range_loop(ctx, r.start, r.stop, r.step, body_fn, extra, state, names, site, cond0=c)
                raise site_error(site, "break or return depends on array data inside a loop over a Python sequence",
                                 "loop over a range or an array instead")
            if not c:
                break
        if first and extra is not None and isinstance(iterable, range):
            first = False
            if _test_becomes_traced(ctx, lambda: body_fn(item, *state), extra, site):
                return _range_loop(ctx, iterable.start, iterable.stop, iterable.step, body_fn, extra, state, names,
                                   site)
        state = body_fn(item, *state)
    return state


def _test_becomes_traced(ctx: ScriptContext, run_body, test, site: Site) -> bool:
    """Trace one iteration into a scratch block: does the loop's next test depend on data?"""
    scratch = Block(ctx.graph, owner=Node("prim.Loop"))
    found = []

    def finish(result):
        found.append(isinstance(truth(test(result), site), TracedArray))
        return ()
    _trace_branch(ctx, scratch, run_body, finish=finish)
    scratch.clear()
    return found[0]


def _range_loop(ctx, start, stop, step, body_fn, extra, state, names, site, cond0=True):
    lo, hi, step_abs = (start, stop, step) if step > 0 else (stop, start, -step)
    span = hi if not isinstance(lo, TracedArray) and lo == 0 else hi - lo   # a negative trip count runs 0 times
    trip = span if step_abs == 1 else (span + (step_abs - 1)) // step_abs
    if not isinstance(start, TracedArray) and start == 0 and step == 1:
        item = lambda k: k  # noqa: E731
    else:
        item = lambda k: start + k * step if step != 1 else start + k  # noqa: E731
    if cond0 is True and extra is not None:
        cond0 = truth(extra(state), site)
    return _graph_loop(ctx, trip, cond0, item, body_fn, extra, state, names, site)


def _graph_loop(ctx: ScriptContext, trip, cond0, item_fn, body_fn, cond_fn, state: tuple, names: tuple, site: Site):
    """Build a prim.Loop: find the carried values and their types by a fixpoint, then emit it."""
    if cond0 is False:
        return state
    merger = _Merger(ctx, site, "loop")
    # Leaves of the named state: path -> entry object. A traced leaf is carried, so is a number or array constant.
    entry = list(state)
    plans = [_entry_plan(obj) for obj in entry]
    extra_proxies: dict[int, TracedArray] = {}
    for _attempt in range(_MAX_FIXPOINT):
        result = _try_loop(ctx, trip, cond0, item_fn, body_fn, cond_fn, entry, plans, extra_proxies, names, site,
                           merger, emit=False)
        changed, plans, new_proxies = result
        if new_proxies:
            extra_proxies.update(new_proxies)
            changed = True
        if not changed:
            return _try_loop(ctx, trip, cond0, item_fn, body_fn, cond_fn, entry, plans, extra_proxies, names, site,
                             merger, emit=True)
    raise site_error(site, "the types of the values this loop carries do not settle",
                     "give each variable one type before the loop (e.g. 0.0 for a float, np.zeros(...) for arrays)")


# Loop plans per leaf: ("carry", type, proxy_or_None) | ("keep", obj) | ("drop", Undefined) | ("tuple", [plans])
def _entry_plan(obj):
    if isinstance(obj, TracedArray):
        return ("carry", obj.type, obj)
    if isinstance(obj, (bool, int, float, complex, np.generic, np.ndarray)):
        return ("carry", type_of(obj), None)
    if isinstance(obj, tuple):
        return ("tuple", [_entry_plan(o) for o in obj])
    if isinstance(obj, Undefined):
        return ("drop", obj)
    return ("keep", obj)


def _try_loop(ctx, trip, cond0, item_fn, body_fn, cond_fn, entry, plans, extra_proxies, names, site, merger, emit):
    node = Node("prim.Loop", {}, site.loc)
    body = Block(ctx.graph, owner=node)
    node.blocks = [body]
    iteration = body.add_param(INT, "i")
    carried_types: list[Type] = []
    hints: list = []

    def collect(plan, name):
        if plan[0] == "carry":
            carried_types.append(plan[1])
            hints.append(None if name.startswith("_dj") else name)
        elif plan[0] == "tuple":
            for p in plan[1]:
                collect(p, name)
    for plan, name in zip(plans, names):
        collect(plan, name)
    proxies = list(extra_proxies.values())
    for p in proxies:
        carried_types.append(ctx.current(p).type)
        hints.append(None)
    params = [body.add_param(t, h) for t, h in zip(carried_types, hints)]
    proxy_params = params[len(params) - len(proxies):]

    # Bind block params: proxies updated in place get their param as value; named leaves get a proxy each.
    extra_ids = {id(p) for p in proxies}
    undo: list = []

    def setup():
        for p, param in zip(proxies, proxy_params):
            undo.append((p, p._value, p._view, p._version))
            p._value, p._version = param, p._version + 1
        return undo

    param_iter = iter(params)
    stand_ins: list = []     # (fresh proxy given to the body, the array it stands for)

    def bind(plan):
        kind = plan[0]
        if kind == "carry":
            param = next(param_iter)
            proxy = plan[2]
            if proxy is not None and id(proxy) in extra_ids:
                return proxy
            fresh = ctx.wrap(param)
            if proxy is not None:
                stand_ins.append((fresh, proxy))
            return fresh
        if kind == "tuple":
            return tuple(bind(p) for p in plan[1])
        return plan[1]

    def setup_all():
        setup()
        nonlocal bound
        bound = tuple(bind(p) for p in plans)
        return undo
    bound: tuple = ()

    def run():
        k = ctx.wrap(iteration)
        if item_fn is None:
            return body_fn(*bound)
        return body_fn(item_fn(k), *bound)

    def finish(result):
        nxt = True if cond_fn is None else truth(cond_fn(result), site)
        return (nxt, result)
    touched: set = set()
    frozen, outer = _trace_branch(ctx, body, run, setup=setup_all, finish=finish, watch=proxies, touched=touched)
    nxt, results = frozen

    new_proxies = {k: p for k, (p, _) in outer.items() if k not in extra_ids}
    # A name's array updated in place (`acc += row`) is the same object as before the loop: every alias sees it.
    for fresh, proxy in stand_ins:
        if id(fresh) in touched and id(proxy) not in extra_ids:
            new_proxies[id(proxy)] = proxy
    changed = False
    new_plans = []
    for plan, res, name in zip(plans, results, names):
        np_, ch = _refine(merger, plan, res, name)
        new_plans.append(np_)
        changed = changed or ch
    if not emit or changed or new_proxies:
        body.clear()
        return changed, new_plans, new_proxies

    # Returns: the next condition, then the carried values converted to their types.
    with ctx.in_block(body):
        rets = []
        rets.append(nxt.value if isinstance(nxt, Frozen) else ctx.value_of(bool(nxt)))
        for plan, res in zip(plans, results):
            _loop_returns(merger, plan, res, rets)
        for index, p in enumerate(proxies):
            t = carried_types[len(carried_types) - len(proxies) + index]
            v = outer[id(p)][1] if id(p) in outer else ctx.current(p)
            rets.append(merger.coerce_value(v, t))
    for v in rets:
        body.add_return(v)
    # Entry values, in the enclosing block, before the node.
    inits = []
    for plan, obj in zip(plans, entry):
        _loop_inits(merger, plan, obj, inits)
    for p, t in zip(proxies, carried_types[len(carried_types) - len(proxies):]):
        inits.append(merger.coerce_value(ctx.current(p), t))
    trip_value = ctx.value_of(trip)
    cond_value0 = ctx.value_of(cond0)
    for v in [trip_value, cond_value0, *inits]:
        node.add_input(v)
    for t, h in zip(carried_types, hints):
        node.outputs.append(Value(ctx.graph.fresh_name(h), t, node=node))
    ctx.builder.block.append(node)
    outputs = iter(node.outputs)
    new_state = tuple(_loop_rebuild(ctx, plan, res, outputs, site, name)
                      for plan, res, name in zip(plans, results, names))
    for p in proxies:
        ctx.note(p)
        p._value = next(outputs)
        p._version += 1
    return new_state


def _refine(merger: _Merger, plan, res, name):
    """The plan after seeing the body's result `res` for this leaf; (plan, changed)."""
    kind = plan[0]
    if kind == "carry":
        if isinstance(res, Undefined):
            raise site_error(merger.site, f"{name!r} is defined before the loop but may be undefined at the end of "
                                          f"its body ({res.why or 'not assigned on every path'})",
                             "assign it on every path through the loop body")
        if isinstance(res, tuple):
            raise site_error(merger.site, f"{name!r} is a {plan[1]} before the loop and a tuple inside it")
        t = merger.type_of(res, name)
        u = unify_types(plan[1], t)
        if u is None:
            raise site_error(merger.site, f"{name!r} has type {plan[1]} before the loop but {t} after an iteration",
                             "give it one type throughout (e.g. initialize a float as 0.0, an array with np.zeros "
                             "of the right dtype and shape)")
        return ("carry", u, plan[2]), u != plan[1]
    if kind == "tuple":
        if not isinstance(res, tuple) or len(res) != len(plan[1]):
            raise site_error(merger.site, f"{name!r} changes structure inside the loop")
        subs = [_refine(merger, p, r, f"{name}[{i}]") for i, (p, r) in enumerate(zip(plan[1], res))]
        return ("tuple", [s[0] for s in subs]), any(s[1] for s in subs)
    if kind == "drop":
        undef = plan[1]
        if undef.is_return and not isinstance(res, Undefined):
            return _entry_plan_from_result(merger, res, name), True
        return plan, False
    # keep
    obj = plan[1]
    if res is obj or _const_equal(res, obj):
        return plan, False
    raise site_error(merger.site, f"{name!r} is a {type(obj).__name__} before the loop and changes inside it; "
                                  f"only arrays and numbers can change from one iteration to the next")


def _entry_plan_from_result(merger, res, name):
    if isinstance(res, tuple):
        return ("tuple", [_entry_plan_from_result(merger, r, name) for r in res])
    if isinstance(res, Undefined):
        return ("drop", res)
    return ("carry", merger.type_of(res, name), None)


def _loop_returns(merger, plan, res, out):
    if plan[0] == "carry":
        out.append(merger.coerce(res, plan[1]))
    elif plan[0] == "tuple":
        for p, r in zip(plan[1], res):
            _loop_returns(merger, p, r, out)


def _loop_inits(merger, plan, obj, out):
    if plan[0] == "carry":
        if isinstance(obj, Undefined):
            out.append(dummy_value(merger.ctx, plan[1]))
        elif isinstance(obj, TracedArray):
            out.append(merger.coerce_value(merger.ctx.current(obj), plan[1]))
        else:
            out.append(merger.coerce(obj, plan[1]))
    elif plan[0] == "tuple":
        objs = obj if isinstance(obj, tuple) else [obj] * len(plan[1])
        for p, o in zip(plan[1], objs):
            _loop_inits(merger, p, o, out)


def _loop_rebuild(ctx, plan, res, outputs, site, name):
    kind = plan[0]
    if kind == "carry":
        value = next(outputs)
        if isinstance(res, Frozen) and plan[2] is not None and res.proxy is plan[2]:
            proxy = plan[2]
            ctx.note(proxy)
            proxy._value = value
            proxy._version += 1
            return proxy
        return ctx.wrap(value)
    if kind == "tuple":
        return tuple(_loop_rebuild(ctx, p, r, outputs, site, f"{name}[{i}]")
                     for i, (p, r) in enumerate(zip(plan[1], res)))
    if kind == "drop":
        if plan[1].is_return:
            return plan[1]
        return Undefined(name, f"it is first assigned inside the loop at line {site.line}; a graph loop may run "
                               f"zero times")
    return plan[1]


# ------------------------------------------------------------------------------------ calls

_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__)) + os.sep
_DISTJIT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_LIBRARY_DIRS = tuple({os.path.abspath(p) + os.sep for key in ("stdlib", "platstdlib", "purelib", "platlib")
                       if (p := sysconfig.get_paths().get(key))})


def _is_user_function(fn) -> bool:
    if not inspect.isfunction(fn):
        return False
    file = os.path.abspath(fn.__code__.co_filename)
    if file.startswith(_NUMPY_DIR) or file.startswith(_DISTJIT_DIR):
        return False
    return not file.startswith(_LIBRARY_DIRS) or "/tests/" in file


def _has_traced(args, kwargs) -> bool:
    def any_traced(x):
        if isinstance(x, TracedArray):
            return True
        if isinstance(x, (tuple, list)):
            return any(any_traced(o) for o in x)
        if isinstance(x, dict):
            return any(any_traced(o) for o in x.values())
        return False
    return any_traced(args) or any_traced(kwargs)


def _is_numpy_callable(fn) -> bool:
    if isinstance(fn, np.ufunc):
        return True
    module = getattr(fn, "__module__", None) or ""
    if module.startswith("numpy") or module.startswith("distjit"):
        return True
    self = getattr(fn, "__self__", None)
    if isinstance(self, (TracedArray, np.ndarray, np.generic)) or self is np or self is np.random:
        return True
    return isinstance(fn, type) and issubclass(fn, np.generic)


def _len(site, x):
    if isinstance(x, TracedArray):
        if x.ndim == 0:
            raise site_error(site, "len() of a 0-d array")
        return x.shape[0]
    return len(x)


def _convert_scalar(op, pytype):
    def convert(site, x=0, *rest):
        if isinstance(x, TracedArray):
            t = x.type
            if isinstance(t, TensorType) and t.ndim != 0:
                raise site_error(site, f"{pytype.__name__}() of an array ({t}): only a 0-d array or a number "
                                       f"converts", "reduce it first (x.sum(), x[0])")
            return x._ctx.scalar(op, (x,))
        return pytype(x, *rest)
    return convert


def _minmax(pick_second_if):
    def minmax(site, *args, **kwargs):
        if len(args) == 2 and not kwargs and _has_traced(args, {}):
            a, b = args
            return ifexp(pick_second_if(a, b), lambda: b, lambda: a, site)
        if _has_traced(args, kwargs):
            raise site_error(site, "min()/max() of traced values is supported for exactly two numbers",
                             "use np.minimum/np.maximum, or x.min()/x.max()")
        return (builtins.min if pick_second_if is _lt else builtins.max)(*args, **kwargs)
    return minmax


def _lt(a, b):
    return b < a


def _gt(a, b):
    return b > a


_BUILTINS = {
    builtins.len: _len,
    builtins.float: _convert_scalar("py.float", float),
    builtins.int: _convert_scalar("py.int", int),
    builtins.bool: _convert_scalar("py.bool", bool),
    builtins.min: _minmax(_lt),
    builtins.max: _minmax(_gt),
}


def call(fn, site: Site, *args, **kwargs):
    """A call in scripted code: scripted and traced functions are embedded, user functions are compiled too."""
    from distjit.frontend.script import ScriptFunction, inline_function, inline_traced
    from distjit.function import Function

    ctx = active()
    if isinstance(fn, Undefined):
        fn._fail()
    if isinstance(fn, ScriptFunction):
        return inline_function(ctx, fn.fn, args, kwargs, site)
    if isinstance(fn, Function):
        return inline_traced(ctx, fn, args, kwargs, site)
    special = _BUILTINS.get(fn) if _hashable(fn) else None
    if special is not None:
        return special(site, *args, **kwargs)
    if _is_user_function(fn):
        return inline_function(ctx, fn, args, kwargs, site)
    if _has_traced(args, kwargs) and not _is_numpy_callable(fn):
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
        module = getattr(fn, "__module__", None)
        qual = f"{module}.{name}" if module and module != "builtins" else name
        raise site_error(site, f"calling {qual} on traced values is not supported: distjit compiles NumPy functions, "
                               f"array methods, scripted and traced functions, and Python functions whose source it "
                               f"can read", "use the NumPy equivalent, or wrap your own helper with distjit.script")
    try:
        return fn(*args, **kwargs)
    except (DistJitError, AssertionError):
        raise
    except TracingError as e:
        raise site_error(site, str(e).split(": ", 1)[-1] if e.loc else str(e)) from None


def _hashable(fn) -> bool:
    try:
        hash(fn)
        return True
    except TypeError:
        return False
