"""The disk cache of compiled regions: numba's own cache, over source files this module writes.

NOTE: [Caching native code]
numba caches a function's machine code only for a function defined in a file (its
index is keyed by the file's path and stamp, the argument types, numba's version and
the CPU's name and features). A region is generated source, so each one is written
once to `<cache>/native/r<digest>.py`, the digest being the SHA-256 of the source and
of what it compiles to (numba, NumPy, Python versions, LLVM's host CPU and features),
imported from there, and compiled with ``cache=True``: numba then stores and finds the
object code in the `__pycache__` folder beside it, and a second process, or a Ray
worker on the same machine, loads it instead of compiling. A file is never rewritten
(another process may be using its stamp); a name already taken must hold exactly the
source.

numba's cache files are pickles, so who can write the folder decides what runs: the
folder is `$XDG_CACHE_HOME/distjit` (the calibration cache's, with its rules:
partition/calibration.py, NOTE: [A hostile cache]) then `native/` and its
`__pycache__`, each a real folder (lstat, no symlink) owned by this user and writable
by nobody else; every file of the region is a regular file owned by this user and
writable by nobody else. On any doubt the region is compiled in memory, uncached.

NOTE: [One prelude]
The functions regions call (lower.py's PRELUDE and its tables': `_bdim`, `_order`,
`_pairwise`, the complex divide, ...) are one module, `lower.SHARED`, imported once per
process and cache mode; a region imports from it the names it calls (`from {prelude}
import ...`). numba then compiles each of them once per signature in a process, not once
per region (they were most of a small region's compile time), and with caching on the
module is a file as a region is (`<cache>/native/p<digest>.py`, with the same checks), so
a second process loads their code too. A region's machine code holds the prelude functions
it calls (numba links them into it), so the prelude's text is part of every region's
digest: a changed prelude gives new files, never stale code.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import stat
import sys
import tempfile
import threading
from types import ModuleType

import numpy as np

from distjit.partition.calibration import cache_dir
from distjit.private_files import read_private


def key(source: str) -> str:
    """The digest a region's compiled code is cached under (the prelude's text is part of it: a region's machine
    code holds the prelude functions it calls, NOTE: [One prelude])."""
    import llvmlite.binding as llvm
    import numba

    from distjit.runtime.native.lower import SHARED

    what = {"source": source, "prelude": SHARED, "numba": numba.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "cpu": llvm.get_host_cpu_name(),
            "features": llvm.get_host_cpu_features().flatten()}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:32]


def folder(name: str = "native") -> str | None:
    """`<cache>/<name>`, made 0700 if missing; None when it, or its `__pycache__`, is not safely ours."""
    base = cache_dir()
    if base is None:
        return None
    path = os.path.join(base, name)
    for p in (path, os.path.join(path, "__pycache__")):
        try:
            os.mkdir(p, 0o700)
        except FileExistsError:
            pass
        except OSError:
            return None
        if not _ours(p, directory=True):
            return None
    return path


def load(source: str, digest: str) -> ModuleType | None:
    """The region's module imported from its cached file (numba caching on), or None: then compile uncached."""
    prelude = _prelude(True)
    return None if prelude is None else load_module(_render(source, True, prelude), f"r{digest}")


def load_module(text: str, stem: str, name: str = "native") -> ModuleType | None:
    """The module of generated source `text`, imported from `<cache>/<name>/<stem>.py` (written once, checked
    as NOTE: [Caching native code] says), so that numba's ``cache=True`` in it finds the machine code an
    earlier process compiled; None when the folder or a file is not safely ours (compile in memory then).
    Native regions and fused kernels (runtime/fused_native.py) are both cached this way."""
    path_dir = folder(name)
    if path_dir is None:
        return None
    path = os.path.join(path_dir, f"{stem}.py")
    if not os.path.lexists(path) and not _write_once(path, text):
        return None
    if not _holds(path, text) or not _pycache_ours(path_dir, stem):
        return None
    module_name = f"distjit_{name}_{stem}"
    module = sys.modules.get(module_name)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module     # numba's cached environments find their globals by module name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def uncached(source: str, digest: str) -> dict:
    """The region's namespace, compiled in memory (numba caching off)."""
    namespace: dict = {}
    exec(compile(_render(source, False, _prelude(False)), f"<distjit-native-r{digest}>", "exec"), namespace)
    return namespace


_preludes: dict[bool, str] = {}        # cache mode -> the name of the prelude's module, in sys.modules
_prelude_lock = threading.Lock()


def _prelude(cache: bool) -> str | None:
    """The name of the module of the functions regions share (NOTE: [One prelude]), imported once per process and
    cache mode: from its cached file `<cache>/native/p<digest>.py` (None when that is not safely ours), or
    compiled in memory."""
    from distjit.runtime.native.lower import IMPORTS, SHARED

    with _prelude_lock:
        name = _preludes.get(cache)
        if name is not None:
            return name
        text = _render(IMPORTS + SHARED, cache)
        stem = f"p{key(text)}"
        if cache:
            module = load_module(text, stem)
            if module is None:
                return None
            name = module.__name__
        else:
            name = f"distjit_native_memory_{stem}"
            module = sys.modules.get(name)
            if module is None:
                module = ModuleType(name)
                exec(compile(text, f"<distjit-native-{stem}>", "exec"), module.__dict__)
                sys.modules[name] = module      # a region's `from ... import` finds it here
        _preludes[cache] = name
        return name


def _render(source: str, cache: bool, prelude: str | None = None) -> str:
    from distjit.runtime.native.lower import OPTIONS

    options = OPTIONS.format(cache=cache)
    # {gil}: a helper that calls back into the interpreter (numba.objmode) holds the GIL
    return source.format(options=options, unchecked=options.replace("boundscheck=True", "boundscheck=False"),
                         gil=options.replace(", nogil=True", ""), prelude=prelude)


def _ours(path: str, directory: bool) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    kind_ok = stat.S_ISDIR(st.st_mode) if directory else stat.S_ISREG(st.st_mode)
    return kind_ok and st.st_uid == os.getuid() and not st.st_mode & 0o022


def _write_once(path: str, text: str) -> bool:
    """Create `path` holding `text`, never replacing a file: a hard link of a complete temporary file."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".r", suffix=".tmp", dir=os.path.dirname(path))
    except OSError:
        return False
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        try:
            os.link(tmp, path)
        except FileExistsError:          # another process wrote it first: checked like any existing file
            pass
        return True
    except OSError:
        return False
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _holds(path: str, text: str) -> bool:
    """`path` is a regular file of ours, writable by nobody else, holding exactly `text`."""
    data = text.encode()
    return read_private(path, len(data)) == data


def _pycache_ours(path_dir: str, stem: str) -> bool:
    """Every file numba or Python keeps for this region in `__pycache__` is ours and writable by nobody else."""
    pycache = os.path.join(path_dir, "__pycache__")
    try:
        names = [n for n in os.listdir(pycache) if n.startswith(stem + ".")]
    except OSError:
        return False
    return all(_ours(os.path.join(pycache, n), directory=False) for n in names)
