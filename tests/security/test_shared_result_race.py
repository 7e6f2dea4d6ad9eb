"""A worker writes only into the shared result it was given (issue 16, finding 5).

`Place.open` once checked /proc/<pid>/fd/<n> with readlink and then opened it: if the driver
closed its descriptor in between (a failed run) and the number went to another file, the
worker mapped and wrote into that file. Now the descriptor it opened is what is checked.
The race is made deterministic here: the descriptor number is handed to another file at the
moment of the check.
"""
import os

import numpy as np
import pytest

from scheduler import shared_result
from scheduler.shared_result import SharedResult

pytestmark = pytest.mark.skipif(not SharedResult.available(), reason="needs memfd_create (Linux)")


def test_a_descriptor_reused_between_check_and_open_is_never_written(monkeypatch, tmp_path):
    shared = SharedResult()
    result = shared.empty((4096,), np.float64)
    result[...] = 0.0
    place = shared.where(result, (slice(0, 4096),))
    victim = tmp_path / "victim.bin"
    victim.write_bytes(b"\0" * (64 << 10))
    real_readlink = os.readlink
    swapped = []

    def readlink_then_reuse(path, *args, **kwargs):
        link = real_readlink(path, *args, **kwargs)
        if not swapped:             # the driver's run fails now: its descriptor number goes to another file
            swapped.append(True)
            other = os.open(victim, os.O_RDWR)
            os.dup2(other, place.fd)
            os.close(other)
        return link

    monkeypatch.setattr(shared_result.os, "readlink", readlink_then_reuse)
    opened = place.open()
    monkeypatch.undo()
    assert swapped
    if opened is not None:          # the driver's own file, opened before the number moved: writing is safe
        part, mapping = opened
        del opened
        part[...] = 1.0
        del part
        mapping.close()
        assert (result == 1.0).all()
    assert victim.read_bytes() == b"\0" * (64 << 10)       # the other file is untouched
    os.close(place.fd)


def test_a_file_too_small_for_the_place_is_refused():
    shared = SharedResult()
    result = shared.empty((16,), np.float64)
    place = shared.where(result, (slice(0, 16),))
    place.offset = 1 << 20                                # past the end: mapping it would fault on write
    assert place.open() is None
    shared.close()
