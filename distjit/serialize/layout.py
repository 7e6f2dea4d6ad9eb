"""The byte layout of a .djit file: header, message, aligned tensor data; atomic writes.

NOTE: [File layout]
::

    offset 0    header (64 bytes, little-endian, struct `HEADER`):
                  magic b"DJIT" | format major u16 | minor u16 | header length u32 | flags u32 (0)
                  | message offset u64 | message length u64 | data offset u64 | data length u64
                  | message crc32 u32 | zero padding to 64
    offset 64   the `Model` protobuf message (distjit.proto), serialized deterministically
    data offset (a multiple of 64) the data section: each tensor's raw little-endian C-order
                bytes at `data offset + descriptor.offset`, every offset a multiple of 64,
                zero padding between tensors; the file ends where the last tensor ends.

The header says where everything is, so a reader checks every offset against the
file's size before it reads a byte, and the message's crc32 before it parses it.
Tensor checksums are in their descriptors (see `load`'s `verify_checksums`).

Writing lays the file out first (the message has a fixed size: the tensors'
crc32s are fixed32 fields, filled in last), writes the tensor bytes while a
second thread computes their checksums (both release the GIL), then writes the
header and the message at the front.
"""
from __future__ import annotations

import os
import struct
import threading
import zlib
from dataclasses import dataclass

from distjit.errors import FormatError

MAGIC = b"DJIT"
FORMAT_MAJOR = 1
FORMAT_MINOR = 1
# Minor versions (a reader accepts every older minor of its major):
#   1.0  graphs, parameters, signature, metadata
#   1.1  Model.plans: the partition plans a Function carries (Plan.outputs as PlanOutput, field 11; Plan.shard)
HEADER_SIZE = 64
ALIGN = 64
HEADER = struct.Struct("<4sHHIIQQQQI")
_CHUNK = 64 << 20   # bytes per write and per crc32 step


def align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass(frozen=True)
class Header:
    major: int
    minor: int
    header_length: int
    msg_offset: int
    msg_length: int
    data_offset: int
    data_length: int
    msg_crc32: int

    def pack(self) -> bytes:
        packed = HEADER.pack(MAGIC, self.major, self.minor, self.header_length, 0, self.msg_offset,
                             self.msg_length, self.data_offset, self.data_length, self.msg_crc32)
        return packed.ljust(HEADER_SIZE, b"\0")


def parse_header(head: bytes, file_size: int, where: str) -> Header:
    """Check the header against the file's size; every failure is a FormatError saying what and where."""
    if file_size < HEADER_SIZE or len(head) < HEADER_SIZE:
        raise FormatError(f"{where}: not a .djit file: {file_size} bytes is shorter than the {HEADER_SIZE}-byte header "
                          f"(truncated?)")
    magic, major, minor, hlen, flags, moff, mlen, doff, dlen, mcrc = HEADER.unpack_from(head)
    if magic != MAGIC:
        raise FormatError(f"{where}: not a .djit file (starts with {magic!r}, expected {MAGIC!r})")
    if major > FORMAT_MAJOR:
        raise FormatError(f"{where}: written in format version {major}.{minor}, which is newer than this "
                          f"distjit reads ({FORMAT_MAJOR}.{FORMAT_MINOR}); upgrade distjit to load it")
    if major < 1:
        raise FormatError(f"{where}: invalid format version {major}.{minor}")
    if flags != 0:
        raise FormatError(f"{where}: header flags {flags:#x} are not understood by format {FORMAT_MAJOR}.{FORMAT_MINOR}")
    if hlen < HEADER_SIZE or hlen > file_size:
        raise FormatError(f"{where}: header length {hlen} is invalid (file is {file_size} bytes)")
    if any(head[HEADER.size:HEADER_SIZE]):
        raise FormatError(f"{where}: header padding is not zero (corrupt header)")
    if moff < hlen or moff + mlen > file_size:
        raise FormatError(f"{where}: message at [{moff}, {moff + mlen}) lies outside the file "
                          f"(header {hlen} bytes, file {file_size} bytes; truncated?)")
    if doff % ALIGN or doff < moff + mlen:
        raise FormatError(f"{where}: data offset {doff} is not a multiple of {ALIGN} after the message "
                          f"(message ends at {moff + mlen})")
    if doff + dlen != file_size:
        raise FormatError(f"{where}: the data section [{doff}, {doff + dlen}) does not end where the file ends "
                          f"({file_size} bytes; truncated or trailing bytes)")
    return Header(major, minor, hlen, moff, mlen, doff, dlen, mcrc)


def layout(lengths: list[int]) -> tuple[list[int], int]:
    """Offsets (from the data section's start) of tensors of these byte lengths, and the section's length."""
    offsets, end = [], 0
    for n in lengths:
        start = align(end)
        offsets.append(start)
        end = start + n
    return offsets, end


def write_tensors(f, data_offset: int, buffers: list[memoryview], offsets: list[int]) -> list[int]:
    """Write the tensors at their offsets while another thread computes their crc32s; returns the crc32s."""
    crcs = [0] * len(buffers)
    errors: list[BaseException] = []

    def checksum():
        try:
            for i, buf in enumerate(buffers):
                crc = 0
                for start in range(0, len(buf), _CHUNK):
                    crc = zlib.crc32(buf[start:start + _CHUNK], crc)
                crcs[i] = crc
        except BaseException as e:  # re-raised in the writing thread
            errors.append(e)

    big = sum(len(b) for b in buffers) > (1 << 20)
    worker = threading.Thread(target=checksum, name="distjit-crc32") if big else None
    if worker is not None:
        worker.start()
    try:
        position = data_offset
        f.seek(position)
        for buf, offset in zip(buffers, offsets):
            pad = data_offset + offset - position
            if pad:
                f.write(b"\0" * pad)
            for start in range(0, len(buf), _CHUNK):
                f.write(buf[start:start + _CHUNK])
            position = data_offset + offset + len(buf)
    finally:
        if worker is not None:
            worker.join()
    if worker is None:
        checksum()
    if errors:
        raise errors[0]
    return crcs


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call `write(file)` on a new file next to `path`, fsync it and rename it over `path`.

    A crash or an exception never leaves a partial file at `path`; the temporary file is removed on failure.
    The file gets the usual permissions (0o666 minus the umask).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    for attempt in range(100):
        tmp = os.path.join(folder, f".{base}.{os.getpid()}.{threading.get_ident()}.{attempt}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise OSError(f"cannot create a temporary file next to {path}")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:   # make the rename itself durable; not every platform can open a folder
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
