"""Algebraic simplification: rewrites that give NumPy's results exactly, as a table of rules.

Each rule names an op and a function `rule(node, level) -> Value | None`: the value
that replaces the node's output, or None. A replacement must have the output's
exact type (dtype and shape): x*1 is x for an int64 x, but for a bool x it is an
int64 array, so the rule does not fire. Floating-point identities are exact only
for the right zero: x + (-0.0) is x, x + 0.0 is not (-0.0 + 0.0 is +0.0); x - 0.0
and x * 1 and x / 1 are. Rules that are exact only up to rounding fire at level 3.

A rule that would return an existing value in place of a fresh array does not fire
when a block returns the result (the caller would get an alias of another array),
unless that value is itself fresh memory read only by the node it replaces.
"""
from __future__ import annotations

import numpy as np

from distjit.ir.graph import Block, Graph, Node, Value
from distjit.ops.index import GETITEM_NAME, SETITEM_NAME, index_shape, shift_refs
from distjit.types import Ref, TensorType, iter_refs
from distjit.passes.manager import PassContext, register_pass
from distjit.passes.util import attr_key, constant_value, drop_node, new_node, opdef


def _const(v: Value):
    """The constant behind `v` as an array (None if not a real-valued constant)."""
    ok, c = constant_value(v)
    if not ok or isinstance(c, (str, type(None), complex)) or (hasattr(c, "dtype") and c.dtype.kind not in "biuf"):
        return None
    try:
        return np.asarray(c)
    except Exception:
        return None


def _kind(v: Value) -> str:
    t = v.type
    return t.dtype.kind if isinstance(t, TensorType) else ""


def _all(c, pred) -> bool:
    return c is not None and c.size > 0 and bool(np.all(pred(c)))


def _int_zero(c) -> bool:
    return c is not None and c.dtype.kind in "iub" and _all(c, lambda a: a == 0)


def _neg_zero(c) -> bool:
    return c is not None and c.dtype.kind == "f" and _all(c, lambda a: (a == 0) & np.signbit(a))


def _pos_zero(c) -> bool:
    return c is not None and c.dtype.kind == "f" and _all(c, lambda a: (a == 0) & ~np.signbit(a))


def _one(c) -> bool:
    return c is not None and c.dtype.kind in "iuf" and _all(c, lambda a: a == 1)


def _binary(node: Node):
    return (node.inputs[0], node.inputs[1]) if len(node.inputs) == 2 and not node.attrs.get("dtype") else (None, None)


def mul_one(node, level, emit):
    a, b = _binary(node)
    for x, c in ((a, b), (b, a)):
        if x is not None and _kind(x) in "iuf" and _one(_const(c)):
            return x


def add_zero(node, level, emit):
    a, b = _binary(node)
    for x, c in ((a, b), (b, a)):
        if x is None:
            continue
        k, cv = _kind(x), _const(c)
        if (k in "iu" and _int_zero(cv)) or (k == "f" and _neg_zero(cv)):
            return x


def sub_zero(node, level, emit):
    x, c = _binary(node)
    if x is None:
        return None
    k, cv = _kind(x), _const(c)
    if (k in "iu" and _int_zero(cv)) or (k == "f" and (_pos_zero(cv) or (cv is not None and cv.dtype.kind in "iu"
                                                                          and _int_zero(cv)))):
        return x


def div_one(node, level, emit):
    x, c = _binary(node)
    if x is not None and _kind(x) == "f" and _one(_const(c)):
        return x


def div_const(node, level, emit):
    """x / c -> x * (1/c): exact when c is a power of two (both round the same real), else level 3."""
    x, c = _binary(node)
    if x is None or _kind(x) not in "f":
        return None
    ok, cv = constant_value(c)
    if not ok or type(cv) is not float or cv == 0 or not np.isfinite(cv):
        return None
    inv = 1.0 / cv
    exact = np.frexp(cv)[0] in (0.5, -0.5) and np.isfinite(inv) and inv * cv == 1.0 and abs(inv) >= 2.0 ** -1022
    if not exact and level < 3:
        return None
    return emit("np.multiply", [x, emit("prim.Constant", [], {"value": inv})])


def double_negative(node, level, emit):
    inner = node.inputs[0].node
    if inner is not None and inner.op == "np.negative" and not inner.attrs.get("dtype") and _kind(inner.inputs[0]) in "iuf":
        return inner.inputs[0]


