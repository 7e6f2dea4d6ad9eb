"""Executors run compiled loops (issue 14, deliverable 5): a Plan's tasks run their loop nests through the native
backend on the LocalExecutor and on Ray workers, as a call in this process does, and say so (RunStats.native, the
worker's own account); Ray workers of a second job load the machine code from the disk cache instead of compiling;
and the cost model prices a loop the backend lowers at compiled speed, one that falls back at NumPy's.

Results are compared with eager NumPy on the same inputs. Costs are compared under one injected calibration (the
reference numbers with the native backend present), never against this machine's speed.
"""
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest

import distjit
from distjit.partition.calibration import REFERENCE
from distjit.partition.cost import LOCAL_REFERENCE, RAY_REFERENCE, CostModel
from distjit.types import type_of

pytestmark = pytest.mark.filterwarnings("ignore::distjit.partition.PlanWarning")

NATIVE_REFERENCE = replace(REFERENCE, native=1)     # the reference machine, with numba


def lu(A):
    """Doolittle LU in place, loop for loop, as a NumPy user writes it."""
    n = A.shape[0]
    for k in range(n):
        for i in range(k + 1, n):
            A[i, k] = A[i, k] / A[k, k]
            for j in range(k + 1, n):
                A[i, j] -= A[i, k] * A[k, j]
    return A


def gauss_seidel(A):
    """Two Gauss-Seidel sweeps of the interior, in place."""
    n = A.shape[0]
    for t in range(2):
        for i in range(1, n - 1):
            for j in range(1, n - 1):
                A[i, j] = 0.25 * (A[i - 1, j] + A[i + 1, j] + A[i, j - 1] + A[i, j + 1])
    return A


def two_lus(A, B):
    return lu(A), lu(B)


def asinh_rows(x):
    """A loop the native backend does not lower (np.arcsinh has no numba template): it runs as NumPy code."""
    z = np.zeros_like(x)
    for i in range(x.shape[0]):
        z[i] = np.arcsinh(x[i]) * 2.0
    return z


def _matrix(n, seed=0):
    return np.random.default_rng(seed).random((n, n)) + n * np.eye(n)


def _native_lines(stats):
    assert stats.native, "the executor reported no native region"
    assert all("native (" in line and "fell back" not in line for line in stats.native), stats.native
    return stats.native


# ---- the executors run compiled regions ---------------------------------------------------------------------------

def test_a_saved_loop_kernel_runs_natively_on_the_local_executor_and_on_ray(local, ray_local, tmp_path):
    f = distjit.optimize(distjit.script(lu))
    A = _matrix(24)
    assert np.array_equal(f(A.copy()), lu(A.copy()))
    path = tmp_path / "lu.djit"
    distjit.save(f, path)
    h = distjit.load(path)
    for seed, n in ((1, 24), (2, 31)):
        A = _matrix(n, seed)
        expected = lu(A.copy())
        for executor, where in ((local, "distjit-task"), (ray_local, "worker pid")):
            given = A.copy()
            got, stats = h.run(given, cluster=executor, workers=2, stats=True)
            # + - * / only: the native contract is NumPy's result bit for bit
            assert np.array_equal(got, expected) and np.array_equal(given, expected)
            lines = _native_lines(stats)
            assert all(where in line and "lu.py" not in line for line in lines)
            assert any(f"{os.path.basename(__file__)}:" in line for line in lines)   # the user's loop, by line
            assert "native regions, as each task ran them:" in str(stats)


def black_scholes_like(s, k):
    d = (np.log(s / k) + 0.5) / 0.3
    return s * np.exp(-d * d) - k * d


def test_a_fused_chain_runs_as_native_loops_in_tasks(local, ray_local):
    from distjit.runtime import fused_eval

    s = np.random.default_rng(3).random(2 * fused_eval.NUMBA_MIN_ELEMENTS) + 1.0
    k = s[::-1].copy()
    f = distjit.optimize(distjit.trace(black_scholes_like, (s, k)))
    assert any(n.op == "fused.elementwise" for n in f.graph.block.nodes)
    expected = black_scholes_like(s, k)
    for executor, where in ((local, "distjit-task"), (ray_local, "worker pid")):
        got, stats = f.run(s, k, cluster=executor, workers=2, stats=True)
        assert np.array_equal(got, expected)        # the fused native path is NumPy's bit for bit at every level
        lines = _native_lines(stats)
        assert all(where in line and ": fused " in line for line in lines)


