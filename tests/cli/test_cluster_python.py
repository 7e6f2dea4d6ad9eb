"""Jobs run with the cluster's own Python (NOTE: [The cluster's Python] in scheduler/jobs/preflight.py).

The head is started the common way, `<venv>/bin/ray start --head --block`, without activating the
venv and under a PATH whose first `python` (and `python3`) is the system's, which has neither numpy
nor protobuf. The venv has Ray and distjit's dependencies but not distjit itself (its site-packages
are this checkout's, minus distjit's install), so a job runs only because it ships distjit's code.
The head binds to 127.0.0.1, uses its own temp dir and ports and token, runs in its own session,
and is stopped through that session.
"""
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

from tests.cli.conftest import ROOT, run_cli

SYSTEM_PYTHON = "/usr/bin/python3"

pytestmark = pytest.mark.skipif(
    not os.path.exists(SYSTEM_PYTHON) or subprocess.run([SYSTEM_PYTHON, "-c", "import google.protobuf"],
                                                         capture_output=True).returncode == 0,
    reason="needs a system Python without protobuf")


def _venv_without_distjit(root: Path) -> Path:
    """A venv whose packages are this one's (by a .pth line to a folder of links), distjit's install left out."""
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = Path(next((root / "lib").glob("python3*/site-packages")))
    links = root / "deps"
    links.mkdir()
    ours = Path(next(p for p in sys.path if p.endswith("site-packages") and Path(p, "ray").exists()))
    for entry in ours.iterdir():
        if entry.name.startswith(("distjit", "__editable__", "_distutils_hack")) or entry.suffix == ".pth":
            continue
        (links / entry.name).symlink_to(entry)
    (site / "deps.pth").write_text(str(links) + "\n")
    ray = root / "bin" / "ray"
    ray.write_text(f"#!{root / 'bin' / 'python'}\nimport sys\nfrom ray.scripts.scripts import main\nsys.exit(main())\n")
    ray.chmod(0o755)
    return root


@pytest.fixture(scope="module")
def plain_head(tmp_path_factory):
    from scheduler.jobs.local_cluster import _wait_port, free_port, session_members

    tmp = tmp_path_factory.mktemp("plain")
    venv = _venv_without_distjit(tmp / "venv")
    fake_bin = tmp / "bin"
    fake_bin.mkdir()
    for name in ("python", "python3"):
        (fake_bin / name).symlink_to(SYSTEM_PYTHON)
    token = tmp / "token"
    token.write_text(os.urandom(32).hex())
    token.chmod(0o600)
    path = [str(fake_bin)] + [p for p in os.environ.get("PATH", "").split(os.pathsep)
                              if p and not Path(p, "python").resolve().is_relative_to(Path(sys.prefix))]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PATH=os.pathsep.join(path), RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_AUTH_MODE="token",
               RAY_AUTH_TOKEN_PATH=str(token))
    gcs, dashboard = free_port(), free_port()
    temp_dir = Path(os.path.join("/tmp", f"djplain-{os.getpid()}"))
    log = open(tmp / "head.log", "wb")
    proc = subprocess.Popen([str(venv / "bin" / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
                             f"--port={gcs}", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
                             f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
                             f"--metrics-export-port={free_port()}", "--num-cpus=2", f"--temp-dir={temp_dir}",
                             "--object-store-memory=200000000", "--disable-usage-stats"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=str(tmp))
    log.close()
    try:
        _wait_port(gcs, 120, proc, tmp / "head.log")
        _wait_port(dashboard, 120, proc, tmp / "head.log")
        yield {"dashboard": f"http://127.0.0.1:{dashboard}", "token": str(token), "python": str(venv / "bin" / "python")}
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in session_members({proc.pid}):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 10
            while session_members({proc.pid}) and time.monotonic() < deadline:
                proc.poll()
                time.sleep(0.2)
        proc.wait(timeout=10)
        subprocess.run(["rm", "-rf", str(temp_dir)])


def _cli(head, *args):
    return run_cli(*args, "--address", head["dashboard"], env={"RAY_AUTH_TOKEN_PATH": head["token"]})


def test_job_on_a_plain_ray_start_head_matches_numpy(plain_head, files, tmp_path):
    """`python` on the head's PATH lacks protobuf, and the cluster lacks distjit: the job runs with the
    raylet's interpreter and the distjit it ships."""
    code, out, err = _cli(plain_head, "submit", files["model"], "--inputs", files["npz"], "--workers", "2", "--wait")
    assert code == 0, err
    job = out.strip()
    code, log, _ = _cli(plain_head, "logs", job)
    assert f"distjit: python {plain_head['python']}" in log
    code, _, err = _cli(plain_head, "result", job, "-o", tmp_path / "out.npz")
    assert code == 0, err
    with np.load(tmp_path / "out.npz") as z:
        np.testing.assert_allclose(z["output[0]"], files["expected"][0], rtol=1e-9)
        np.testing.assert_allclose(z["output[1]"], files["expected"][1], rtol=1e-9)


def test_cluster_without_distjit_and_no_shipped_code(plain_head, files):
    code, _, err = _cli(plain_head, "submit", files["model"], "--inputs", files["npz"], "--no-ship-code", "--wait")
    assert code == 3, err
    assert f"distjit is not installed for {plain_head['python']}" in err and "--no-ship-code" in err
    assert "Traceback" not in err


def test_preflight_names_what_is_missing_and_the_fix():
    proc = subprocess.run([SYSTEM_PYTHON, str(ROOT / "scheduler" / "jobs" / "preflight.py")], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 3
    assert proc.stderr.startswith("distjit: error: ClusterError: ")
    assert "numpy is missing" in proc.stderr and "protobuf is missing" in proc.stderr
    assert f"{SYSTEM_PYTHON} -m pip install 'numpy>=2.0' 'protobuf>=" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_preflight_requirements_are_pyprojects():
    from scheduler.jobs.preflight import REQUIREMENTS

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = {}
    for d in deps:
        name, _, version = d.partition(">=")
        pinned[name.split("[")[0].strip()] = version.split(",")[0].strip()
    pinned.pop("ray")
    assert pinned == REQUIREMENTS