def double_not(node, level, emit):
    inner = node.inputs[0].node
    if inner is not None and inner.op == "np.logical_not" and _kind(inner.inputs[0]) == "b":
        return inner.inputs[0]


def positive(node, level, emit):
    return node.inputs[0] if _kind(node.inputs[0]) in "iuf" else None


def _perm(axes, ndim):
    return list(range(ndim))[::-1] if axes is None else [a % ndim for a in axes]


def double_transpose(node, level, emit):
    inner = node.inputs[0].node
    if inner is None or inner.op != "np.transpose" or len(inner.inputs) != 1 or len(node.inputs) != 1:
        return None
    x = inner.inputs[0]
    if not isinstance(x.type, TensorType):
        return None
    n = x.type.ndim
    try:
        p1, p2 = _perm(inner.attrs.get("axes"), n), _perm(node.attrs.get("axes"), n)
    except TypeError:
        return None
    composed = [p1[i] for i in p2]
    if composed == list(range(n)):
        return x
    return emit("np.transpose", [x], {"axes": tuple(composed)})


def _plain_reshape(node):
    return (node.op == "np.reshape" and len(node.inputs) == 1 and node.attrs.get("order", "C") == "C"
            and node.attrs.get("copy") is None and not any(True for _ in iter_refs(node.attrs)))


def reshape_reshape(node, level, emit):
    if not _plain_reshape(node):
        return None
    inner = node.inputs[0].node
    if inner is None or not _plain_reshape(inner):
        return None
    return emit("np.reshape", [inner.inputs[0]], dict(node.attrs))


def same_type(node, level, emit):
    """A view or conversion to the type the input already has: reshape, broadcast_to, squeeze, astype."""
    x = node.inputs[0]
    if len(node.inputs) != 1 or not isinstance(x.type, TensorType) or not x.type.is_static:
        return None
    if node.op == "np.reshape" and not _plain_reshape(node):
        return None
    if node.op == "np.astype" and np.dtype(node.attrs["dtype"]) != x.type.dtype:
        return None
    return x


def roll_zero(node, level, emit):
    """np.roll by zero along every axis it names: the same values (game-of-life neighbour sums roll by -1, 0
    and 1 in a loop over the offsets)."""
    shift = node.attrs.get("shift")
    shifts = shift if isinstance(shift, (tuple, list)) else (shift,)
    if len(node.inputs) != 1 or not shifts or not all(type(s) is int and s == 0 for s in shifts):
        return None
    return node.inputs[0]


def where_same(node, level, emit):
    if len(node.inputs) == 3 and node.inputs[1] is node.inputs[2]:
        return node.inputs[1]


def repeated_setitem(node, level, emit):
    """x[i] = v twice in a row, as ``y[:k] += v`` records it (the update through the view y[:k], then
    Python's store of that view back into y[:k]): the second store writes what is there already."""
    inner = node.inputs[0].node
    if (inner is None or inner.op != node.op or inner.inputs[1:] != node.inputs[1:]
            or attr_key(inner.attrs) != attr_key(node.attrs)):
        return None
    return inner.output


def broadcast_value(node, level, emit):
    """x[i] = broadcast_to(v, shape of x[i]) -> x[i] = v, as NumPy's store broadcasts v itself. The frontend
    records the broadcast when it cannot prove v's shape is the target's (``y[:k] += a * y[:k]``: two reads
    of y[:k] have two symbolic lengths); it fires only when the shape is provably the target's, dim by dim
    (a constant equal to the target's, or the run-time length of the same x[i] along that axis)."""
    value = node.inputs[1].node
    if value is None or value.op != "np.broadcast_to" or len(value.inputs) < 1 or value.attrs.get("subok"):
        return None
    v = value.inputs[0]
    if not isinstance(v.type, TensorType):
        return None
    x, index = node.inputs[0], node.attrs["index"]
    try:
        target = index_shape(SETITEM_NAME, x.type.shape, index, [i.type for i in node.inputs])
    except Exception:
        return None
    shape = value.attrs["shape"]
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if len(shape) != len(target) or v.type.ndim > len(target):
        return None
    for axis, (e, t) in enumerate(zip(shape, target)):
        if isinstance(e, int) and not isinstance(e, bool) and isinstance(t, int):
            if e != t:
                return None
        elif not (isinstance(e, Ref) and _length_of_target(value.inputs[e.index], axis, node)):
            return None
    return emit(node.op, [x, v, *node.inputs[2:]], dict(node.attrs))


