"""Jobs on a real Ray head (`ray start --head`, dashboard and token auth on 127.0.0.1), through the command line.

One head per module (the `head` fixture); every command runs as `python -m distjit` in a subprocess,
as a user would run it.
"""
import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.cli.conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def addr(head):
    return ["--address", head["dashboard"]]


def test_head_listens_on_loopback_only(head):
    import psutil

    from scheduler.jobs.local_cluster import session_members

    pids = session_members({n["pgid"] for n in head["nodes"]})
    assert pids
    for pid in pids:
        try:
            conns = psutil.Process(pid).net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for c in conns:
            if c.status == psutil.CONN_LISTEN:
                assert c.laddr.ip in ("127.0.0.1", "::1", "::ffff:127.0.0.1"), (pid, c)


def test_submit_wait_result_matches_numpy(files, addr, tmp_path):
    code, out, err = run_cli("submit", files["model"], "--input", f"x={files['x']}", "--input", f"w={files['w']}",
                             "--workers", "2", "--wait", *addr)
    assert code == 0, err
    job = out.strip()
    assert job.startswith("distjit-model-")

    code, out, err = run_cli("status", job, "--json", *addr)
    assert code == 0 and json.loads(out)["status"] == "SUCCEEDED"

    code, out, _ = run_cli("logs", job, *addr)
    # how many tasks is the partitioner's choice for this cluster; every one of them is reported done
    assert re.search(r"distjit: progress (\d+)/\1 tasks", out) and "tasks in 1 stage(s) on the ray executor" in out

    result = tmp_path / "out.npz"
    code, out, err = run_cli("result", job, "--output", result, *addr)
    assert code == 0, err
    with np.load(result) as z:
        np.testing.assert_allclose(z["output[0]"], files["expected"][0], rtol=1e-9)
        np.testing.assert_allclose(z["output[1]"], files["expected"][1], rtol=1e-9)

    code, out, _ = run_cli("list", "--json", *addr)
    assert code == 0 and job in [j["job"] for j in json.loads(out)]
    assert not any("-fetch-" in j["job"] for j in json.loads(out))


def test_failed_job_reports_node_and_line(files, addr, tmp_path):
    code, out, err = run_cli("submit", files["broken"], "--input", f"a={files['singular']}", "--wait", "-q", *addr)
    job = out.strip()
    assert code == 4, err
    assert "np.linalg.inv failed" in err and "conftest.py:" in err and "Traceback" not in err

    code, out, _ = run_cli("status", job, *addr)
    assert code == 4 and f"{job}: FAILED" in out
    assert "ExecutionError" in out and "np.linalg.inv failed: LinAlgError: Singular matrix" in out
    assert "conftest.py:" in out                               # the user's source line
    assert json.loads(run_cli("status", job, "--json", *addr)[1])["error"].startswith("ExecutionError")

    code, out, _ = run_cli("logs", job, *addr)
    assert "distjit: error: ExecutionError" in out

    code, _, err = run_cli("result", job, "-o", tmp_path / "r.npz", *addr)
    assert code == 4 and "has no result" in err and not (tmp_path / "r.npz").exists()


def test_submit_then_result_wait(files, addr, tmp_path):
    code, out, err = run_cli("submit", files["model"], "--inputs", files["npz"], *addr)
    assert code == 0, err
    job = out.strip()
    code, out, err = run_cli("result", job, "--wait", "--delete", "-o", tmp_path / "r.npz", *addr)
    assert code == 0, err
    np.testing.assert_allclose(np.load(tmp_path / "r.npz")["output[1]"], files["expected"][1], rtol=1e-9)
    code, _, err = run_cli("result", job, "-o", tmp_path / "again.npz", *addr)      # --delete freed it
    assert code == 4 and "no result is stored" in err


@pytest.mark.parametrize("command", [["status"], ["logs"], ["stop"], ["result", "-o", "x.npz"]])
def test_job_not_found(addr, command):
    code, _, err = run_cli(command[0], "distjit-nope-00000000", *command[1:], *addr)
    assert code == 1 and "no job 'distjit-nope-00000000'" in err and "Traceback" not in err


def test_wrong_token_is_refused(addr):
    code, _, err = run_cli("list", *addr, env={"RAY_AUTH_TOKEN": "0" * 64})
    assert code == 3 and "refused distjit's token" in err and "RAY_AUTH_TOKEN" in err


def test_inputs_are_checked_before_submitting(files, addr):
    code, _, err = run_cli("submit", files["model"], "-i", f"x={files['w']}", "-i", f"w={files['w']}", *addr)
    assert code == 1 and "argument x has shape (16, 4)" in err


def test_too_big_to_submit(files, head, monkeypatch):
    import distjit
    from distjit.errors import DistJitError
    from distjit.cli import arrays
    from scheduler.jobs import client

    monkeypatch.setattr(client, "upload_limit", lambda: 1000)
    f = distjit.load(files["model"])
    values = arrays.load_inputs(f, {}, str(files["npz"]))
    with pytest.raises(DistJitError, match="accepts at most"):
        client.Jobs(head["dashboard"]).submit(str(files["model"]), f, values)


def test_stop(files, addr):
    code, out, _ = run_cli("submit", files["model"], "--inputs", files["npz"], *addr)
    job = out.strip()
    code, out, err = run_cli("stop", job, *addr)
    assert code == 0 and job in out


def test_walkthrough_script(head):
    """examples/cli_walkthrough.sh, the README's worked example, against this head."""
    env = dict(os.environ, RAY_ADDRESS=head["dashboard"], PYTHONPATH=str(ROOT),
               DISTJIT=f"{os.sys.executable} -m distjit", PYTHON=os.sys.executable)
    proc = subprocess.run(["bash", str(Path(ROOT) / "examples" / "cli_walkthrough.sh")], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "local and cluster results match NumPy" in proc.stdout