def test_another_dtype_runs_natively_and_a_loop_that_does_not_lower_calls_no_region(local):
    f = distjit.optimize(distjit.script(lu))
    # another dtype: a specialization of its own, natively too (more than fold.MAX_UNROLL rows: a Plan's
    # graph is made static per call shape, and a loop of at most 8 constant iterations is unrolled there)
    A = _matrix(12).astype(np.float32)
    got, stats = f.run(A.copy(), cluster=local, stats=True)
    np.testing.assert_array_equal(got, lu(A.copy()))
    _native_lines(stats)
    g = distjit.optimize(distjit.script(asinh_rows))
    x = np.linspace(-2.0, 2.0, 9)
    got, stats = g.run(x, cluster=local, stats=True)
    np.testing.assert_array_equal(got, asinh_rows(x))
    assert stats.native == []          # a loop that does not lower calls no region: NumPy code, per explain()
    assert "NumPy code" in g.optimization.explain()


_SECOND_JOB = textwrap.dedent("""
    import json, os
    import numpy as np
    import distjit
    h = distjit.load({path!r})
    A = np.load({args!r})
    got, stats = h.run(A.copy(), cluster={address!r}, workers=2, stats=True)
    np.save({out!r}, got)
    print(json.dumps(stats.native))
""")


def _worker_cache(ray):
    """The native cache folder of the session's Ray workers (their environment is the one Ray started with)."""
    @ray.remote(num_cpus=1)
    def where():
        from distjit.runtime.native import cache

        return cache.folder()
    return ray.get(where.remote())


def _listing(folder, stems):
    """The files of these regions in the cache folder (other processes of this user share the folder), with
    their modification times."""
    return {os.path.relpath(os.path.join(d, n), folder): os.stat(os.path.join(d, n)).st_mtime_ns
            for d, _, names in os.walk(folder) for n in names if n.startswith(stems)}


def _stems(lines):
    """The cache files the lines name ("... file r0123456789ab)")."""
    return tuple(line.split(", file ")[1].split(")")[0] for line in lines)


def test_a_second_ray_job_loads_compiled_regions_from_the_disk_cache(ray_local, tmp_path):
    import ray

    f = distjit.optimize(distjit.script(gauss_seidel))
    A = np.random.default_rng(5).random((40, 40))
    path, args, out = tmp_path / "gs.djit", tmp_path / "A.npy", tmp_path / "out.npy"
    f.run(A.copy(), cluster="local", workers=2)   # compiles the regions the plan's tasks run (the Function's own
    distjit.save(f, path)                          # call runs a program planned with its argument donated)
    np.save(args, A)
    expected = gauss_seidel(A.copy())

    got, stats = distjit.load(path).run(A.copy(), cluster=ray_local, workers=2, stats=True)   # this job's workers
    assert np.array_equal(got, expected)
    first = _native_lines(stats)
    folder = _worker_cache(ray)
    assert folder is not None, "the workers' cache folder is not safely theirs"
    from distjit.runtime.native import cache

    if cache.folder() == folder:
        # the call above compiled the region into the workers' cache: read-only inputs from the object store
        # have the types a caller's arrays get (regions take arrays they only read as read-only views)
        # (or a worker Ray kept from an earlier test of the session already holds it: no compile either way)
        assert all("native (loaded from the disk cache" in line or "native (compiled earlier in this process" in line
                   for line in first), first
    mode = os.stat(folder).st_mode & 0o777
    assert mode & 0o022 == 0                      # the cache's owner and mode checks keep holding
    stems = _stems(first)
    before = _listing(folder, stems)
    assert {name for name in before if name.endswith(".py")} and \
        any(name.startswith("__pycache__") and name.endswith(".nbc") for name in before)      # numba's code

    env = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    child = _SECOND_JOB.format(path=str(path), args=str(args), out=str(out),
                               address=ray.get_runtime_context().gcs_address)
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=300, env=env,
                            cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-4000:]
    second = json.loads(result.stdout.strip().splitlines()[-1])
    assert np.array_equal(np.load(out), expected)
    # (a region another graph of the same worker loaded first says "compiled earlier in this process")
    assert second and all("native (loaded from the disk cache" in line or "native (compiled earlier in this process"
                          in line for line in second), second
    pids = {line.split("worker pid ")[1].split(")")[0] for line in first + second}
    assert len(pids) >= 2, "the second job ran in the first job's worker"
    assert _stems(second) == stems
    assert _listing(folder, stems) == before, "the second job wrote to the cache: it compiled again"


# ---- the cost model knows compiled loops are cheap -----------------------------------------------------------------

def _static(fn, *args):
    """The optimized scripted Function of `fn` made static for these arguments (trip counts known)."""
    f = distjit.optimize(distjit.script(fn))
    f(*[a.copy() for a in args])
    return f.latest.static_for([type_of(a) for a in args])


def _predicted(f, monkeypatch, native: bool, executor=LOCAL_REFERENCE, workers=1):
    monkeypatch.setenv("DISTJIT_NATIVE", "1" if native else "0")
    plan = distjit.partition(f, workers=workers, cost=CostModel(NATIVE_REFERENCE, executor))
    return plan


