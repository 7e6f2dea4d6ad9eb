"""The command line without a cluster: help, inspect, optimize, run (local), dot, and every bad input."""
import json
import re
import shutil
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from distjit.cli import main
from tests.cli.conftest import run_cli

COMMANDS = ["inspect", "optimize", "run", "dot", "submit", "status", "logs", "result", "list", "stop", "cluster"]


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for c in COMMANDS:
        assert c in out


@pytest.mark.parametrize("command", COMMANDS + ["cluster up", "cluster down"])
def test_help_everywhere(command, capsys):
    assert main(command.split() + ["--help"]) == 0
    assert "usage: distjit " + command in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["run"]) == 2                       # missing FILE
    assert "required" in capsys.readouterr().err


def test_inspect_json(files, capsys):
    assert main(["inspect", str(files["model"]), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [i["name"] for i in info["inputs"]] == ["x", "w"]


def test_run_local_writes_outputs(files, tmp_path, capsys):
    out = tmp_path / "out.npz"
    code = main(["run", str(files["model"]), "--input", f"x={files['x']}", "-i", f"w={files['w']}",
                 "--output", str(out), "--workers", "2", "--stats"])
    assert code == 0
    text = capsys.readouterr().out
    assert "tasks in" in text and "stage 0" in text and "object store" in text
    assert re.search(r"stage 0: [0-9.]+ ms \(predicted [0-9.]+ ms\)", text) and "measured/predicted" in text
    with np.load(out) as z:
        np.testing.assert_allclose(z["output[0]"], files["expected"][0], rtol=1e-12)
        np.testing.assert_allclose(z["output[1]"], files["expected"][1], rtol=1e-12)


def test_run_inputs_npz_quiet(files, tmp_path, capsys):
    out = tmp_path / "out.npz"
    assert main(["run", str(files["model"]), "--inputs", str(files["npz"]), "-o", str(out), "-q"]) == 0
    assert capsys.readouterr().out == ""
    assert sorted(np.load(out).files) == ["output[0]", "output[1]"]


def test_run_stats_api(files):
    import distjit

    f = distjit.load(files["model"])
    seen = []
    (a, b), stats = f.run(np.load(files["x"]), np.load(files["w"]), cluster="local", workers=2, stats=True,
                          progress=lambda d, t: seen.append((d, t)))
    np.testing.assert_allclose(a, files["expected"][0], rtol=1e-12)
    assert stats.tasks == len(f.plan(2).tasks) and seen[-1] == (stats.tasks, stats.tasks)
    assert len(stats.stages) == f.plan(2).stages and stats.as_dict()["executor"] == "local"
    assert stats.predicted_seconds > 0 and len(stats.predicted_stages) == len(stats.stages)
    assert len(stats.predicted_tasks) == stats.tasks and all(t > 0 for t in stats.predicted_tasks)


def test_optimize(files, tmp_path, capsys):
    out = tmp_path / "opt.djit"
    assert main(["optimize", str(files["model"]), str(out), "--level", "2"]) == 0
    assert main(["run", str(out), "--inputs", str(files["npz"]), "-o", str(tmp_path / "o.npz"), "-q"]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "o.npz")["output[0]"], files["expected"][0], rtol=1e-9)


# -- bad input: one line on stderr, exit status 1, never a traceback -----------------------------------------------
def _bad(capsys, argv, *fragments, code=1):
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.startswith("distjit: error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_missing_model_file(files, tmp_path, capsys):
    _bad(capsys, ["run", str(tmp_path / "nope.djit"), "--inputs", str(files["npz"])], "does not exist")
    _bad(capsys, ["inspect", str(tmp_path / "nope.djit")], "nope.djit")
    _bad(capsys, ["submit", str(tmp_path / "nope.djit"), "--inputs", str(files["npz"])], "does not exist")


def test_corrupt_model_file(files, tmp_path, capsys):
    bad = tmp_path / "bad.djit"
    bad.write_bytes(files["model"].read_bytes()[:200])
    _bad(capsys, ["run", str(bad), "--inputs", str(files["npz"])], "bad.djit")
    not_djit = tmp_path / "x.djit"
    shutil.copy(files["x"], not_djit)
    _bad(capsys, ["run", str(not_djit), "--inputs", str(files["npz"])], "not a .djit file")


def test_missing_input(files, capsys):
    _bad(capsys, ["run", str(files["model"]), "--input", f"x={files['x']}"], "missing input(s) w", "--input")


def test_wrong_input_name(files, capsys):
    _bad(capsys, ["run", str(files["model"]), "--inputs", str(files["npz"]), "-i", "z=3"],
         "no input named 'z'", "its inputs are x, w")


def test_input_file_missing_or_corrupt(files, tmp_path, capsys):
    _bad(capsys, ["run", str(files["model"]), "-i", f"x={tmp_path / 'no.npy'}", "-i", f"w={files['w']}"],
         "does not exist")
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not numpy")
    _bad(capsys, ["run", str(files["model"]), "-i", f"x={junk}", "-i", f"w={files['w']}"], "not a readable .npy")
    _bad(capsys, ["run", str(files["model"]), "--inputs", str(junk)], "not a readable .npz")
    _bad(capsys, ["run", str(files["model"]), "-i", "x"], "NAME=PATH")


def test_wrong_shape(files, capsys):
    _bad(capsys, ["run", str(files["model"]), "-i", f"x={files['w']}", "-i", f"w={files['w']}"],
         "argument x has shape (16, 4)", "f64[4000,16]")


def test_wrong_dtype(files, capsys):
    _bad(capsys, ["run", str(files["model"]), "-i", f"x={files['x32']}", "-i", f"w={files['w']}"],
         "dtype float32", "astype")


def test_unreachable_cluster_fails_fast(files, capsys):
    port = _closed_port()
    t = time.monotonic()
    _bad(capsys, ["run", str(files["model"]), "--inputs", str(files["npz"]), "--cluster", f"127.0.0.1:{port}"],
         "cannot reach", code=3)
    for argv in (["status", "raysubmit_x"], ["list"], ["logs", "j"], ["result", "j", "-o", "o.npz"],
                 ["stop", "j"], ["submit", str(files["model"]), "--inputs", str(files["npz"])]):
        _bad(capsys, argv + ["--address", f"http://127.0.0.1:{port}"], "cannot reach a Ray dashboard", code=3)
    assert time.monotonic() - t < 30


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- dot --------------------------------------------------------------------------------------------------------
def test_dot_text(files, tmp_path):
    assert main(["dot", str(files["model"]), "-o", str(tmp_path / "g.dot")]) == 0
    text = (tmp_path / "g.dot").read_text()
    assert text.startswith('digraph "model"') and "np.matmul" in text
    assert main(["dot", str(files["model"]), "--plan", "--workers", "2", "-o", str(tmp_path / "p.dot")]) == 0
    assert "cluster_stage0" in (tmp_path / "p.dot").read_text()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("plan", [False, True])
def test_dot_svg_is_valid(files, tmp_path, plan):
    out = tmp_path / "g.svg"
    assert main(["dot", str(files["model"]), "-o", str(out)] + (["--plan"] if plan else [])) == 0
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    assert ("t0 model" in texts) if plan else ("np.matmul" in texts)


def test_dot_svg_without_graphviz(files, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    _bad(capsys, ["dot", str(files["model"]), "-o", str(tmp_path / "g.svg")], "needs Graphviz", "file.dot")


def test_subprocess_entry_point(files, tmp_path):
    """`python -m distjit` is the command; bad input exits 1 there too."""
    code, out, err = run_cli("run", files["model"], "--inputs", files["npz"], "-o", tmp_path / "o.npz")
    assert code == 0 and "wrote output[0], output[1]" in out
    code, _, err = run_cli("run", files["model"], "-i", f"x={files['x']}")
    assert code == 1 and "missing input(s) w" in err and "Traceback" not in err


def test_reader_closing_the_pipe_is_quiet(files):
    """`distjit inspect F | head -n 1`: the command stops like a Unix tool killed by SIGPIPE, no traceback."""
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-m", "distjit", "inspect", str(files["model"])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                     # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert err == ""


def test_jobs_address_variables(monkeypatch, tmp_path):
    """--address, else DISTJIT_JOBS_ADDRESS, else RAY_API_SERVER_ADDRESS, else an http:// RAY_ADDRESS; a GCS
    RAY_ADDRESS names the cluster, not its Jobs API."""
    from scheduler.jobs.client import DEFAULT_ADDRESS, resolve_address

    for k in ("DISTJIT_JOBS_ADDRESS", "RAY_API_SERVER_ADDRESS", "RAY_ADDRESS"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("DISTJIT_HOME", str(tmp_path))          # no `distjit cluster up` cluster
    assert resolve_address(None) == DEFAULT_ADDRESS
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    assert resolve_address(None) == DEFAULT_ADDRESS
    monkeypatch.setenv("RAY_ADDRESS", "http://127.0.0.1:1001")
    assert resolve_address(None) == "http://127.0.0.1:1001"
    monkeypatch.setenv("RAY_API_SERVER_ADDRESS", "http://127.0.0.1:1002")
    assert resolve_address(None) == "http://127.0.0.1:1002"
    monkeypatch.setenv("DISTJIT_JOBS_ADDRESS", "127.0.0.1:1003")
    assert resolve_address(None) == "http://127.0.0.1:1003"
    assert resolve_address("http://127.0.0.1:1004/") == "http://127.0.0.1:1004"


def test_failing_run_exits_4(files):
    """A node that fails at run time is a failed run (exit 4), not bad input (1)."""
    code, _, err = run_cli("run", files["broken"], "-i", f"a={files['singular']}")
    assert code == 4, err
    assert "np.linalg.inv failed" in err and "conftest.py:" in err and "Traceback" not in err


def test_quiet_run_on_ray_prints_nothing(files, tmp_path):
    """-q: no progress, no messages, and none of Ray's INFO lines (a local Ray started for the run)."""
    out = tmp_path / "o.npz"
    code, stdout, err = run_cli("run", files["model"], "--inputs", files["npz"], "-o", out, "-q",
                                "--cluster", "auto", "--workers", "2", env={"RAY_ADDRESS": ""})
    assert code == 0, err
    assert stdout == "" and " INFO " not in err and "WARNING" not in err, err
    np.testing.assert_allclose(np.load(out)["output[1]"], files["expected"][1], rtol=1e-12)
