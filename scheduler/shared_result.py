"""Result arrays in shared memory that workers on this machine write into, and a pool that reuses their pages.

A result lives in an anonymous memfd. The file has no name in any file system: it
cannot leak when the driver dies, and it is not bound by the size of /dev/shm (64 MiB
in a default Docker container). A worker opens it as /proc/<driver pid>/fd/<fd>,
which needs the same user and PID namespace, and maps only the part it writes; where
that fails the worker returns its part through the object store instead.

Fresh pages are the expensive part of a big result on small VMs: 0.30-0.36 s per
512 MiB of new shared memory here, against 0.09 s for a file whose pages exist,
mapped with MAP_POPULATE (and 0.2-1.9 s for a fresh anonymous NumPy array). Plans
run in loops, so the file of a result the caller has dropped goes back to a pool
(when its last view goes and its run is over), and the next run's result of about
the same size takes it. The pool holds at most IDLE_FILES files and 1/IDLE_SHARE of
physical memory; `release_idle()` gives it all back.

The arrays are not Python mmap objects, which keep a duplicate descriptor each: a
caller holding thousands of results would run out of descriptors. Files of live
results keep their descriptor only while fewer than KEPT_OPEN do.
"""
from __future__ import annotations

import ctypes
import functools
import mmap
import os
import threading
import uuid

import numpy as np

IDLE_FILES = 8
IDLE_SHARE = 8
KEPT_OPEN = 64
_PAGE = mmap.PAGESIZE


class _File:
    """One memfd: its descriptor (None once closed), the token in its name, its size, whether its pages
    exist already, how many arrays map it, and whether the run it serves is still going."""

    __slots__ = ("fd", "token", "size", "warm", "mappings", "running")

    def __init__(self, size: int):
        self.token = uuid.uuid4().hex
        self.fd = os.memfd_create(f"distjit-{self.token}", os.MFD_CLOEXEC)
        self.size, self.warm, self.mappings, self.running = size, False, 0, True
        try:
            os.ftruncate(self.fd, size)
        except OSError:
            os.close(self.fd)
            raise


