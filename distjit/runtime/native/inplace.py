"""Which writes of a native region may update their buffer in place, and which loop slots copy at entry.

NOTE: [In place inside a region]
In the IR, `array.setitem` returns a new array; NumPy's kernel copies the whole base
for every scalar write. Inside a native region the base's buffer is updated in place
when nothing can read the old contents afterwards: no later read of the base or of a
value that may share its buffer (an If result or a Loop result it flows into), no
read in a later iteration (a base defined outside the loop body that writes it is
copied instead), and no second loop slot holding the same buffer. A loop-carried
array is owned by its slot: the slot copies its initial value once when the loop
starts, unless that value provably dies there (made fresh by an op that declares it,
read by nothing else, not a graph input), so the body updates it in place and never
copies per iteration (for the region's root loop, the graph's planner decides that: its
`taken_at_entry` record, NOTE: [In-place updates] in core/inplace.py; a caller's donated array
only when the loop carries no other array: `_one_carried_array`). The analysis is local to the region and conservative: where it
cannot prove a write safe the write copies, which is NumPy's own cost. A read of one element
(an int per axis) is a scalar, not a view: it does not hold the buffer, so a swap
`X[i], X[j] = X[j], X[i]` writes both elements in place.
"""
from __future__ import annotations

from distjit.core.aliasing import ancestor_in, returns_fresh
from distjit.core.inplace import taken_at_entry
from distjit.ir.graph import Block, Node, Value
from distjit.types import Ref, ScalarType, TensorType

SETITEM = "array.setitem"
GETITEM = "array.getitem"


def defining_block(v: Value) -> Block | None:
    return v.node.block if v.node is not None else v.block


