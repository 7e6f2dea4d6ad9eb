"""In-place updates: a functional update whose base dies there writes into the base's buffer.

NOTE: [In-place updates]
The IR has no mutation: ``a[i] = v`` is ``a2 = array.setitem(a, v, i)``, a copy of `a`
with one element replaced (frontend/functionalize.py). Run as written, a scalar
assignment in a loop costs a copy of the whole array, every iteration. Eager NumPy
writes into `a`; so may we, wherever nothing reads `a`'s buffer after the update.
`plan_in_place` finds those updates (ops with the "in_place_update" flag: output 0 is
input 0 with some elements replaced, and the kernel given ``out=(input 0,)`` writes
there) and records them with the core's one ``out=`` record (buffers.py): output 0 is
written into input 0. Every evaluator honours the record (the reference interpreter
too: this is a fact about where results live, not an optimization it may skip).

Writing over a buffer is safe only when the update holds its only reference. A value
*owns* its buffer when it is made in its block by an op that returns fresh memory
(`OpDef.alias`), or is the result of an in-place update of a value that owned it.
Graph inputs and parameters (the caller's arrays, shared by tasks and calls) and
constants never own theirs. An update of an owned base `x` is in place when nothing
reads `x`'s buffer after it (`x` and every value that may alias it: aliasing.py's
rules; the update's own value operand may alias `x`, as NumPy copes with overlapping
assignment).

Control flow carries ownership:
- A loop's carried value owns its buffer in the body when, every iteration, the body
  returns for it a value that owns its buffer and shares it with no other returned
  value. Its buffer is then updated in place and never copied per iteration. At entry
  the loop takes the initial value's buffer when that value owns it and dies at the
  loop, and copies it once otherwise (`copied_on_entry`), but only for a carried value
  whose buffer the body may write over: the copy is what keeps the caller's array, or
  a value still read after the loop, as it was.
- An If's branches may update, in place, a value that owns its buffer and dies at the
  If; an output of the If owns its buffer when each branch returns an owned value for it.
An elementwise node (``x = x * 0.5``, ``x += v``, ``out=``) may write over an input that
owns its buffer and dies there, as memory planning (buffers.plan_reuse) lets it over a
temporary; here the input may be one that planning leaves alone, a loop's carried value
above all. Its shape is checked at run time (`fits`), as symbolic dims do not prove it.
Graph inputs own nothing, so the caller's arrays are never written, unless the program is
planned with `donated` inputs: the arguments a function mutates, which `Function` hands
over only when writing into them is what NumPy does (NOTE: [Donated arguments] in
runtime/donation.py). A donated input owns its buffer like a fresh value; a loop that
takes an owned initial value records it (`taken_at_entry`), which the native backend's
own in-place analysis consumes for the loop a region is rooted at.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from distjit.core.aliasing import OUT, ancestor_in, returns_fresh, writes_over_input, written_into
from distjit.core.buffers import fused_order_ok, write_into
from distjit.core.liveness import nested_reads
from distjit.ir.graph import Block, Graph, Node, Value
from distjit.ops import REGISTRY
from distjit.types import TensorType

__all__ = ["plan_in_place", "updates_in_place", "copied_on_entry", "taken_at_entry", "entry_copy", "is_update",
           "checked_outputs", "fits"]

COPY_IN = "copy_in"     # node.meta key of a prim.Loop: the carried slots it copies at entry
TAKE_IN = "take_in"     # node.meta key of a prim.Loop: the carried slots whose initial value's buffer it takes
CHECKED = "in_place"    # node.meta key of an elementwise node: the outputs written over an input if the shapes fit
MAX_DEPTH = 64          # nested blocks deeper than this are left as they are
WORK_PER_NODE = 64      # a loop is analysed again when one of its carried values loses its buffer: past this
                        # many node visits per node of the graph (a loaded file may nest loops to cause it),
                        # the graph is left without in-place updates
_END = float("inf")     # the position of a block's returns


def is_update(node: Node) -> bool:
    """The node's op is a functional update of its input 0 (the "in_place_update" flag)."""
    return node.op in REGISTRY and "in_place_update" in REGISTRY.get(node.op).flags


def updates_in_place(node: Node) -> bool:
    """The node writes its update into the buffer of its input 0 (its kernel gets ``out=(input 0,)``)."""
    return bool(node.inputs) and written_into(node).get(0) is node.inputs[0] and is_update(node)


