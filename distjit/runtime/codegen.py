"""Compiles a Graph into Python source, the fast path of the runtime.

NOTE: [Why generate source]
Calling a NumPy kernel costs about a microsecond on small arrays; an interpreter
loop that looks up slots and attributes per node costs as much again. Like
torch.fx, we turn the graph into one Python function whose body is a line per
node (`v3 = np_add(v1, v2)`), kernels and attributes bound as globals, control
flow as Python `if`/`for`, and `del` after each value's last use so that peak
memory is what eager NumPy's would be. Failures are mapped back to the node (and
the user's line) from the generated line number.

Each call is the execution core's calling convention (distjit/core/apply.py, NOTE:
[Calling convention]) written as source, and its ``out=`` argument is the core's one
buffer mechanism (distjit/core/buffers.py, NOTE: [One out= mechanism]): `out_buffers`
is the only place that chooses it.
"""
from __future__ import annotations

import itertools
import linecache
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from distjit.errors import ExecutionError
from distjit.ir.graph import Block, Graph, Node, Value
from distjit.types import Ref, ScalarType, TensorType, iter_refs
from distjit.core.aliasing import takes_out, written_into
from distjit.core.apply import bind
from distjit.core.buffers import destination
from distjit.core.inplace import checked_outputs, copied_on_entry, entry_copy, fits, updates_in_place
from distjit.core.liveness import last_uses, nested_reads
from distjit.ops import get_op
from distjit.runtime import fused_eval, native, scratch

if TYPE_CHECKING:
    from distjit.runtime.row_blocks import RowBlocks

_LITERAL_TYPES = (bool, int, str, type(None))
MAX_INLINE_NODES = 24       # a fused expression longer than this stays one call of its evaluator

# NOTE: [Small fused nodes inline]
# A fused expression's evaluator (runtime/fused_eval.py) decides per call how to run it: whole arrays when they
# are small, else by blocks or natively. In a loop body over small arrays, that decision and its checks cost
# more than the arithmetic, and eager NumPy pays neither. So there the generated code makes the decision
# itself, for the common case: operands of one shape (no broadcasting), fewer elements than the evaluator's
# small-array bound: then the expression's calls are written in line, which is what the evaluator's
# whole-array evaluation (and the unfused graph) runs; otherwise it calls the evaluator.
# Where the outputs' static shapes are already below that bound, the decision is known when the code is made:
# the calls are written in line anywhere (not only in loops: a recursion specialised per signature is thousands
# of such nodes on one- or two-element arrays), without the check or the other branch, and the out= buffers
# that memory planning gave the node are written by the nodes computing its outputs, as the evaluator writes
# them (`_placed_outputs`).
_compile_ids = itertools.count()


class Program:
    """A compiled graph: `program(inputs) -> list of outputs`; `line_to_node` maps generated lines back."""

    def __init__(self, fn, source: str, filename: str, line_to_node: dict[int, Node]):
        self.fn = fn
        self.source = source
        self.filename = filename
        self.line_to_node = line_to_node

    def __call__(self, *inputs):
        return self.fn(*inputs)


def generate(graph: Graph, params: dict[str, Any] | None = None, blocks: RowBlocks | None = None) -> Program:
    """Generate and compile the Python function for `graph`; `params` binds the graph's named parameters.
    With `blocks` (distjit/runtime/row_blocks.py), the program runs `blocks.graph` block by block instead."""
    if blocks is not None:
        graph = blocks.graph
    gen = _Generator(graph, use_scratch=blocks is None)
    for p in graph.params:
        if params is None or p.name not in params:
            raise KeyError(f"parameter {p.name!r} of graph {graph.name} is not bound")
        gen.bind_value(p, params[p.name], "p")
    args = [gen.name_of(v) for v in graph.inputs]
    gen.emit(f"def {gen.fn_name}({', '.join(args)}):", None, 0)
    depth = 1
    if gen.scratch.index:       # big temporaries in buffers kept from call to call (distjit/runtime/scratch.py)
        pool = gen.bind(gen.scratch.pool(), "scratch_pool")
        gen.emit(f"S = {pool}.take()", None, 1)
        gen.emit("try:", None, 1)
        depth = 2
    if blocks is not None:
        rets = gen.row_blocked_body(blocks, depth)
    else:
        gen.block_body(graph.block, depth)
        rets = [gen.name_of(v) for v in graph.outputs]
    gen.emit(f"return ({', '.join(rets)}{',' if len(rets) == 1 else ''})", None, depth)
    if gen.scratch.index:
        gen.emit("finally:", None, 1)
        gen.emit(f"{pool}.give(S)", None, 2)
    source = "\n".join(gen.lines) + "\n"
    filename = f"<distjit:{graph.name}:{next(_compile_ids)}>"
    try:
        code = compile(source, filename, "exec")
    except (SyntaxError, RecursionError, MemoryError) as e:
        # A graph from a file may nest its loops deeper than Python nests blocks (20 statically nested loops,
        # 100 levels of indentation); the user's own source never could, so this is not a bug of the generator.
        raise ExecutionError(f"graph {graph.name} cannot run: its generated Python code does not compile "
                             f"({type(e).__name__}: {e.msg if isinstance(e, SyntaxError) else e})") from e
    # Register the source so tracebacks and debuggers can show generated lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = dict(gen.globals)
    exec(code, namespace)
    return Program(namespace[gen.fn_name], source, filename, gen.line_to_node)


