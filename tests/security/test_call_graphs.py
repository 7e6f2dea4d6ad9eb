"""Call graphs from files: linear-time load, bounded inlining (issue 16, finding 4).

A file's graphs are verified with one shared set of verified graphs (each graph once), and
inlining checks the size of the full expansion before copying anything (NOTE: [Inlining
budget] in distjit/passes/inline.py).
"""
import numpy as np
import pytest

import distjit
from distjit.errors import DistJitError
from distjit.ir import Builder, Graph, SourceLoc, tensor
from distjit.ir import verifier
from distjit.errors import FormatError
from distjit.ir.calls import MAX_CALL_DEPTH, MAX_EXPANDED_NODES, CallExpansionError
from tests.cli.conftest import run_cli

F64 = np.float64


def call_dag(levels: int, fanout: int, body: int = 1, n: int = 4) -> distjit.Function:
    """Graph k calls graph k-1 `fanout` times (and does `body` adds); graph 0 is a few adds."""
    def graph(name, callee):
        g = Graph(name)
        x = g.add_input(tensor(F64, (n,)), "x")
        b = Builder(g.block)
        y = x
        for _ in range(body):
            y, = b.op("np.add", [y, x])
        for _ in range(fanout if callee is not None else 0):
            y, = b.op("prim.Call", [y], {"graph": callee})
        g.add_output(y)
        return g

    g = graph("g0", None)
    for k in range(1, levels + 1):
        g = graph(f"g{k}", g)
    f = distjit.trace(lambda x: x + x, (np.zeros(n),))
    f.graph = g
    return f


def layered_calls(layers: int, width: int, body: int = 5, n: int = 4) -> distjit.Function:
    """`width` chains of `layers` graphs, each calling the one below it. Verifying each graph with its callees
    afresh (as loading once did) walks the rest of its chain again for every graph: quadratic."""
    below: list[Graph] = []
    for layer in range(layers):
        row = []
        for k in range(width):
            g = Graph(f"l{layer}_{k}")
            x = g.add_input(tensor(F64, (n,)), "x")
            b = Builder(g.block, loc=SourceLoc(f"/home/user/project/models/layer_{layer}.py", 10 + k))
            y = x
            for _ in range(body):
                y, = b.op("np.add", [y, x])
            if below:
                y, = b.op("prim.Call", [y], {"graph": below[k]})
            g.add_output(y)
            row.append(g)
        below = row
    main = Graph("main")
    x = main.add_input(tensor(F64, (n,)), "x")
    b = Builder(main.block)
    total = x
    for g in below:
        total, = b.op("np.add", [total, b.op("prim.Call", [x], {"graph": g})[0]])
    main.add_output(total)
    f = distjit.trace(lambda x: x + x, (np.zeros(n),))
    f.graph = main
    return f


def test_a_450_kb_call_graph_file_verifies_each_graph_once(monkeypatch):
    """Linear load: the super-linear cost was each graph re-verifying its callees (bench/serialize.py prints the
    load time of this file; speed is measured there, not asserted here)."""
    data = distjit.serialize.to_bytes(layered_calls(layers=30, width=30))
    assert len(data) >= 450_000, len(data)
    runs = []
    real_run = verifier._GraphVerifier.run
    monkeypatch.setattr(verifier._GraphVerifier, "run", lambda self: (runs.append(self.graph), real_run(self))[1])
    g = distjit.serialize.from_bytes(data)
    assert g.graph.name == "main"
    assert len(runs) == len({id(x) for x in runs}), "a graph was verified twice"


def test_the_exponential_call_dag_ends_with_a_clear_error(tmp_path):
    f = call_dag(levels=40, fanout=2)
    with pytest.raises(CallExpansionError, match=f"MAX_EXPANDED_NODES={MAX_EXPANDED_NODES:,}"):
        distjit.optimize(f)                      # a graph built in memory: inlining checks it
    path = tmp_path / "dag.djit"
    distjit.save(f, path)
    with pytest.raises(FormatError, match="MAX_EXPANDED_NODES"):
        distjit.load(path)                       # a file: refused before anything runs it
    np.save(tmp_path / "x.npy", np.ones(4))
    code, out, err = run_cli("run", path, "--input", f"x={tmp_path / 'x.npy'}", timeout=120)
    assert code != 0 and "MAX_EXPANDED_NODES" in err and "Traceback" not in err, (code, out, err)


def test_a_deep_call_chain_ends_with_a_clear_error():
    f = call_dag(levels=MAX_CALL_DEPTH + 1, fanout=1)
    with pytest.raises(CallExpansionError, match=f"MAX_CALL_DEPTH={MAX_CALL_DEPTH}"):
        distjit.optimize(f)
    with pytest.raises(FormatError, match=f"MAX_CALL_DEPTH={MAX_CALL_DEPTH}"):
        distjit.serialize.from_bytes(distjit.serialize.to_bytes(f))
    assert issubclass(CallExpansionError, DistJitError)


def test_a_call_dag_within_the_budget_loads_inlines_and_runs():
    f = distjit.serialize.from_bytes(distjit.serialize.to_bytes(call_dag(levels=6, fanout=2)))
    g = distjit.optimize(f)
    assert not any(n.op == "prim.Call" for n in g.graph.walk())
    x = np.arange(4.0)
    np.testing.assert_array_equal(g(x), f(x))
