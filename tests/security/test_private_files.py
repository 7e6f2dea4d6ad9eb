"""The one check of a per-user cache file (distjit/private_files.py), which the calibration cache and the
native code cache both read through: symlinks, files others can write, and oversized files are not read."""
import os

from distjit.private_files import read_private


def test_a_private_file_is_read(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    p.chmod(0o600)
    assert read_private(str(p), 3) == b"abc"
    assert read_private(str(p), 2) is None              # larger than the caller expects


def test_symlinks_folders_and_files_others_can_write_are_not_read(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    p.chmod(0o600)
    link = tmp_path / "link"
    os.symlink(p, link)
    assert read_private(str(link), 10) is None
    assert read_private(str(tmp_path), 10) is None
    assert read_private(str(tmp_path / "missing"), 10) is None
    for mode in (0o620, 0o602, 0o666):
        p.chmod(mode)
        assert read_private(str(p), 10) is None, oct(mode)