class _Generator:
    def __init__(self, graph: Graph, use_scratch: bool = True):
        self.graph = graph
        # ASCII only: Python reads a Unicode identifier in NFKC form ("ﬁ" is "fi") or refuses it ("²")
        self.fn_name = "_" + "".join(c if c.isascii() and c.isalnum() else "_" for c in graph.name)
        self.lines: list[str] = []
        self.line_to_node: dict[int, Node] = {}
        self.globals: dict[str, Any] = {}
        self.names: dict[Value, str] = {}
        self.const_ids: dict[int, str] = {}
        self.counter = itertools.count()
        self.scratch = scratch.assign(graph) if use_scratch else scratch.Assignment({}, [])
        self.placed: dict[Value, str] = {}      # outputs written with out= into these (row blocks' buffers)
        self.native = native.enabled()          # loops may run as native regions (distjit/runtime/native)
        self.dying: list[Value] = []            # the values node `dying_at` (being generated) reads for the last time
        self.dying_at: Node | None = None
        self.released: set[Value] = set()       # of those, the ones its code already let go of
        self.release_after: dict[Node, list[str]] = {}  # names a loop body lets go of after these nodes
        self.loops = 0                          # how many loop bodies the code being generated is inside

    # -- names -------------------------------------------------------------
    def name_of(self, value: Value) -> str:
        name = self.names.get(value)
        if name is None:
            name = f"v{next(self.counter)}"
            self.names[value] = name
        return name

    def bind_value(self, value: Value, obj: Any, prefix: str) -> None:
        self.names[value] = self.bind(obj, prefix)

    def bind(self, obj: Any, prefix: str) -> str:
        name = f"{prefix}{next(self.counter)}"
        self.globals[name] = obj
        return name

    def kernel_name(self, op: str, kernel) -> str:
        name = "k_" + "".join(c if c.isalnum() else "_" for c in op)
        existing = self.globals.get(name)
        if existing is not None and existing is not kernel:
            name = f"{name}_{next(self.counter)}"
        self.globals[name] = kernel
        return name

    def emit(self, line: str, node: Node | None, depth: int) -> None:
        self.lines.append("    " * depth + line)
        if node is not None:
            self.line_to_node[len(self.lines)] = node

    # -- blocks ------------------------------------------------------------
    def block_body(self, block: Block, depth: int) -> None:
        dying = last_uses(block)
        for node in block.nodes:
            released: set[Value] = set()
            self.dying, self.released, self.dying_at = dying[node], released, node
            self.node(node, depth)
            dead = [self.names[v] for v in dying[node] if v in self.names and not _is_global(self.names[v])
                    and v not in released]
            dead += [self.names[v] for v in node.outputs
                     if not v.uses and v in self.names and not _is_global(self.names[v])]
            if dead:
                self.emit(f"del {', '.join(dead)}", None, depth)
            if node in self.release_after:
                self.emit(f"del {', '.join(self.release_after.pop(node))}", None, depth)
        if not block.nodes and not block.returns and depth > 0:
            self.emit("pass", None, depth)

    def node(self, node: Node, depth: int) -> None:
        if node.op == "prim.Constant":
            self.names[node.output] = self.constant(node.attrs["value"])
            return
        if node.op == "prim.If":
            return self.if_node(node, depth)
        if node.op == "prim.Loop":
            region = native.region_for(self.graph, node) if self.native else None
            if region is not None:
                return self.native_loop(node, region, depth)
            return self.loop_node(node, depth)
        if node.op == "prim.Call":
            from distjit.runtime.executor import compile_graph

            callee = compile_graph(node.attrs["graph"])
            return self.call(node, self.bind(callee, "g"), [self.name_of(v) for v in node.inputs], depth)
        opdef, operand_indices, attrs = bind(node)
        template = opdef.templates.get("python")    # Python syntax for the op (x[index]), when its attributes
        in_place = updates_in_place(node) and "python_in_place" in opdef.templates      # are literals
        if in_place:                                # the update as a statement (x[index] = v), then its result
            template = opdef.templates["python_in_place"]
        if template is not None and all(_is_literal(v) for v in node.attrs.values()):
            operands = [self.name_of(node.inputs[i]) for i in operand_indices]
            literal = {k: self.attr_source(v, node) for k, v in node.attrs.items()}
            if in_place:
                self.emit(template.format(*operands, **literal), node, depth)
                return self.assign(node, operands[0], depth)
            return self.assign(node, template.format(*operands, **literal), depth)
        method = _METHODS.get(node.op)
        if (method is not None and set(attrs) <= method[1] and operand_indices == [0]
                and isinstance(node.inputs[0].type, TensorType) and node.inputs[0].type.ndim >= 1
                and self.out_buffers(node) is None):
            name, _, positional, always = method
            args = [self.attr_source(attrs[k], node) for k in positional if k in attrs]
            args += [f"{k}={self.attr_source(v, node)}" for k, v in attrs.items() if k not in positional]
            args += [f"{k}={v!r}" for k, v in always.items()]
            return self.assign(node, f"{self.name_of(node.inputs[0])}.{name}({', '.join(args)})", depth)
        if node.op == "np.broadcast_to" and self.same_shape_broadcast(node, attrs, operand_indices, depth):
            return
        operator = _scalar_operator(node, attrs)
        if operator is not None and self.out_buffers(node) is None:
            template, wrap = operator
            operands = [self.name_of(node.inputs[i]) for i in operand_indices]
            if wrap is not None:
                operands[0] = f"{self.kernel_name(wrap.__name__, wrap)}({operands[0]})"
            return self.assign(node, template.format(*operands), depth)
        if (node.op == "fused.elementwise" and (self.loops or _statically_small(node))
                and self.inline_fused(node, attrs, depth)):
            return
        if node.op == "fused.elementwise":     # the expression's evaluator itself, looked up once here
            kernel = self.bind(fused_eval.kernel_for(attrs.pop("graph")).call, "f")
        else:       # the source below substitutes every Ref, so a `with_refs` kernel's own search is not needed
            kernel = self.kernel_name(node.op, getattr(opdef.kernel, "without_refs", opdef.kernel))
        args = [self.name_of(node.inputs[i]) for i in operand_indices]
        args += [f"{key}={self.attr_source(value, node)}" for key, value in attrs.items()]
        outs = self.out_buffers(node)
        if outs is not None:
            args.append(f"out=({', '.join(outs)},)")
        self.call(node, kernel, args, depth)

    def same_shape_broadcast(self, node: Node, attrs: dict, operand_indices: list, depth: int) -> bool:
        """np.broadcast_to of an array to its own shape, read only by elementwise ops, as the array itself.

        An augmented assignment `W -= lr * g` becomes `W - broadcast_to(lr * g, W.shape)` (so that the
        result keeps W's shape), and NumPy's broadcast_to is Python code that costs more than a small
        subtraction. An elementwise reader computes the same values from the array as from its broadcast
        view, and writes into neither (the view is not FRESH, so no buffer plan takes it): where the shapes
        are equal at run time the call is skipped. False when the node does not qualify."""
        x, out = node.inputs[0], node.outputs[0]
        if (set(attrs) != {"shape"} or operand_indices != [0] or self.out_buffers(node) is not None
                or not isinstance(x.type, TensorType) or x.type.ndim == 0 or not out.uses
                or not all(_reads_elementwise(user) for user, _ in out.uses)):
            return False
        shape = self.attr_source(attrs["shape"], node)
        kernel = self.kernel_name(node.op, getattr(get_op(node.op).kernel, "without_refs", get_op(node.op).kernel))
        xs = self.name_of(x)
        self.assign(node, f"{xs} if {xs}.shape == {shape} else {kernel}({xs}, shape={shape})", depth)
        return True

    def inline_fused(self, node: Node, attrs: dict, depth: int) -> bool:
        """A fused expression in a loop body, as its nodes' calls written here for operands that need no
        broadcasting and are small, and as its evaluator's call otherwise (NOTE: [Small fused nodes inline]);
        False when the node does not qualify (given buffers, broadcasting by type, a big expression)."""
        graph = attrs.get("graph")
        out_types = [v.type for v in node.outputs]
        if (graph is None or set(attrs) - {"graph", "exact"}
                or len(graph.block.nodes) > MAX_INLINE_NODES or any(n.blocks for n in graph.block.nodes)
                or not all(isinstance(t, TensorType) for t in out_types)):
            return False
        static = _statically_small(node)      # the evaluator would run it on the whole arrays: no check
        outs = self.out_buffers(node)
        placed = _placed_outputs(graph, outs) if static and outs is not None else None
        if outs is not None and placed is None:
            return False
        ndim = out_types[0].ndim
        arrays = [self.name_of(v) for v in node.inputs if isinstance(v.type, TensorType) and v.type.ndim]
        if any(t.ndim != ndim for t in out_types) or any(
                isinstance(v.type, TensorType) and v.type.ndim not in (0, ndim) for v in node.inputs):
            return False
        if not static and arrays:
            evaluator = self.bind(fused_eval, "m")
            first = arrays[0]
            checks = [f"{a}.shape == {first}.shape" for a in arrays[1:]]
            checks += [f"{first}.size < {evaluator}.SMALL_ELEMENTS", f"{first}.size < {evaluator}.NUMBA_MIN_ELEMENTS"]
            self.emit(f"if {' and '.join(checks)}:", node, depth)
        elif not static:
            self.emit("if True:", node, depth)
        inner_depth = depth if static else depth + 1
        start = len(self.lines)
        for inner, outer in zip(graph.inputs, node.inputs):
            self.names[inner] = self.name_of(outer)
        params = set(graph.inputs)
        for inner in graph.block.nodes:     # names of its own: one expression graph may be several nodes'
            for v in inner.outputs:
                self.names.pop(v, None)
        self.placed.update(placed or {})
        dying = last_uses(graph.block)
        for inner in graph.block.nodes:
            self.node(inner, inner_depth)
            dead = [self.names[v] for v in dying[inner] if v not in params and v in self.names
                    and not _is_global(self.names[v])]
            if dead:
                self.emit(f"del {', '.join(dead)}", None, inner_depth)
        for v in placed or {}:      # the same expression graph may be another node's too
            del self.placed[v]
        pairs = [(outer, inner, self.name_of(inner)) for outer, inner in zip(node.outputs, graph.outputs)]
        if static:      # no other branch binds the outputs: they may be the names the expression gave them
            for outer, inner, source in pairs:
                if (inner not in params and not _is_global(source) and graph.outputs.count(inner) == 1
                        and outer not in self.names):
                    self.names[outer] = source
            pairs = [(outer, inner, source) for outer, inner, source in pairs if self.names[outer] != source]
        if pairs:
            self.emit(f"{', '.join(self.name_of(o) for o, _, _ in pairs)} = {', '.join(s for _, _, s in pairs)}",
                      None, inner_depth)
        temporaries = [n for _, v, n in pairs if v not in params and not _is_global(n)]
        if temporaries:
            self.emit(f"del {', '.join(dict.fromkeys(temporaries))}", None, inner_depth)
        for line in range(start + 1, len(self.lines) + 1):      # a failure is the fused node's, at its line
            self.line_to_node[line] = node
        if static:
            return True
        self.emit("else:", node, depth)
        kernel = self.bind(fused_eval.kernel_for(graph).call, "f")
        args = [self.name_of(v) for v in node.inputs]
        args += [f"{key}={self.attr_source(value, node)}" for key, value in attrs.items() if key != "graph"]
        self.call(node, kernel, args, depth + 1)
        return True

    def out_buffers(self, node: Node) -> list[str] | None:
        """The ``out=`` buffers of a node, one per output (None: fresh memory), or None when all are fresh. An
        output goes into the value the core's buffer plan names (a dying input, a destination), else into its
        place in a row-blocked loop (`placed`), else into its scratch slot."""
        into, placed, index = written_into(node), self.placed, self.scratch.index
        if not into and not any(v in index or v in placed for v in node.outputs):
            return None
        checked = checked_outputs(node)         # over an input whose shape only a run-time check proves
        return [self.fits(node, into[k]) if k in checked else self.name_of(into[k]) if k in into
                else placed[v] if v in placed else self.scratch_out(node, index[v]) if v in index else "None"
                for k, v in enumerate(node.outputs)]

    def fits(self, node: Node, target: Value) -> str:
        check = self.kernel_name("fits", fits)
        return f"{check}({', '.join(self.name_of(v) for v in [target, *node.inputs])})"

    def scratch_out(self, node: Node, index: int) -> str:
        """Scratch memory is C-ordered. An elementwise result takes the layout of its inputs (order "K"),
        and later layout-sensitive kernels (BLAS, pairwise sums) round by it: so it goes to scratch only
        when its inputs are C-ordered too, and results stay bit for bit those of fresh arrays."""
        if "elementwise" not in get_op(node.op).flags:      # np.matmul: always C-ordered
            return f"S[{index}]"
        check = self.kernel_name("c_ordered", _c_ordered)
        return f"(S[{index}] if {check}({', '.join(self.name_of(v) for v in node.inputs)}) else None)"

    def call(self, node: Node, fn: str, args: list[str], depth: int) -> None:
        self.assign(node, f"{fn}({', '.join(args)})", depth, multi=node.op == "prim.Call")

    def assign(self, node: Node, expr: str, depth: int, multi: bool = False) -> None:
        outs = [self.name_of(v) for v in node.outputs]
        if not outs:
            self.emit(expr, node, depth)
        elif len(outs) == 1 and not multi:
            self.emit(f"{outs[0]} = {expr}", node, depth)
        else:
            self.emit(f"{', '.join(outs)}{',' if len(outs) == 1 else ''} = {expr}", node, depth)

    def if_node(self, node: Node, depth: int) -> None:
        outs = [self.name_of(v) for v in node.outputs]
        self.emit(f"if {self.name_of(node.inputs[0])}:", node, depth)
        for i, block in enumerate(node.blocks):
            if i == 1:
                self.emit("else:", node, depth)
            self.block_body(block, depth + 1)
            self.bind_returns(outs, block.returns, depth + 1)
            if not block.nodes and not outs:
                self.emit("pass", None, depth + 1)

    def loop_node(self, node: Node, depth: int, release: bool = True) -> None:
        trip, cond, *init = [self.name_of(v) for v in node.inputs]
        body = node.blocks[0]
        outs = [self.name_of(v) for v in node.outputs]
        carried = [f"c{next(self.counter)}" for _ in init]
        copied = copied_on_entry(node)      # a carried buffer the body updates in place (core/inplace.py)
        copy = self.kernel_name("entry_copy", entry_copy) if copied else None
        for k, (c, v) in enumerate(zip(carried, init)):
            self.emit(f"{c} = {copy}({v})" if k in copied else f"{c} = {v}", node, depth)
        always = _is_true_constant(node.inputs[1]) and _is_true_constant(body.returns[0])
        cond_var = None
        if not always:
            cond_var = f"c{next(self.counter)}"
            self.emit(f"{cond_var} = {cond}", node, depth)
        # The initial values that die here are the carried names' only holders from now on (see below).
        inside = nested_reads(node)
        released = [v for v in dict.fromkeys(node.inputs[2:]) if v in self.dying and v in self.names
                    and v not in inside and not _is_global(self.names[v])]
        if released and release and self.dying_at is node:
            self.emit(f"del {', '.join(self.names[v] for v in released)}", node, depth)
            self.released.update(released)
        iter_name = self.name_of(body.params[0]) if body.params[0].uses else "_"
        self.emit(f"for {iter_name} in range({trip}):", node, depth)
        if cond_var:
            self.emit(f"if not {cond_var}: break", node, depth + 1)
        # The carried names let go of their values as the user's loop does: a value the body reads, once the
        # body has it (it is freed at its last use there, a `del` below, not when the iteration ends); one it
        # does not read, when the body has made its next value, as rebinding the user's variable does (not
        # before: glibc hands freed memory back to the system, and takes page faults to get it again, when
        # more of it is free at once than the user's loop frees).
        # (Scalars hold no memory worth a statement per iteration: they stay bound.)
        now: list[str] = []
        for p, c, r in zip(body.params[1:], carried, body.returns[1:]):
            if p.uses:
                self.emit(f"{self.name_of(p)} = {c}", node, depth + 1)
            if not (isinstance(p.type, TensorType) and p.type.ndim >= 1):
                continue
            if p.uses or r.node is None or r.node.block is not body:
                now.append(c)
            else:
                self.release_after.setdefault(r.node, []).append(c)
        if now:
            self.emit(f"del {', '.join(now)}", node, depth + 1)
        self.loops += 1
        self.block_body(body, depth + 1)
        self.loops -= 1
        rets = [self.name_of(v) for v in body.returns]
        targets = ([cond_var] if cond_var else []) + carried
        self.bind_returns(targets, rets if cond_var else rets[1:], depth + 1, raw=True)
        if not body.nodes and not targets:
            self.emit("pass", None, depth + 1)
        for o, c in zip(outs, carried):
            self.emit(f"{o} = {c}", node, depth)

    def native_loop(self, node: Node, region, depth: int) -> None:
        """The loop as one call of its compiled region, and as NumPy code for when the region returns None
        (numba refused it); loops nested in that code stay NumPy code, which keeps the source linear in size."""
        result = f"v{next(self.counter)}"
        args = ", ".join(self.name_of(v) for v in region.lowered.inputs)
        self.emit(f"{result} = {self.bind(region, 'native')}({args})", node, depth)
        self.emit(f"if {result} is None:", node, depth)
        self.native = False
        self.loop_node(node, depth + 1, release=False)     # (the initial values go after both branches)
        self.native = True
        outs = [self.name_of(v) for v in node.outputs]
        self.emit("else:", node, depth)
        self.emit(f"{', '.join(outs)}, = {result}" if outs else "pass", node, depth + 1)
        self.emit(f"del {result}", None, depth)

    # -- row blocks (distjit/runtime/row_blocks.py) --------------------------
    def row_blocked_body(self, blocks: RowBlocks, depth: int) -> list[str]:
        """Phase by phase: its R nodes, then a loop over the blocks for its S nodes; the names of the results."""
        whole: dict[Value, str] = {}        # split values as whole arrays: split inputs, kept S values
        for v in blocks.graph.inputs:
            if blocks.is_split(v):
                whole[v] = self.names[v]
                self.names[v] = f"v{next(self.counter)}"     # inside a loop, the name of its block
        lists = {p: f"v{next(self.counter)}" for p in blocks.partials}
        buffers = f"v{next(self.counter)}"
        if blocks.slots:
            self.emit(f"{buffers} = {self.kernel_name('buffers', _buffers)}({blocks.slots!r})", None, depth)
        for r_nodes, s_nodes in blocks.phases:
            for node in r_nodes:
                if node.op == "dist.Combine" and node.inputs[0] in lists:      # (a task's own combines run as
                    self.combine(node, blocks, lists, depth)                     # they are)
                elif node.op == "dist.Gather" and node.inputs[0] in whole:
                    self.names[node.output] = whole[node.inputs[0]]
                else:
                    self.node(node, depth)
            if s_nodes:
                self.row_loop(s_nodes, blocks, whole, lists, buffers, depth)
        return [whole.get(v) or self.name_of(v) for v in blocks.graph.outputs]

    def row_loop(self, nodes: list[Node], blocks, whole: dict, lists: dict, buffers: str, depth: int) -> None:
        made = {o for n in nodes for o in n.outputs}
        for node in nodes:
            for k, o in enumerate(node.outputs):
                if o in blocks.partials:
                    self.emit(f"{lists[o]} = []", None, depth)
                elif o in blocks.kept:
                    dest = destination(blocks.graph, node, k)
                    if dest is not None:
                        whole[o] = whole[dest]
                    else:
                        whole[o] = f"v{next(self.counter)}"
                        empty, dtype = self.kernel_name("empty", np.empty), self.bind(o.type.dtype, "c")
                        self.emit(f"{whole[o]} = {empty}({o.type.shape!r}, {dtype})", None, depth)
        lo, hi = f"v{next(self.counter)}", f"v{next(self.counter)}"
        self.emit(f"for {lo}, {hi} in {self.bind(blocks.bounds, 'c')}:", None, depth)
        depth += 1

        def rows(v: Value) -> str:
            return ":, " * blocks.sharding.of(v).axis + f"{lo}:{hi}"

        read = dict.fromkeys(v for n in nodes for v in [*n.inputs, *written_into(n).values()]
                             if v in whole and v not in made)
        for v in read:
            self.emit(f"{self.name_of(v)} = {whole[v]}[{rows(v)}]", None, depth)
        in_rows = self.kernel_name("in_rows", _in_rows)
        for node in nodes:
            planned = written_into(node)
            for k, v in enumerate(node.outputs):
                if v in blocks.slot_of:
                    buffer, dtype = f"{buffers}[{blocks.slot_of[v]}]", self.bind(v.type.dtype, "c")
                    self.placed[v] = f"{in_rows}({buffer}, {hi} - {lo}, {v.type.shape[1:]!r}, {dtype})"
                elif v in blocks.kept and k not in planned and blocks.sharding.of(v).axis == 0 \
                        and takes_out(node):
                    self.placed[v] = f"{whole[v]}[{rows(v)}]"     # made right in its place
        for node in nodes:
            if node.op == "dist.Shard":
                self.assign(node, f"{self.name_of(node.inputs[0])}[{rows(node.output)}]", depth)
            else:
                self.node(node, depth)
            for k, o in enumerate(node.outputs):
                if o in blocks.partials:
                    self.emit(f"{lists[o]}.append({self.name_of(o)})", None, depth)
                elif o in blocks.kept and destination(blocks.graph, node, k) is None and o not in self.placed:
                    self.emit(f"{whole[o]}[{rows(o)}] = {self.name_of(o)}", None, depth)

    def combine(self, node: Node, blocks, lists: dict, depth: int) -> None:
        """dist.Combine of every block's partials, in block order (argmin/argmax offset by each block's start)."""
        attrs = dict(node.attrs)
        if attrs.get("kind") in ("argmax", "argmin"):
            attrs["offsets"] = tuple(start for start, _ in blocks.bounds)
        opdef, _, attrs = bind(node, attrs)
        per_block = self.kernel_name("per_block", _per_block)
        args = [f"*{per_block}({', '.join(lists[v] for v in node.inputs)})"]
        args += [f"{key}={self.attr_source(value, node)}" for key, value in attrs.items()]
        self.call(node, self.kernel_name(node.op, opdef.kernel), args, depth)

    def bind_returns(self, targets, values, depth, raw=False) -> None:
        if not targets:
            return
        sources = values if raw else [self.name_of(v) for v in values]
        self.emit(f"{', '.join(targets)} = {', '.join(sources)}", None, depth)

    # -- attributes --------------------------------------------------------
    def constant(self, value: Any) -> str:
        if type(value) in _LITERAL_TYPES or type(value) is float and math.isfinite(value):
            return repr(value)
        return self.bind(value, "c")

    def attr_source(self, value: Any, node: Node) -> str:
        """Source for an attribute value: a literal where exact, else a bound global; Refs become input names."""
        if isinstance(value, Ref):
            return self.name_of(node.inputs[value.index])
        if type(value) in _LITERAL_TYPES or type(value) is float and math.isfinite(value):
            return repr(value)
        if value is Ellipsis:
            return "..."
        if isinstance(value, slice):
            parts = [self.attr_source(p, node) for p in (value.start, value.stop, value.step)]
            return f"slice({', '.join(parts)})"
        if isinstance(value, tuple):
            items = [self.attr_source(v, node) for v in value]
            return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
        if isinstance(value, list) and not any(True for _ in iter_refs(value)):
            return self.bind(value, "a")
        if isinstance(value, list):
            return f"[{', '.join(self.attr_source(v, node) for v in value)}]"
        return self.bind(value, "a")


