"""The native (numba) backend of ``fused.elementwise``: the expression as loop stages, no temporaries.

NOTE: [Fused native loops]
Each node of the expression is typed as NumPy types it: the ufunc's own loop dtypes
(`ufunc.resolve_dtypes`, NEP 50's weak Python scalars included) convert its operands
and its result, so integer wrap-around, int/int true division and float32 rounding
are NumPy's. A node whose numba template then gives NumPy's result bit for bit
(`EXACT`: + - * /, sqrt, square, a power by a constant 2 (NumPy computes it as square),
comparisons, where, bitwise and/or/xor of integers, maximum/minimum with NumPy's NaN
and signed-zero rule; correctly rounded or exact in both, and numba without fast-math
never contracts a*b+c into an fma) is computed inside a loop. Every other node (exp,
log, tanh, other powers, astype ...) is a NumPy step: its NumPy kernel called on the block.
Loop nodes are grouped into stages by how many NumPy steps they depend on; a stage is
one numba loop over the block that keeps its values in registers and stores only what
a later NumPy step reads (a block slot) and the outputs; a loop value a later stage
reads is recomputed there (cheaper than a store and a load). Black-Scholes becomes
three loops around NumPy's log and exps, with 8 block slots of 8K elements, and its
results are NumPy's bit for bit (tests/runtime/test_fused_contract.py): no level
trades ulps for speed, because NumPy's SIMD exp/log are faster than libm's scalar
ones inside a loop.

A call builds one view per operand with exactly the output's shape S:
`np.broadcast_to` (NumPy checks that the operand broadcasts and makes zero strides
for the broadcast axes); a 0-d array or NumPy scalar becomes a scalar argument.
Adjacent axes whose strides chain in every view are merged (`reshape(copy=False)`:
NumPy refuses what would need a copy), so contiguous operands of any rank are one
flat loop. A stage kernel ``stage(lo, m, *inputs, *outputs, *slots)`` runs rows
[lo, lo + m) of the inputs and outputs and rows [0, m) of the slots, and its inner
loops run over ``o0.shape[d]``: every bound is a dimension of views NumPy made for
S (NOTE: [Native loop bounds]); the caller keeps lo + m <= rows and m <= the slots'
rows. Kernels are ``nogil``: the fused evaluator's threads split the blocks.

Compiled kernels are cached on disk (`kernel_module`) as native regions are: numba's
``cache=True`` caches only functions defined in a file, so the generated source is
written, content-addressed, into `<cache>/kernels` and imported from there
(runtime/native/cache.py, NOTE: [Caching native code]).
"""
from __future__ import annotations

import hashlib
import math
import threading

import numpy as np

from distjit.ir.graph import Graph, Node, Value
from distjit.ops import get_op
from distjit.ops.elementwise import EXPENSIVE
from distjit.runtime.native import cache
from distjit.types import ScalarType, TensorType

SUPPORTED = {np.dtype(t): name for t, name in
             [(np.float64, "_f8"), (np.float32, "_f4"), (np.int64, "_i8"), (np.int32, "_i4"), (np.bool_, "_b1")]}
_PY_SCALARS = {"float": float, "int": int, "bool": bool}
_INT64 = np.iinfo(np.int64)
_SAME = {(float, np.dtype(np.float64)), (int, np.dtype(np.int64)), (bool, np.dtype(np.bool_))}   # as numba types them

MAX_NODES = 2000    # a longer expression (a file can make one) would take numba minutes to compile

_lock = threading.Lock()
_compiled: dict[str, object] = {}


# Ops whose numba template gives NumPy's result bit for bit (correctly rounded, or exact), by loop dtype kind.
EXACT = {
    "np.add": "fib", "np.subtract": "fi", "np.multiply": "fib", "np.divide": "f", "np.negative": "fi",
    "np.positive": "fi", "np.absolute": "fi", "np.sqrt": "f", "np.square": "fi", "np.reciprocal": "f",
    "np.greater": "fib", "np.greater_equal": "fib", "np.less": "fib", "np.less_equal": "fib",
    "np.equal": "fib", "np.not_equal": "fib", "np.maximum": "fib", "np.minimum": "fib",
    "np.logical_and": "b", "np.logical_or": "b", "np.logical_not": "b", "np.where": "fib",
    "np.bitwise_and": "ib", "np.bitwise_or": "ib", "np.bitwise_xor": "ib",
}


