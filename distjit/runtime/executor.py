"""Running a Graph: compile once (generated source), run many times, failures named by node and user line."""
from __future__ import annotations

import weakref
from typing import Any, Sequence

from distjit.core.buffers import is_planned, plan_reuse
from distjit.core.inplace import plan_in_place
from distjit.errors import DistJitError, ExecutionError, raised_error
from distjit.ir.graph import Graph, Node
from distjit.runtime.codegen import Program, generate

_cache: "weakref.WeakKeyDictionary[Graph, Program]" = weakref.WeakKeyDictionary()
_blocked_cache: "weakref.WeakKeyDictionary[Graph, Program]" = weakref.WeakKeyDictionary()


def compile_graph(graph: Graph, params: dict[str, Any] | None = None, *, row_blocks: bool = False) -> Program:
    """The compiled program for a graph without parameters is cached on the graph object.

    `row_blocks`: run the graph's row-parallel part block by block of rows where that pays
    (distjit/runtime/row_blocks.py). Partial reductions are then combined across blocks, so results agree
    to rounding: the executors ask for it for their tasks, whose partials are combined across shards anyway.
    """
    plan_buffers(graph)
    if params:
        return generate(graph, params, _row_blocks(graph) if row_blocks else None)
    cache = _blocked_cache if row_blocks else _cache
    program = cache.get(graph)
    if program is None:
        blocks = _row_blocks(graph) if row_blocks else None
        if row_blocks and blocks is None:
            program = compile_graph(graph)           # nothing to run in blocks: the plain program
        else:
            program = generate(graph, None, blocks)
        cache[graph] = program
    return program


def _row_blocks(graph: Graph):
    from distjit.runtime import row_blocks

    return row_blocks.plan(graph)


def plan_buffers(graph: Graph) -> None:
    """Let elementwise nodes write into temporaries that die there (`out=`), as eager NumPy's temporary
    elision does, then updates (and elementwise nodes over loop-carried values) into the buffers of values
    that die there (distjit/core/inplace.py): the same kernels on the same values, so results are bit for bit
    the same, without a fresh allocation (and its page faults) per node, nor a copy per update. Graphs the
    optimizer already planned keep their plan."""
    if not is_planned(graph):
        plan_reuse(graph)
        plan_in_place(graph)


def run(program: Program, inputs: Sequence[Any]) -> tuple:
    """Run a compiled program; any exception becomes ExecutionError naming the failing node."""
    try:
        return program.fn(*inputs)
    except DistJitError:
        raise
    except Exception as e:
        node = failing_node(program, e.__traceback__)
        raise execution_error(node, e) from e


def failing_node(program: Program, tb) -> Node | None:
    """The node whose generated line raised: the innermost frame of any distjit-generated program."""
    node = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith("<distjit:"):
            found = _programs_line(filename, tb.tb_lineno, program)
            node = found or node
        tb = tb.tb_next
    return node


def _programs_line(filename: str, lineno: int, program: Program) -> Node | None:
    if filename == program.filename:
        return program.line_to_node.get(lineno)
    # A nested program (prim.Call): find it among the cached ones.
    for other in [*_cache.values(), *_blocked_cache.values()]:
        if other.filename == filename:
            return other.line_to_node.get(lineno)
    return None


def execution_error(node: Node | None, e: BaseException) -> ExecutionError:
    if node is None:
        return ExecutionError(f"graph execution failed: {type(e).__name__}: {e}")
    if isinstance(e, AssertionError) and node.blocks:
        node = _failed_assert(node, str(e)) or node
    if node.op == "prim.Assert":
        message = node.attrs.get("message") or "assertion failed"
        if node.attrs.get("error"):
            return raised_error(node.attrs["error"])(message, loc=node.loc)
        return ExecutionError(f"assertion failed: {message}", loc=node.loc)
    outs = ", ".join("%" + v.name for v in node.outputs)
    where = f"{outs} = {node.op}" if outs else node.op
    return ExecutionError(f"{where} failed: {type(e).__name__}: {e}", loc=node.loc)


def _failed_assert(node: Node, message: str) -> Node | None:
    """The prim.Assert inside `node`'s blocks that raised `message`: a loop the native backend compiled whole
    raises from inside, and the user's line is the assert's, not the loop's."""
    for block in node.blocks:
        for inner in block.nodes:
            if inner.op == "prim.Assert" and (inner.attrs.get("message") or "assertion failed")[:200] == message:
                return inner
            found = _failed_assert(inner, message) if inner.blocks else None
            if found is not None:
                return found
    return None