# NOTE: [Scalar operators]
# A ufunc called on one NumPy scalar costs a microsecond; the same operator on it, a tenth of that, which is
# what the user's own `a * b` costs in eager NumPy. NumPy's scalar operators compute the ufunc's result: so a
# node of these ops on 0-d operands, one of them a NumPy value (a 0-d array's operator is the ufunc, and a
# NumPy scalar's follows the ufunc's promotion, NEP 50's weak Python scalars included), is written as the
# operator. Integer +, -, * and negation stay calls: NumPy's scalar operators warn on an overflow, which the
# ufunc wraps silently. Python operands alone would follow Python's rules, so one operand must be NumPy's:
# where none is, the first is made the NumPy scalar the ufunc would make of it (Python ints under a bitwise
# op, Python floats under arithmetic: the ufunc's result is then int64 or float64, as the node's type says).
_ARITHMETIC = {"np.add": "({0} + {1})", "np.subtract": "({0} - {1})", "np.multiply": "({0} * {1})",
               "np.divide": "({0} / {1})", "np.negative": "(-{0})"}
_COMPARISON = {"np.less": "({0} < {1})", "np.less_equal": "({0} <= {1})", "np.greater": "({0} > {1})",
               "np.greater_equal": "({0} >= {1})", "np.equal": "({0} == {1})", "np.not_equal": "({0} != {1})"}
