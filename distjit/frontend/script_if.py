"""`if`, conditional expressions and short-circuit `and`/`or`: Python on a Python condition, else a `prim.If`.

A traced condition traces each branch into its own Block of one `prim.If`; the
names the branches assign, and the outer arrays they update in place, become the
node's outputs (NOTE: [State merging] in script_merge.py).
"""
from __future__ import annotations

from distjit.frontend.proxy import TracedArray
from distjit.frontend.script_context import ScriptContext
from distjit.frontend.script_convert import Site
from distjit.frontend.script_merge import Merger, trace_branch
from distjit.frontend.script_truth import truth
from distjit.ir.graph import Block, Node, Value


def if_(cond, then_fn, else_fn, state: tuple, names: tuple, site: Site):
    c = truth(cond, site)
    if not isinstance(c, TracedArray):
        return (then_fn if c else else_fn)(*state)
    return _graph_if(c, lambda: then_fn(*state), lambda: else_fn(*state), state, names, site)


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


def _graph_if(cond: TracedArray, then_fn, else_fn, state, names, site: Site):
    ctx: ScriptContext = cond._ctx
    cond_value = ctx.value_of(cond)
    node = Node("prim.If", {}, site.loc)
    node.add_input(cond_value)
    blocks = [Block(ctx.graph, owner=node), Block(ctx.graph, owner=node)]
    node.blocks = blocks
    results, updated, made = [], [], []
    for block, fn in zip(blocks, (then_fn, else_fn)):
        saved = ctx.made
        ctx.made = []
        try:
            frozen, outer = trace_branch(ctx, block, fn)
            made.append({id(p) for p in ctx.made})
            if saved is not None:
                saved.extend(ctx.made)
        finally:
            ctx.made = saved
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
    merger = Merger(ctx, site, "if")
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
    if not ctx.linking:       # a pick between two arrays that may be one (ScriptContext._pick) is a temporary
        _link_sides(ctx, cond, plans, new_state, made, names, site)
    return new_state


def _link_sides(ctx: ScriptContext, cond, plans, state, made, names, site: Site) -> None:
    """A name bound to an array from before the `if` on one side (`a = x`) is that array when the side runs:
    the merged array and it are linked, an in-place update of either reaching the other on that side."""
    import numpy as np

    from distjit.frontend.script_merge import Frozen

    shared = [{}, {}]        # per side: id(an array the side made) -> how many names it binds
    merged = [{}, {}]        # per side: id(an array the side ends with) -> the names' arrays after the if

    def count(plan, obj):
        if plan[0] == "tuple":
            for p, o in zip(plan[1], obj):
                count(p, o)
        elif plan[0] == "out" and plan[4] is None and isinstance(obj, TracedArray):
            for side, res in enumerate(plan[2]):
                if isinstance(res, Frozen):
                    merged[side].setdefault(id(res.proxy), []).append(obj)
                if isinstance(res, Frozen) and id(res.proxy) in made[side] and res.proxy._view is None:
                    shared[side][id(res.proxy)] = shared[side].get(id(res.proxy), 0) + 1
    numbers = [{}, {}]

    def walk(plan, obj, name):
        if plan[0] == "tuple":
            for i, (p, o) in enumerate(zip(plan[1], obj)):
                walk(p, o, f"{name}[{i}]")
            return
        if plan[0] != "out" or plan[4] is not None or not isinstance(obj, TracedArray) or obj._scalar:
            return               # a number (obj._scalar) is a value on each side, not an array to link
        for side, res in enumerate(plan[2]):
            if isinstance(res, Frozen) and shared[side].get(id(res.proxy), 0) > 1:
                # names bound to one array the branch made (`b = a` after `a = a * 2`) are one array after
                # the if when that side ran: one identity number (the branch's proxy itself is not numbered,
                # its value lives in the branch)
                if id(res.proxy) not in numbers[side]:
                    n = next(ctx.numbers)
                    numbers[side][id(res.proxy)] = (n, frozenset((n,)))
                other = cond if side == 1 else ctx.function(np.logical_not, (cond,), {})
                ctx.number_unless(obj, [other], *numbers[side][id(res.proxy)])
                continue
            if isinstance(res, Frozen) and id(res.proxy) in made[side] and res.proxy._view is not None:
                # a view made in the branch: after the if it is that view on one side only, which a merged
                # value does not follow (a later update of its base, or through it, would be lost)
                bases, view = [], res.proxy._view
                while view is not None:
                    bases.append(view[0])
                    bases += merged[side].get(id(view[0]), [])   # a base a name holds: its array after the if
                    view = view[0]._view
                ctx.ambiguous_identity(obj, bases, f"{name!r} is, after the if at line {site.line}, a view made "
                                       f"in one branch; updating it in place, or reading it after the array it "
                                       f"views was updated, cannot be compiled: copy it in that branch "
                                       f"(`{name} = ....copy()`)", site.loc)
                continue
            if not isinstance(res, Frozen) or id(res.proxy) in made[side] or id(res.proxy) in ctx.stand_ins:
                continue         # a loop's start array: the loop body checks its identity (script_loops.py)
            before = res.proxy
            other = cond if side == 1 else ctx.function(np.logical_not, (cond,), {})
            if ctx.may_be_one(before, obj):
                ctx.zero_trip_link(obj, before, [other])
            else:
                ctx.ambiguous_identity(obj, [before], f"{name!r} is, after the if at line {site.line}, an array "
                                       f"from before it on one side only; updating it in place, or reading it "
                                       f"after that array was updated, cannot be compiled: copy it in that branch",
                                       site.loc)
    with ctx.passing_along():
        for plan, obj in zip(plans, state):
            count(plan, obj)
        for i, (plan, obj) in enumerate(zip(plans, state)):
            walk(plan, obj, names[i] if i < len(names) else "value")
