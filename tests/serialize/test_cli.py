"""`distjit inspect`: text and JSON views of a .djit file; bad files give one line and exit status 1."""
import json
import pathlib
import subprocess
import sys

from distjit.cli import main

GOLDEN = pathlib.Path(__file__).resolve().parent / "golden"
MLP = GOLDEN / "mlp_v1_0.djit"


def test_inspect_text(capsys):
    assert main(["inspect", str(MLP)]) == 0
    out = capsys.readouterr().out
    assert "distjit format 1.0" in out
    assert "golden: mlp" in out
    assert "x: f32[B,8]" in out and "output: f32[B,4]" in out
    assert "fc1.weight  float32  (8, 16)    512" in out
    assert "np.matmul" in out


def test_inspect_json(capsys):
    assert main(["inspect", "--json", str(MLP)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format_version"] == "1.0"
    assert info["inputs"] == [{"name": "x", "type": "f32[B,8]"}]
    assert {"name": "fc2.bias", "dtype": "float32", "shape": [4], "bytes": 16} in info["parameters"]
    assert info["graph"].startswith("graph mlp(")
    assert info["checksums"] == "verified"


def test_inspect_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.djit"
    bad.write_bytes(MLP.read_bytes()[:100])
    assert main(["inspect", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("distjit: error:") and "Traceback" not in err and len(err.splitlines()) == 1
    assert main(["inspect", str(tmp_path / "missing.djit")]) == 1
    assert "No such file" in capsys.readouterr().err


def test_python_dash_m_distjit():
    result = subprocess.run([sys.executable, "-m", "distjit", "inspect", str(MLP)], capture_output=True, text=True,
                            cwd=str(GOLDEN.parents[2]))
    assert result.returncode == 0, result.stderr
    assert "parameters: 4" in result.stdout
    result = subprocess.run([sys.executable, "-m", "distjit", "--help"], capture_output=True, text=True,
                            cwd=str(GOLDEN.parents[2]))
    assert result.returncode == 0 and "inspect" in result.stdout


SCRIPT = GOLDEN / "script_v1_2.djit"


def test_inspect_a_file_with_several_signatures(capsys):
    assert main(["inspect", str(SCRIPT)]) == 0
    out = capsys.readouterr().out
    assert "scripted function relax: 2 signatures" in out
    assert "signature 0: " in out and "    x: f64[?x_0]" in out
    assert "signature 1: " in out and "    x: f32[?x_0,?x_1]" in out
    assert main(["inspect", "--json", str(SCRIPT)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [s["inputs"][0]["type"] for s in info["signatures"]] == ["f64[?x_0]", "f32[?x_0,?x_1]"]
    assert info["inputs"] == info["signatures"][0]["inputs"]


def test_run_picks_the_signature_the_inputs_fit(tmp_path, capsys):
    import numpy as np

    from tests.serialize.make_golden import scripted_relax

    for i, x in enumerate([np.linspace(-1.0, 1.0, 6), np.arange(8, dtype=np.float32).reshape(2, 4)]):
        np.save(tmp_path / f"x{i}.npy", x)
        out = tmp_path / f"out{i}.npz"
        assert main(["run", str(SCRIPT), "-i", f"x={tmp_path / f'x{i}.npy'}", "-i", "tol=0.001", "-i", "steps=4",
                     "-o", str(out), "-q"]) == 0
        with np.load(out) as z:
            np.testing.assert_array_equal(z["output"], scripted_relax(x.copy(), 0.001, 4))
    np.save(tmp_path / "xi.npy", np.arange(3))
    assert main(["run", str(SCRIPT), "-i", f"x={tmp_path / 'xi.npy'}", "-i", "tol=0.001", "-i", "steps=4"]) == 1
    assert "fit none of the 2 signatures of relax" in capsys.readouterr().err