_BITWISE = {"np.bitwise_and": "({0} & {1})", "np.bitwise_or": "({0} | {1})", "np.bitwise_xor": "({0} ^ {1})",
            "np.left_shift": "({0} << {1})", "np.right_shift": "({0} >> {1})"}


# Ops written as the array's method (`x.max(axis=2)`), as eager code calls them: NumPy's function form goes
# through a Python wrapper per call (np.max's _wrapreduction, np.reshape's _wrapfunc) to reach the same
# method or ufunc reduction, which in a loop body costs more than a small reduction itself. Only for an array
# operand and the attributes listed (np.sum's `initial`, say, changes its order of summation).
# op: (method, the attributes it may take, those passed positionally, keywords always passed)
_METHODS = {
    "np.max": ("max", {"axis", "keepdims"}, (), {}), "np.min": ("min", {"axis", "keepdims"}, (), {}),
    "np.sum": ("sum", {"axis", "dtype", "keepdims"}, (), {}),
    "np.prod": ("prod", {"axis", "dtype", "keepdims"}, (), {}),
    "np.argmax": ("argmax", {"axis", "keepdims"}, (), {}), "np.argmin": ("argmin", {"axis", "keepdims"}, (), {}),
    "np.any": ("any", {"axis", "keepdims"}, (), {}), "np.all": ("all", {"axis", "keepdims"}, (), {}),
    "np.reshape": ("reshape", {"shape"}, ("shape",), {}),
    "np.copy": ("copy", set(), (), {"order": "K"}),
    "np.astype": ("astype", {"dtype", "copy"}, ("dtype",), {}),
    "np.transpose": ("transpose", {"axes"}, ("axes",), {}),
}


