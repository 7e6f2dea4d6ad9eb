"""What `distjit run` writes and what the job client reads back (issue 16, finding 7).

- A file's dict keys name the outputs; they once became .npz member names such as
  `output['/../../x'].npy`, which an unzip writes outside its folder.
- The --output file went through a temporary file of a predictable name, opened without
  O_EXCL: a link planted there redirected the write.
- A malformed result frame in a fetch job's log gave a traceback.
"""
import base64
import hashlib
import os
import zipfile

import numpy as np
import pytest

import distjit
from distjit.cli import main
from distjit.errors import ClusterError, DistJitError
from scheduler.jobs import result


@pytest.fixture
def dict_model(tmp_path):
    def f(x):
        return {"/../../x": x + 1.0, "ok": x * 2.0, "a\x1b[2Jb": -x}
    path, xin = tmp_path / "m.djit", tmp_path / "x.npy"
    distjit.save(distjit.trace(f, (np.ones(3),)), path)
    np.save(xin, np.arange(3.0))
    return path, xin


def test_npz_member_names_are_never_paths(dict_model, tmp_path, capsys):
    path, xin = dict_model
    out = tmp_path / "out.npz"
    assert main(["run", str(path), "--input", f"x={xin}", "-o", str(out)]) == 0
    with zipfile.ZipFile(out) as z:
        members = z.namelist()
    assert len(members) == 3
    assert not any("/" in m or "\\\\" in m or ".." in m or "\x1b" in m for m in members), members
    with np.load(out) as z:
        assert sorted(np.asarray(z[k]).sum() for k in z.files) == [-3.0, 6.0, 6.0]
    assert "\x1b" not in capsys.readouterr().out


def test_the_output_is_never_written_through_a_planted_link(dict_model, tmp_path):
    path, xin = dict_model
    out = tmp_path / "out.npz"
    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.symlink(victim, f"{out}.tmp{os.getpid()}")          # the temporary name the CLI once used
    assert main(["run", str(path), "--input", f"x={xin}", "-o", str(out)]) == 0
    assert victim.read_text() == "precious"
    assert zipfile.is_zipfile(out) and not out.is_symlink()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def frame_with(header_fields=None, body=None, data=b"abc"):
    text = result.frame(data)
    head, rest = text.split("\n", 1)
    if header_fields is not None:
        head = " ".join([result.BEGIN, *header_fields])
    if body is not None:
        rest = body + "\n" + result.END + "\n"
    return "log line\n" + head + "\n" + rest


@pytest.mark.parametrize("log", [
    frame_with(header_fields=[]),
    frame_with(header_fields=["3"]),
    frame_with(header_fields=["x", hashlib.sha256(b"abc").hexdigest()]),
    frame_with(header_fields=["3", "nothex"]),
    frame_with(header_fields=["3", hashlib.sha256(b"abc").hexdigest(), "extra"]),
    frame_with(header_fields=[str(1 << 40), hashlib.sha256(b"abc").hexdigest()]),
    frame_with(body="!!!not base64!!!"),
    frame_with(body=base64.b64encode(b"abd").decode()),
    result.BEGIN + " 3 " + hashlib.sha256(b"abc").hexdigest() + "\nYWJj\n",
])
def test_a_malformed_result_frame_is_a_cluster_error(log):
    with pytest.raises(ClusterError):
        result.unframe(log)


def test_a_good_frame_reads_back():
    assert result.unframe("noise\n" + result.frame(b"\x00payload" * 1000)) == b"\x00payload" * 1000


@pytest.mark.parametrize("job", ["a b", "x;rm -rf ~", "$(id)", "../x", "", "-x", "a/b", "j\n"])
def test_job_ids_are_checked_before_they_reach_a_key_or_a_command_line(job):
    with pytest.raises(DistJitError, match="not a job id"):
        result.check_job_id(job)
    from scheduler.jobs import fetch

    assert fetch.main([job]) == 2