class Expression:
    """The staged loop program of one fused graph (NOTE: [Fused native loops]).

    `steps`, in order, per block: ("loop", s) runs stage s's numba kernel; ("numpy", node) calls the node's
    NumPy kernel. `home[v]` is where a value lives between steps: ("x", k) input k, ("o", j) output j,
    ("b", k) block slot k (of dtype `slots[k]`)."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.kernels: dict[tuple, list] = {}

    def stage_kernels(self, nd: int, arrays: tuple[bool, ...]) -> list:
        key = (nd, arrays)
        fns = self.kernels.get(key)
        if fns is None:
            fns = self.kernels[key] = [compile_source(self.source(s, nd, arrays)) if stage.stores else None
                                       for s, stage in enumerate(self.stages)]
        return fns

    def source(self, s: int, nd: int, arrays: tuple[bool, ...]) -> str:
        """Stage s as ``stage(lo, m, *inputs, *outputs, *slots)`` over rows [lo, lo + m) of the inputs and
        outputs, rows [0, m) of the block slots."""
        local = ", ".join(["i0"] + [f"i{d}" for d in range(1, nd)])
        params = ([f"x{k}" for k in range(len(arrays))] + [f"o{j}" for j in range(self.n_out)]
                  + [f"b{k}" for k in range(len(self.slots))])
        # The rows [lo, lo + m) are sliced once, so that every index below is a range variable: numba then
        # knows it is not negative, drops the wrap-around check and LLVM vectorizes the loop (an index
        # `lo + i0` keeps the check, and the loop scalar).
        lines = [f"def stage(lo, m, {', '.join(params)}):"]
        lines += [f"    x{k} = x{k}[lo:lo + m]" for k in range(len(arrays)) if arrays[k]]
        lines += [f"    o{j} = o{j}[lo:lo + m]" for j in range(self.n_out)]
        lines.append("    for i0 in range(m):")
        for d in range(1, nd):
            lines.append(f"{'    ' * (d + 1)}for i{d} in range(o0.shape[{d}]):")
        pad = "    " * (nd + 1)
        for name, (where, k) in self.stages[s].loads.items():
            if where == "x":
                lines.append(f"{pad}{name} = x{k}[{local}]" if arrays[k] else f"{pad}{name} = x{k}")
            else:
                lines.append(f"{pad}{name} = {where}{k}[{local}]")
        lines += [pad + line for line in self.stages[s].lines]
        for ref, (where, k) in self.stages[s].stores:
            lines.append(f"{pad}{where}{k}[{local}] = {ref}")
        return "\n".join(lines) + "\n"


class _Stage:
    def __init__(self):
        self.loads: dict[str, tuple[str, int]] = {}   # local name -> ("x" input | "o" output | "b" slot, index)
        self.lines: list[str] = []
        self.stores: list[tuple[str, tuple[str, int]]] = []


def expression(graph: Graph) -> Expression | None:
    """The staged program of `graph`, or None when some value's type does not qualify or no node runs
    natively (the NumPy backend is as good then)."""
    nodes = graph.block.nodes
    if len(nodes) > MAX_NODES:
        return None
    kinds: dict[Value, object] = {}
    level: dict[Value, int] = {}
    native: dict[Node, list] = {}          # node -> the dtypes its operands are converted to
    for v in graph.inputs:
        kinds[v], level[v] = _value_kind(v.type), 0
        if kinds[v] is None:
            return None
    for node in nodes:
        opdef, out = get_op(node.op), node.outputs[0]
        if "constant" in opdef.flags:
            kinds[out], level[out] = _constant_kind(node.attrs["value"]), 0
            continue
        kinds[out] = _value_kind(out.type)
        if kinds[out] is None or len(node.outputs) != 1 or any(kinds.get(v) is None for v in node.inputs):
            return None
        loop = _native_loop(node, [kinds[v] for v in node.inputs], kinds[out])
        start = max((level[v] for v in node.inputs), default=0)
        if loop is not None:
            native[node], level[out] = loop, start
        else:
            if not (opdef.templates.get("numpy") or opdef.takes_out):
                return None
            level[out] = start + 1
    produced = {n.outputs[0] for n in nodes if "constant" not in get_op(n.op).flags}
    if not native or not all(v in produced for v in graph.outputs):
        return None
    out_index = {}
    for j, v in enumerate(graph.outputs):
        out_index.setdefault(v, j)
    # Where each value lives between steps: an output array, a block slot, or (native, read only in its
    # own stage) a register.
    home: dict[Value, tuple[str, int]] = {}
    slots: list = []
    for k, v in enumerate(graph.inputs):
        home[v] = ("x", k)
    readers: dict[Value, list[Node]] = {}
    for node in nodes:
        for v in node.inputs:
            readers.setdefault(v, []).append(node)
    for node in nodes:
        out = node.outputs[0]
        if "constant" in get_op(node.op).flags:
            continue
        # A native value read by native nodes only is recomputed wherever it is read (a few flops are
        # cheaper than a store and a load); one a NumPy step reads, or a NumPy step's result, is carried.
        if out in out_index:
            home[out] = ("o", out_index[out])
        elif node not in native or any(r not in native for r in readers.get(out, [])):
            # A ufunc step writes over an operand's slot that it alone reads (fewer slots stay in cache).
            reuse = [home[v] for v in node.inputs if node not in native and _is_ufunc(node) and v in home
                     and home[v][0] == "b" and readers[v] == [node] and slots[home[v][1]] == kinds[out]]
            if reuse:
                home[out] = reuse[0]
            else:
                home[out] = ("b", len(slots))
                slots.append(kinds[out])
    e = Expression(graph)
    e.n_out, e.slots, e.home, e.kinds = len(graph.outputs), slots, home, kinds
    e.in_kinds = [kinds[v] for v in graph.inputs]
    e.stages, e.steps = [], []
    for s in range(max(level[n.outputs[0]] for n in nodes) + 1):
        if s:
            e.steps += [("numpy", n) for n in nodes if n not in native and n.outputs[0] in level
                        and level[n.outputs[0]] == s and "constant" not in get_op(n.op).flags]
        stage = _Stage()
        refs: dict[Value, str] = {}
        for node in nodes:
            out = node.outputs[0]
            if node in native and level[out] == s and out in home:
                stage.stores.append((_value(out, s, stage, refs, e, level, native), home[out]))
        e.stages.append(stage)
        if stage.stores:
            e.steps.append(("loop", s))
    # Each step of a block costs a call from Python (a few microseconds); a cheap expression (few flops per
    # element, as shifts and adds) with several steps takes bigger blocks so that the calls do not dominate
    # its time, an expensive one (exp, log, divisions) keeps its blocks in L2.
    work = sum(EXPENSIVE.get(n.op[3:], 1) for n in nodes if "constant" not in get_op(n.op).flags)
    e.scale = max(1, len(e.steps) * 8 // max(work, 1))
    # An output may be written over an input (element for element) when no later step reads that input.
    e.last_read, e.write_step = {}, {}
    for i, (kind, what) in enumerate(e.steps):
        if kind == "loop":
            read = [k for where, k in e.stages[what].loads.values() if where == "x"]
            written = [k for _, (where, k) in e.stages[what].stores if where == "o"]
        else:
            read = [home[v][1] for v in what.inputs if v in home and home[v][0] == "x"]
            written = [home[what.outputs[0]][1]] if home[what.outputs[0]][0] == "o" else []
        e.last_read.update((k, i) for k in read)
        e.write_step.update((j, i) for j in written)
    return e


def _value(v: Value, s: int, stage: _Stage, refs: dict, e: Expression, level, native) -> str:
    """The expression of `v` inside stage s: a register computed in this stage, a constant, or a load of
    a value an earlier step stored (an input, an output, a slot)."""
    if v in refs:
        return refs[v]
    node = v.node
    if node is not None and "constant" in get_op(node.op).flags:
        return _constant(node.attrs["value"])[0]
    if node not in native or (v in e.home and level[v] < s):
        where, k = e.home[v]
        name = refs[v] = f"{where}{k}_"
        stage.loads[name] = (where, k)
        return name
    operands = [_cast(_value(x, s, stage, refs, e, level, native), e.kinds[x], d)
                for x, d in zip(node.inputs, native[node])]
    name = refs[v] = f"t{len(stage.lines)}"
    template = _template(node)
    stage.lines.append(f"{name} = {_cast(template.format(*operands), None, e.kinds[v])}")
    return name


def _native_loop(node: Node, kinds: list, out_kind) -> list | None:
    """The operand dtypes of `node` when its numba template is NumPy's result bit for bit, else None."""
    allowed = "fi" if _is_square(node) else EXACT.get(node.op)
    if allowed is None or _template(node) is None or node.attrs.get("dtype") is not None:
        return None
    loop = _loop_dtypes(node, kinds, out_kind)
    if loop is None or any(d.kind not in allowed for d in loop) or out_kind.kind not in allowed + "b":
        return None
    return loop