def _scalar_operator(node: Node, attrs: dict):
    """(the operator source, the NumPy type its first operand is converted to or None) of a ufunc node over
    scalars (NOTE: [Scalar operators]), or None."""
    op = node.op
    template = _ARITHMETIC.get(op) or _COMPARISON.get(op) or _BITWISE.get(op)
    if template is None or attrs or len(node.outputs) != 1:
        return None
    out = node.outputs[0].type
    if not (isinstance(out, TensorType) and out.ndim == 0):
        return None
    kinds = "iuf" if op in _COMPARISON else "iub" if op in _BITWISE else "f"
    numpy_operand = False
    for v in node.inputs:
        t = v.type
        if isinstance(t, TensorType):
            if t.ndim != 0 or t.dtype.kind not in kinds or t.dtype.itemsize < 4 and t.dtype.kind == "f":
                return None
            numpy_operand = True
        elif not (isinstance(t, ScalarType) and t.kind in ("int", "float", "bool")):
            return None
    if op in _ARITHMETIC and out.dtype.kind != "f":
        return None
    if numpy_operand:
        return template, None
    kinds = {v.type.kind for v in node.inputs}
    if op in _BITWISE and kinds == {"int"} and out.dtype == np.int64:
        return template, np.int64
    if op in _ARITHMETIC and kinds == {"float"} and out.dtype == np.float64:
        return template, np.float64
    return None


