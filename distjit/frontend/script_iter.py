"""Expressions that iterate or compare in steps: unpacking assignment, chained comparisons, comprehensions.

Each is rewritten into a call (script_convert.py) so that it works on traced values
the way Python works on NumPy's:
- `i, j = row` (and `*row` in a call) unpacks an array along its first axis, as NumPy iterates; when that
  length is known only at run time the graph asserts it (Python would raise);
- `a < b < c` evaluates `b` once and short-circuits, through `and_`: a traced
  first comparison makes the second a branch of a prim.If;
- a comprehension runs as the loop it stands for. With one `for` and no `if`, it is
  a `for` statement appending to a list, so over an array or a long range it is a
  prim.Loop whose list is the stack of its values (NOTE: [Lists in graph loops]);
  otherwise it runs as Python over Python-sized sequences.
"""
from __future__ import annotations

import operator

from distjit.frontend.proxy import TracedArray
from distjit.frontend.script_context import active
from distjit.frontend.script_convert import Site, site_error
from distjit.frontend.script_if import and_
from distjit.frontend.script_lists import StackedRows
from distjit.frontend.script_loops import Items, RangeSpec, for_, items_list, items_of
from distjit.frontend.script_truth import truth

_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
            ">=": operator.ge, "is": operator.is_, "is not": operator.is_not,
            "in": lambda a, b: a in b, "not in": lambda a, b: a not in b}


def unpack(value, struct: tuple, site: Site):
    """`value` as a tuple of len(struct) items, nested as the assignment's target is."""
    n = len(struct)
    if isinstance(value, (TracedArray, RangeSpec, Items)):
        seq = items_of(value, site)
        length = seq.length
        if isinstance(length, int):
            if length != n:
                raise site_error(site, f"cannot unpack {length} values into {n} names")
        else:
            ctx = active()
            ok = ctx.scalar(operator.eq, (length, n))
            ctx.record("prim.Assert", [ok], {"message": f"cannot unpack the array into {n} names: its length "
                                                        f"differs"}, site.loc)
        items = [seq.item(k) for k in range(n)]
    else:
        try:
            items = list(value)
        except TypeError as e:
            raise site_error(site, f"cannot unpack this value: {e}") from None
        if len(items) != n:
            raise site_error(site, f"cannot unpack {len(items)} values into {n} names")
    return tuple(item if sub is None else unpack(item, sub, site) for item, sub in zip(items, struct))


def star(value, site: Site):
    """The items `*value` stands for in a call or a display: an array's rows, when their number is known."""
    if isinstance(value, (TracedArray, RangeSpec, Items)):
        return items_list(site, items_of(value, site))
    return value


def chain(site: Site, test: bool, first, *rest):
    """`a op1 b op2 c ...`: each operand evaluated once, stopping at the first false comparison."""
    ops, thunks = rest[0::2], rest[1::2]

    def step(i, left):
        right = thunks[i]()
        result = _COMPARE[ops[i]](left, right)
        if i == len(ops) - 1:
            return result
        return and_(lambda: result, lambda: step(i + 1, right), site, test=test)
    return step(0, first())


def comprehension(site: Site, kind: str, element, generators: tuple):
    """A list (or generator) or dict comprehension; `generators` are (iterable, target, conditions) each."""
    ctx = active()
    if len(generators) == 1 and not generators[0][2] and kind == "list":
        iterable_fn, struct, _ = generators[0]
        iterable = iterable_fn()
        if isinstance(iterable, (TracedArray, RangeSpec, Items, range, StackedRows)):
            def body(item, acc):
                acc.append(element(*_names(item, struct, site)))
                return (acc,)
            (out,) = for_(iterable, body, None, (ctx.new_list([]),), ("_dj_comprehension",), site)
            return ctx.new_list(out) if not isinstance(out, StackedRows) else out
    results: list = []

    def run(level: int, values: tuple):
        if level == len(generators):
            results.append(element(*values))
            return
        iterable_fn, struct, conditions = generators[level]
        for item in _python_items(iterable_fn(*values), site):
            now = values + _names(item, struct, site)
            if all(_python_truth(c(*now), site) for c in conditions):
                run(level + 1, now)
    run(0, ())
    if kind == "dict":
        return ctx.new_list(dict(results))
    return ctx.new_list(results)


def _names(item, struct, site) -> tuple:
    """The values of a target's names, in order (flattened as the rewritten lambdas take them)."""
    if struct is None:
        return (item,)
    out: tuple = ()
    for part, sub in zip(unpack(item, struct, site), struct):
        out += _names(part, sub, site)
    return out


def _python_items(iterable, site: Site) -> list:
    if isinstance(iterable, (TracedArray, RangeSpec, Items)):
        return items_list(site, items_of(iterable, site))
    try:
        return list(iterable)
    except TypeError as e:
        raise site_error(site, f"cannot iterate over this value: {e}") from None


def _python_truth(x, site: Site) -> bool:
    c = truth(x, site)
    if isinstance(c, TracedArray):
        raise site_error(site, "a comprehension's `if` depends on array data, so which items it keeps is known "
                               "only at run time", "use np.where, or a boolean mask outside the scripted function")
    return c