def _is_square(node: Node) -> bool:
    """``np.power(x, 2)`` with a constant 2: NumPy (>= 2.0) computes it as ``np.square`` for floats, and an
    integer power by 2 is one wrapping product, so ``x * x`` is its result bit for bit."""
    if node.op != "np.power" or len(node.inputs) != 2:
        return False
    p = node.inputs[1].node
    if p is None or "constant" not in get_op(p.op).flags:
        return False
    value = p.attrs.get("value")
    return type(value) in (int, float) and value == 2


def _template(node: Node) -> str | None:
    return "({0} * {0})" if _is_square(node) else get_op(node.op).templates.get("numba")


def _constant_kind(value):
    c = _constant(value)
    return c[1] if c is not None else None


def _is_ufunc(node: Node) -> bool:
    return node.op.startswith("np.") and isinstance(getattr(np, node.op[3:], None), np.ufunc)


def _value_kind(t):
    if isinstance(t, TensorType):
        return t.dtype if t.dtype in SUPPORTED else None
    if isinstance(t, ScalarType):
        return _PY_SCALARS.get(t.kind)
    return None


def _constant(value):
    """(source text, kind) of a scalar constant, exact (repr round-trips a float), or None."""
    if isinstance(value, bool):
        return repr(value), bool
    if isinstance(value, int):
        return (repr(value), int) if _INT64.min <= value <= _INT64.max else None
    if isinstance(value, float):
        return _float_text(value), float
    if isinstance(value, np.generic) and value.dtype in SUPPORTED:
        d = value.dtype
        text = _float_text(float(value)) if d.kind == "f" else repr(bool(value) if d.kind == "b" else int(value))
        return f"{SUPPORTED[d]}({text})", d
    return None