def copied_on_entry(node: Node) -> tuple[int, ...]:
    """The carried values (indices into the loop's carried inputs) a prim.Loop copies once at entry."""
    return node.meta.get(COPY_IN, ())


def taken_at_entry(node: Node) -> tuple[int, ...]:
    """The carried values (indices into the loop's carried inputs) whose initial value owns its buffer and dies at
    the loop: the body may write over it without a copy at entry (an enclosing loop copies what it must)."""
    return node.meta.get(TAKE_IN, ())


def checked_outputs(node: Node) -> tuple[int, ...]:
    """The outputs of an elementwise node written into an input that owns its buffer only when, at run time,
    no input broadcasts it (`fits`): a carried value's dims are symbols, and a symbol may be 1 where another
    operand's is not, so equal types do not prove equal shapes."""
    return node.meta.get(CHECKED, ())


def fits(target, *operands):
    """`target` when it is writable and every array operand has its shape or broadcasts to it (the result then
    has the target's shape and may be written over it), else None (the kernel then makes fresh memory)."""
    if not (isinstance(target, np.ndarray) and target.flags.writeable):
        return None
    shape = target.shape
    for x in operands:
        if isinstance(x, np.ndarray) and x.ndim and x.shape != shape and not _broadcasts_to(x.shape, shape):
            return None
    return target


def _broadcasts_to(small: tuple, shape: tuple) -> bool:
    return len(small) <= len(shape) and all(a == 1 or a == b for a, b in zip(reversed(small), reversed(shape)))


def entry_copy(array):
    """The copy a loop makes at entry: the layout of the array kept, as the functional update's copy keeps it."""
    return np.array(array, copy=True)


def plan_in_place(graph: Graph, allow: Callable[[Callable[[], str]], bool] | None = None,
                  stop: Callable[[], bool] | None = None, donated: frozenset[Value] = frozenset()) -> None:
    """Record the updates of `graph` that may write into their base, and the loop entries that copy.

    Replaces the records a previous call made. `allow(message)` is asked before each in-place update
    (the pass manager's budget and report); `stop()` ends early. An update left out only costs a copy,
    so any prefix of the choices is sound; the copies at loop entry are kept once one update is chosen.
    `donated`: graph inputs whose buffers the program may write over (the caller handed them over).
    """
    for node in graph.walk():
        if updates_in_place(node):
            _unrecord(node, [0])
        _unrecord(node, node.meta.pop(CHECKED, ()))
        node.meta.pop(COPY_IN, None)
        node.meta.pop(TAKE_IN, None)
    planner = _Planner(WORK_PER_NODE * graph.node_count() + 1000)
    planner.donated = frozenset(v for v in donated if _array(v))
    try:
        planner.block(graph.block, planner.donated, 0)
    except _OutOfWork:
        return
    chosen: list[Node] = []
    for node in graph.walk():           # program order, outer updates first
        over = planner.elementwise.get(node)
        if node not in planner.inplace and not over:
            continue
        if (stop is not None and stop()) or (allow is not None and not allow(lambda: _message(node, over))):
            break
        if over:
            for k, a in over.items():
                write_into(node, k, a)
            node.meta[CHECKED] = tuple(sorted(over))
        else:
            write_into(node, 0, node.inputs[0])
        chosen.append(node)
    if not chosen:
        return
    # Every copy stays once an update is in place: the analysis took a copied value to own its buffer. A taken
    # buffer is one only with them (an enclosing loop's copy is what makes its initial value owned).
    for loop, slots in planner.copies.items():
        if slots:
            loop.meta[COPY_IN] = tuple(sorted(slots))
    for loop, slots in planner.takes.items():
        if slots:
            loop.meta[TAKE_IN] = tuple(sorted(slots))


def _message(node: Node, over: dict | None) -> str:
    if over:
        return (f"%{node.outputs[0].name} = {node.op}(...) writes into the buffer of "
                + ", ".join(f"%{a.name}" for a in over.values()) + " when the shapes fit")
    return f"%{node.outputs[0].name} = {node.op}(%{node.inputs[0].name}, ...) writes in place"


def _unrecord(node: Node, outputs) -> None:
    out = dict(written_into(node))
    for k in outputs:
        out.pop(k, None)
    if out:
        node.meta[OUT] = out
    else:
        node.meta.pop(OUT, None)