class _Pool:
    def __init__(self):
        self._lock = threading.Lock()
        self._idle: list[_File] = []         # oldest first
        self._open = 0                       # files with an open descriptor, idle or not
        self._limit = os.sysconf("SC_PHYS_PAGES") * _PAGE // IDLE_SHARE

    def take(self, nbytes: int) -> _File:
        """An idle file of `nbytes` to twice that (its pages exist), else a new one."""
        size = max(_PAGE, -(-nbytes // _PAGE) * _PAGE)
        with self._lock:
            for f in reversed(self._idle):
                if size <= f.size <= 2 * size:
                    self._idle.remove(f)
                    f.warm, f.running = True, True
                    return f
        f = _File(size)
        with self._lock:
            self._open += 1
        return f

    def mapped(self, f: _File) -> None:
        with self._lock:
            f.mappings += 1

    def unmapped(self, f: _File) -> None:
        with self._lock:
            f.mappings -= 1
            self._settle(f)

    def run_over(self, f: _File, reuse: bool) -> None:
        """The run `f` served is over; after a failed run its tasks may still be writing: never reuse it."""
        with self._lock:
            f.running = False
            if not reuse:
                self._close(f)
            self._settle(f)

    def release_idle(self) -> None:
        with self._lock:
            while self._idle:
                self._close(self._idle.pop())

    def _settle(self, f: _File) -> None:
        if f.running or f.fd is None:
            return
        if f.mappings == 0:
            self._idle.append(f)
            while self._idle and (len(self._idle) > IDLE_FILES or sum(g.size for g in self._idle) > self._limit):
                self._close(self._idle.pop(0))
        elif self._open > KEPT_OPEN:
            self._close(f)

    def _close(self, f: _File) -> None:
        if f.fd is not None:
            os.close(f.fd)
            f.fd = None
            self._open -= 1


_POOL = _Pool()


def release_idle() -> None:
    """Give back the shared memory of dropped results kept for reuse."""
    _POOL.release_idle()


class SharedResult:
    """The result arrays of one run, each in a file of its own from the pool."""

    def __init__(self):
        self._files: list[_File] = []

    @staticmethod
    def available() -> bool:
        return hasattr(os, "memfd_create")

    def empty(self, shape: tuple, dtype) -> np.ndarray:
        """An uninitialised array (a reused file holds an older result): the run must write all of it."""
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        f = _POOL.take(nbytes)
        self._files.append(f)
        return np.asarray(_Mapped(f, nbytes, tuple(shape), dtype))

    def where(self, array: np.ndarray, index: tuple) -> "Place":
        """What a worker needs to find the contiguous part `array[index]` in its file."""
        part = array[index]
        assert part.flags.c_contiguous, "only contiguous parts are written in place"
        mapped = array.base
        offset = part.__array_interface__["data"][0] - mapped.address
        f = mapped.file
        return Place(os.getpid(), f.fd, f.token, f.warm, offset, part.shape, part.dtype.str)

    def close(self, reuse: bool = True) -> None:
        """The run is over (`reuse=False`: it failed, and some of its tasks may still be writing)."""
        for f in self._files:
            _POOL.run_over(f, reuse)
        self._files = []


class _Mapped:
    """A shared mapping of a whole file, unmapped when the last array viewing it goes."""

    address = None

    def __init__(self, f: _File, nbytes: int, shape: tuple, dtype: np.dtype):
        self.file = f
        self.nbytes = max(nbytes, 1)
        flags = mmap.MAP_SHARED | (mmap.MAP_POPULATE if f.warm else 0)   # fresh pages: the workers fault them
        address = _libc().mmap(None, self.nbytes, mmap.PROT_READ | mmap.PROT_WRITE, flags, f.fd, 0)
        if address in (None, ctypes.c_void_p(-1).value):
            err = ctypes.get_errno()
            raise OSError(err, f"cannot map a shared result of {nbytes} bytes: {os.strerror(err)}")
        self.address = address
        _POOL.mapped(f)
        self.__array_interface__ = {"data": (address, False), "shape": shape, "typestr": dtype.str,
                                    "version": 3}

    def __del__(self):
        if self.address is not None:
            _libc().munmap(ctypes.c_void_p(self.address), self.nbytes)
            _POOL.unmapped(self.file)


@functools.cache
def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int64]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    return libc


class Place:
    """Where a task's output goes in a driver's shared result (small, pickled into the task's arguments)."""

    __slots__ = ("pid", "fd", "token", "warm", "offset", "shape", "dtype")

    def __init__(self, pid, fd, token, warm, offset, shape, dtype):
        self.pid, self.fd, self.token, self.warm = pid, fd, token, warm
        self.offset, self.shape, self.dtype = offset, shape, dtype

    def __getstate__(self):
        return tuple(getattr(self, s) for s in self.__slots__)

    def __setstate__(self, state):
        for s, v in zip(self.__slots__, state):
            setattr(self, s, v)

    def open(self):
        """(the part as a writable array, its mapping), or None when this process cannot reach the file."""
        dtype = np.dtype(self.dtype)
        count = int(np.prod(self.shape))
        if count == 0 or self.fd is None:
            return None
        fd = self._open_file(count * dtype.itemsize)
        if fd is None:
            return None
        start = self.offset // _PAGE * _PAGE              # map only the pages of this part
        try:
            flags = mmap.MAP_SHARED | (mmap.MAP_POPULATE if self.warm else 0)
            mapping = mmap.mmap(fd, self.offset + count * dtype.itemsize - start, flags=flags, offset=start)
        except (OSError, ValueError):
            return None
        finally:
            os.close(fd)
        part = np.frombuffer(mapping, dtype, count=count, offset=self.offset - start).reshape(self.shape)
        return part, mapping

    def _open_file(self, nbytes: int) -> int | None:
        """The driver's memfd, opened, or None. NOTE: [Open, then check]: the check is made on the descriptor
        this process opened (its /proc/self/fd link and its size), never on the path before opening it: between
        the two the driver may close its descriptor and reuse the number for another file."""
        try:
            fd = os.open(f"/proc/{int(self.pid)}/fd/{int(self.fd)}", os.O_RDWR | os.O_CLOEXEC)
        except (OSError, ValueError, TypeError):
            return None
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
            if not (link.startswith(f"/memfd:distjit-{self.token} ") or link == f"/memfd:distjit-{self.token}") \
                    or os.fstat(fd).st_size < self.offset + nbytes:
                os.close(fd)                                 # another file (another machine, or a reused number)
                return None
        except OSError:
            os.close(fd)
            return None
        return fd
