"""Files are checked by default (issue 15, deliverable 6), and `distjit inspect` shows a file's
strings without letting them drive the terminal (issue 16, finding 7).

A file of 300 MB with one data byte flipped once loaded and ran with different numbers: the
tensors' checksums were checked only for small files or on request.
"""
import json

import numpy as np
import pytest

import distjit
from distjit import FormatError
from distjit.cli import main
from tests.serialize.test_fuzz import assemble, split

BIG = (72 << 20) // 8          # a 72 MiB constant: past the 64 MiB the old default still checked


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    w = np.random.default_rng(0).standard_normal(BIG)
    f = distjit.trace(lambda x: x * w, (np.ones(BIG),))
    path = tmp_path_factory.mktemp("big") / "big.djit"
    distjit.save(f, path, durable=False)
    return path, w


def corrupt(path, tmp_path):
    data = bytearray(path.read_bytes())
    header, model = distjit.serialize.read_model(bytes(data), "x")
    t = max(model.tensors, key=lambda d: d.length)
    data[header.data_offset + t.offset + t.length // 2] ^= 0x01          # one byte, in the middle of the tensor
    bad = tmp_path / "bad.djit"
    bad.write_bytes(bytes(data))
    return bad, t.name or "a constant"


def test_one_flipped_byte_in_a_large_tensor_is_refused_by_a_default_load(big_file, tmp_path):
    path, w = big_file
    bad, name = corrupt(path, tmp_path)
    with pytest.raises(FormatError, match=rf"tensor \d+ \({name}\) fails its checksum"):
        distjit.load(bad)
    with pytest.raises(FormatError, match="fails its checksum"):
        distjit.load(bad, mmap=False)
    g = distjit.load(bad, verify=False)                  # the trusted-file fast path: mapped, not read through
    x = np.ones(BIG)
    assert (g(x) != x * w).sum() == 1                    # what the default load keeps a user from
    assert main(["inspect", str(bad)]) == 1
    assert main(["inspect", "--no-verify", str(bad)]) == 0


def test_an_intact_large_file_loads_and_runs(big_file):
    path, w = big_file
    x = np.full(BIG, 2.0)
    np.testing.assert_array_equal(distjit.load(path)(x), x * w)


def test_inspect_escapes_control_codes(tmp_path, capsys):
    f = distjit.trace(lambda x: x + 1.0, (np.ones(3),))
    _, model, data = split(distjit.serialize.to_bytes(f, metadata={"author": "\x1b]0;pwned\x07\x1b[2J", "n\x9bote": "ok"}))
    model.graphs[model.main_graph].block.nodes[-1].loc.file = "a\x7f\x9b31m.py"
    path = tmp_path / "escapes.djit"
    path.write_bytes(assemble(model, data))
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert not any(c in out for c in "\x1b\x07\x7f\x9b")
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in out
    assert main(["inspect", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert not any(c in out for c in "\x1b\x07\x7f\x9b")
    assert json.loads(out)["metadata"]["author"] == "\x1b]0;pwned\x07\x1b[2J"
