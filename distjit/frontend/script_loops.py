"""`for` and `while`: Python while the loop's test is a Python value, else a `prim.Loop` (carried types by a fixpoint).

A `for` over a short Python range or sequence is unrolled; over an array, a
range with a traced bound, or a range longer than `UNROLL_LIMIT` it becomes a
`prim.Loop`, as does a `while` (or a loop with `break`) whose test depends on
data, even when that only shows after an iteration (NOTE: [State merging] in
script_merge.py). `enumerate`, `zip` and `reversed` of arrays or traced ranges are
`Items`, iterated the same way.

What a graph loop carries: the names its body assigns, the arrays it updates in
place, the lists it appends to (as rows, NOTE: [Lists in graph loops] in
script_lists.py), and a name first assigned inside it, which is valid after the
loop only if the loop ran: where it is read, the graph asserts so (Python's
UnboundLocalError), so a loop that always runs, as real code's loops do, compiles.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from distjit.errors import DistJitError
from distjit.frontend.fallbacks import StaticInfoNeeded
from distjit.frontend.proxy import TracedArray, is_number
from distjit.frontend.script_context import ScriptContext, Undefined, active
from distjit.frontend.script_convert import Site, site_error
from distjit.frontend.script_lists import RowList, StackedRows, buffer_types, check_appends, new_buffer
from distjit.frontend.script_merge import (Frozen, Merger, const_equal, dummy_value, is_number_side, trace_branch,
                                          unify_types)
from distjit.frontend.script_truth import truth
from distjit.ir.graph import Block, Node, Value
from distjit.types import INT, ScalarType, TensorType, Type, type_of

UNROLL_LIMIT = 16          # a Python range longer than this becomes a prim.Loop instead of being unrolled
_INT64_MAX = 2 ** 63 - 1
_MAX_FIXPOINT = 8


class RangeSpec:
    """range(start, stop, step) where some bound is traced."""

    def __init__(self, start, stop, step):
        self.start, self.stop, self.step = start, stop, step


class Items:
    """A sequence for a `for`: `length` items (a Python int, or a traced int), item k being `item(k)`.

    What iterating over an array (its rows), `enumerate`, `zip` and `reversed` of arrays or
    ranges with traced bounds give: a `for` over it is unrolled when the length is a Python
    int up to UNROLL_LIMIT, else a `prim.Loop` whose iteration number is k.
    """

    def __init__(self, length, item):
        self.length, self.item = length, item


def items_of(obj, site: Site) -> Items:
    """The Items of something a `for` can iterate while some of it is traced."""
    if isinstance(obj, Items):
        return obj
    if isinstance(obj, TracedArray):
        t = obj.type
        if not isinstance(t, TensorType) or t.ndim == 0:
            raise site_error(site, f"cannot iterate over a {t} value", "iterate over an array or a range")
        return Items(obj.shape[0], lambda k: obj[k])   # rows are views of the array, as NumPy iterates
    if isinstance(obj, RangeSpec):
        return Items(_range_trip(obj.start, obj.stop, obj.step, site), _range_item(obj.start, obj.step))
    if isinstance(obj, Undefined):
        obj._fail()
    if isinstance(obj, (range, list, tuple)):
        seq = obj

        def item(k):
            if isinstance(k, TracedArray):
                raise site_error(site, "a Python sequence is zipped with an array or range whose length is known "
                                       "only at run time", "make the sequence an array (np.array(seq))")
            return seq[k]
        return Items(len(seq), item)
    raise site_error(site, f"cannot iterate over a {type(obj).__name__} together with traced values")


def enumerate_items(site: Site, obj, start=0) -> Items:
    inner = items_of(obj, site)
    return Items(inner.length, lambda k: (k + start if not (isinstance(start, int) and start == 0) else k,
                                          inner.item(k)))


def zip_items(site: Site, *objs) -> Items:
    from distjit.frontend.script_if import ifexp

    parts = [items_of(o, site) for o in objs]
    length = parts[0].length
    for p in parts[1:]:
        if isinstance(length, int) and isinstance(p.length, int):
            length = min(length, p.length)
        elif p.length is not length:
            a, b = length, p.length
            length = ifexp(b < a, lambda: b, lambda: a, site)
    return Items(length, lambda k: tuple(p.item(k) for p in parts))


def reversed_items(site: Site, obj) -> Items:
    inner = items_of(obj, site)
    n = inner.length
    return Items(n, lambda k: inner.item(n - 1 - k))


def items_list(site: Site, items: Items) -> list:
    if not isinstance(items.length, int):
        raise site_error(site, "making a Python list of the rows of an array whose length is known only at run "
                               "time", "loop over it with `for`, or keep it an array", cls=StaticInfoNeeded)
    return [items.item(k) for k in range(items.length)]


def _range_trip(start, stop, step, site=None):
    if isinstance(step, TracedArray):
        # len(range) for either sign of step: (stop - start + step - sign(step)) // step; a negative trip
        # count runs zero times, as an empty range does.
        from distjit.frontend.script_if import ifexp

        sign = ifexp(step > 0, lambda: 1, lambda: -1, site)
        return (stop - start + step - sign) // step
    lo, hi, step_abs = (start, stop, step) if step > 0 else (stop, start, -step)
    span = hi if not isinstance(lo, TracedArray) and lo == 0 else hi - lo   # a negative trip count runs 0 times
    return span if step_abs == 1 else (span + (step_abs - 1)) // step_abs


def _range_item(start, step):
    if isinstance(step, TracedArray):
        return lambda k: start + k * step
    if not isinstance(start, TracedArray) and start == 0 and step == 1:
        return lambda k: k
    return lambda k: start + k * step if step != 1 else start + k


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
        import operator

        ctx = active()
        nonzero = ctx.scalar(operator.ne, (step, 0))
        ctx.record("prim.Assert", [nonzero], {"message": "range() arg 3 must not be zero"}, site.loc)
    elif step == 0:
        raise site_error(site, "range() arg 3 must not be zero")
    for a in (start, stop, step):
        if isinstance(a, TracedArray):
            t = a.type
            if not (t == INT or isinstance(t, TensorType) and t.ndim == 0 and t.dtype.kind in "iu"):
                raise site_error(site, f"range() bounds must be integers, got {t}")
    return RangeSpec(start, stop, step if isinstance(step, TracedArray) else int(step))


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
    if isinstance(iterable, (TracedArray, Items)):
        seq = items_of(iterable, site)
        if not (isinstance(seq.length, int) and seq.length <= UNROLL_LIMIT):
            cond0 = True if extra is None else truth(extra(state), site)
            return _graph_loop(ctx, seq.length, cond0, seq.item, body_fn, extra, state, names, site)
        iterable = items_list(site, seq)
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
    ctx.probing += 1
    try:
        trace_branch(ctx, scratch, run_body, finish=finish)
    finally:
        ctx.probing -= 1
    scratch.clear()
    return found[0]


def _range_loop(ctx, start, stop, step, body_fn, extra, state, names, site, cond0=True):
    trip = _range_trip(start, stop, step, site)
    item = _range_item(start, step)
    if cond0 is True and extra is not None:
        cond0 = truth(extra(state), site)
    return _graph_loop(ctx, trip, cond0, item, body_fn, extra, state, names, site)


def _graph_loop(ctx: ScriptContext, trip, cond0, item_fn, body_fn, cond_fn, state: tuple, names: tuple, site: Site):
    """Build a prim.Loop: find the carried values and their types by a fixpoint, then emit it."""
    if cond0 is False:
        return state
    merger = Merger(ctx, site, "loop")
    # Leaves of the named state: path -> entry object. A traced leaf is carried, so is a number or array constant.
    entry = list(state)
    with ctx.passing_along():
        plans = [_entry_plan(obj) for obj in entry]
    extra_proxies: dict[int, TracedArray] = {}
    direct: set = set()      # paths of the leaves that are their entry array at the end of the body
    for _attempt in range(_MAX_FIXPOINT):
        result = _try_loop(ctx, trip, cond0, item_fn, body_fn, cond_fn, entry, plans, extra_proxies, names, site,
                           merger, direct)
        if not isinstance(result, _Retrace):
            return result
        plans = result.plans
        extra_proxies.update(result.new_proxies)
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
    if type(obj) is list or isinstance(obj, StackedRows):
        return ("list", obj)
    return ("keep", obj)


# A list's plan: ("list", obj) while nothing is appended to it, then ("rows", obj, row type, buffer type)
# (NOTE: [Lists in graph loops] in script_lists.py). A name first assigned in the loop and carried is
# ("carry", type, None, Undefined): its value after the loop is guarded by the loop having run.


class _Retrace(NamedTuple):
    """What a trace of a loop body found that the next trace must start from: widened plans, more proxies."""

    plans: list
    new_proxies: dict


def _try_loop(ctx, trip, cond0, item_fn, body_fn, cond_fn, entry, plans, extra_proxies, names, site, merger, direct):
    """Trace the body with `plans`; emit the loop when the trace leaves them as they are, else a _Retrace.

    The trace that confirms the fixpoint is the loop's body: tracing it once more would build the same
    nodes again, and a loop nested d deep would be traced 2**d times instead of once."""
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
        elif plan[0] == "rows":
            carried_types.extend(plan[3])
            hints.extend([None if name.startswith("_dj") else name] * len(plan[3]))
        elif plan[0] == "tuple":
            for p in plan[1]:
                collect(p, name)
    for plan, name in zip(plans, names):
        collect(plan, name)
    proxies = list(extra_proxies.values())
    for p in proxies:
        carried_types.append(merger.proxy_types.get(id(p)) or ctx.current(p).type)
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
    stand_ins: dict = {}     # id(fresh proxy given to the body) -> (its leaf's path, the array it stands for)
    leaves: dict = {}        # path of a carried leaf -> (entry array or None, what the body got)

    def bind(plan, name="value", path=()):
        kind = plan[0]
        if kind == "list":
            return RowList(plan[1], name, site, body)
        if kind == "rows":
            buffers = [ctx.wrap(next(param_iter)) for _ in plan[3]]
            parts = len(plan[2]) if isinstance(plan[2], tuple) else None
            return RowList([], name, site, body, buffers, parts, lambda: ctx.wrap(iteration))
        if kind == "carry":
            param = next(param_iter)
            proxy = plan[2]
            if proxy is not None and path in direct:
                leaves[path] = (proxy, proxy)
                return proxy
            fresh = ctx.wrap(param)
            fresh._scalar = _entry_is_number(_get_path(entry, path), plan)   # a number has no identity to keep
            leaves[path] = (proxy, fresh)
            stand_ins[id(fresh)] = (path, proxy)
            ctx.stand_ins[id(fresh)] = fresh
            return fresh
        if kind == "tuple":
            return tuple(bind(p, name, path + (i,)) for i, p in enumerate(plan[1]))
        return plan[1]

    def setup_all():
        setup()
        nonlocal bound
        bound = tuple(bind(p, n, (i,)) for i, (p, n) in enumerate(zip(plans, names)))
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
    saved = ctx.made, ctx.reads
    ctx.made, ctx.reads = [], set()
    try:
        frozen, outer = trace_branch(ctx, body, run, setup=setup_all, finish=finish, watch=proxies, touched=touched)
        made, reads = ctx.made, ctx.reads
    finally:
        ctx.made, ctx.reads = saved
        for key in stand_ins:
            ctx.stand_ins.pop(key, None)
    if saved[0] is not None:          # an enclosing loop's body (or if's branch) made and read these too
        saved[0].extend(made)
    if saved[1] is not None:
        saved[1].update(reads)
    nxt, results = frozen

    new_proxies = {k: p for k, (p, _) in outer.items() if k not in extra_ids}
    ends = _leaf_ends(results, plans, leaves, stand_ins, {id(p) for p in made})
    with ctx.passing_along():
        changed = _check_identity(ctx, leaves, ends, direct, touched, reads, names, site)

    for index, p in enumerate(proxies):   # an array updated in place may widen too (a number made a 0-d array)
        if id(p) in outer:
            t = carried_types[len(carried_types) - len(proxies) + index]
            u = unify_types(t, outer[id(p)][1].type)
            if u is None:
                raise site_error(site, f"an array updated in place in this loop changes from {t} to "
                                       f"{outer[id(p)][1].type}", "give it one dtype and number of dimensions")
            if u != t:
                merger.proxy_types[id(p)] = u
                changed = True
    new_plans = []
    for plan, res, name in zip(plans, results, names):
        np_, ch = _refine(merger, plan, res, name, trip if cond_fn is None else None)
        new_plans.append(np_)
        changed = changed or ch
    if changed or new_proxies:
        body.clear()
        return _Retrace(new_plans, new_proxies)

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
    with ctx.passing_along():
        for plan, obj in zip(plans, entry):
            _loop_inits(merger, plan, obj, inits, trip)
    for p, t in zip(proxies, carried_types[len(carried_types) - len(proxies):]):
        inits.append(merger.coerce_value(ctx.current(p), t))
    trip_value = ctx.value_of(trip)
    cond_value0 = ctx.value_of(cond0)
    ran = _ran_once(ctx, trip, cond0) if _has_unbound(plans) else True
    for v in [trip_value, cond_value0, *inits]:
        node.add_input(v)
    for t, h in zip(carried_types, hints):
        node.outputs.append(Value(ctx.graph.fresh_name(h), t, node=node))
    ctx.builder.block.append(node)
    outputs = iter(node.outputs)
    new_state = tuple(_loop_rebuild(ctx, plan, res, outputs, site, name, trip, ran)
                      for plan, res, name in zip(plans, results, names))
    for p in proxies:
        ctx.note(p)
        p._value = next(outputs)
        p._version += 1
    return _rebind_identities(ctx, new_state, leaves, ends, trip, cond_fn is None, cond0, names, site)


def _entry_is_number(obj, plan) -> bool:
    """A carried leaf that enters the loop as a number (Python's, or a NumPy scalar): the body's stand-in for
    it is a NumPy scalar, so `s += x` in the body rebinds it, on every iteration alike. A name first
    assigned in the loop is a number when its type is 0-d (it is assigned before it is read)."""
    if isinstance(obj, Undefined) or len(plan) > 3:
        return isinstance(plan[1], ScalarType) or isinstance(plan[1], TensorType) and plan[1].ndim == 0
    if isinstance(obj, TracedArray):
        return is_number(obj)
    return isinstance(obj, (bool, int, float, complex, np.generic))


def _has_unbound(plans) -> bool:
    return any(p[0] == "carry" and len(p) > 3 or p[0] == "tuple" and _has_unbound(p[1]) for p in plans)


def _ran_once(ctx, trip, cond0):
    """Whether the loop ran at least once: True, False, or the traced conditions that say so."""
    import operator

    conds = []
    if isinstance(trip, int):
        if trip <= 0:
            return False
    else:
        conds.append(ctx.scalar(operator.gt, (trip, 0)))
    if isinstance(cond0, TracedArray):
        conds.append(cond0)
    return conds or True


def _refine(merger: Merger, plan, res, name, trip):
    """The plan after seeing the body's result `res` for this leaf; (plan, changed). `trip`: the trip count,
    None when the loop may stop early (a while, a break)."""
    kind = plan[0]
    if kind in ("list", "rows"):
        if not isinstance(res, RowList):
            raise site_error(merger.site, f"{name!r} is a list before the loop and is reassigned inside it; only "
                                          f"arrays and numbers can change from one iteration to the next",
                             "append to it (one value per iteration), or use an array")
        elem = check_appends(res)
        if elem is None:
            if kind == "rows":
                raise site_error(merger.site, f"{name!r} is appended to on some paths of this graph loop only",
                                 "append exactly one value per iteration")
            return plan, False
        if trip is None or isinstance(trip, int) and trip == _INT64_MAX:
            raise site_error(merger.site, f"{name!r} is appended to in a loop that may stop early (a while "
                                          f"loop, or a break or return that depends on data), so its length is "
                                          f"known only at run time",
                             "preallocate an array with np.zeros for the most iterations and write rows into it")
        if kind == "list":
            return ("rows", plan[1], elem, buffer_types(trip, elem)), True
        u = _unify_rows(plan[2], elem)
        if u is None:
            raise site_error(merger.site, f"{name!r} gets values of type {plan[2]} and {elem} in this loop",
                             "append values of one type and shape")
        if u != plan[2]:
            return ("rows", plan[1], u, buffer_types(trip, u)), True
        return plan, False
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
        return ("carry", u, plan[2], *plan[3:]), u != plan[1]
    if kind == "tuple":
        if not isinstance(res, tuple) or len(res) != len(plan[1]):
            raise site_error(merger.site, f"{name!r} changes structure inside the loop")
        subs = [_refine(merger, p, r, f"{name}[{i}]", trip) for i, (p, r) in enumerate(zip(plan[1], res))]
        return ("tuple", [s[0] for s in subs]), any(s[1] for s in subs)
    if kind == "drop":
        undef = plan[1]
        if undef.is_return and not isinstance(res, Undefined):
            return _entry_plan_from_result(merger, res, name), True
        if isinstance(res, Frozen) or isinstance(res, (bool, int, float, complex, np.generic)):
            t = merger.type_of(res, name)
            if isinstance(t, (TensorType, ScalarType)):      # what a dummy entry value can be made of
                return ("carry", t, None, undef), True
        return plan, False
    # keep
    obj = plan[1]
    if res is obj or const_equal(res, obj):
        return plan, False
    raise site_error(merger.site, f"{name!r} is a {type(obj).__name__} before the loop and changes inside it; "
                                  f"only arrays and numbers can change from one iteration to the next")


def _unify_rows(a, b):
    if isinstance(a, tuple) != isinstance(b, tuple):
        return None
    if not isinstance(a, tuple):
        return unify_types(a, b)
    if len(a) != len(b):
        return None
    parts = tuple(unify_types(x, y) for x, y in zip(a, b))
    return None if any(p is None for p in parts) else parts


def _entry_plan_from_result(merger, res, name):
    if isinstance(res, tuple):
        return ("tuple", [_entry_plan_from_result(merger, r, name) for r in res])
    if isinstance(res, Undefined):
        return ("drop", res)
    return ("carry", merger.type_of(res, name), None)


def _loop_returns(merger, plan, res, out):
    if plan[0] == "carry":
        out.append(merger.coerce(res, plan[1]))
    elif plan[0] == "rows":
        out.extend(merger.coerce_value(v, t) for v, t in zip(res.frozen, plan[3]))
    elif plan[0] == "tuple":
        for p, r in zip(plan[1], res):
            _loop_returns(merger, p, r, out)


def _loop_inits(merger, plan, obj, out, trip):
    if plan[0] == "rows":
        for elem, t in zip(plan[2] if isinstance(plan[2], tuple) else (plan[2],), plan[3]):
            buffer = new_buffer(merger.ctx, trip, elem, "this list", merger.site)
            out.append(merger.coerce_value(merger.ctx.value_of(buffer), t))
    elif plan[0] == "carry":
        if isinstance(obj, Undefined):
            out.append(dummy_value(merger.ctx, plan[1]))
        elif isinstance(obj, TracedArray):
            out.append(merger.coerce_value(merger.ctx.current(obj), plan[1]))
        else:
            out.append(merger.coerce(obj, plan[1]))
    elif plan[0] == "tuple":
        objs = obj if isinstance(obj, tuple) else [obj] * len(plan[1])
        for p, o in zip(plan[1], objs):
            _loop_inits(merger, p, o, out, trip)


def _loop_rebuild(ctx, plan, res, outputs, site, name, trip, ran):
    kind = plan[0]
    if kind == "rows":
        tuples = isinstance(plan[2], tuple)
        parts = [ctx.wrap(next(outputs)) for _ in plan[3]]
        prefix = list(plan[1])
        if prefix:      # the items from before the loop come first
            columns = [[item[j] for item in prefix] for j in range(len(parts))] if tuples else [prefix]
            parts = [ctx.function(np.concatenate, ([ctx.as_traced(c) if ctx.contains_traced(c) else np.asarray(c),
                                                    p],), {}) for c, p in zip(columns, parts)]
        length = len(prefix) + trip if isinstance(trip, int) else None
        return StackedRows(parts, tuples, length, name, site)
    if kind == "list":
        return plan[1]
    if kind == "carry" and len(plan) > 3:
        value = ctx.wrap(next(outputs))
        value._scalar = is_number_side(res)
        if ran is False:
            return plan[3]
        if ran is not True:
            ctx.guard_bound(value, ran, f"{name!r} is used after the loop at line {site.line}, which ran zero "
                                        f"times, so it was never assigned")
        return value
    if kind == "carry":
        value = next(outputs)
        if isinstance(res, Frozen) and plan[2] is not None and res.proxy is plan[2]:
            proxy = plan[2]
            ctx.note(proxy)
            proxy._value = value
            proxy._version += 1
            return proxy
        out = ctx.wrap(value)
        out._scalar = is_number_side(res)
        return out
    if kind == "tuple":
        return tuple(_loop_rebuild(ctx, p, r, outputs, site, f"{name}[{i}]", trip, ran)
                     for i, (p, r) in enumerate(zip(plan[1], res)))
    if kind == "drop":
        if plan[1].is_return:
            return plan[1]
        return Undefined(name, f"it is first assigned inside the loop at line {site.line}, to a value that "
                               f"cannot be carried by a graph loop")
    return plan[1]


# NOTE: [Identity of loop-carried arrays]
# Python names bind objects: after `b = a` both names are one array, `v = a[1:]` is a view of it, and
# `a, b = b, a` swaps two arrays without copying. A prim.Loop carries values, one per name, so the body
# is traced once for every iteration; that is right only if what the body does to the arrays its names
# hold at its start is the same on every iteration. Each carried name's array at the end of the body is
# labelled (`_leaf_ends`): the array the name held at the start ("own", bound directly from then on, so
# its aliases and views before the loop see its updates), another name's start array ("leaf"), an array
# from before the loop ("obj"), a static view of one ("view"), or an array the body made ("new").
# `_check_identity` refuses, at the loop, a body whose start arrays are updated in place or read after a
# same-array update while names move between arrays; `_rebind_identities` follows the labels through
# the iterations to give each name after the loop its array (aliases share one proxy, views are views
# again). An array that depends on how often the loop ran is, when the loop runs its trip count (no break,
# not a while) and each label is an array rather than a view, numbered by that count: the identity number
# of the array it is after so many iterations, the labels repeating in a cycle (`_number_by_trips`, NOTE:
# [Zero-trip links] in script_context.py); else it becomes a guarded proxy (ScriptContext.ambiguous_identity).


def _leaf_ends(results, plans, leaves, stand_ins, made_ids) -> dict:
    """path -> the label of the array a carried name holds at the end of the body."""
    ends: dict = {}
    end_of: dict = {}        # id(an array the body made that a name holds at its end) -> that name's path

    def collect(plan, res, path):
        if plan[0] == "carry" and path in leaves and isinstance(res, Frozen):
            end_of.setdefault(id(res.proxy), path)
        elif plan[0] == "tuple" and isinstance(res, tuple):
            for i, (p, r) in enumerate(zip(plan[1], res)):
                collect(p, r, path + (i,))
    for i, (plan, res) in enumerate(zip(plans, results)):
        collect(plan, res, (i,))

    def label(res):
        if not isinstance(res, Frozen):
            return ("value",)
        q = res.proxy
        if id(q) in stand_ins:
            return ("leaf", stand_ins[id(q)][0])
        if id(q) not in made_ids:
            return ("obj", q)
        view = q._view
        if view is not None:
            base = view[0]
            if id(base) not in made_ids and id(base) not in stand_ins and not view[1][2]:
                return ("view", base, view[1])
            if id(base) in end_of and id(base) not in stand_ins and end_of[id(base)] != end_of.get(id(q)) \
                    and not view[1][2]:
                return ("leafview", end_of[id(base)], view[1])     # a view of what another name holds
            return ("lost", base, stand_ins[id(base)][0] if id(base) in stand_ins else None)
        return ("new", id(q))

    def walk(plan, res, path):
        if plan[0] == "carry" and path in leaves:
            ends[path] = label(res)
        elif plan[0] == "tuple" and isinstance(res, tuple):
            for i, (p, r) in enumerate(zip(plan[1], res)):
                walk(p, r, path + (i,))
    for i, (plan, res) in enumerate(zip(plans, results)):
        walk(plan, res, (i,))
    return ends


def _leaf_name(names, path) -> str:
    return names[path[0]] + "".join(f"[{i}]" for i in path[1:])


def _check_identity(ctx, leaves, ends, direct, touched, reads, names, site) -> bool:
    """Bind directly the names that keep their array; refuse a body that is not the same on every iteration
    (NOTE: [Identity of loop-carried arrays]). Returns whether the loop must be traced again."""
    changed = False
    for path, (entry, got) in leaves.items():
        end = ends.get(path)
        if end is None or entry is None or is_number(entry):
            continue
        if got is entry:
            if not (end[0] == "obj" and end[1] is entry):
                direct.discard(path)
                changed = True
            continue
        if end == ("leaf", path):
            direct.add(path)
            changed = True
            continue
        name = _leaf_name(names, path)
        if id(got) in touched:
            raise site_error(site, f"{name!r} is updated in place in this loop and then bound to another array, "
                                   f"so the first iteration would update the array it named before the loop and "
                                   f"later ones another; a graph loop runs one body for every iteration",
                             f"copy it before the loop (`{name} = {name}.copy()`), or update it after binding "
                             f"it in the body")
        flows = any(e == ("leaf", path) for e in ends.values())    # its start array is another name's end
        if id(got) in reads or flows:
            watched = [entry, entry._view[0] if entry._view is not None else None]
            if end[0] in ("obj", "view", "lost"):
                watched.append(end[1])
            if any(w is not None and id(w) in touched for w in watched):
                raise site_error(site, f"{name!r} is read in this loop while the array it may be (or view) is "
                                       f"updated in place, and it is bound to another array by the end of the "
                                       f"body; a graph loop runs one body for every iteration",
                                 f"copy it where it is bound (`{name} = ....copy()`)")
    return changed


def _label_key(label):
    if label[0] in ("obj", "lost"):
        return (label[0], id(label[1]))
    if label[0] in ("view", "leafview"):
        op, attrs, _ = label[2]
        return (label[0], id(label[1]) if label[0] == "view" else label[1], op, repr(sorted(attrs.items())))
    return label


def _rebind_identities(ctx, state, leaves, ends, trip, counted, cond0, names, site):
    """The loop's named state with each name bound to its array (NOTE: [Identity of loop-carried arrays])."""
    paths = [p for p in leaves if p in ends]
    if not paths:
        return state
    with ctx.passing_along():
        return _rebind(ctx, state, paths, leaves, ends, trip, counted, cond0, names, site)


def _rebind(ctx, state, paths, leaves, ends, trip, counted, cond0, names, site):
    """`counted`: the loop runs exactly `trip` times (no break, not a while) when it starts."""
    # A name that entered as a number (a Python float in an enclosing loop's body, widened to f64[] here) has
    # no array to keep: it is the loop's result, as _check_identity never binds it directly.
    start = {p: ("obj", leaves[p][0]) if leaves[p][0] is not None
             and not is_number(leaves[p][0]) else ("value",) for p in paths}

    def step(prev):
        nxt = {}
        for p in paths:
            end = ends[p]
            if end[0] == "leaf":
                lab = prev.get(end[1], ("value",))
                nxt[p] = ("new", lab[1], lab[2] + 1) if lab[0] == "new" else lab
            elif end[0] == "new":
                nxt[p] = ("new", end[1], 0)
            else:
                nxt[p] = end
        return nxt

    def key(st):
        return tuple(_label_key(st[p]) for p in paths)
    exact = counted and isinstance(trip, int) and cond0 is True
    states, seen, st = [], {}, start      # the labels after 1, 2, ... iterations, up to where they repeat
    cycle = None                          # (the state the labels repeat from, the period)
    for _ in range(trip if exact else len(paths) + 2):
        st = step(st)
        if key(st) in seen:
            j = seen[key(st)]
            cycle = (j, len(states) - j)
            if exact:
                states = [states[j + (trip - 1 - j) % (len(states) - j)]]
            break
        seen[key(st)] = len(states)
        states.append(st)
    else:
        if exact:
            states = states[-1:]
    ran = True if exact and trip >= 1 else _ran_once(ctx, trip, cond0)
    if ran is False:
        return state
    state = list(state)
    shared: dict = {}
    numbers: dict = {}                    # label key of an array the body made -> its identity number
    for p in sorted(paths, key=lambda p: any(s[p][0] == "leafview" for s in states)):
        labels = {_label_key(s[p]): s[p] for s in states}
        current = _get_path(state, p)
        if not isinstance(current, TracedArray) or is_number(current) \
                or any(k[0] == "value" for k in labels):
            continue                       # a number has no identity to keep
        name = _leaf_name(names, p)
        if len(labels) == 1 and next(iter(labels))[0] != "lost":
            k, lab = next(iter(labels.items()))
            # A loop that may not run leaves the name its value from before: an array (start "obj"), or a number
            # (start "value"), which is never the array the body binds it to.
            zero = ran is not True and (start[p][0] == "obj" and _label_key(start[p]) != k
                                        or start[p][0] == "value" and lab[0] != "new")
            if not zero:
                if lab[0] == "obj":
                    obj = lab[1]
                elif k in shared:
                    obj = shared[k]
                elif lab[0] in ("view", "leafview"):
                    base, how = lab[1] if lab[0] == "view" else _get_path(state, lab[1]), lab[2]
                    obj = ctx.wrap(ctx._derive(how, ctx.current(base)), (base, how, base._version))
                else:
                    obj = current
                shared.setdefault(k, obj)
                _set_path(state, p, obj)
                continue
            before = start[p][1] if start[p][0] == "obj" else None
            alone = sum(1 for q in paths if _label_key(states[-1][q]) == k) == 1
            if lab[0] == "new" and alone and before is not None and ctx.may_be_one(before, current):
                # after zero iterations the name is still its array from before the loop: an update of
                # either reaches the other when the loop did not run (dead code when nothing reads it)
                ctx.zero_trip_link(current, before, ran)
                continue
        if counted and cond0 is True and cycle is not None and not isinstance(trip, int) \
                and _number_by_trips(ctx, current, start[p], [s[p] for s in states], cycle, trip, numbers):
            continue
        candidates = [lab[1] if lab[0] != "leafview" else _get_path(state, lab[1]) for lab in labels.values()
                      if lab[0] in ("obj", "view", "lost", "leafview")]
        for lab in labels.values():
            if lab[0] == "lost" and lab[2] is not None:     # a view of a name's start array in the body
                candidates += [_get_path(state, lab[2]), leaves[lab[2]][0]]
        if ran is not True and start[p][0] == "obj":
            candidates.append(start[p][1])
        for c in list(candidates):                          # an update of a base reaches its views
            while isinstance(c, TracedArray) and c._view is not None:
                c = c._view[0]
                candidates.append(c)
        candidates = [c for c in candidates if isinstance(c, TracedArray)]
        ctx.ambiguous_identity(current, candidates,
                               f"{name!r} is, after the loop at line {site.line}, one array or another depending "
                               f"on how many times the loop ran (or a view made in it); updating it in place, or "
                               f"reading it after one of those arrays was updated, cannot be compiled: copy it "
                               f"after the loop (`{name} = {name}.copy()`)", site.loc)
    return tuple(state)


def _number_by_trips(ctx, current, start, labels, cycle, trip, numbers) -> bool:
    """Give `current` (a name's array after a loop that runs `trip` times) the identity number of the array it
    is after that many iterations (NOTE: [Zero-trip links] in script_context.py): the array it held before the
    loop, one from before the loop, or one the body made. `labels[m]` is its label after m + 1 iterations,
    repeating from `cycle[0]` with period `cycle[1]`. False when a label is not an array's identity (a view)."""
    import operator

    if any(lab[0] not in ("obj", "new") for lab in [start, *labels]):
        return False
    if any(lab[0] == "obj" and not ctx.may_be_one(lab[1], current) for lab in [start, *labels]):
        return False

    def number(lab):
        if lab[0] == "obj":
            return ctx.identity(lab[1])
        key = _label_key(lab)
        if key not in numbers:
            n = next(ctx.numbers)
            numbers[key] = (n, frozenset((n,)))
        return numbers[key]
    first, period = cycle
    num, values = number(start)
    for m, lab in enumerate(labels):
        if m < first:
            after = ctx.scalar(operator.eq, (trip, m + 1))
        else:
            phase = ctx.scalar(operator.mod, (ctx.scalar(operator.sub, (trip, 1 + first)), period))
            after = ctx.function(np.logical_and, (ctx.scalar(operator.ge, (trip, first + 1)),
                                                  ctx.scalar(operator.eq, (phase, m - first))), {})
        n, v = number(lab)
        num, values = ctx.function(np.where, (after, n, num), {}), values | v
    ctx._set_identity(current, num, values)
    return True


def _get_path(state, path):
    obj = state[path[0]]
    for i in path[1:]:
        obj = obj[i] if isinstance(obj, tuple) else None
    return obj


def _set_path(state: list, path, obj) -> None:
    if len(path) == 1:
        state[path[0]] = obj
        return
    inner = list(state[path[0]])
    _set_path(inner, path[1:], obj)
    state[path[0]] = tuple(inner)
