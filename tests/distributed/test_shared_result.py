"""Results in shared memory: a worker finds its part only by the file's token, and the pool lends the
pages of a dropped result to the next run, never those of a live result or of a failed run."""
import os

import numpy as np
import pytest

import distjit
from scheduler import LocalExecutor
from scheduler import shared_result
from scheduler.shared_result import Place, SharedResult, release_idle

pytestmark = pytest.mark.skipif(not SharedResult.available(), reason="needs memfd_create (Linux)")


def open_result_files() -> int:
    """How many descriptors of shared results this process has open."""
    def link(fd):
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return ""
    return sum("distjit" in link(fd) for fd in os.listdir("/proc/self/fd"))


def test_a_place_is_found_only_by_its_token():
    shared = SharedResult()
    a = shared.empty((6, 3), np.float64)
    b = shared.empty((5000,), np.int32)
    a[...] = 0.0
    b[...] = 0
    place = shared.where(b, (slice(1500, 4000),))
    part, mapping = place.open()
    part[...] = 7
    assert (b[1500:4000] == 7).all() and (b[:1500] == 0).all() and (b[4000:] == 0).all() and (a == 0).all()
    del part
    mapping.close()
    stranger = Place(place.pid, place.fd, "0" * 32, place.warm, place.offset, place.shape, place.dtype)
    assert stranger.open() is None                      # the descriptor is someone else's file
    shared.close(reuse=False)
    assert place.open() is None                         # a failed run's file: the worker returns its part
    a[0, 0] = 1.0                                       # the result outlives the descriptor
    assert a[0, 0] == 1.0


def big_outputs(x):
    return np.sin(x) * 2.0 + 1.0, x.sum()


def test_a_dropped_result_lends_its_pages_to_the_next_run():
    x = np.random.default_rng(0).standard_normal(1 << 20)
    f = distjit.optimize(distjit.trace(big_outputs, (x,)))
    local = LocalExecutor(2)
    first, _ = f.run(x, cluster=local, workers=2, shard={"x": 0})
    token = first.base.file.token
    del first
    second, _ = f.run(x * 2.0, cluster=local, workers=2, shard={"x": 0})
    assert second.base.file.token == token and second.base.file.warm
    third, _ = f.run(x * 3.0, cluster=local, workers=2, shard={"x": 0})
    assert third.base.file.token != token                # the second result is alive: its file is its own
    np.testing.assert_array_equal(second, big_outputs(x * 2.0)[0])
    np.testing.assert_array_equal(third, big_outputs(x * 3.0)[0])
    local.shutdown()


def test_a_failed_run_never_lends_its_files():
    shared = SharedResult()
    a = shared.empty((1 << 16,), np.float64)
    token = a.base.file.token
    shared.close(reuse=False)        # its tasks may still be writing
    del a
    shared = SharedResult()
    b = shared.empty((1 << 16,), np.float64)
    shared.close()
    assert b.base.file.token != token


def test_the_pool_keeps_few_files_and_gives_them_back():
    release_idle()
    before = open_result_files()
    results = []
    for _ in range(shared_result.KEPT_OPEN + 16):       # results in use: most keep no descriptor
        shared = SharedResult()
        results.append(shared.empty((1 << 10,), np.float64))
        shared.close()
    assert open_result_files() - before <= shared_result.KEPT_OPEN
    del results
    assert open_result_files() - before <= shared_result.IDLE_FILES
    release_idle()
    assert open_result_files() == before
