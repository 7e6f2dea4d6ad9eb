"""The Ray executor on a local Ray: the corpus with 1, 2 and 3 workers, caching, windows, driver memory."""
import gc
import os

import numpy as np
import psutil
import pytest

import distjit
from scheduler.ray_executor import RayExecutor
from scheduler.shared_result import release_idle
from tests.distributed.corpus import check_program
from tests.distributed.test_shared_result import open_result_files
from tests.programs import PROGRAMS

pytestmark = pytest.mark.filterwarnings("ignore::distjit.partition.PlanWarning")


@pytest.mark.parametrize("prog", PROGRAMS, ids=lambda p: p.name)
def test_corpus_on_ray(prog, ray_local):
    for workers in (1, 2, 3):
        check_program(prog, ray_local, workers)


def kmeans_step(x, centers):
    d2 = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(axis=-1)
    labels = np.argmin(d2, axis=1)
    onehot = (labels[:, None] == np.arange(centers.shape[0])[None, :]).astype(x.dtype)
    counts = onehot.sum(axis=0)
    sums = onehot.T @ x
    return sums / np.maximum(counts, 1.0)[:, None], labels


def test_subgraphs_and_params_are_put_once(ray_local):
    rng = np.random.default_rng(0)
    x, c = rng.standard_normal((1 << 16, 8)), rng.standard_normal((4, 8))
    f = distjit.trace(kmeans_step, (x, c))
    ex = RayExecutor("auto")
    for _ in range(3):
        got = f.run(x, c, cluster=ex, workers=2)
    expected = kmeans_step(x, c)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)
    np.testing.assert_array_equal(got[1], expected[1])
    plan = f.plan(workers=2)
    assert set(ex._graphs) == {plan.digest(t.subgraph) for t in plan.tasks}
    assert all(":stage" in t.name for t in plan.tasks)


def test_a_wide_plan_runs_its_roots_in_a_bounded_window(ray_local):
    x = np.random.default_rng(0).standard_normal((64, 4))
    f = distjit.trace(lambda x: np.sqrt(np.abs(x)).sum(axis=0), (x,))
    plan = f.plan(workers=16, shard={"x": 0})
    assert len(plan.tasks) > 16
    ex = RayExecutor("auto", window=2)
    got = ex.run(plan, [x], {})
    np.testing.assert_allclose(got[0], np.sqrt(np.abs(x)).sum(axis=0), rtol=1e-12)


def blowup(x, w):
    h = x[:, :, None] * w[None, None, :]          # 32x bigger than x, only inside the workers
    return np.tanh(h).sum(axis=(1, 2))


def test_driver_memory_stays_flat(ray_local):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1 << 16, 8)), rng.standard_normal(32)   # h: 128 MiB per run
    f = distjit.trace(blowup, (x, w))
    expected = blowup(x, w)
    np.testing.assert_allclose(f.run(x, w, cluster=ray_local, workers=2), expected, rtol=1e-10)
    gc.collect()
    rss = psutil.Process(os.getpid()).memory_info().rss
    for _ in range(4):
        got = f.run(x, w, cluster=ray_local, workers=2)
    gc.collect()
    grown = psutil.Process(os.getpid()).memory_info().rss - rss
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    assert grown < 32 << 20, f"driver RSS grew by {grown >> 20} MiB over 4 runs with 128 MiB intermediates"


def test_task_errors_name_the_users_line(ray_local):
    x = np.ones((8, 3))
    f = distjit.trace(lambda x: x.reshape(8, 3) @ np.ones((3, 2)), (x,))
    with pytest.raises(distjit.ShapeError):
        f.run(np.ones((8, 4)), cluster=ray_local, workers=2)


def test_bad_cluster_addresses_are_cluster_errors():
    x = np.ones(3)
    f = distjit.trace(lambda x: x + 1, (x,))
    with pytest.raises(distjit.ClusterError, match="not understood"):
        f.run(x, cluster="no-port-here")
    with pytest.raises(distjit.ClusterError):
        f.run(x, cluster=42)


def in_place_program(x, y):
    return np.sin(x) * 2.0 + 1.0, np.sort(x, axis=1), (x * y).sum(), x.T * 3.0


def test_big_split_outputs_are_written_in_place_by_the_workers(ray_local):
    """Parts of big split outputs go straight into the driver's result (shared memory): a fused node
    writes with out=, a sort is copied there by the worker; only the small sum and the part of the
    transposed output (split along a strided axis) come back through the object store."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal(((1 << 18) + 5, 4)), rng.standard_normal(4)
    f = distjit.optimize(distjit.trace(in_place_program, (x, y)))
    for workers in (2, 3):
        got, stats = f.run(x, y, cluster=ray_local, workers=workers, shard={"x": 0}, stats=True)
        expected = in_place_program(x, y)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
        np.testing.assert_allclose(got[2], expected[2], rtol=1e-12)
        np.testing.assert_array_equal(got[3], expected[3])
        assert all(g.flags.writeable and g.flags.c_contiguous for g in got if isinstance(g, np.ndarray))
        assert expected[3].nbytes <= stats.bytes_fetched < expected[3].nbytes + 1024, stats.bytes_fetched
        if workers == 3:       # the results of the run before were dropped: their pages were used again
            assert got[0].base.file.warm
        del got
    release_idle()
    assert open_result_files() == 0
