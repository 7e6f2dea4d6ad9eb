"""The native backend (distjit/runtime/native): loop nests compiled by numba, differential against eager NumPy.

Every test compares with the NumPy function the graph came from, on the same inputs, and with the same
graph run as NumPy code (DISTJIT_NATIVE=0). The disk cache is tested across real processes.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import distjit
from distjit.errors import ExecutionError
from tests.programs.realcode import algorithms, linalg, solvers, stencils  # noqa: F401 - registers the kernels
from tests.programs.realcode.kernel import CORPORA

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Scalar loop nests of the corpus whose every loop compiles, bit for bit with NumPy (+ - * / and compares only).
NATIVE_KERNELS = ["algorithms.lcs_length", "algorithms.edit_distance", "algorithms.knapsack", "algorithms.nussinov",
                  "linalg.back_substitution", "linalg.lu_inplace", "stencils.seidel_2d",
                  "algorithms.floyd_warshall",        # a fused elementwise over rows, written into a row
                  "models.ising_metropolis",          # a row unpacked (prim.Assert); np.exp decides a branch
                  "models.conv2d_loops"]              # np.sum of a 3-D product of views, in NumPy's pairwise order


def _native(fn, *args, level=2):
    f = distjit.optimize(distjit.script(fn), level)
    return f, f(*args)


def _numpy_path(fn, args, monkeypatch):
    monkeypatch.setenv("DISTJIT_NATIVE", "0")
    try:
        return distjit.optimize(distjit.script(fn))(*args)
    finally:
        monkeypatch.delenv("DISTJIT_NATIVE")


def _equal(a, b):
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if a is None or b is None:
        return a is b
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("seed", [3, 8])
@pytest.mark.parametrize("name", NATIVE_KERNELS)
def test_corpus_loop_nests_run_natively_bit_for_bit(name, seed, monkeypatch):
    k = CORPORA["realcode"][name]
    given_inputs, eager_inputs, numpy_inputs = k.inputs(seed), k.inputs(seed), k.inputs(seed)
    f, got = _native(k.fn, *given_inputs)
    expected = k.fn(*eager_inputs)
    report = f.optimization.explain()
    assert "native (" in report and "NumPy code" not in report, report
    assert _equal(got, expected)
    assert all(_equal(a, b) for a, b in zip(given_inputs, eager_inputs))      # arguments mutated as NumPy does
    assert _equal(_numpy_path(k.fn, numpy_inputs, monkeypatch), got)
    assert all(_equal(a, b) for a, b in zip(numpy_inputs, eager_inputs))


# Loop nests whose np.dot of two slices runs natively, in vectors of partial sums where NumPy's BLAS sums in its blocks.
DOT_KERNELS = ["solvers.gauss_seidel", "linalg.forward_substitution", "linalg.gram_schmidt_modified",
               "linalg.gram_schmidt_classic"]      # with np.matmul of vectors and np.linalg.norm, summed as dots


@pytest.mark.parametrize("seed", [4, 9])
@pytest.mark.parametrize("name", DOT_KERNELS)
def test_loop_nests_with_vector_dots_run_natively_to_rounding(name, seed):
    k = CORPORA["realcode"][name]
    f, got = _native(k.fn, *k.inputs(seed))
    expected = k.fn(*k.inputs(seed))
    assert "native (" in f.optimization.explain() and "NumPy code" not in f.optimization.explain()
    for g, e in zip(*((got, expected) if isinstance(got, tuple) else ((got,), (expected,)))):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=0)


def views_then_write(x, n):
    y = x * 1.0
    for i in range(1, n):
        head = y[:i]                 # a view made before the write below, read after it
        y[i] = y[i - 1] + 1.0
        y[0] = np.dot(head, head)
    return y


def write_then_read_old(x, n):
    y = np.zeros(n)
    for i in range(n):
        y[i] = x[i] * 2.0
        if x[i] > 0.0:
            y[n - 1 - i] = y[i] + x[n - 1 - i]
    return y


def int_dtypes(x, n):
    acc = np.int32(0)
    for i in range(n):
        acc = acc + x[i] * 3          # int32 stays int32 (NEP 50): wraps like NumPy's
        x[i] = acc
    return acc, x


@given(st.integers(1, 12), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_aliasing_and_types_match_numpy(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    ints = rng.integers(-2**30, 2**30, n).astype(np.int32)
    cases = [(write_then_read_old, (x, n)), (views_then_write, (x, n)), (int_dtypes, (ints, n))]
    for fn, args in cases:
        mine = tuple(np.copy(v) if isinstance(v, np.ndarray) else v for v in args)
        theirs = tuple(np.copy(v) if isinstance(v, np.ndarray) else v for v in args)
        with np.errstate(over="ignore"):
            expected = fn(*theirs)
            f, got = _native(fn, *mine)
        if fn is views_then_write:      # np.dot: BLAS and the region sum in different blocks
            np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)
        else:
            assert _equal(got, expected), fn.__name__
            assert all(_equal(p, q) for p, q in zip(mine, theirs)), fn.__name__


def row_and_column_updates(A, y):
    for i in range(1, A.shape[0]):
        A[i, :] = np.minimum(A[i, :], A[i - 1, :] + y) * 0.5     # fused: a row, a vector that may broadcast
    for j in range(1, A.shape[1]):
        A[:, j] = A[:, j - 1] / A[0, j]                           # one ufunc over a column
    return A


@given(st.integers(1, 6), st.integers(1, 6), st.sampled_from(["same", "one", "other"]), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_vector_elementwise_ops_broadcast_as_numpy_does(rows, cols, y_len, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((rows, cols))
    y = rng.standard_normal({"same": cols, "one": 1, "other": cols + 1}[y_len])
    f = distjit.optimize(distjit.script(row_and_column_updates))
    f(np.ones((2, 3)), np.ones(3))
    assert "NumPy code" not in f.optimization.explain()
    mine, theirs = A.copy(), A.copy()
    try:
        with np.errstate(all="ignore"):
            expected = row_and_column_updates(theirs, y)
    except ValueError:
        assert rows > 1 and y_len == "other"
        with pytest.raises(ExecutionError) as info:
            f(mine, y)
        assert isinstance(info.value.__cause__, ValueError)
    else:
        with np.errstate(all="ignore"):
            got = f(mine, y)
        assert _equal(got, expected) and _equal(mine, theirs)


def row_sums(x, y):
    s = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        s[i] = np.sum(x[i] * y) + np.sum(x[i, :] - 0.5)
    return s


@given(st.integers(1, 3), st.one_of(st.integers(0, 300), st.sampled_from([1000, 8191, 8192, 8200, 20000])),
       st.booleans(), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_sums_of_arrays_a_region_made_are_numpys_bit_for_bit(rows, n, zeros, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, n)) * 10.0 ** rng.integers(-8, 8, (rows, n))
    y = -np.zeros(n) if zeros else rng.standard_normal(n)      # signed zeros: the sum starts from +0.0
    f = distjit.optimize(distjit.script(row_sums))
    got = f(x, y)
    assert "native (" in f.optimization.explain() and "NumPy code" not in f.optimization.explain()
    assert _equal(got, row_sums(x, y))


def unpack_rows(pairs):
    s = 0
    for k in range(pairs.shape[0]):
        a, b = pairs[k]
        s += a * b
    return s


def test_unpacking_a_row_of_the_wrong_length_raises():
    f = distjit.optimize(distjit.script(unpack_rows))
    assert f(np.arange(6).reshape(3, 2)) == unpack_rows(np.arange(6).reshape(3, 2))
    assert "native (" in f.optimization.explain() and "NumPy code" not in f.optimization.explain()
    with pytest.raises(ValueError):
        unpack_rows(np.arange(6).reshape(2, 3))
    with pytest.raises(ExecutionError, match="unpack"):
        f(np.arange(6).reshape(2, 3))


def gather_sum(x, idx):
    s = 0.0
    for i in range(len(idx)):
        s += x[idx[i]]
    return s


@given(st.lists(st.integers(-12, 12), min_size=1, max_size=10))
@settings(max_examples=40, deadline=None)
def test_indices_from_data_are_bounds_checked(indices):
    x = np.arange(1.0, 8.0)
    idx = np.array(indices, dtype=np.int64)
    f = distjit.optimize(distjit.script(gather_sum))
    try:
        expected = gather_sum(x, idx)
    except IndexError:
        with pytest.raises(ExecutionError) as info:
            f(x, idx)
        assert isinstance(info.value.__cause__, IndexError)
    else:
        assert f(x, idx) == expected          # negative indices wrap as in NumPy
    assert "native (" in f.optimization.explain()


def test_loaded_file_with_bad_indices_raises_index_error(tmp_path):
    x, idx = np.arange(5.0), np.array([0, 1, 2])
    f = distjit.optimize(distjit.script(gather_sum))
    f(x, idx)
    distjit.save(f, tmp_path / "g.djit")
    g = distjit.load(tmp_path / "g.djit")
    assert g(x, idx) == gather_sum(x, idx)
    with pytest.raises(ExecutionError) as info:
        g(x, np.array([0, 5, 1]))
    assert isinstance(info.value.__cause__, IndexError)


def has_unlowered_op(x):
    y = np.zeros_like(x)
    for i in range(x.shape[0]):
        y[i] = np.arcsinh(x[i])          # no numba template: this loop falls back
    z = np.zeros_like(x)
    for i in range(x.shape[0]):
        z[i] = y[i] * 2.0 + 1.0
    return z


def test_fallback_is_per_region_and_explained():
    x = np.linspace(-3, 3, 17)
    f, got = _native(has_unlowered_op, x)
    assert _equal(got, has_unlowered_op(x))
    report = f.optimization.explain()
    lines = [line for line in report.splitlines() if line.strip().startswith("loop ")]
    assert len(lines) == 2
    assert "NumPy code" in lines[0] and "np.arcsinh" in lines[0] and "numba template" in lines[0]
    assert "native (" in lines[1]


def trig_and_angles(x):
    y = np.empty((6, x.shape[0]))
    for i in range(x.shape[0]):
        y[0, i] = np.tan(x[i])
        y[1, i] = np.arcsin(x[i])
        y[2, i] = np.arccos(x[i])
        y[3, i] = np.arctan(x[i])
        y[4, i] = np.radians(x[i])
        y[5, i] = np.degrees(x[i])
    return y


def float_classes(x, k):
    y = np.zeros((3, x.shape[0]), dtype=bool)
    for i in range(x.shape[0]):
        y[0, i] = np.isnan(x[i])
        y[1, i] = np.isinf(x[i]) or np.isinf(k[i])
        y[2, i] = np.isfinite(x[i])
    return y


def test_float_classes_run_natively():
    x = np.array([0.0, np.nan, np.inf, -np.inf, 1.5, -0.0])
    k = np.arange(6)
    f, got = _native(float_classes, x, k)
    assert "native (" in f.optimization.explain()
    np.testing.assert_array_equal(got, float_classes(x, k))


def test_trigonometry_and_angle_conversions_run_natively_to_libm_rounding():
    """math.tan/asin/acos/atan/radians/degrees: libm's, within a few ulp of NumPy's (NaN where NumPy's is)."""
    x = np.random.default_rng(0).uniform(-1.0, 1.0, 64)
    x[:3] = [np.nan, 1.0, -1.0]
    f, got = _native(trig_and_angles, x)
    expected = trig_and_angles(x)
    assert "native (" in f.optimization.explain()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_max_ulp(np.nan_to_num(got), np.nan_to_num(expected), maxulp=4)


_CHILD = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {root!r})
    import numpy as np, distjit
    from tests.programs.realcode import algorithms
    f = distjit.optimize(distjit.script(algorithms.edit_distance))
    s, t = np.array([1, 2, 3, 1, 0, 2]), np.array([2, 3, 1, 1, 0, 2, 3])
    got = f(s, t)
    print(json.dumps({{"ok": got == algorithms.edit_distance(s, t), "report": f.optimization.explain()}}))
