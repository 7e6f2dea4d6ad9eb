"""Large saves (NOTE: [Large writes]): O_DIRECT and ordinary writes give the same bytes; a failure leaves no trace."""
import errno
import mmap
import os

import numpy as np
import pytest

import distjit
from bench.serialize import params_function
from distjit.serialize import layout


def large_function():
    """Several tensors of odd sizes (none a multiple of 4096 bytes), one empty, > LARGE_BYTES in all."""
    rng = np.random.default_rng(0)
    params = {
        "a": rng.standard_normal(1_000_003, dtype=np.float32),
        "empty": np.zeros((0, 3), np.float64),
        "b": rng.integers(0, 256, 5_000_001, dtype=np.uint8),
        "c": rng.integers(-9999, 9999, (777, 1001), dtype=np.int16),
        "d": np.arange(3, dtype=np.float64),
    }
    assert sum(a.nbytes for a in params.values()) > layout.LARGE_BYTES
    return params_function(params, "large")


def o_direct_works(folder) -> bool:
    """Whether an aligned O_DIRECT write succeeds in `folder` (not on tmpfs, nor off Linux)."""
    if not getattr(os, "O_DIRECT", 0):
        return False
    path = os.path.join(folder, "probe")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_DIRECT)
    except OSError:
        return False
    try:
        os.pwrite(fd, mmap.mmap(-1, 4096), 0)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
        os.unlink(path)


@pytest.fixture
def direct_calls(monkeypatch):
    """What each `write_direct` call returned (True: the tensors went through O_DIRECT)."""
    calls = []
    original = layout.write_direct

    def spy(*args):
        calls.append(original(*args))
        return calls[-1]
    monkeypatch.setattr(layout, "write_direct", spy)
    return calls


def test_direct_and_buffered_writes_give_the_same_bytes(tmp_path, direct_calls):
    f = large_function()
    distjit.save(f, tmp_path / "direct.djit")                       # durable: O_DIRECT where it works
    assert direct_calls == [o_direct_works(tmp_path)]
    distjit.save(f, tmp_path / "plain.djit", durable=False)         # ordinary writes
    assert len(direct_calls) == 1
    data = (tmp_path / "direct.djit").read_bytes()
    assert data == (tmp_path / "plain.djit").read_bytes() == distjit.serialize.to_bytes(f)
    g = distjit.load(tmp_path / "direct.djit", verify=True)
    for name, arr in f.params.items():
        assert g.params[name].dtype == arr.dtype and np.array_equal(g.params[name], arr)
    # replacing the file a loaded Function maps keeps the mapping readable (it maps the old file)
    distjit.save(f, tmp_path / "direct.djit")
    assert (tmp_path / "direct.djit").read_bytes() == data
    assert all(np.array_equal(g.params[name], arr) for name, arr in f.params.items())
    assert sorted(os.listdir(tmp_path)) == ["direct.djit", "plain.djit"]


def test_refused_o_direct_falls_back_to_ordinary_writes(tmp_path, monkeypatch, direct_calls):
    f = large_function()

    def refuse(fd, data, offset):
        raise OSError(errno.EINVAL, "Invalid argument")
    monkeypatch.setattr(os, "pwrite", refuse)       # the O_DIRECT writes only: ordinary ones go through `f.write`
    distjit.save(f, tmp_path / "m.djit")
    assert direct_calls == [False]
    assert (tmp_path / "m.djit").read_bytes() == distjit.serialize.to_bytes(f)


@pytest.mark.parametrize("durable", [True, False])
def test_a_failed_large_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, durable):
    path = tmp_path / "m.djit"
    path.write_bytes(b"old")
    original = layout._pieces

    def failing(buffers, offsets):
        for i, piece in enumerate(original(buffers, offsets)):
            if i == 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            yield piece
    monkeypatch.setattr(layout, "_pieces", failing)
    with pytest.raises(OSError, match="No space left"):
        distjit.save(large_function(), path, durable=durable)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["m.djit"]
    assert not _descriptors_under(tmp_path)     # the O_DIRECT descriptor is closed too


def _descriptors_under(folder):
    """This process's open descriptors on files in `folder` (counting all of them would count other threads')."""
    found = []
    if not os.path.isdir("/proc/self/fd"):
        return found                            # no /proc to read (macOS): only Linux checks this
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue                            # closed between the listing and the read
        if target.startswith(str(folder)):
            found.append(target)
    return found


@pytest.mark.parametrize("durable", [True, False])
def test_only_durable_saves_fsync(tmp_path, monkeypatch, durable):
    synced = []
    original = os.fsync

    def fsync(fd):
        synced.append(fd)
        original(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    distjit.save(large_function(), tmp_path / "m.djit", durable=durable)
    assert len(synced) == (2 if durable else 0)     # the file, then its folder
