"""Compiled fused kernels are cached on disk, in a folder only this user can write (fused_native.py, through
runtime/native/cache.py)."""
import os
import subprocess
import sys
import textwrap

from distjit.runtime import fused_native
from distjit.runtime.native import cache

RUN = textwrap.dedent("""
    import numpy as np, distjit
    from distjit.runtime import fused_eval
    fused_eval.NUMBA_MIN_ELEMENTS = 1
    def f(x, y):
        return np.exp(x * y + 1.25) - y
    x, y = np.linspace(0, 1, 1000), np.linspace(1, 2, 1000)
    g = distjit.optimize(distjit.trace(f, (x, y)))
    assert np.array_equal(g(x, y), f(x, y))
    (k,) = fused_eval._kernels.values()
    fns = [fn for fns in k.native.kernels.values() for fn in fns if fn is not None]
    print(sum(fn.stats.cache_hits.total() for fn in fns), sum(fn.stats.cache_misses.total() for fn in fns))
""")


def run(env):
    out = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    hits, misses = map(int, out.stdout.split())
    return hits, misses


def test_a_second_process_loads_the_kernels_a_first_one_compiled(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "PYTHONPATH": os.getcwd()}
    assert run(env) == (0, 2)          # two loop stages around np.exp, compiled
    assert run(env) == (2, 0)          # ... and loaded from the cache
    directory = tmp_path / "distjit" / "kernels"
    assert oct(directory.stat().st_mode & 0o777) == "0o700"
    assert list(directory.glob("f*.py"))


def test_a_directory_others_can_write_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    kernels = tmp_path / "distjit" / "kernels"
    assert cache.folder("kernels") == str(kernels)
    os.chmod(kernels, 0o770)
    assert cache.folder("kernels") is None
    os.chmod(kernels, 0o700)
    (kernels / "__pycache__").rmdir()
    kernels.rmdir()
    kernels.symlink_to(tmp_path)
    assert cache.folder("kernels") is None
    source = fused_native._PRELUDE + "def stage(lo, m, x0, o0):\n    for i0 in range(m):\n        o0[lo + i0] = x0[lo + i0]\n"
    assert getattr(fused_native.kernel_module(source), "__file__", None) is None     # compiled in memory


def test_a_cached_source_that_changed_is_not_imported(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    source = fused_native._PRELUDE + "def stage(lo, m, x0, o0):\n    for i0 in range(m):\n        o0[lo + i0] = x0[lo + i0]\n"
    first = fused_native.kernel_module(source)
    (path,) = (tmp_path / "distjit" / "kernels").glob("*.py")
    assert first.__file__ == str(path)
    path.write_text(source.replace("x0[lo + i0]", "-x0[lo + i0]"))
    second = fused_native.kernel_module(source)
    assert getattr(second, "__file__", None) is None      # compiled in memory from the source it asked for