def _float_text(x: float) -> str:
    if math.isnan(x):
        return "math.nan"
    if math.isinf(x):
        return "math.inf" if x > 0 else "(-math.inf)"
    return repr(x)


def _loop_dtypes(node: Node, kinds: list, out_kind) -> list | None:
    """The dtype NumPy converts each operand to before computing `node` (its ufunc loop's), or None."""
    if node.op == "np.where":
        if kinds[0] not in (np.dtype(np.bool_), bool) or not isinstance(out_kind, np.dtype):
            return None
        return [np.dtype(np.bool_), out_kind, out_kind]
    ufunc = getattr(np, node.op[3:], None) if node.op.startswith("np.") else None
    if not isinstance(ufunc, np.ufunc) or ufunc.nout != 1 or ufunc.nin != len(kinds):
        return None
    try:
        resolved = ufunc.resolve_dtypes((*kinds, None))
    except (TypeError, ValueError):
        return None
    if resolved[-1] != out_kind or any(d not in SUPPORTED for d in resolved):
        return None
    return list(resolved[:-1])


def _cast(ref: str, have, want) -> str:
    """`ref` (a value of kind `have`; None: unknown, as a template's result) as a `want` value."""
    if have is not None and (have == want or (have, want) in _SAME):
        return ref
    if isinstance(want, type):     # a Python scalar input stays as numba typed it
        return ref
    if want == np.bool_:
        return ref if have in (np.dtype(np.bool_), bool) else f"({ref} != 0)"
    return f"{SUPPORTED[want]}({ref})"


def runtime_ok(expr: Expression, inputs) -> bool:
    """Every operand has the dtype the expression was typed for (else the NumPy backend runs it)."""
    for x, kind in zip(inputs, expr.in_kinds):
        if isinstance(kind, np.dtype):
            if getattr(x, "dtype", None) != kind:
                return False
        elif type(x) is not kind or (kind is int and not _INT64.min <= x <= _INT64.max):
            return False
    return True


# ---- compiled kernels on disk -----------------------------------------------------------------------

_PRELUDE = '''"""A fused elementwise loop generated by distjit (distjit/runtime/fused_native.py)."""
import math
import numba
import numpy as np

_f8, _f4, _i8, _i4, _b1 = np.float64, np.float32, np.int64, np.int32, np.bool_


@numba.njit(inline="always", cache=True)
def _nmax(a, b):
    return a if (a > b or a != a) else b


@numba.njit(inline="always", cache=True)
def _nmin(a, b):
    return a if (a < b or a != a) else b


@numba.njit(nogil=True, error_model="numpy", cache=True)
'''


def compile_source(loop: str):
    """The numba kernel `fused` of the loop's source, from the disk cache when a process compiled it before."""
    source = _PRELUDE + loop
    with _lock:
        fn = _compiled.get(source)
        if fn is None:
            fn = _compiled[source] = kernel_module(source).stage
        return fn


def kernel_module(source: str):
    """The module of `source`, from the disk cache of native code (runtime/native/cache.py, NOTE: [Caching
    native code]) so that numba's ``cache=True`` finds what a previous process compiled; exec'd in memory
    (compiled every process) when the cache folder or file is not safely ours."""
    stem = "f" + hashlib.sha256(source.encode()).hexdigest()[:32]
    module = cache.load_module(source, stem, "kernels")
    if module is not None:
        return module
    import types

    module = types.ModuleType(f"distjit_fused_{stem}")
    exec(compile(source.replace("cache=True", "cache=False"), f"<distjit-fused-{stem}>", "exec"), module.__dict__)
    return module