def _reads_elementwise(user) -> bool:
    """A use (a node, or a block whose returns name the value) by an elementwise op."""
    return isinstance(user, Node) and (user.op == "fused.elementwise" or "elementwise" in get_op(user.op).flags)


def _is_literal(index) -> bool:
    """Whether a getitem index can be written as Python subscript syntax (no arrays inline)."""
    items = index if isinstance(index, tuple) else (index,)
    for item in items:
        if isinstance(item, slice):
            parts = (item.start, item.stop, item.step)
            if not all(p is None or isinstance(p, (int, Ref)) and not isinstance(p, bool) for p in parts):
                return False
        elif not (item is None or item is Ellipsis or isinstance(item, Ref)
                  or isinstance(item, int) and not isinstance(item, (bool, np.generic))):
            return False
    return True


def _placed_outputs(graph: Graph, outs: list[str]) -> dict[Value, str] | None:
    """The expression's nodes that write its outputs into the fused node's ``out=`` buffers, as the evaluator's
    whole-array evaluation writes them (each output's node with out=, in the expression's order), or None when
    an output with a buffer is not one node's result that takes out= (an input, a constant, listed twice)."""
    placed: dict[Value, str] = {}
    for v, buffer in zip(graph.outputs, outs):
        if buffer == "None":
            continue
        if v in placed or graph.outputs.count(v) > 1 or v.node is None or v.node.block is not graph.block \
                or not takes_out(v.node) or "python" in get_op(v.node.op).templates:
            return None
        placed[v] = buffer
    return placed


