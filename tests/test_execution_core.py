"""The execution core (distjit/core/) is the only statement of what it states.

Read with `ast` over distjit/ and scheduler/: no kernel is called outside the core's
calling convention (`core/apply.py`; generators bind kernels as globals and write the
call as source, which is not a call here), and no code outside the core reads or writes
`node.meta`, where the core keeps the one record of the buffer a node writes into. A
second way to call kernels or to plan buffers would have to break one of these.
"""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORE = ROOT / "distjit" / "core"


def _sources():
    for top in ("distjit", "scheduler"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if CORE not in path.parents:
                yield path


def _kernel_calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "kernel":
            yield node.lineno


def _meta_uses(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "meta":
            yield node.lineno


def test_kernels_are_called_by_the_core_only():
    found = [f"{p.relative_to(ROOT)}:{line}" for p in _sources() for line in _kernel_calls(ast.parse(p.read_text()))]
    assert not found, "call kernels through distjit.core.apply (apply, or bind for generated code):\n" + "\n".join(found)


def test_node_meta_is_the_cores():
    graph_module = ROOT / "distjit" / "ir" / "graph.py"      # declares the slot
    found = [f"{p.relative_to(ROOT)}:{line}" for p in _sources() if p != graph_module
             for line in _meta_uses(ast.parse(p.read_text()))]
    assert not found, "node.meta belongs to distjit/core (buffers.write_into, aliasing.written_into):\n" + "\n".join(found)


def test_the_scans_see_what_they_look_for():
    probe = ast.parse("def f(d, node, xs):\n    y = d.kernel(*xs)\n    node.meta['out'] = {}\n    k = d.kernel\n")
    assert list(_kernel_calls(probe)) == [2]
    assert list(_meta_uses(probe)) == [3]