# Binary ufuncs whose result is broadcast(a, b) elementwise: broadcasting b to a's shape first changes nothing.
_BINARY_UFUNCS = frozenset(("np.add", "np.subtract", "np.multiply", "np.divide", "np.true_divide", "np.maximum",
                            "np.minimum", "np.power", "np.floor_divide", "np.remainder"))


def broadcast_result(node, level, emit):
    """broadcast_to(f(a, b), a.shape) -> f(a, broadcast_to(b, a.shape)) for a binary ufunc f. ``out += v``
    with symbolic lengths is recorded so (v's lengths are not provably out's); the result is then a fresh
    array broadcast again, and out is never updated in place. The two are equal, errors included: f(a, b)
    has shape broadcast(a, b), which broadcasts to a.shape exactly when it is a.shape, that is when b
    broadcasts to a.shape. The new form lets memplan write f into a's dying buffer, and its type is a's
    shape (the broadcast's lengths are a's own, which its inferred type names as new symbols), so that a
    loop-carried `a -= v` returns the carried value's type and inplace may write it over a's buffer."""
    inner = node.inputs[0].node
    if (inner is None or inner.op not in _BINARY_UFUNCS or len(inner.inputs) != 2
            or any(v is not None for v in inner.attrs.values())
            or node.attrs.get("subok") or len(inner.outputs) != 1 or len(node.inputs[0].uses) != 1):
        return None     # (f(a, b) read elsewhere too: keep the one evaluation)
    if node.output.uses and all(isinstance(u, Node) and u.op == SETITEM_NAME and i == 1 for u, i in node.output.uses):
        return None     # the value of x[i] = ...: broadcast_value drops the broadcast, as NumPy's store broadcasts
    shape = node.attrs.get("shape")
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    a, b = inner.inputs
    for first, other in ((a, b), (b, a)):
        t = first.type
        if not isinstance(t, TensorType) or t.ndim != len(shape) or not isinstance(other.type, TensorType):
            continue
        if all(_dim_of(node, e, first, axis) for axis, e in enumerate(shape)):
            wide = emit("np.broadcast_to", [other, *node.inputs[1:]], dict(node.attrs))
            ins = [first, wide] if first is a else [wide, first]
            out_type = node.output.type
            if isinstance(out_type, TensorType):
                out_type = TensorType(out_type.dtype, t.shape)
            made = new_node(node.block, inner.op, ins, dict(inner.attrs), [out_type], inner.loc)
            emit.made.append(made)
            return made.output
    return None


def _dim_of(node: Node, e, x: Value, axis: int) -> bool:
    """Shape entry `e` of `node` is x's length along `axis`: a Ref to prim.DimSize(x, axis), or a constant
    equal to x's static length."""
    if isinstance(e, Ref):
        size = node.inputs[e.index].node
        return (size is not None and size.op == "prim.DimSize" and size.attrs.get("axis") == axis
                and size.inputs[0] is x)
    return isinstance(e, int) and not isinstance(e, bool) and x.type.shape[axis] == e


def _length_of_target(n: Value, axis: int, setitem: Node) -> bool:
    """`n` is prim.DimSize(w, axis) of w = x[index] read with the setitem's own x (or a value x is an update
    of: an update keeps the shape), dynamic values and index."""
    size = n.node
    if size is None or size.op != "prim.DimSize" or size.attrs.get("axis") != axis:
        return False
    read = size.inputs[0].node
    if read is None or read.op != GETITEM_NAME:
        return False
    base = setitem.inputs[0]
    for _ in range(64):         # a few updates of x in a row (bounded: the chain is the user's code)
        if base is read.inputs[0] or base.node is None or base.node.op != SETITEM_NAME:
            break
        base = base.node.inputs[0]
    return (read.inputs[0] is base and read.inputs[1:] == setitem.inputs[2:]
            and attr_key(shift_refs(read.attrs["index"], 1)) == attr_key(tuple(setitem.attrs["index"])))


