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
Tensor checksums are in their descriptors (see `load`'s `verify`).

Writing lays the file out first (the message has a fixed size: the tensors'
crc32s are fixed32 fields, filled in last), writes the tensor bytes while a
second thread computes their checksums (both release the GIL), then writes the
header and the message at the front. Large tensors are written as NOTE: [Large
writes] says (durable saves with O_DIRECT); the bytes are the same either way.
"""
from __future__ import annotations

import errno
import functools
import mmap
import os
import stat
import struct
import sys
import threading
from dataclasses import dataclass

from distjit.errors import FormatError

MAGIC = b"DJIT"
FORMAT_MAJOR = 1
FORMAT_MINOR = 4
# Minor versions (a reader accepts every older minor of its major):
#   1.0  graphs, parameters, signature, metadata
#   1.1  Model.plans: the partition plans a Function carries (Plan.outputs as PlanOutput, field 11; Plan.shard)
#   1.2  Model.functions: the other signatures of a scripted function (a FunctionSet); older readers load the first
#   1.3  Graph.guards: the scalar values a traced graph was specialized on (a file without them has none)
#        TreeSpec.NAMED_TUPLE came within 1.3: a reader without it refuses such a file ("unknown tree kind 6")
#   1.4  Signature.zero_d_arrays: the outputs that are 0-d arrays, not NumPy scalars (a 1.3 reader returns scalars)
HEADER_SIZE = 64
ALIGN = 64
HEADER = struct.Struct("<4sHHIIQQQQI")
_CHUNK = 64 << 20   # bytes per write and per crc32 step

try:   # the same CRC-32 as zlib's, with SIMD: 0.09 s per GiB here instead of 0.50
    from isal.isal_zlib import crc32
except ImportError:   # pragma: no cover - isal is a dependency; a platform without its wheels still works
    from zlib import crc32


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


def write_tensors(f, data_offset: int, buffers: list[memoryview], offsets: list[int],
                  direct: bool = False) -> list[int]:
    """Write the tensors at their offsets while another thread computes their crc32s; returns the crc32s.

    Large tensors are written as NOTE: [Large writes] says; `direct=True` asks for O_DIRECT,
    used when `f` is a real file (`f.name` its path) that allows it. The bytes are the same either way.
    """
    crcs = [0] * len(buffers)
    errors: list[BaseException] = []

    def checksum():
        try:
            for i, buf in enumerate(buffers):
                crc = 0
                for start in range(0, len(buf), _CHUNK):
                    crc = crc32(buf[start:start + _CHUNK], crc)
                crcs[i] = crc
        except BaseException as e:  # re-raised in the writing thread
            errors.append(e)

    big = sum(len(b) for b in buffers) > (1 << 20)
    worker = threading.Thread(target=checksum, name="distjit-crc32") if big else None
    if worker is not None:
        worker.start()
    try:
        data_length = offsets[-1] + len(buffers[-1]) if buffers else 0
        large = data_length >= LARGE_BYTES
        if large:
            _reserve(f, data_offset + data_length)
        if not (large and direct and write_direct(f, data_offset, data_length, _pieces(buffers, offsets))):
            f.seek(data_offset)
            for piece in _pieces(buffers, offsets):
                f.write(piece)
    finally:
        if worker is not None:
            worker.join()
    if worker is None:
        checksum()
    if errors:
        raise errors[0]
    return crcs


def _pieces(buffers: list[memoryview], offsets: list[int]):
    """The data section's bytes in order: the zero padding before each tensor, then its bytes in `_CHUNK` pieces."""
    position = 0
    for buf, offset in zip(buffers, offsets):
        if offset > position:
            yield memoryview(bytes(offset - position))
        for start in range(0, len(buf), _CHUNK):
            yield buf[start:start + _CHUNK]
        position = offset + len(buf)


# NOTE: [Large writes]
# Saving a GiB is bound by the disk (~1 GB/s here) when durable, by the page
# cache when not. Three things keep it there (each measured on a small VM, ext4
# on a virtio disk, where fresh page-cache pages are expensive):
#
# * The file's blocks are allocated before the writes (Linux fallocate(2), where
#   the file system has it). Without that ext4 delays allocation, and renaming
#   the temporary file over an existing one starts writing back all of its
#   dirty pages (auto_da_alloc): +0.7 s per GiB even when not durable.
# * `atomic_write` first drops the cached pages of the file it replaces, so the
#   new file reuses them, as np.save's truncation does: allocating a GiB of
#   fresh pages instead cost 2-4 s per GiB here.
# * A durable save writes the tensors with O_DIRECT (`write_direct`): from one
#   reused, page-aligned bounce buffer straight to the disk, 0.7-1.2 s per GiB,
#   instead of dirtying a GiB of page cache and waiting for fsync to write it
#   back (1.2-4.3 s). O_DIRECT wants block-aligned offsets, lengths and memory,
#   so the bytes from the first 4096-aligned offset at or after the data
#   section's start go through a second, O_DIRECT descriptor (the last block
#   padded with zeros, then the file truncated to its true size), and the few
#   bytes before it (header, message, padding, the start of the first tensor)
#   through the ordinary one; fsync covers both. Where O_DIRECT is missing or
#   refused (EINVAL: tmpfs before Linux 6.6, some FUSE), the ordinary writes are used.
#
# Small tensors (< `LARGE_BYTES`) are written plainly: nothing here is worth it.

LARGE_BYTES = 8 << 20
_BLOCK = 4096              # O_DIRECT alignment: a multiple of every common logical block size
_BOUNCE = 16 << 20         # bytes per O_DIRECT write


@functools.cache
def _fallocate():
    """fallocate(2), not os.posix_fallocate: where the file system cannot allocate, glibc's
    posix_fallocate writes a byte to every block instead (slow on FUSE or NFSv3)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fallocate = getattr(libc, "fallocate64", None) or libc.fallocate   # 64-bit offsets on 32-bit glibc too
    except (OSError, AttributeError):
        return None
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    return fallocate


def _reserve(f, size: int) -> None:
    """Allocate the blocks of file `f` up to `size` bytes before writing them, where the file system can."""
    try:
        fd = f.fileno()
    except (OSError, ValueError):   # not a real file (io.BytesIO)
        return
    if _fallocate() is not None:
        _fallocate()(fd, 0, 0, size)   # a failure (EOPNOTSUPP, ENOSPC) is fine: the writes allocate, or report it


class _DirectRefused(Exception):
    """The file system refused the first O_DIRECT write: use the ordinary writes."""


def write_direct(f, data_offset: int, data_length: int, pieces) -> bool:
    """Write the data section of file `f` (the bytes of `pieces`, from `data_offset`) with O_DIRECT.

    Returns False, having written nothing that matters, when O_DIRECT cannot be used.
    """
    o_direct = getattr(os, "O_DIRECT", 0)
    path = getattr(f, "name", None)
    start = (data_offset + _BLOCK - 1) // _BLOCK * _BLOCK
    end = data_offset + data_length
    if not o_direct or not isinstance(path, str) or start >= end:
        return False
    try:
        fd = os.open(path, os.O_WRONLY | o_direct)
    except OSError:
        return False
    bounce = mmap.mmap(-1, _BOUNCE)     # anonymous mappings are page-aligned
    view = memoryview(bounce)
    head = bytearray()                  # the data section's bytes before `start`: written through `f`
    position, fill = start, 0

    def flush(n: int) -> None:
        nonlocal position
        done = 0
        while done < n:
            try:
                done += os.pwrite(fd, view[done:n], position + done)
            except OSError as e:
                if e.errno == errno.EINVAL and position == start and done == 0:
                    raise _DirectRefused from e
                raise
        position += n

    try:
        for piece in pieces:
            if len(head) < start - data_offset:
                take = start - data_offset - len(head)
                head += piece[:take]
                piece = piece[take:]
            while piece:
                n = min(len(piece), _BOUNCE - fill)
                view[fill:fill + n] = piece[:n]
                fill, piece = fill + n, piece[n:]
                if fill == _BOUNCE:
                    flush(fill)
                    fill = 0
        if fill:
            padded = (fill + _BLOCK - 1) // _BLOCK * _BLOCK
            view[fill:padded] = bytes(padded - fill)
            flush(padded)
        os.ftruncate(fd, end)
    except _DirectRefused:
        return False
    finally:
        os.close(fd)
        view.release()
        bounce.close()
    f.seek(data_offset)
    f.write(head)
    return True


def atomic_write(path: str | os.PathLike, write, durable: bool = True) -> None:
    """Call `write(file)` on a new file next to `path`, then rename it over `path`.

    A failed or killed process never leaves a partial file at `path`: the rename is atomic
    and the temporary file is removed on an exception. `durable=True` also fsyncs the file
    before the rename and the folder after it, so the file survives a power loss once this
    returns; `durable=False` skips both (like np.save), trading that for speed.
    The file gets the usual permissions (0o666 minus the umask); `file.name` is its path.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    _drop_cache(path)
    for attempt in range(100):
        tmp = os.path.join(folder, f".{base}.{os.getpid()}.{threading.get_ident()}.{attempt}.tmp")
        try:
            f = open(tmp, "xb")    # O_CREAT | O_EXCL
            break
        except FileExistsError:
            continue
    else:
        raise OSError(f"cannot create a temporary file next to {path}")
    try:
        with f:
            write(f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if not durable:
        return
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


def _drop_cache(path: str) -> None:
    """Drop the cached pages of the large file at `path`, about to be replaced (NOTE: [Large writes]).

    Its content is untouched; dirty pages are not dropped (the kernel starts writing them back).
    """
    try:
        st = os.stat(path)
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode) or st.st_size < LARGE_BYTES or not hasattr(os, "posix_fadvise"):
        return
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass
    finally:
        os.close(fd)
