"""An ordinary traced chain of 400 ops runs with `f.run` and `distjit run` (issue 16, finding 6).

The partitioner once recursed once per node while it gathered the cheap nodes a task recomputes
(partition/stages.py), so a long chain of small ops ended in a RecursionError traceback.
"""
import numpy as np

import distjit
from tests.cli.conftest import run_cli
from tests.compare import assert_same

N = 400


def chain(x):
    for k in range(N):
        x = x * 1.001 + 0.5 if k % 2 else np.tanh(x)
    return x


def test_a_400_op_chain_runs_with_f_run_and_the_cli(tmp_path):
    x = np.linspace(-1.0, 1.0, 64)
    f = distjit.trace(chain, (x,))
    assert f.graph.node_count() >= N
    assert_same(f.run(x), chain(x))
    path, xin = tmp_path / "chain.djit", tmp_path / "x.npy"
    distjit.save(f, path)
    np.save(xin, x)
    code, out, err = run_cli("run", path, "--input", f"x={xin}", "-o", tmp_path / "out.npz", timeout=180)
    assert code == 0, (out, err)
    with np.load(tmp_path / "out.npz") as z:
        assert_same(z[z.files[0]], chain(x))
