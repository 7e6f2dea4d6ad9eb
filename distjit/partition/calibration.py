"""This machine's measured throughput per class of op: what turns the registry's (flops, bytes) into seconds.

The first Plan a process makes runs a short calibration (a few micro-benchmarks of
real kernels, one thread, about a second: distjit/runtime/calibrate.py) and caches it per machine in the
user's cache folder (`$XDG_CACHE_HOME/distjit`, else `~/.cache/distjit`), keyed by
what changes the numbers: the NumPy and BLAS versions, the CPU model and core
count. Every rate is in the registry's own units (the `OpDef.cost` of the very op
it times, divided by its time), so the cost model and the calibration cannot
disagree about what a "flop" or a "byte" is.

`DISTJIT_CALIBRATION` injects one instead: ``reference`` (fixed numbers of a
typical core: deterministic plans, what the tests use) or the path of a JSON file
with some of the fields below (the rest from the reference).

NOTE: [A hostile cache]
The cache folder is shared with whatever else runs as this user, so a file there is
verified before use: a regular file (not a symlink) that this user owns and nobody else
can write (distjit/private_files.py), in a 0700 folder this user owns, at most
`_MAX_FILE` bytes, JSON whose key equals this machine's and whose every value is a
finite number in a sane range. Anything else is ignored and measured again; a
new file is written to a temporary name and renamed, so a reader never sees half of one.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import stat
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from distjit.private_files import read_private

FORMAT = 2          # 2: the native loop fields (an older cache is measured again)
_MAX_FILE = 1 << 16
_SANE = (1e-12, 1e16)     # every field is a positive rate or duration within this range


@dataclass(frozen=True)
class Calibration:
    """Seconds per registry unit on one core of one machine (a rate's inverse where that reads better)."""

    call_s: float = 1.5e-6              # one NumPy call on a tiny array: dispatch, argument parsing
    elem_s: float = 0.5e-9              # per element of a one-flop ufunc whose operands are in cache
    flop_s: float = 0.25e-9             # per registry flop beyond the first of each element (exp, tanh, ...)
    memory_bytes_s: float = 8e9         # bytes an elementwise op streams from and to memory
    shared_bytes_s: float = 20e9        # ... summed over every core streaming at once (the machine's bandwidth)
    reduce_bytes_s: float = 6e9         # bytes a reduction reads and writes
    copy_bytes_s: float = 4e9           # bytes a contiguous copy writes (concatenate, slices, gathers)
    transpose_bytes_s: float = 1e9      # bytes a strided copy writes (a transpose made contiguous)
    matmul_f64_flops_s: float = 30e9    # BLAS on one core
    matmul_f32_flops_s: float = 60e9
    fused_bytes_s: float = 10e9         # the fused evaluator's streaming rate (blocks in cache)
    fused_block_elements: int = 1 << 16  # ... the size of its blocks (one kernel call per op per block)
    native_bytes_s: float = 10e9        # a region the native backend (numba) compiles to one loop
    native_flop_s: float = 0.1e-9       # ... per registry flop, everything in registers
    native_op_s: float = 1.5e-9         # one scalar op of a compiled loop nest, per iteration (loads, stores too)
    native_call_s: float = 3e-6         # one call of a compiled loop nest from the generated code
    native: int = 0                     # 1: the native backend is there (else its regions run as fused ones)
    cores: int = 8
    source: str = "reference"           # "reference", "measured", "cached", or the file it came from

    def as_values(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "source"}


REFERENCE = Calibration()


_INTEGERS = {"cores", "fused_block_elements", "native"}


def _numbers() -> list[str]:
    return [f.name for f in fields(Calibration) if f.name != "source"]


def from_values(values: dict, source: str) -> Calibration:
    """A Calibration from untrusted values: every field a finite number in range, or ValueError."""
    if not isinstance(values, dict):
        raise ValueError("calibration values must be an object")
    unknown = set(values) - set(_numbers())
    if unknown:
        raise ValueError(f"unknown calibration fields: {', '.join(sorted(unknown))}")
    clean = {}
    for name in values:
        v = values[name]
        if name == "native" and v in (0, 1) and not isinstance(v, bool):
            clean[name] = int(v)
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or not _SANE[0] <= v <= _SANE[1]:
            raise ValueError(f"calibration field {name} = {v!r} is not a sane positive number")
        clean[name] = int(v) if name in _INTEGERS else float(v)
    if clean.get("cores", 1) < 1:
        raise ValueError("calibration field cores must be at least 1")
    return replace(REFERENCE, **clean, source=source)


# ---- what the numbers depend on -------------------------------------------------------------------------------

def machine_key() -> dict:
    """What a calibration is valid for: the NumPy and BLAS builds, the CPU, the core count."""
    blas = {}
    try:
        deps = np.show_config(mode="dicts").get("Build Dependencies", {})
        blas = {k: str(deps.get("blas", {}).get(k, "")) for k in ("name", "version", "openblas configuration")}
    except Exception:      # an old or unusual NumPy build: its version still keys the cache
        pass
    return {"format": FORMAT, "numpy": np.__version__, "blas": blas, "cpu": _cpu_model(),
            "cores": os.cpu_count() or 1, "machine": platform.machine(), "python": platform.python_version()}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":")[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ---- the cache ------------------------------------------------------------------------------------------------

def cache_dir() -> str | None:
    """The cache folder, made 0700 if missing; None when it is not safely this user's (then nothing is cached)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "distjit")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            return None
        if st.st_mode & 0o077:
            os.chmod(path, 0o700)
        return path
    except OSError:
        return None


def _file(kind: str, key: dict) -> str | None:
    folder = cache_dir()
    if folder is None:
        return None
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return os.path.join(folder, f"{kind}-{digest}.json")


def read_cache(kind: str, key: dict) -> dict | None:
    """The values cached for `key`, or None (missing, unsafe, garbage, or for another key)."""
    path = _file(kind, key)
    if path is None:
        return None
    raw = read_private(path, _MAX_FILE)
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("values"), dict):
        return None
    return data["values"]


def write_cache(kind: str, key: dict, values: dict) -> None:
    """Write atomically (a temporary file renamed over the old one); a failure only means no cache."""
    path = _file(kind, key)
    if path is None:
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{kind}-", dir=os.path.dirname(path))
        try:
            with os.fdopen(fd, "w") as f:
                json.dump({"key": key, "values": values}, f, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass


# ---- the calibration of this process --------------------------------------------------------------------------

_current: Calibration | None = None
_measure = None      # the runtime's calibration (distjit/runtime/calibrate.py registers it): it runs kernels,
                     # which the partitioner, a layer below the runtime, cannot do itself


def set_measure(measure) -> None:
    """Register the function that measures this machine (a Calibration from nothing)."""
    global _measure
    _measure = measure


def injected() -> Calibration | None:
    """The calibration `DISTJIT_CALIBRATION` names (``reference`` or a JSON file), or None."""
    spec = os.environ.get("DISTJIT_CALIBRATION", "").strip()
    if not spec:
        return None
    if spec == "reference":
        return REFERENCE
    from distjit.errors import DistJitError

    try:
        with open(spec, "rb") as f:
            data = json.loads(f.read(_MAX_FILE + 1))
        return from_values(data.get("values", data) if isinstance(data, dict) else data, spec)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as e:
        raise DistJitError(f"DISTJIT_CALIBRATION={spec}: not a usable calibration: {e}") from None


def machine_calibration(refresh: bool = False) -> Calibration:
    """This machine's calibration: injected, else cached, else measured now (and cached)."""
    global _current
    chosen = injected()
    if chosen is not None:
        return chosen
    if _current is not None and not refresh:
        return _current
    key = machine_key()
    cached = None if refresh else read_cache("calibration", key)
    if cached is not None:
        try:
            _current = from_values(cached, "cached")
            return _current
        except ValueError:
            pass
    if _measure is None:           # only the partitioner was imported: nothing can run a kernel
        return REFERENCE
    _current = _measure()
    write_cache("calibration", key, _current.as_values())
    return _current
