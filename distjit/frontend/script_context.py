"""The state one scripted compilation shares: its `ScriptContext`, and `Undefined` names.

Scripted code is traced, so the context is a `TraceContext`, extended with what
control flow needs: recording into a nested Block, and an undo log of in-place
updates, so that a branch's updates can be read off and undone before the other
branch runs. The helpers find it with `active()` (the rewritten code passes no
context around).
"""
from __future__ import annotations

import itertools
import threading
from contextlib import contextmanager

from distjit.errors import ScriptError
from distjit.frontend.proxy import TracedArray
from distjit.frontend.trace import TraceContext
from distjit.ir.builder import Builder
from distjit.ir.graph import Block

_state = threading.local()


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
        self.specialized = False         # static shapes and ints (NOTE: [Fallbacks]): recursion is unrolled
        self.recursive_calls: dict = {}  # (fn, signature) -> its Function, in a specialized build (script.py)
        self.guards: dict[int, tuple] = {}  # id(proxy) -> (proxy, conditions, message): see guard_bound
        self.lists: dict[int, tuple] = {}   # id(list) -> (list, the block its display was evaluated in)
        self.list_saves: list[list] = []    # per open log: (list, its items before the first change)
        self.probing = 0                    # > 0 while a loop's first iteration is traced into a scratch block
        self.passing = 0                    # > 0 while values are passed along (into a loop, out of a branch)
        self.arguments: set[int] = set()    # ids of the proxies of the function's arguments
        self.made: list | None = None       # proxies made while a loop body is traced (script_loops.py)
        self.reads: set[int] | None = None  # ids of the proxies read while a loop body is traced
        self.ambiguous: dict[int, tuple] = {}  # id(proxy) -> (proxy, [(candidate, version)], message, loc, block)
        self.identities: dict[int, tuple] = {}  # id(proxy) -> (proxy, [(number, its values, block)]): see identity
        self.numbers = itertools.count()
        self.stand_ins: dict[int, object] = {}  # id -> the proxy a loop body gets for a name's start array
        self.linking = 0                       # > 0 while an update follows a zero-trip link
        self.open_blocks: list[Block] = []     # the nested blocks being recorded, innermost last (in_block)

    def wrap(self, value, view=None):
        proxy = super().wrap(value, view)
        if self.made is not None:
            self.made.append(proxy)
        return proxy

    def ambiguous_identity(self, proxy, candidates, message: str, loc) -> None:
        """After a loop or an if, `proxy` is one of `candidates` or another array, depending on the data.

        Its contents are right, its identity is not known: updating it in place, or reading it after a
        candidate changed, is a ScriptError at that line rather than a result NumPy would not give.
        """
        candidates = list(candidates)
        for c in list(candidates):          # an update of a base reaches its views: watch the bases too
            while c._view is not None:
                c = c._view[0]
                candidates.append(c)
        watched = [(c, c._version) for c in candidates]
        old = self.ambiguous.get(id(proxy))
        if old is not None and old[0] is proxy and old[4] is self.builder.block:
            watched = old[1] + watched      # both sides of an if may say so
            message, loc = old[2], old[3]
        self.ambiguous[id(proxy)] = (proxy, watched, message, loc, self.builder.block)

    # NOTE: [Zero-trip links]
    # After `a = x; for t in range(n): a = a * 2`, the name `a` is x itself when n == 0 and a new array
    # otherwise: which one is known only at run time. So is `a` after `if c: a = x else: a = y`. Such an array
    # gets an identity number computed by the graph (`identity`): a fresh constant for an array the frontend
    # knows apart from all others, and np.where(ran, its own number, the number of the array it may be) for one
    # a loop or an if may have left bound to an earlier array (`zero_trip_link`). Two arrays are one object
    # exactly when their numbers are equal (a loop that swaps or aliases names a run-time number of times picks
    # each name's number by its trip count, script_loops.py's `_number_by_trips`); the constants each number may
    # take are known statically, so most pairs are told apart at compile time. Every update of an array with a
    # number (`_follow_links`) updates each other array that may be it by np.where(same number, updated, other),
    # dead code when nothing reads it (a prim.If picks instead when the two may differ in shape). An update is
    # not only `a[...] = ...`: a write through a view (`v = x[2:]` made before the loop, written after it)
    # writes x, so the bases the write goes through are followed too, and so are the bases of each array updated
    # so. Comparing numbers rather than following links pairwise keeps it exact when an array is reached on
    # several ways (after `if c: a = x else: a = y` and `if d: b = x else: b = y`, an update of a reaches b
    # through x or through y).
    def identity(self, proxy):
        """(number, the constants it may take) of `proxy`'s identity here; a fresh constant if it has none."""
        entry = self.identities.get(id(proxy))
        for number, values, block in reversed(entry[1] if entry is not None and entry[0] is proxy else ()):
            if self.in_scope(block):
                return number, values
        number = next(self.numbers)
        self._set_identity(proxy, number, frozenset((number,)))
        return number, frozenset((number,))

    def _set_identity(self, proxy, number, values) -> None:
        entry = self.identities.setdefault(id(proxy), (proxy, []))
        if entry[0] is not proxy:       # the id of a proxy that no longer exists
            entry = self.identities[id(proxy)] = (proxy, [])
        entry[1].append((number, values, self.builder.block))

    def zero_trip_link(self, proxy, before, conditions: list) -> None:
        """`proxy` (a name's array after a loop or an if) is `before` (an array from before it) unless
        `conditions` hold (the loop ran, the other side of the if ran): an update of either reaches the other
        (NOTE: [Zero-trip links])."""
        import numpy as np

        with self.passing_along():
            self.number_unless(proxy, conditions, *self.identity(before))

    def number_unless(self, proxy, conditions: list, number, values) -> None:
        """`proxy` is the array numbered `number` (one of `values`) unless `conditions` hold."""
        import numpy as np

        with self.passing_along():
            own, own_values = self.identity(proxy)
            ran = conditions[0]
            for c in conditions[1:]:
                ran = self.function(np.logical_and, (ran, c), {})
            self._set_identity(proxy, self.function(np.where, (ran, own, number), {}), own_values | values)

    def in_scope(self, block) -> bool:
        """Whether the block being recorded is `block` or nested in it (a guard made in a loop body or a
        branch holds values of that block only)."""
        # The nodes that own the blocks being recorded are appended to their blocks only when they are
        # complete, so the nesting is the stack of blocks `in_block` opened, not the blocks' owners.
        return block is self.graph.block or any(b is block for b in self.open_blocks)

    def _written_chain(self, proxy) -> list:
        """`proxy` and the bases an update of it writes through (functionalize.py's `assign` walks the same
        chain)."""
        chain = [proxy]
        view = self._view_of(proxy)
        while view is not None:
            chain.append(view[0])
            view = self._view_of(view[0])
        return chain

    def _follow_links(self, proxy, loc) -> None:
        """After an update of `proxy`, update each array that may be it or one of the bases written through
        (NOTE: [Zero-trip links])."""
        import numpy as np

        work = self._written_chain(proxy)
        written = {id(p) for p in work}
        members = list(self.identities.values())    # not the temporaries a pick makes while it runs
        self.linking += 1
        try:
            while work or self._views_written(members, written, work):
                source = work.pop(0)
                if id(source) not in self.identities or self.identities[id(source)][0] is not source:
                    continue
                with self.passing_along():
                    number, values = self.identity(source)
                for other, entries in members:
                    if id(other) in written or not any(self.in_scope(e[2]) for e in entries):
                        continue
                    with self.passing_along():
                        other_number, other_values = self.identity(other)
                        if not values & other_values:
                            continue
                        if isinstance(number, int) and isinstance(other_number, int):
                            new = source            # one object (equal constants)
                        else:
                            same = self.function(np.equal, (other_number, number), {})
                            new = self._pick(same, source, other, loc)
                    self.assign(other, new, loc)
                    for p in self._written_chain(other):
                        if id(p) not in written:
                            written.add(id(p))
                            work.append(p)
        finally:
            self.linking -= 1

    def _views_written(self, members, written: set, work: list) -> bool:
        """Queue the numbered views whose base was written (their contents changed with it, so the arrays
        that may be them must change too); whether there were any."""
        for member, entries in members:
            if id(member) in written or not any(self.in_scope(e[2]) for e in entries):
                continue
            view = self._view_of(member)
            while view is not None and id(view[0]) not in written:
                view = self._view_of(view[0])
            if view is not None:
                written.add(id(member))
                work.append(member)
        return bool(work)

    def _pick(self, same, source, other, loc):
        """`source` where `same` holds, else `other`: np.where when their shapes are static and equal, else a
        prim.If (two arrays that are not one may differ in shape, as a caller's x and y may, even when their
        types name the same symbolic dims: a loop carrying either gives both one type)."""
        import linecache

        import numpy as np

        t = self.current(source).type
        if t == self.current(other).type and getattr(t, "is_static", True):
            return self.function(np.where, (same, source, other), {})
        from distjit.frontend.script_convert import Site
        from distjit.frontend.script_if import ifexp

        site = Site(loc.file, loc.line, 0, linecache.getline(loc.file, loc.line)) if loc is not None else None
        return ifexp(same, lambda: source, lambda: other, site)

    def may_be_one(self, a, b) -> bool:
        """Whether arrays of a's and b's types can be one object (an identity number can link them)."""
        from distjit.types import TensorType

        ta, tb = self.current(a).type, self.current(b).type
        return ta == tb or isinstance(ta, TensorType) and isinstance(tb, TensorType) and ta.dtype == tb.dtype \
            and ta.ndim == tb.ndim

    def _check_ambiguous(self, proxy, writing: bool) -> None:
        entry = self.ambiguous.get(id(proxy))
        if entry is None or entry[0] is not proxy or not self.in_scope(entry[4]):
            return
        if writing or any(c._version != v for c, v in entry[1]):
            from distjit.ir.source import user_loc

            loc = user_loc()       # the user's line; the loop's when it is read as the function returns
            raise ScriptError(entry[2], loc if loc is not None and loc.file == entry[3].file else entry[3])

    def note(self, proxy: TracedArray) -> None:
        if self.logs:
            self.logs[-1].append((proxy, proxy._value, proxy._view, proxy._version))

    def writing(self, proxy):
        self.note(proxy)

    def assign(self, proxy, new, loc=None):
        if isinstance(proxy, TracedArray) and self.ambiguous:
            self._check_ambiguous(proxy, True)
        super().assign(proxy, new, loc)
        if self.identities and not self.linking and isinstance(proxy, TracedArray):
            self._follow_links(proxy, loc)

    def guard_bound(self, proxy, conditions: list, message: str) -> None:
        """`proxy` holds a name first assigned in a graph loop: its first use asserts that the loop ran.

        Python raises UnboundLocalError when such a loop ran zero times; the graph asserts
        it where the name is read, so code that never reads it after an empty loop runs.
        """
        self.guards[id(proxy)] = (proxy, conditions, message, self.builder.block)

    @contextmanager
    def passing_along(self):
        """Reading values to carry them (a loop's entry, a branch's result) is not a use: guards wait."""
        self.passing += 1
        try:
            yield
        finally:
            self.passing -= 1

    def reading(self, proxy):
        guard = self.guards.get(id(proxy)) if self.guards and not self.passing else None
        if guard is not None and guard[0] is proxy:
            if guard[3] is self.builder.block:
                del self.guards[id(proxy)]
            from distjit.ir.source import user_loc

            loc = user_loc()
            for c in guard[1]:
                self.record("prim.Assert", [c], {"message": guard[2]}, loc)
        if self.reads is not None and not self.passing:
            self.reads.add(id(proxy))
        if self.ambiguous and not self.passing:
            self._check_ambiguous(proxy, False)
        view = proxy._view
        if view is not None and view[0]._version != view[2]:
            self.note(proxy)

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
        self.open_blocks.append(block)
        try:
            yield
        finally:
            self.open_blocks.pop()
            self.builder, self.constants, self.dims = saved

    def open_log(self) -> list:
        log: list = []
        self.logs.append(log)
        self.list_saves.append([])
        return log

    def undo(self, log: list) -> None:
        assert self.logs and self.logs[-1] is log
        self.logs.pop()
        for container, items in reversed(self.list_saves.pop()):
            if isinstance(container, dict):
                container.clear()
                container.update(items)
            else:
                container[:] = items
        for proxy, value, view, version in reversed(log):
            proxy._value, proxy._view, proxy._version = value, view, version


    def new_list(self, items):
        """A list or dict display or comprehension: remember the block it was made in (check_list_mutation)."""
        self.lists[id(items)] = (items, self.builder.block)
        return items

    def check_list_mutation(self, lst: list, site) -> None:
        """A Python list may change only in the block it was made in.

        Changed inside a branch of a prim.If or the body of a prim.Loop, a list made
        outside would hold what the traced path did whether or not it runs; a loop's
        own lists are rows (script_lists.py) and do not come here.
        """
        if self.list_saves:
            self.list_saves[-1].append((lst, dict(lst) if isinstance(lst, dict) else list(lst)))
        block = self.builder.block
        if self.probing or block is self.graph.block:
            return
        made = self.lists.get(id(lst))
        if made is not None and made[0] is lst and made[1] is block:
            return
        from distjit.frontend.fallbacks import StaticInfoNeeded
        from distjit.frontend.script_convert import site_error

        raise site_error(site, "this list is changed inside a data-dependent `if` or a graph loop (prim.Loop) but "
                               "was made outside it; the change would happen whether or not that path runs",
                         "append in a `for` loop over a range or an array (one value per iteration), or write "
                         "into a preallocated array", cls=StaticInfoNeeded)


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


class Undefined:
    """A name with no value on this path. Any use is a ScriptError saying why."""

    def __init__(self, name: str, why: str = "", is_return: bool = False):
        self.name = name
        self.why = why
        self.is_return = is_return

    def _fail(self, *args, **kwargs):
        why = f" ({self.why})" if self.why else ""
        from distjit.ir.source import user_loc

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
