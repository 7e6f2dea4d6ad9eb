"""Deep copies of graphs and blocks (passes work on copies; the caller's graph is never changed)."""
from __future__ import annotations

from distjit.ir.graph import Block, Graph, Node, Value


def clone_graph(graph: Graph) -> Graph:
    new = Graph(graph.name)
    new._names = set(graph._names)
    new._counter = iter(range(_next_counter(graph), 1 << 62))
    mapping: dict[Value, Value] = {}
    for p in graph.params:
        mapping[p] = Value(p.name, p.type)
        new.params.append(mapping[p])
    clone_block_into(graph.block, new.block, mapping)
    new.guards = {mapping[v]: value for v, value in graph.guards.items()}
    return new


def _next_counter(graph: Graph) -> int:
    return max((int(tail) for tail in (n.rsplit(".", 1)[-1] for n in graph._names)
                if tail.isascii() and tail.isdigit()), default=-1) + 1


def clone_block_into(src: Block, dst: Block, mapping: dict[Value, Value]) -> None:
    """Copy params, nodes and returns of `src` into the empty block `dst`; `mapping` maps old values to new."""
    for p in src.params:
        v = Value(p.name, p.type, block=dst)
        dst.params.append(v)
        mapping[p] = v
    for node in src.nodes:
        dst.append(clone_node(node, dst, mapping))
    for r in src.returns:
        dst.add_return(mapping[r])


def clone_node(node: Node, block: Block, mapping: dict[Value, Value], rename=None) -> Node:
    new = Node(node.op, dict(node.attrs), node.loc)
    new.block = block
    for v in node.inputs:
        new.add_input(mapping[v])
    for out in node.outputs:
        name = rename(out.name) if rename else out.name
        mapping[out] = Value(name, out.type, node=new)
        new.outputs.append(mapping[out])
    for b in node.blocks:
        nb = Block(block.graph, owner=new)
        new.blocks.append(nb)
        clone_block_into(b, nb, mapping)
    return new
