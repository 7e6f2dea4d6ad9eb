"""Cluster addresses mean one thing each (NOTE: [Cluster addresses] in scheduler/cluster.py).

One `distjit cluster up` head (token authentication on, 127.0.0.1 only) for the module, reached from
this process the way a user reaches it: by its GCS address, its Ray Client address, and RAY_ADDRESS in
each of Ray's forms, including the dashboard's http:// address. Marked `cluster`: these tests connect
this process to other clusters, so they run after the tests that share the session's Ray.
"""
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

import distjit
from distjit.errors import ClusterError

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]


def model(x):
    return np.tanh(x) * 2.0 + x.sum(axis=0)


X = np.random.default_rng(0).standard_normal((4000, 8))


@pytest.fixture(scope="module")
def f():
    return distjit.trace(model, (X,))


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    """A one-node `distjit cluster up` cluster; the process's auth variables are left as they were."""
    import ray

    from scheduler import cluster
    from scheduler.jobs import local_cluster

    if ray.is_initialized():
        ray.shutdown()
    saved = {k: os.environ.get(k) for k in ("DISTJIT_HOME", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS",
                                            "RAY_AUTH_TOKEN")}
    for k in saved:
        os.environ.pop(k, None)
    os.environ["DISTJIT_HOME"] = str(tmp_path_factory.mktemp("djhome"))
    name = f"a{uuid.uuid4().hex[:6]}"
    state = local_cluster.up(nodes=1, cpus_per_node=2, name=name, dashboard_port=0, timeout=120)
    try:
        yield state
    finally:
        cluster.disconnect()
        local_cluster.down(name)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        cluster.reload_ray_auth()


def _connected_gcs() -> str:
    import ray

    return ray.get_runtime_context().gcs_address


def _check(f, cluster):
    np.testing.assert_allclose(f.run(X, cluster=cluster, workers=2), model(X), rtol=1e-12)


def test_cluster_up_reached_from_python_by_its_gcs_address(up, f):
    """No RAY_AUTH_* variables: distjit finds the cluster's token as the command line does."""
    from scheduler import cluster

    cluster.disconnect()
    _check(f, up["gcs"])
    assert _connected_gcs() == up["gcs"]


@pytest.mark.parametrize("form", ["gcs", "dashboard"])
def test_ray_address_forms(up, f, form, monkeypatch):
    """RAY_ADDRESS as a GCS host:port, or the dashboard's http:// URL (whose GCS distjit finds, then checks
    it serves that dashboard): cluster='auto' runs on that cluster each time."""
    from scheduler import cluster

    cluster.disconnect()
    monkeypatch.setenv("RAY_ADDRESS", up[form])
    _check(f, "auto")
    assert _connected_gcs() == up["gcs"]
    cluster.disconnect()


def test_ray_address_ray_client_form(up):
    """RAY_ADDRESS=ray://host:port, in a process of its own as a user's would be (this one has held other
    Ray sessions, whose token the Ray Client keeps presenting)."""
    code = ("import numpy as np, distjit\n"
            "from tests.distributed.test_addresses import X, model\n"
            "f = distjit.trace(model, (X,))\n"
            "np.testing.assert_allclose(f.run(X, cluster='auto', workers=2), model(X), rtol=1e-12)\n"
            "print('matches NumPy')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env.update(RAY_ADDRESS=up["client"], PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=str(ROOT),
                          timeout=240)
    assert proc.returncode == 0 and "matches NumPy" in proc.stdout, proc.stderr[-3000:]


def test_http_ray_address_is_the_jobs_endpoint_too(up, monkeypatch):
    from scheduler.jobs.client import resolve_address

    monkeypatch.setenv("RAY_ADDRESS", up["dashboard"])
    assert resolve_address(None) == up["dashboard"]


def test_a_second_address_never_runs_silently_elsewhere(up, f):
    """Connected to one cluster, another address reconnects to that other cluster, or, when nothing answers
    there, raises ClusterError and leaves the first connection working."""
    from scheduler import cluster
    from scheduler.jobs import local_cluster

    cluster.disconnect()
    _check(f, up["gcs"])
    for nobody in (f"ray://127.0.0.1:{_closed_port()}", f"127.0.0.1:{_closed_port()}"):
        with pytest.raises(ClusterError, match="cannot reach a Ray cluster at " + nobody):
            f.run(X, cluster=nobody)
    _check(f, "auto")                               # still the first cluster
    assert _connected_gcs() == up["gcs"]
    name = f"b{uuid.uuid4().hex[:6]}"
    other = local_cluster.up(nodes=1, cpus_per_node=1, name=name, dashboard_port=0, timeout=120)
    try:
        _check(f, other["gcs"])                     # a different address: reconnected there
        assert _connected_gcs() == other["gcs"]
        _check(f, up["gcs"])
        assert _connected_gcs() == up["gcs"]
    finally:
        cluster.disconnect()
        local_cluster.down(name)


def test_someone_elses_connection_is_not_replaced(up, f):
    """A connection the user made with ray.init is theirs: another address is an error, not a reconnect."""
    import ray

    from scheduler import cluster

    cluster.disconnect()
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN_PATH"] = up["token_path"]
    cluster.reload_ray_auth()
    ray.init(address=up["gcs"], log_to_driver=False)
    try:
        _check(f, up["gcs"])                      # the same cluster: fine
        with pytest.raises(ClusterError, match="ray.shutdown"):
            f.run(X, cluster=up["client"])
    finally:
        ray.shutdown()


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_unreachable_address_fails_in_bounded_time(f, monkeypatch, scheme):
    """A port that accepts connections but never answers (a stuck process) and one where nothing listens."""
    monkeypatch.setenv("DISTJIT_CONNECT_TIMEOUT", "2")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)                          # the kernel completes the handshake; nobody ever reads
        for port, why in ((silent.getsockname()[1], "no answer within 2 s"), (_closed_port(), "refused")):
            t = time.monotonic()
            with pytest.raises(ClusterError, match=why):
                f.run(X, cluster=f"{scheme}127.0.0.1:{port}")
            assert time.monotonic() - t < 10


def test_dashboard_port_given_as_the_cluster(up, f):
    with pytest.raises(ClusterError, match="not a Ray cluster's GCS"):
        f.run(X, cluster=up["dashboard"].split("://")[1])
    with pytest.raises(ClusterError, match="is a Ray dashboard"):
        f.run(X, cluster=up["dashboard"])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
