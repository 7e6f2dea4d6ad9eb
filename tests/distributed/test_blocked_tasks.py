"""The executors compile their tasks' subgraphs with row blocks (distjit/runtime/row_blocks.py): here every
task that can run in blocks does, with a few rows per block, and results still match NumPy's."""
import functools

import numpy as np
import pytest

import distjit
from distjit.runtime import row_blocks
from scheduler.in_place import variant
from tests.distributed.corpus import check_program
from tests.programs import PROGRAMS

pytestmark = pytest.mark.filterwarnings("ignore::distjit.partition.PlanWarning")



def rows(n, cols, seed=0):
    return np.random.default_rng(seed).standard_normal((n, cols))


@pytest.mark.parametrize("prog", PROGRAMS, ids=lambda p: p.name)
def test_corpus_tasks_in_blocks_on_the_local_executor(prog, local, monkeypatch):
    """The executors compile their tasks with row blocks; here every task that can is cut into blocks."""
    monkeypatch.setattr(row_blocks, "plan", functools.partial(row_blocks.plan, rows_per_block=3))
    check_program(prog, local, 2)


def test_task_outputs_are_written_in_place_block_by_block(local, monkeypatch):
    """A big split output goes straight into the result (scheduler/in_place.py), one block at a time."""
    monkeypatch.setattr(row_blocks, "plan", functools.partial(row_blocks.plan, rows_per_block=1000))
    X = rows(1 << 16, 4)
    f = distjit.optimize(distjit.trace(lambda x: (np.exp(x) * 2.0 + 1.0, (x * x).sum(axis=0)), (X,)))
    y, s = f.run(X, cluster=local, workers=2, shard={"x": 0})
    np.testing.assert_array_equal(y, np.exp(X) * 2.0 + 1.0)
    np.testing.assert_allclose(s, (X * X).sum(axis=0), rtol=1e-12)

    plan = f.plan(2, shard={"x": 0})
    task = plan.tasks[0]
    direct, program = variant(plan.subgraphs[task.subgraph], (0,))
    assert direct == (0,) and "for " in program.source
    part = X[slice(*plan.inputs[0].bounds[0])]
    dest = np.full(part.shape, np.nan)
    y0, _ = program(part, dest)
    assert y0 is dest
    np.testing.assert_array_equal(dest, np.exp(part) * 2.0 + 1.0)