class InPlace:
    """The in-place decisions of one region rooted at the Loop `root`."""

    def __init__(self, root: Node, graph_inputs):
        self.root = root
        self.graph_inputs = set(graph_inputs)
        self.copies: dict[tuple[Node, int], bool] = {}   # (loop, slot) -> copy the initial value at loop entry
        self._positions: dict[Block, dict[Node, int]] = {}

    # -- the two questions the lowering asks ---------------------------------------------------------------
    def in_place(self, node: Node) -> bool:
        """Whether the setitem `node` may write into its base's buffer."""
        return self.dead_after(node.inputs[0], node, node.block)

    def copy_at_entry(self, loop: Node, slot: int) -> bool:
        """Whether the slot's initial value is copied when the loop starts (the slot owns its buffer)."""
        if (loop, slot) not in self.copies:
            self._own(loop, slot)
        return self.copies.get((loop, slot), False)

    # -- the analysis ---------------------------------------------------------------------------------------
    def dead_after(self, v: Value, n: Node, b: Block) -> bool:
        """v's buffer is read by nothing after node `n` of block `b`, in this or a later iteration."""
        if self._read_after(v, n, b):
            return False
        where = defining_block(v)
        while b is not where:
            owner = b.owner
            if owner is None or owner.op == "prim.Loop":
                return False            # defined outside a loop body that writes it: read again next iteration
            n, b = owner, owner.block
            if self._read_after(v, n, b):
                return False
        return self._sharers_dead(v, n, b)

    def _sharers_dead(self, v: Value, n: Node, b: Block) -> bool:
        """The values defined before v that may share its buffer are dead after `n` too."""
        d = v.node
        if d is None:                                   # a loop body's parameter
            loop = b.owner
            if loop is None or loop.op != "prim.Loop" or v is b.params[0]:
                return False
            return self._own(loop, b.params.index(v) - 1)
        if d.op == SETITEM:
            return True                                 # its base died at d, or d copied it
        k = d.outputs.index(v)
        if d.op == "prim.Loop":
            body = d.blocks[0]
            sources = [d.inputs[2 + k]]
            ret = body.returns[1 + k]
            if not _inside(ret, d):
                sources.append(ret)
            return all(self.dead_after(s, n, b) for s in sources)
        if d.op == "prim.If":
            return all(self.dead_after(blk.returns[k], n, b) for blk in d.blocks if not _inside(blk.returns[k], d))
        return False

    def _own(self, loop: Node, slot: int) -> bool:
        """Whether the slot may own its buffer; records whether it copies its initial value at entry."""
        key = (loop, slot)
        if key in self.copies:
            return True
        body = loop.blocks[0]
        init, param, ret = loop.inputs[2 + slot], body.params[1 + slot], body.returns[1 + slot]
        if loop.inputs[2:].count(init) > 1 or body.returns[1:].count(ret) > 1:
            return False
        if not self._roots_only(ret, body, param):
            return False                                # the next iteration's buffer might be another slot's
        self.copies[key] = True                         # (provisionally: a cycle through this slot copies)
        self.copies[key] = not self._init_dies(init, loop, slot)
        return True

    def _init_dies(self, init: Value, loop: Node, slot: int) -> bool:
        if loop is self.root:
            # Outside the region, the graph's planner (core/inplace.py) knows: it gave the initial value's buffer
            # to the loop (an owned value dying there: made fresh, an update's result, an argument the caller
            # handed over). Without its record (a graph it did not plan), one local fact proves it too: made
            # fresh, read by this slot only, not the caller's.
            if slot in taken_at_entry(loop) and (init not in self.graph_inputs or self._one_carried_array(loop)):
                return True
            return (init not in self.graph_inputs and init.node is not None and returns_fresh(init.node)
                    and init.uses == [(loop, 2 + slot)])
        if [u for u in init.uses if ancestor_in(u[0], loop.block) is loop] != [(loop, 2 + slot)]:
            return False            # the loop reads it elsewhere (another slot, its body)
        return self.dead_after(init, loop, loop.block)

    def _one_carried_array(self, loop: Node) -> bool:
        """The loop carries one array. A caller's array (donated, core/inplace.py) is taken without a copy only
        then: stencil loops carrying two or more of the caller's arrays ran slower than over copies the region
        made, by more than the copies cost; the cause is not known (telling numba the arrays do not overlap
        did not help), so this is a measured rule, not a proof."""
        return sum(isinstance(v.type, TensorType) and v.type.ndim >= 1 for v in loop.inputs[2:]) == 1

    def _roots_only(self, ret: Value, body: Block, param: Value) -> bool:
        """Every buffer `ret` may hold is made inside the body or is `param`'s."""
        stack, seen = [ret], set()
        while stack:
            v = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            if v is param:
                continue
            if defining_block(v) is body and v.node is None:
                return False                            # another parameter
            if not _inside_block(v, body):
                return False                            # a value from outside the loop
            d = v.node
            if d is None:                               # a parameter of a loop nested in the body
                owner = v.block.owner
                if owner is None or owner.op != "prim.Loop" or v is v.block.params[0]:
                    return False
                j = v.block.params.index(v) - 1
                stack += [owner.inputs[2 + j], v.block.returns[1 + j]]
            elif d.op == SETITEM:
                stack.append(d.inputs[0])
            elif d.op == "prim.Loop":
                k = d.outputs.index(v)
                stack += [d.inputs[2 + k], d.blocks[0].returns[1 + k]]
            elif d.op == "prim.If":
                k = d.outputs.index(v)
                stack += [blk.returns[k] for blk in d.blocks]
        return True

    def _read_after(self, v: Value, n: Node, b: Block) -> bool:
        """Whether v, or a value that may share its buffer, is read after `n` in `b` (or returned by `b`)."""
        pos = self._position(b)
        stack, seen = [v], set()
        while stack:
            a = stack.pop()
            if a in seen:
                continue
            seen.add(a)
            for user, idx in a.uses:
                anc = ancestor_in(user.owner if isinstance(user, Block) else user, b) \
                    if not isinstance(user, Block) or user.owner is not None else None
                if isinstance(user, Block) and user is b:
                    return True                         # returned by b: read after it
                if anc is None or anc is n:
                    continue
                if pos[anc] > pos[n]:
                    return True
                # An alias made before n still holds the buffer after it (an alias made after n reads v there,
                # which the test above sees): an If or Loop result it flows into, a setitem that may write over it.
                if isinstance(user, Block):
                    owner = user.owner
                    if owner.op == "prim.If":
                        stack.append(owner.outputs[idx])
                    elif owner.op == "prim.Loop" and idx >= 1:
                        stack.append(owner.outputs[idx - 1])
                elif user.op == "prim.Loop" and idx >= 2:
                    stack.append(user.outputs[idx - 2])
                elif user.op in (SETITEM, GETITEM) and idx == 0 and not _element_read(user):
                    stack.append(user.outputs[0])      # (a getitem's result may be a view)
        return False

    def _position(self, b: Block) -> dict[Node, int]:
        pos = self._positions.get(b)
        if pos is None:
            pos = self._positions[b] = {node: i for i, node in enumerate(b.nodes)}
        return pos


def _element_read(node: Node) -> bool:
    """A getitem of one element (an int per axis): NumPy returns a scalar, a copy that shares no buffer, so
    reading it after a write of the base (a swap `X[i], X[j] = X[j], X[i]`) does not read the base."""
    if node.op != GETITEM:
        return False
    index, base, out = node.attrs.get("index"), node.inputs[0].type, node.output.type
    if not isinstance(index, tuple) or not isinstance(base, TensorType) or not isinstance(out, TensorType):
        return False
    if out.ndim != 0 or len(index) != base.ndim:
        return False
    for i in index:
        if isinstance(i, Ref):
            t = node.inputs[i.index].type
            if not (isinstance(t, ScalarType) and t.kind == "int"):
                return False
        elif not isinstance(i, int) or isinstance(i, bool):
            return False
    return True


def _inside(v: Value, node: Node) -> bool:
    """v is defined inside one of node's nested blocks."""
    blk = defining_block(v)
    while blk is not None:
        if blk.owner is node:
            return True
        blk = blk.owner.block if blk.owner is not None else None
    return False


def _inside_block(v: Value, block: Block) -> bool:
    blk = defining_block(v)
    while blk is not None:
        if blk is block:
            return True
        blk = blk.owner.block if blk.owner is not None else None
    return False
