"""This machine's measured throughput per class of op: what turns the registry's (flops, bytes) into seconds.

The first Plan a process makes runs a short calibration (a few micro-benchmarks of
real kernels, one thread, well under a second) and caches it per machine in the
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
verified before use: a regular file (not a symlink) in a 0700 folder this user owns,
at most `_MAX_FILE` bytes, JSON whose key equals this machine's and whose every value
is a finite number in a sane range. Anything else is ignored and measured again; a
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

FORMAT = 1
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
    native_bytes_s: float = 10e9        # a region the native backend (numba) compiles to one loop
    native_flop_s: float = 0.1e-9       # ... per registry flop, everything in registers
    cores: int = 8
    source: str = "reference"           # "reference", "measured", "cached", or the file it came from

    def as_values(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "source"}


REFERENCE = Calibration()


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
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or not _SANE[0] <= v <= _SANE[1]:
            raise ValueError(f"calibration field {name} = {v!r} is not a sane positive number")
        clean[name] = int(v) if name == "cores" else float(v)
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
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_size > _MAX_FILE:
            return None
        data = json.loads(os.read(fd, _MAX_FILE + 1).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    finally:
        os.close(fd)
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


# ---- measuring ------------------------------------------------------------------------------------------------

def _seconds(fn, rounds: int = 3, round_s: float = 0.004) -> float:
    """Median seconds of one call over `rounds` rounds, each repeating the call for at least `round_s`.

    Rounds of a few milliseconds, not single fast calls: on a busy machine a call shorter than
    the scheduler's time slice runs at full speed, while real work shares the core."""
    fn()
    times = []
    for _ in range(rounds):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= round_s:
                break
        times.append(elapsed / n)
    return statistics.median(times)


def _cost(op: str, args: list, attrs: dict | None = None):
    """The registry's (flops, bytes) for `op` on these arrays, and a call of its kernel."""
    from distjit.ops import get_op
    from distjit.types import type_of

    opdef = get_op(op)
    kernel_attrs = dict(attrs or {})
    result = opdef.kernel(*args, **kernel_attrs)
    outs = result if isinstance(result, tuple) else (result,)
    c = opdef.estimate([type_of(a) for a in args], [type_of(o) for o in outs], {**opdef.attr_defaults, **kernel_attrs})
    return c.flops, c.bytes, lambda: opdef.kernel(*args, **kernel_attrs)


def measure() -> Calibration:
    """Time real kernels on one thread (BLAS and the fused evaluator held to one thread too)."""
    from distjit.runtime.blas import blas_threads
    from distjit.runtime.fused_eval import limit_threads

    with blas_threads(1), limit_threads(1):
        return _measure()


def _measure() -> Calibration:
    rng = np.random.default_rng(0)
    v = {}
    tiny = np.ones(4)
    v["call_s"] = _seconds(lambda: np.add(tiny, tiny))

    n = 1 << 14                                       # three operands in L2
    a, b, o = rng.random(n) + 1.0, rng.random(n) + 1.0, np.empty(n)
    t_add = _seconds(lambda: np.add(a, b, out=o)) - v["call_s"]
    v["elem_s"] = max(t_add, 1e-12 * n) / n
    flops, _, _ = _cost("np.exp", [a])
    t_exp = _seconds(lambda: np.exp(a, out=o)) - v["call_s"]
    v["flop_s"] = max(t_exp - n * v["elem_s"], 1e-12 * n) / max(flops - n, 1.0)

    big = 1 << 21                                     # 16 MiB per operand: beyond the caches
    A, B, O = rng.random(big), rng.random(big), np.empty(big)
    _, nbytes, _ = _cost("np.add", [A, B])
    v["memory_bytes_s"] = nbytes / _seconds(lambda: np.add(A, B, out=O))
    v["shared_bytes_s"] = max(_shared_bandwidth(nbytes), v["memory_bytes_s"])
    X = A.reshape(-1, 16)
    _, nbytes, run = _cost("np.sum", [X], {"axis": 0})
    v["reduce_bytes_s"] = nbytes / _seconds(run)
    v["copy_bytes_s"] = A.nbytes / _seconds(lambda: np.copyto(O, A))          # bytes written, as _data_cost counts
    T, OT = A.reshape(1024, -1), O.reshape(-1, 1024)
    v["transpose_bytes_s"] = A.nbytes / _seconds(lambda: np.copyto(OT, T.T))

    for dtype in (np.float64, np.float32):      # a layer's shape: tall activations times a weight matrix
        M, W = rng.random((1024, 256)).astype(dtype), rng.random((256, 256)).astype(dtype)
        flops, _, run = _cost("np.matmul", [M, W])
        v[f"matmul_{np.dtype(dtype).name[0]}{np.dtype(dtype).itemsize * 8}_flops_s"] = flops / _seconds(run)

    v["fused_bytes_s"], native = _fused_rates(A, B, v)
    v.update(native)
    v["cores"] = os.cpu_count() or 1
    return from_values(v, "measured")


def _shared_bandwidth(nbytes: float) -> float:
    """Bytes per second of one np.add per core, all at once (NumPy releases the GIL in its loops)."""
    import threading

    cores = os.cpu_count() or 1
    if cores == 1:
        return 0.0
    arrays = [(np.ones(1 << 21), np.ones(1 << 21), np.empty(1 << 21)) for _ in range(cores)]
    start = threading.Barrier(cores + 1)
    counts = [0] * cores
    stop = []

    def stream(k):
        a, b, o = arrays[k]
        start.wait()
        while not stop:
            np.add(a, b, out=o)
            counts[k] += 1

    threads = [threading.Thread(target=stream, args=(k,), daemon=True) for k in range(cores)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    time.sleep(0.03)
    stop.append(True)
    for t in threads:
        t.join()
    return sum(counts) * nbytes / (time.perf_counter() - t0)


def _fused_rates(A, B, v: dict):
    """The fused evaluator's streaming rate on `a * b + a` (its inner work at in-cache rates taken out), and
    the native backend's when numba is importable (else it is costed as the fused evaluator is)."""
    from distjit.ir.builder import Builder
    from distjit.ir.graph import Graph, Value
    from distjit.runtime import fused_eval
    from distjit.types import type_of

    g = Graph("calibrate")
    x, y = (Value(name, type_of(A), block=g.block) for name in ("x", "y"))
    g.block.params.extend([x, y])
    b = Builder(g.block)
    (m,) = b.op("np.multiply", [x, y], {})
    (s,) = b.op("np.add", [m, x], {})
    g.add_output(s)
    flops, nbytes, _ = _cost("fused.elementwise", [A, B], {"graph": g})
    inner = A.size * 2 * v["elem_s"]
    t = _seconds(lambda: fused_eval.evaluate(A, B, graph=g))
    fused = nbytes / max(t - inner, 0.25 * t)
    native = {"native_bytes_s": fused, "native_flop_s": v["flop_s"]}
    if fused_eval._want_numba():
        try:
            t = _seconds(lambda: fused_eval.evaluate(A, B, graph=g, exact=False))
            native["native_bytes_s"] = nbytes / t
        except Exception:       # numba present but unable to compile here: costed as the NumPy evaluator
            pass
    return fused, native


# ---- the calibration of this process --------------------------------------------------------------------------

_current: Calibration | None = None


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
    _current = measure()
    write_cache("calibration", key, _current.as_values())
    return _current