""")


def _child(cache_home) -> dict:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home))
    out = subprocess.run([sys.executable, "-c", _CHILD.format(root=ROOT)], env=env, capture_output=True,
                         text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_second_process_loads_compiled_code_from_disk(tmp_path):
    first = _child(tmp_path)
    assert first["ok"] and "native (compiled in" in first["report"], first["report"]
    folder = tmp_path / "distjit" / "native"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert any(p.suffix == ".nbi" for p in (folder / "__pycache__").iterdir())
    second = _child(tmp_path)
    assert second["ok"] and "native (loaded from the disk cache" in second["report"], second["report"]


def test_a_cache_folder_others_can_write_is_not_used(tmp_path):
    folder = tmp_path / "distjit" / "native"
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    first = _child(tmp_path)
    assert first["ok"] and "not cached" in first["report"], first["report"]
    assert list(folder.iterdir()) == []


def test_a_cached_source_that_differs_is_not_used(tmp_path):
    _child(tmp_path)
    for p in (tmp_path / "distjit" / "native").glob("r*.py"):
        p.write_text(p.read_text() + "\nimport os  # changed\n")
    again = _child(tmp_path)
    assert again["ok"] and "not cached" in again["report"], again["report"]


# NOTE: the README's numerical contract: transcendental functions in native loops come from the C library,
# within LIBM_ULP of NumPy's SIMD loops (measured: at most 2, tanh).
LIBM_ULP = 4


def _transcendentals(x, y):
    for i in range(x.shape[0]):
        y[i, 0] = np.exp(x[i])
        y[i, 1] = np.log(x[i])
        y[i, 2] = np.sin(x[i])
        y[i, 3] = np.cos(x[i])
        y[i, 4] = np.tanh(x[i])
        y[i, 5] = np.arctan2(x[i], 1.5)
    return y


def _ulp_distance(a, b):
    """Units in the last place between float64 arrays, by their bits ordered as integers."""
    ia, ib = (np.where(v.view(np.int64) < 0, np.int64(-2**63) - v.view(np.int64), v.view(np.int64)) for v in (a, b))
    return np.abs(ia - ib)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.floats(0.01, 50.0))
def test_transcendental_functions_in_native_loops_are_within_the_stated_ulp(seed, high):
    x = np.random.default_rng(seed).uniform(0.01, high, 2000)
    f, got = _native(_transcendentals, x, np.zeros((x.size, 6)))
    assert "native (" in f.optimization.explain()
    want = _transcendentals(x, np.zeros((x.size, 6)))
    assert _ulp_distance(got, want).max() <= LIBM_ULP


def _swaps(x, y, n):
    a = x
    b = y.copy()
    acc = 0.0
    for t in range(n):
        a, b = b, a
        acc = acc * 0.5 + a[0, 0]
    return a, b, acc


def test_loop_slots_that_swap_arrays_keep_both():
    """A slot's next value is another slot's current one: the carried variables update as one tuple."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    f = distjit.script(_swaps)
    for n in (0, 1, 2, 3):
        got, want = f(x.copy(), y.copy(), n), _swaps(x.copy(), y.copy(), n)
        assert all(_equal(g, w) for g, w in zip(got, want)), n
    assert "native (" in distjit.optimize(f).optimization.explain()
