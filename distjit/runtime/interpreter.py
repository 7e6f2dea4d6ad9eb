"""A node-at-a-time interpreter: the reference semantics of the IR, and the debugging path.

It gives the same results as the generated code (`codegen.py`) and is what a
subclass overrides to observe execution (profiling, printing intermediate values).
Every op is applied by the execution core's calling convention (distjit/core/apply.py),
into fresh memory: the reference ignores buffer plans, except where an update is planned
in place (distjit/core/inplace.py), which says where a value lives rather than how fast.
"""
from __future__ import annotations

from typing import Any, Sequence

from distjit.errors import DistJitError
from distjit.ir.graph import Block, Graph, Node, Value
from distjit.core.apply import apply
from distjit.core.inplace import copied_on_entry, entry_copy, updates_in_place
from distjit.core.liveness import last_uses
from distjit.runtime.executor import execution_error


class Interpreter:
    def __init__(self, graph: Graph, params: dict[str, Any] | None = None):
        self.graph = graph
        self.params = params or {}
        self._dying: dict[Block, dict[Node, list[Value]]] = {}

    def run(self, *inputs) -> list[Any]:
        env: dict[Value, Any] = {p: self.params[p.name] for p in self.graph.params}
        env.update(zip(self.graph.inputs, inputs))
        return self.run_block(self.graph.block, env)

    def run_block(self, block: Block, env: dict[Value, Any]) -> list[Any]:
        dying = self._dying.get(block)
        if dying is None:
            dying = self._dying[block] = last_uses(block)
        for node in block.nodes:
            try:
                results = self.run_node(node, env)
            except DistJitError:
                raise
            except Exception as e:
                raise execution_error(node, e) from e
            env.update(zip(node.outputs, results))
            for value in dying[node]:
                env.pop(value, None)
        return [env[v] for v in block.returns]

    def run_node(self, node: Node, env: dict[Value, Any]) -> Sequence[Any]:
        inputs = [env[v] for v in node.inputs]
        if node.op == "prim.Constant":
            return [node.attrs["value"]]
        if node.op == "prim.If":
            return self.run_block(node.blocks[0] if inputs[0] else node.blocks[1], env)
        if node.op == "prim.Loop":
            return self.run_loop(node, inputs, env)
        if node.op == "prim.Call":
            return Interpreter(node.attrs["graph"]).run(*inputs)
        if updates_in_place(node):
            return apply(node, inputs, out=(inputs[0],))
        return apply(node, inputs)

    def run_loop(self, node: Node, inputs: list[Any], env: dict[Value, Any]) -> list[Any]:
        trip, cond, *carried = inputs
        body = node.blocks[0]
        for k in copied_on_entry(node):
            carried[k] = entry_copy(carried[k])
        i = 0
        while i < trip and cond:
            env[body.params[0]] = i
            env.update(zip(body.params[1:], carried))
            cond, *carried = self.run_block(body, env)
            i += 1
        return carried