def _array(v: Value) -> bool:
    return isinstance(v.type, TensorType) and v.type.ndim >= 1


def _same_kind(a: Value, o: Value) -> bool:
    """Same dtype and rank: the shapes, which inferred symbolic dims may name apart (`x -= m` on an argument of
    shape (?x_0, ?x_1) has a result of shape (?0, ?1)), are compared at run time (`fits`). Asked of donated
    inputs only: a small carried value written over through `out=` would leave the generated code's in-line
    form for the evaluator's call."""
    return isinstance(a.type, TensorType) and a.type.dtype == o.type.dtype and a.type.ndim == o.type.ndim


class _Loop:
    """What the planner decided for a loop: the carried slots it manages, their handling at entry, and for
    each slot the slots whose buffers may reach it over the iterations."""

    def __init__(self, managed: set[int], handling: dict[int, str], sources: dict[int, set[int]]):
        self.managed, self.handling, self.sources = managed, handling, sources


class _OutOfWork(Exception):
    pass


class _Planner:
    """The analysis, block by block; decisions are kept here and written only at the end (`plan_in_place`)."""

    def __init__(self, work: int):
        self.work = work
        self.inplace: set[Node] = set()
        self.elementwise: dict[Node, dict[int, Value]] = {}     # elementwise node -> {output: input written over}
        self.ifs: dict[Node, dict[int, frozenset]] = {}       # If -> {output: the free values it may hold}
        self.loops: dict[Node, _Loop] = {}
        self.copies: dict[Node, set[int]] = {}
        self.takes: dict[Node, set[int]] = {}
        self.donated: frozenset[Value] = frozenset()        # inputs the caller handed over (plan_in_place)

    # -- which reads see a buffer --------------------------------------------------------------------
    def reads(self, v: Value, block: Block, position: dict[Node, int], after: int | None = None):
        """(position, node of `block` or None at the returns, value read, input index or None when read in a
        nested block) for every read of `v`'s buffer in `block`; uses outside `block` are not its business
        (the caller checked the value dies at the node that owns `block`). With `after`, stops at the first
        read later than that position."""
        out = []
        stack, seen = [v], set()
        while stack:
            a = stack.pop()
            if a in seen:
                continue
            seen.add(a)
            for user, index in a.uses:
                if isinstance(user, Block):
                    if user is block:
                        out.append((_END, None, a, None))
                        if after is not None:
                            return out
                        continue
                    owner = ancestor_in(user.owner, block) if user.owner is not None else None
                    if owner is None:
                        continue
                    out.append((position[owner], owner, a, None))
                    stack.extend(self.follow(owner, a, None))
                    continue
                owner = ancestor_in(user, block)
                if owner is None:
                    continue
                direct = owner is user
                out.append((position[owner], owner, a, index if direct else None))
                if after is not None and position[owner] > after:
                    return out
                stack.extend(self.follow(owner, a, index if direct else None))
        return out

    def follow(self, node: Node, a: Value, index: int | None) -> list[Value]:
        """The outputs of `node` that may share memory with `a`, which it reads (at input `index`)."""
        arrays = [o for o in node.outputs if isinstance(o.type, TensorType)]
        if node.op == "prim.Loop" and node in self.loops:
            info = self.loops[node]
            k = index - 2 if index is not None and index >= 2 else None
            reach = self.carried_reach(node, k) if k is not None else None
            return [o for q, o in enumerate(node.outputs) if isinstance(o.type, TensorType) and (
                (q in reach if q not in info.managed and reach is not None else q not in info.managed)
                or q in info.managed and k is not None and any(
                    s == k and info.handling[s] != "copy" for s in info.sources[q]))]
        if node.op == "prim.If" and node in self.ifs:
            owned = self.ifs[node]
            return [o for q, o in enumerate(node.outputs)
                    if isinstance(o.type, TensorType) and (q not in owned or a in owned[q])]
        if node.blocks or index is None or not returns_fresh(node):
            return arrays
        if node in self.inplace and index == 0:
            return [node.outputs[0]]
        into = {**written_into(node), **self.elementwise.get(node, {})}
        return [node.outputs[k] for k, t in into.items() if t is a and k < len(node.outputs)]

    def carried_reach(self, node: Node, k: int) -> set[int]:
        """The carried slots of loop `node` whose final value may hold the buffer of its initial value `k`:
        slot k itself (a loop that runs no iteration), and every slot whose returned value may alias the
        body's parameter of a slot already reached (over the iterations). The initial value enters the body
        only as that parameter; a read of it from inside the body is another use, followed on its own."""
        body = node.blocks[0]
        params, n = body.params[1:], len(node.outputs)
        position = {m: i for i, m in enumerate(body.nodes)}
        slot_of: dict[Value, list[int]] = {}
        for j, r in enumerate(body.returns[1:]):
            slot_of.setdefault(r, []).append(j)
        reach, stack = {k}, [k]
        while stack:
            s = stack.pop()
            if s >= len(params):
                continue
            self.work -= len(body.nodes) + 1
            if self.work < 0:
                raise _OutOfWork
            for at, _, value, _ in self.reads(params[s], body, position):
                if at != _END:
                    continue
                for q in slot_of.get(value, ()):
                    if q < n and q not in reach:
                        reach.add(q)
                        stack.append(q)
        return reach

    # -- ownership ---------------------------------------------------------------------------------
    def block(self, block: Block, consumable: frozenset, depth: int):
        """Analyse `block`, whose values in `consumable` own their buffers and may be written over:
        ({value: the consumable values whose buffer it may hold} for the values owning their buffer,
        the consumable values whose buffers the block may write over)."""
        self.work -= len(block.nodes)
        if self.work < 0:
            raise _OutOfWork
        owned: dict[Value, frozenset] = {c: frozenset((c,)) for c in consumable}
        consumed: set[Value] = set()
        position = {node: i for i, node in enumerate(block.nodes)}
        for i, node in enumerate(block.nodes):
            self.inplace.discard(node)
            self.elementwise.pop(node, None)
            if node.op == "prim.Loop" and depth < MAX_DEPTH:
                self.loop(node, i, block, position, owned, consumed, depth)
            elif node.op == "prim.If" and depth < MAX_DEPTH:
                self.if_(node, i, block, position, owned, consumed, depth)
            elif node.blocks:
                continue
            elif is_update(node):
                x = node.inputs[0]
                if x in owned and _array(x) and self.dies_at(x, block, position, i, node):
                    self.inplace.add(node)
                    consumed |= owned[x]
                    owned[node.outputs[0]] = owned[x]
                elif returns_fresh(node):
                    owned[node.outputs[0]] = frozenset()
            elif returns_fresh(node):
                into = {**written_into(node), **self.over_input(node, block, position, i, owned)}
                for k, o in enumerate(node.outputs):
                    t = into.get(k)
                    if t is None:
                        owned[o] = frozenset()
                    elif t in node.inputs and t in owned:
                        owned[o] = owned[t]
                        consumed |= owned[t]
        return owned, consumed

    def over_input(self, node: Node, block: Block, position, i: int, owned: dict) -> dict[int, Value]:
        """For an elementwise node (that reads each element before it writes it), the outputs it may write over
        an input that owns its buffer and dies there, which memory planning (buffers.plan_reuse) leaves alone:
        a carried value, a value an If's branch may update, an update's result."""
        if not writes_over_input(node):
            return {}
        into, chosen = written_into(node), {}
        for k, o in enumerate(node.outputs):
            if k in into or not _array(o):
                continue
            for j, a in enumerate(node.inputs):
                # (a fused node's expression must read the input for the last time no later than it
                # computes the output, as memory planning asks of it)
                if a in owned and (a.type == o.type or a in self.donated and _same_kind(a, o)) and a not in chosen.values() and fused_order_ok(node, j, k) and all(
                        at < i or at == i and value is a
                        for at, _, value, _ in self.reads(a, block, position, after=i)):
                    chosen[k] = a
                    break
        if chosen:
            self.elementwise[node] = chosen
        return chosen

    def dies_at(self, x: Value, block: Block, position, i: int, node: Node) -> bool:
        """Nothing reads `x`'s buffer after node `i` (an update); there, only as its base or its value."""
        for at, owner, value, index in self.reads(x, block, position, after=i):
            if at > i:
                return False
            if at == i and not (index == 0 and value is x or index == 1):
                return False
        return True

    def dies_after(self, x: Value, block: Block, position, i: int) -> bool:
        return all(at <= i for at, _, _, _ in self.reads(x, block, position, after=i))

    def loop(self, node: Node, i: int, block: Block, position, owned: dict, consumed: set, depth: int) -> None:
        body = node.blocks[0]
        init, params, rets = node.inputs[2:], body.params[1:], body.returns[1:]
        managed = {p for p, v in enumerate(params) if _array(v) and p < len(init) and p < len(rets)}
        self.loops.pop(node, None)
        while True:
            param_slot = {params[p]: p for p in managed}
            inner, used = self.block(body, frozenset(param_slot), depth + 1)
            bad = {p for p in managed if rets[p] not in inner}
            bad |= self.shared_returns(body, [p for p in managed if p not in bad], inner, offset=1)
            if not bad:
                break
            managed -= bad
        # flows[p]: the slots whose buffer may become slot p's in the next iteration
        flows = {p: {param_slot[v] for v in inner[rets[p]]} for p in managed}
        consumed_slots = {param_slot[v] for v in used}
        changed = True
        while changed:
            changed = False
            for p in managed:
                if p in consumed_slots:
                    continue
                if any(p in flows[q] for q in consumed_slots):
                    consumed_slots.add(p)
                    changed = True
        sources = {}
        for q in managed:
            seen, stack = set(), [q]
            while stack:
                s = stack.pop()
                if s not in seen:
                    seen.add(s)
                    stack.extend(flows.get(s, ()))
            sources[q] = seen
        # While deciding, a managed output is not an alias of the initial values: holding one of their
        # buffers after the loop is what taking it means (as an update's result holds its base's).
        handling = {p: "copy" for p in managed}
        self.loops[node] = _Loop(managed, handling, sources)
        for p in managed:
            if p not in consumed_slots:
                handling[p] = "none"
            elif init[p] in owned and self.dies_exclusively(init[p], block, position, i, node, p):
                handling[p] = "take"
                consumed |= owned[init[p]]
            else:
                handling[p] = "copy"
        self.copies[node] = {p for p in managed if handling[p] == "copy"}
        self.takes[node] = {p for p in managed if handling[p] == "take"}
        for q in managed:
            if all(handling[s] != "none" for s in sources[q]):
                owned[node.outputs[q]] = frozenset().union(*(owned[init[s]] for s in sources[q]
                                                             if handling[s] == "take"))

    def dies_exclusively(self, v: Value, block: Block, position, i: int, node: Node, slot: int) -> bool:
        """Nothing reads `v`'s buffer after the loop at `i`, and the loop reads it only as carried value `slot`."""
        for at, owner, value, index in self.reads(v, block, position, after=i):
            if at > i or at == i and not (value is v and index == 2 + slot):
                return False
        return True

    def shared_returns(self, block: Block, slots: list[int], owned: dict, offset: int) -> set[int]:
        """The slots among `slots` whose returned value (block.returns[offset + slot]) shares its buffer with
        another returned value: returned twice, holding the same buffer, or read back at the returns as a view."""
        rets = block.returns
        position = {n: i for i, n in enumerate(block.nodes)}
        bad = set()
        for p in slots:
            r = rets[offset + p]
            if rets.count(r) > 1:
                bad.add(p)
                continue
            for q in slots:
                if q != p and owned[r] & owned[rets[offset + q]]:
                    bad |= {p, q}
            if any(at == _END and value is not r for at, _, value, _ in self.reads(r, block, position)):
                bad.add(p)
        return bad

    def if_(self, node: Node, i: int, block: Block, position, owned: dict, consumed: set, depth: int) -> None:
        # While deciding, an output is not an alias of the values the branches may update: a branch updates
        # one in place only where no alias of it escapes the branch, and what does escape is the update itself.
        self.ifs[node] = {k: frozenset() for k in range(len(node.outputs))}
        candidates = frozenset(v for v in nested_reads(node)
                               if v in owned and _array(v) and self.dies_after(v, block, position, i))
        holds: dict[int, frozenset] = {k: frozenset() for k in range(len(node.outputs))}
        ok = set(range(len(node.outputs)))
        for branch in node.blocks:
            inner, used = self.block(branch, candidates, depth + 1)
            for v in used:
                consumed |= owned[v]
            ok -= {k for k in ok if branch.returns[k] not in inner}
            ok -= self.shared_returns(branch, sorted(ok), inner, offset=0)
            for k in ok:
                holds[k] = holds[k] | inner[branch.returns[k]]
        self.ifs[node] = {k: holds[k] for k in ok}
        for k in ok:
            if _array(node.outputs[k]):
                owned[node.outputs[k]] = frozenset().union(*(owned[v] for v in holds[k]))