# The rules: (op, rule). One line each; the comment says what it rewrites.
RULES = [
    ("np.multiply", mul_one),            # x * 1 -> x (ints, floats; 1 may be either operand)
    ("np.add", add_zero),                # x + 0 -> x (ints); x + (-0.0) -> x (floats)
    ("np.subtract", sub_zero),           # x - 0 -> x (ints); x - 0.0 -> x (floats)
    ("np.divide", div_one),              # x / 1 -> x (floats)
    ("np.divide", div_const),            # x / 2^k -> x * 2^-k (exact); x / c -> x * (1/c) at level 3
    ("np.negative", double_negative),    # -(-x) -> x
    ("np.logical_not", double_not),      # not(not b) -> b (bool b)
    ("np.positive", positive),           # +x -> x
    ("np.transpose", double_transpose),  # transpose(transpose(x, p), q) -> transpose(x, p∘q), or x
    ("np.reshape", reshape_reshape),     # reshape(reshape(x, s), t) -> reshape(x, t)
    ("np.reshape", same_type),           # reshape(x, x.shape) -> x
    ("np.broadcast_to", same_type),      # broadcast_to(x, x.shape) -> x
    ("np.broadcast_to", broadcast_result),  # broadcast_to(f(a, b), a.shape) -> f(a, broadcast_to(b, a.shape))
    ("np.squeeze", same_type),           # squeeze of an array without unit dims -> x
    ("np.astype", same_type),            # astype(x, x.dtype) -> x
    ("np.where", where_same),            # where(c, x, x) -> x
    ("np.roll", roll_zero),              # roll(x, 0) -> x
    ("array.setitem", repeated_setitem),  # setitem(setitem(x, v, i), v, i) -> setitem(x, v, i)
    ("array.setitem", broadcast_value),  # setitem(x, broadcast_to(v, x[i].shape), i) -> setitem(x, v, i)
]
# Rules whose result's lengths they prove to be an operand's, and type by that operand's symbols where the
# node's own type named them anew: the replacement may differ from the node's type in its symbols only.
_RETYPING = frozenset((broadcast_result,))
_BY_OP: dict[str, list] = {}
for _op, _rule in RULES:
    _BY_OP.setdefault(_op, []).append(_rule)



@register_pass("simplify")
def simplify(graph: Graph, ctx: PassContext) -> None:
    """apply the exact algebraic rules (x*1, x+0, double transpose, reshape of reshape, no-op astype ...)"""
    for block in list(graph.blocks()):
        _block(block, ctx)


def _block(block: Block, ctx: PassContext) -> None:
    new: list[Node] = []
    for node in block.nodes:
        rules = _BY_OP.get(node.op)
        if rules and len(node.outputs) == 1 and not ctx.exhausted:
            _apply(node, rules, new, ctx)
        new.append(node)
    block.nodes = new


def _fresh_for(value: Value, node: Node) -> bool:
    """`value` is fresh memory that only `node` reads: returning it in the node's place aliases nothing."""
    made = value.node
    return (made is not None and opdef(made).returns_fresh and made.block is node.block
            and all(user is node for user, _ in value.uses))


def _apply(node: Node, rules, new: list[Node], ctx: PassContext) -> None:
    out = node.output
    returned = opdef(node).view_of is None and any(isinstance(u, Block) for u, _ in out.uses)
    for rule in rules:
        made: list[Node] = []

        def emit(op, inputs, attrs=None):
            n = new_node(node.block, op, inputs, attrs, None, node.loc)
            made.append(n)
            return n.output
        emit.made = made

        try:
            repl = rule(node, ctx.level, emit)
        except Exception:   # a rule that does not apply to odd attributes (a ShapeError from infer) is no rule
            repl = None
        if returned and repl is not None and not _fresh_for(repl, node):
            repl = None     # the caller gets a fresh array from this op, not an alias of another one
        if repl is not None and (repl.type == out.type or rule in _RETYPING and _renamed(repl.type, out.type)) \
                and ctx.rewrite(
                lambda: f"%{out.name} = {node.op}(...) -> %{repl.name} ({rule.__name__})"):
            new.extend(made)
            out.replace_all_uses_with(repl)
            return
        for n in reversed(made):
            drop_node(n)


def _renamed(t, u) -> bool:
    """Types of one dtype and rank whose lengths differ only where `u` has a symbol."""
    return (isinstance(t, TensorType) and isinstance(u, TensorType) and t.dtype == u.dtype and t.ndim == u.ndim
            and all(a == b or isinstance(b, str) for a, b in zip(t.shape, u.shape)))