def test_a_native_loop_is_predicted_far_cheaper_than_its_numpy_code(monkeypatch):
    n = 40
    f = _static(lu, _matrix(n))
    native = _predicted(f, monkeypatch, True)
    numpy = _predicted(f, monkeypatch, False)
    fast, slow = native.tasks[0].seconds, numpy.tasks[0].seconds
    iterations = sum((n - k - 1) ** 2 for k in range(n))
    # NumPy code pays about one call per op per iteration; compiled code a few nanoseconds per op
    assert slow > iterations * REFERENCE.call_s
    assert fast < iterations * 20 * NATIVE_REFERENCE.native_op_s + NATIVE_REFERENCE.native_call_s
    assert fast * 100 < slow
    assert native.predicted.seconds < numpy.predicted.seconds
    # a calibration without numba costs the loop as NumPy code, whatever the backend here says
    monkeypatch.setenv("DISTJIT_NATIVE", "1")
    no_numba = distjit.partition(f, workers=1, cost=CostModel(REFERENCE, LOCAL_REFERENCE))
    assert no_numba.tasks[0].seconds == pytest.approx(slow)


def test_a_loop_that_falls_back_keeps_its_numpy_cost(monkeypatch):
    f = _static(asinh_rows, np.linspace(-2.0, 2.0, 200))
    on = _predicted(f, monkeypatch, True).tasks[0].seconds
    off = _predicted(f, monkeypatch, False).tasks[0].seconds
    assert on == off and off > 200 * REFERENCE.call_s


def test_planning_merges_cheap_native_loops_and_runs_numpy_ones_side_by_side(monkeypatch, local):
    """Two independent loop nests: as NumPy code each costs far more than a Ray task's overhead, so each gets a
    task and they run in parallel; compiled, each costs less than the overhead, so they share one task."""
    A, B = _matrix(40, 1), _matrix(40, 2)
    f = _static(two_lus, A, B)
    numpy = _predicted(f, monkeypatch, False, RAY_REFERENCE, workers=2)
    native = _predicted(f, monkeypatch, True, RAY_REFERENCE, workers=2)
    loops = lambda plan: [sum(n.op == "prim.Loop" for n in plan.subgraphs[t.subgraph].block.nodes) for t in plan.tasks]
    assert sorted(loops(numpy)) == [1, 1] and loops(native) == [2]
    for plan in (numpy, native):            # either way the results are NumPy's
        got = local.run(plan, [A.copy(), B.copy()], {})
        assert np.array_equal(got[0], lu(A.copy())) and np.array_equal(got[1], lu(B.copy()))


def test_the_calibration_measures_a_compiled_loop_nest():
    from distjit.runtime import calibrate

    rates = calibrate._native_loop_rates()
    assert set(rates) == {"native_op_s", "native_call_s"}
    assert 0 < rates["native_op_s"] < REFERENCE.call_s           # a compiled op is far cheaper than a NumPy call
    assert 0 < rates["native_call_s"] < 1e-2


def test_a_fused_region_is_costed_by_the_backend_it_will_take(monkeypatch):
    """The fused evaluator takes its native backend at every level (exact or not) for big enough regions: the
    cost model asks it (fused_eval.runs_natively) rather than reading the node's `exact`."""
    from distjit.partition.cost import op_class
    from distjit.runtime import fused_eval

    def region(n):
        x = np.ones(n)
        g = distjit.optimize(distjit.trace(lambda x: x * 2.0 + x, (x,)))
        return next(node for node in g.graph.block.nodes if node.op == "fused.elementwise")

    big, small = region(2 * fused_eval.NUMBA_MIN_ELEMENTS), region(16)
    assert big.attrs.get("exact", True) is True
    assert op_class(big, native=True) == "native" and op_class(big) == "fused"
    assert op_class(small, native=True) == "fused"
    monkeypatch.setattr(fused_eval, "BACKEND", "numpy")
    assert op_class(big, native=True) == "fused"


def test_the_calibration_times_each_fused_backend_once():
    """`FusedKernel.numpy` (what the calibration times as the fused evaluator) never takes the native backend,
    and gives the native backend's result bit for bit (+ and *: correctly rounded in both)."""
    from distjit.runtime import calibrate, fused_eval

    A, B = (np.random.default_rng(s).random(2 * fused_eval.NUMBA_MIN_ELEMENTS) for s in (0, 1))
    g = distjit.optimize(distjit.trace(lambda x, y: x * y + x, (A, B)))
    node = next(n for n in g.graph.block.nodes if n.op == "fused.elementwise")
    kernel = fused_eval.FusedKernel(node.attrs["graph"])
    slow = kernel.numpy((A, B))[0]
    assert kernel.native is None                   # the native backend was not asked
    fast = kernel((A, B))[0]
    assert kernel.native and np.array_equal(slow, fast) and np.array_equal(fast, A * B + A)
    fused, native = calibrate._fused_rates(A, B, {"elem_s": 1e-9, "flop_s": 1e-10})
    assert fused > 0 and native["native"] == 1 and native["native_bytes_s"] > 0
