"""Job results in the cluster's key-value store are never overwritten (issue 16, finding 7).

Every job once wrote its chunks and manifest with overwrite=True under keys named only by the
job id it was given, so any job could replace another's stored result.
"""
import pytest

from distjit.errors import DistJitError
from scheduler.jobs import result


@pytest.fixture
def kv(ray_local):
    from ray.experimental import internal_kv

    def put(k, v):
        return internal_kv._internal_kv_put(k, v, overwrite=False, namespace=result.NAMESPACE)

    def get(k):
        return internal_kv._internal_kv_get(k, namespace=result.NAMESPACE)

    yield put, get
    internal_kv._internal_kv_del(b"result/", del_by_prefix=True, namespace=result.NAMESPACE)


def test_a_stored_result_cannot_be_replaced(kv):
    put, get = kv
    result.store(put, "job-a", b"the real outputs")
    with pytest.raises(DistJitError, match="already stored for job job-a"):
        result.store(put, "job-a", b"forged outputs")
    assert result.load(get, "job-a") == b"the real outputs"
    result.store(put, "job-b", b"other")
    assert result.load(get, "job-a") == b"the real outputs" and result.load(get, "job-b") == b"other"


def test_chunks_written_under_a_guessed_key_do_not_change_a_result(kv):
    put, get = kv
    result.store(put, "job-c", b"x" * 100)
    put(b"result/job-c/0", b"y" * 100)          # the key the chunk had before results were keyed by a nonce
    assert result.load(get, "job-c") == b"x" * 100


def test_ids_outside_the_job_grammar_are_refused(kv):
    put, get = kv
    for job in ("a/b", "../x", "a b"):
        with pytest.raises(DistJitError, match="not a job id"):
            result.store(put, job, b"x")
        with pytest.raises(DistJitError, match="not a job id"):
            result.load(get, job)
