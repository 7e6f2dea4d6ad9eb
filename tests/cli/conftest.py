"""Fixtures for the command-line tests: a saved model, and (per module) a real Ray head with its dashboard.

The head is what `ray start --head --node-ip-address=127.0.0.1 --dashboard-host=127.0.0.1 --num-cpus=2`
starts, with token authentication on, its own temp dir and its own session (process group), and is
stopped by that handle at the end (scheduler.jobs.local_cluster, the code behind `distjit cluster up`).
Nothing listens anywhere but 127.0.0.1.
"""
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ROOT = Path(__file__).resolve().parents[2]


def model(x, w):
    h = np.tanh(x @ w)
    return h.sum(axis=0), (x * 2.0).mean(axis=1)


def broken(a):
    b = a + 1.0
    return np.linalg.inv(b)          # a singular matrix makes this node fail at run time


def run_cli(*args, env=None, timeout=240):
    """`python -m distjit ARGS` in a subprocess: (exit status, stdout, stderr)."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    proc = subprocess.run([sys.executable, "-m", "distjit", *map(str, args)], capture_output=True, text=True,
                          env=full_env, cwd=str(ROOT), timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="session")
def files(tmp_path_factory):
    """model.djit (traced `model`), its inputs as .npy and .npz, the expected outputs, and broken.djit."""
    import distjit

    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 16))
    w = rng.standard_normal((16, 4))
    distjit.save(distjit.trace(model, (x, w)), d / "model.djit")
    np.save(d / "x.npy", x)
    np.save(d / "w.npy", w)
    np.save(d / "x32.npy", x.astype(np.float32))
    np.savez(d / "inputs.npz", x=x, w=w)
    distjit.save(distjit.trace(broken, (np.eye(3),)), d / "broken.djit")
    np.save(d / "singular.npy", np.full((3, 3), -1.0))
    return {"dir": d, "model": d / "model.djit", "x": d / "x.npy", "w": d / "w.npy", "x32": d / "x32.npy",
            "npz": d / "inputs.npz", "expected": model(x, w), "broken": d / "broken.djit",
            "singular": d / "singular.npy"}


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """A one-node Ray head (2 CPUs) with the dashboard on 127.0.0.1: yields its state (dashboard, token_path)."""
    from scheduler.jobs import local_cluster

    home = tmp_path_factory.mktemp("djhome")
    old = os.environ.get("DISTJIT_HOME")
    os.environ["DISTJIT_HOME"] = str(home)          # the CLI subprocesses find the cluster's token here
    name = f"t{uuid.uuid4().hex[:6]}"
    try:
        state = local_cluster.up(nodes=1, cpus_per_node=2, name=name, dashboard_port=0, timeout=120)
        yield state
    finally:
        local_cluster.down(name)
        if old is None:
            os.environ.pop("DISTJIT_HOME", None)
        else:
            os.environ["DISTJIT_HOME"] = old
