"""The work a call graph stands for (NOTE: [Call expansion budget]).

NOTE: [Call expansion budget]
A call graph is a DAG, and running or inlining it goes down every path through it: 40
levels of graphs that each call the next twice are an 11 KB file but 2^40 nodes to run or
inline. `check_expansion` computes, in time linear in the call graph, the nodes a full
expansion makes and the deepest chain of calls, and raises CallExpansionError when they pass
MAX_EXPANDED_NODES or MAX_CALL_DEPTH (named in the message and listed in the README); a graph
without calls expands to itself and is not limited here (an unrolled loop of a million nodes). Loading
checks every graph a file can run (so a hostile file fails at load), and inlining checks the
graph it is given (so does a graph built in memory).
"""
from __future__ import annotations

from distjit.errors import DistJitError
from distjit.ir.graph import Graph

MAX_EXPANDED_NODES = 1_000_000
MAX_CALL_DEPTH = 64


class CallExpansionError(DistJitError):
    """A graph's calls expand past a limit of NOTE: [Call expansion budget]."""


def callee(node) -> Graph | None:
    g = node.attrs.get("graph") if node.op == "prim.Call" else None
    return g if isinstance(g, Graph) else None


def check_expansion(graph: Graph, sizes: dict | None = None) -> tuple[int, int]:
    """(nodes once every call is expanded, deepest chain of calls); CallExpansionError past the limits.

    `sizes` (id(graph) -> (expanded nodes, capped; call depth)) may be shared between calls, so that
    checking every graph of a file is linear in the file.
    """
    sizes = {} if sizes is None else sizes
    open_: set[int] = set()
    stack = [(graph, False)]
    while stack:                               # post-order over the call graph, each graph once
        g, callees_done = stack.pop()
        if id(g) in sizes:
            continue
        if not callees_done:
            if id(g) in open_:
                raise CallExpansionError(f"graph {g.name} calls itself: a recursive call graph cannot be expanded")
            open_.add(id(g))
            stack.append((g, True))
            stack.extend((c, False) for c in map(callee, g.walk()) if c is not None and id(c) not in sizes)
            continue
        open_.discard(id(g))
        nodes, depth = 0, 0
        for node in g.walk():
            c = callee(node)
            if c is None:
                nodes += 1
            else:
                n, d = sizes[id(c)]
                nodes, depth = nodes + n, max(depth, d + 1)
        if depth > MAX_CALL_DEPTH:
            raise CallExpansionError(f"graph {g.name} nests calls {depth} deep, more than "
                                     f"MAX_CALL_DEPTH={MAX_CALL_DEPTH}")
        sizes[id(g)] = (min(nodes, MAX_EXPANDED_NODES + 1), depth)
    nodes, depth = sizes[id(graph)]
    if nodes > MAX_EXPANDED_NODES and depth > 0:      # without calls, a graph is the size it is: nothing expands
        raise CallExpansionError(f"the calls of graph {graph.name} expand to more than "
                                 f"MAX_EXPANDED_NODES={MAX_EXPANDED_NODES:,} nodes (its call graph reaches the "
                                 f"same graphs along many paths)")
    return nodes, depth