def _statically_small(node: Node) -> bool:
    """A fused node whose outputs' shapes are static and smaller than what the evaluator runs by blocks or
    natively: every call of its evaluator is one whole-array evaluation (NOTE: [Small fused nodes inline])."""
    bound = min(fused_eval.SMALL_ELEMENTS, fused_eval.NUMBA_MIN_ELEMENTS)
    return all(isinstance(v.type, TensorType) and v.type.size is not None and v.type.size < bound
               for v in node.outputs)


def _is_global(name: str) -> bool:
    """Locals are named v<n>; anything else is a bound global or a literal, which `del` must not name."""
    return not name.startswith("v")


def _is_true_constant(value: Value) -> bool:
    node = value.node
    return node is not None and node.op == "prim.Constant" and node.attrs["value"] is True


def _buffers(slots: list[int]) -> list[np.ndarray]:
    return [np.empty(n, np.uint8) for n in slots]


def _in_rows(buffer: np.ndarray, rows: int, tail: tuple, dtype) -> np.ndarray:
    """The first `rows` rows of shape (rows, *tail) of a block buffer."""
    n = rows * math.prod(tail)
    return buffer[:n * dtype.itemsize].view(dtype).reshape((rows, *tail))


def _per_block(*lists) -> list:
    """dist.Combine's operands: every block's partials, block by block."""
    return [p for block in zip(*lists) for p in block]


def _c_ordered(*values) -> bool:
    return all(v.flags.c_contiguous for v in values if isinstance(v, np.ndarray))
