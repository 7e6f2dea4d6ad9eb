"""The numeric families (linalg, fft, statistics, signal) through the whole pipeline, against eager NumPy.

Each program goes through trace and script, optimize, save/load and the LocalExecutor
(2 workers, split along the first input's axis 0 where the program's ops can be cut
there); results must equal NumPy's bit for bit (the kernels are NumPy's functions),
to rounding only where a split reduction reorders sums. Hypothesis varies shapes and
dtypes; bad input is a DistJitError naming the user's line.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import distjit
from distjit.errors import DistJitError, ShapeError
from tests.compare import assert_same

rng = np.random.default_rng(0)


def _spd(*shape):
    a = rng.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def p_solve_stack(a):
    c = np.linalg.cholesky(a)
    q, r = np.linalg.qr(a)
    w, v = np.linalg.eigh(a)
    sign, logdet = np.linalg.slogdet(a)
    return c, q, r, w, np.linalg.inv(a), np.linalg.det(a), sign * logdet, np.linalg.matrix_norm(a), \
        np.linalg.pinv(a), np.linalg.matrix_power(a, 3), np.linalg.svd(a, compute_uv=False), np.linalg.cond(a)


def p_lstsq(a, b):
    x, res, rank, s = np.linalg.lstsq(a, b, rcond=None)
    return x, rank, s, np.linalg.multi_dot([a.T, a, x]), np.linalg.svd(a, full_matrices=False)[0]


def p_spectrum(x):
    f = np.fft.rfft(x, axis=1)
    power = np.abs(f) ** 2
    back = np.fft.irfft(f, n=x.shape[1], axis=1)
    return power, back, np.fft.fftshift(np.fft.fft2(x), axes=1), np.fft.fftfreq(x.shape[1], 0.1), np.fft.rfftfreq(len(x), d=1.0 / x[0, 0]), \
        np.fft.ihfft(x, axis=1)


def p_stats(x):
    return (np.cov(x, rowvar=False), np.corrcoef(x.T), np.median(x, axis=1), np.percentile(x, [10, 50, 90], axis=1),
            np.quantile(x, 0.25, axis=1, method="nearest"), np.nanmean(x, axis=1), np.nanstd(x, axis=1, ddof=1),
            np.nanmax(x, axis=1), np.nanargmin(x, axis=1), np.nancumsum(x, axis=1), np.ptp(x, axis=1),
            np.average(x, axis=1, weights=np.arange(1.0, x.shape[1] + 1)), np.nan_to_num(x, nan=-1.0))


def p_signal(x, v):
    edges = np.linspace(-3.0, 3.0, 9)
    hist, e = np.histogram(x, bins=8, range=(-3.0, 3.0))
    idx = np.digitize(x, edges)
    return (np.convolve(x, v, mode="same"), np.correlate(x, v, "full"), np.interp(x, edges, np.cos(edges)),
            np.polyval(v, x), np.trapezoid(x, dx=0.5), np.gradient(x), np.diff(x, prepend=0.0), hist, e,
            np.bincount(idx, minlength=10), np.histogram(x, bins=edges, density=True)[0])


def p_counts(labels, values, n):
    """Counts given by an int argument: the results' length is known at run time (the ops accept it)."""
    sums = np.bincount(labels, weights=values, minlength=n)
    hist, edges = np.histogram(values, bins=n, range=(-3.0, 3.0))
    return sums / np.maximum(np.bincount(labels, minlength=n), 1), hist, edges


def _nan_rows(n, m):
    x = rng.standard_normal((n, m))
    x[1, 2] = np.nan
    return x


PROGRAMS = {
    # name: (function, inputs, shard of the first input for the 2-worker run, or None)
    "solve_stack": (p_solve_stack, lambda: (_spd(4, 3, 3),), {"a": 0}),
    "lstsq": (p_lstsq, lambda: (rng.standard_normal((6, 3)), rng.standard_normal(6)), None),
    "spectrum": (p_spectrum, lambda: (rng.standard_normal((4, 8)),), {"x": 0}),
    "stats": (p_stats, lambda: (_nan_rows(6, 5),), {"x": 0}),
    "counts": (p_counts, lambda: (rng.integers(0, 5, 30), rng.standard_normal(30), 6), None),
    "signal": (p_signal, lambda: (rng.standard_normal(40), rng.standard_normal(3)), None),
}


def _tolerance(name):
    return 1e-12 if name == "stats" else 0.0    # split nan-free rows: reductions are whole, so only cov reorders


@pytest.mark.parametrize("route", ["trace", "script"])
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_through_the_pipeline(name, route, tmp_path):
    fn, make, shard = PROGRAMS[name]
    inputs = make()
    want = fn(*inputs)
    f = distjit.trace(fn, inputs) if route == "trace" else distjit.script(fn)
    assert_same(f(*inputs), want)
    if route == "trace":
        assert_same(f.interpret(*inputs), want)     # the reference interpreter agrees with the generated code
    g = distjit.optimize(f)
    assert_same(g(*inputs), want)
    path = tmp_path / f"{name}.djit"
    distjit.save(g, str(path))
    h = distjit.load(str(path))
    assert_same(h(*inputs), want)
    assert_same(h.run(*inputs, cluster="local"), want)
    if shard is not None:
        assert_same(h.run(*inputs, cluster="local", workers=2, shard=shard), want, _tolerance(name))
    other = make()     # a second input set: a graph that baked its example values would fail it
    assert_same(h(*other), fn(*other))


def _tasks(f, shard):
    text = f.plan(workers=2, shard=shard).explain()
    return int(text.split(": ", 1)[1].split(" tasks", 1)[0])


@pytest.mark.filterwarnings("ignore::distjit.partition.plan.PlanWarning")
def test_sharding_rules_cut_where_the_math_allows_and_gather_where_it_does_not():
    a = _spd(4, 3, 3)
    # A batch of matrices splits: one task per shard, results concatenated.
    chol = distjit.trace(lambda a: np.linalg.cholesky(a), (a,))
    assert _tasks(chol, {"a": 0}) == 2
    assert_same(chol.run(a, cluster="local", workers=2, shard={"a": 0}), np.linalg.cholesky(a))
    # A batched solve: b is cut with a where it has the batch dim, read whole where it has none.
    for b in (rng.standard_normal((4, 3, 2)), rng.standard_normal(3), rng.standard_normal((3, 2))):
        solve = distjit.trace(np.linalg.solve, (a, b))
        assert _tasks(solve, {"a": 0}) == 2
        assert_same(solve.run(a, b, cluster="local", workers=2, shard={"a": 0}), np.linalg.solve(a, b))
    # A transform along the split axis couples the shards: gathered, one task.
    along = distjit.trace(lambda a: np.fft.fft(a, axis=0), (a,))
    assert _tasks(along, {"a": 0}) == 1
    across = distjit.trace(lambda a: np.fft.fft(a, axis=1), (a,))
    assert _tasks(across, {"a": 0}) == 2
    assert_same(across.run(a, cluster="local", workers=2, shard={"a": 0}), np.fft.fft(a, axis=1))
    # An order statistic along a kept axis splits; q's dims come first in the result.
    x = rng.standard_normal((6, 5))
    pct = distjit.trace(lambda x: np.percentile(x, [25, 75], axis=1), (x,))
    assert _tasks(pct, {"x": 0}) == 2
    assert_same(pct.run(x, cluster="local", workers=2, shard={"x": 0}), np.percentile(x, [25, 75], axis=1))


# ---- hypothesis: shapes and dtypes -----------------------------------------------------------------------------

FLOATS = st.sampled_from([np.float32, np.float64, np.complex64, np.complex128])
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _data(draw_shape, dtype, seed):
    r = np.random.default_rng(seed)
    x = r.standard_normal(draw_shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * r.standard_normal(draw_shape)
    return x.astype(dtype)


@SETTINGS
@given(batch=st.lists(st.integers(1, 3), max_size=2), n=st.integers(1, 4), m=st.integers(1, 4), dtype=FLOATS,
       mode=st.sampled_from(["reduced", "complete", "r"]), seed=st.integers(0, 99))
def test_stacked_decompositions_match_numpy(batch, n, m, dtype, mode, seed):
    a = _data((*batch, n, m), dtype, seed)
    sq = a[..., :min(n, m), :min(n, m)]
    h = sq @ np.conj(np.swapaxes(sq, -1, -2)) + min(n, m) * np.eye(min(n, m), dtype=dtype)

    def fn(a, h):
        qr = np.linalg.qr(a, mode=mode)     # distjit gives NumPy's named results as plain tuples
        return (*(qr if mode != "r" else (qr,)), *np.linalg.svd(a, full_matrices=False), np.linalg.cholesky(h),
                np.linalg.eigvalsh(h), np.linalg.pinv(a), np.linalg.matrix_rank(a))

    f = distjit.trace(fn, (a, h))
    assert_same(f(a, h), fn(a, h))


@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), dtype=FLOATS, seed=st.integers(0, 99),
       n=st.one_of(st.none(), st.integers(1, 9)), norm=st.sampled_from([None, "ortho", "forward", "backward"]),
       data=st.data())
def test_ffts_match_numpy(shape, dtype, seed, n, norm, data):
    x = _data(tuple(shape), dtype, seed)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    real = x.real.copy()
    assume(n is not None or shape[axis] > 1)      # irfft of one point has no outputs (NumPy's ValueError)

    def fn(x, real):
        return (np.fft.fft(x, n, axis, norm), np.fft.ifft(x, n, axis, norm), np.fft.rfft(real, n, axis, norm),
                np.fft.irfft(x, n, axis, norm), np.fft.fftn(x, axes=(axis,), norm=norm), np.fft.ifftshift(x))

    f = distjit.trace(fn, (x, real))
    assert_same(f(x, real), fn(x, real))


@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 99), q=st.one_of(st.floats(0, 100), st.lists(st.floats(0, 100), min_size=1, max_size=3)),
       keepdims=st.booleans(), data=st.data())
def test_order_statistics_and_nan_reductions_match_numpy(shape, dtype, seed, q, keepdims, data):
    x = _data(tuple(shape), dtype, seed)
    x.flat[seed % x.size] = np.nan
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))

    def fn(x):
        clean = np.nan_to_num(x)
        return (np.percentile(clean, q, axis=axis, keepdims=keepdims), np.median(clean, axis=axis),
                np.nanpercentile(x, q, axis=axis), np.nansum(x, axis=axis, keepdims=keepdims),
                np.nanvar(x, axis=axis), np.nanmin(x, axis=axis), np.nancumprod(x, axis=axis))

    f = distjit.script(fn)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")      # all-NaN slices warn in NumPy and here alike
        assert_same(f(x), fn(x))


@SETTINGS
@given(n=st.integers(1, 12), m=st.integers(1, 5), mode=st.sampled_from(["full", "same", "valid"]),
       dtype=st.sampled_from([np.float32, np.float64, np.complex128, np.int64]), bins=st.integers(1, 6),
       right=st.booleans(), seed=st.integers(0, 99))
def test_signal_ops_match_numpy(n, m, mode, dtype, bins, right, seed):
    r = np.random.default_rng(seed)
    a = (r.standard_normal(n) * 3).astype(dtype)
    v = (r.standard_normal(m) * 3).astype(dtype)
    real = a.real.astype(np.float64)
    edges = np.sort(r.standard_normal(bins + 1))

    def fn(a, v, real):
        return (np.convolve(a, v, mode), np.correlate(a, v, mode), np.histogram(real, bins, (-2.0, 2.0)),
                np.histogram(real, edges), np.digitize(real, edges, right=right),
                np.bincount(np.digitize(real, edges), minlength=bins + 2), np.polyval(v, a))

    f = distjit.trace(fn, (a, v, real))
    assert_same(f(a, v, real), fn(a, v, real))


# ---- refusals ------------------------------------------------------------------------------------------------------

def _bincount_without_bound(x):
    return np.bincount(x)


def _eig_of_real(a):
    return np.linalg.eigvals(a)


def _histogram_auto(x):
    return np.histogram(x, bins="auto")


def _qr_bad_mode(a):
    return np.linalg.qr(a, mode="economic")


def _fft_bad_norm(x):
    return np.fft.fft(x, norm="unitary")


def _percentile_bad_method(x):
    return np.percentile(x, 50, method="cubic")


@pytest.mark.parametrize("route", ["trace", "script"])
@pytest.mark.parametrize("fn,arg,words", [
    (_bincount_without_bound, np.arange(4), "minlength"),
    (_eig_of_real, np.eye(3), "astype(complex)"),
    (_histogram_auto, np.ones(5), "bins=n"),
    (_qr_bad_mode, np.eye(3), "mode"),
    (_fft_bad_norm, np.ones(4), "norm"),
    (_percentile_bad_method, np.ones(4), "method"),
])
def test_bad_input_is_a_distjit_error_at_the_users_line(fn, arg, words, route):
    with pytest.raises(DistJitError) as info:
        if route == "trace":
            distjit.trace(fn, (arg,))
        else:
            distjit.script(fn)(arg)
    assert words in str(info.value)
    assert "test_numeric_pipeline.py" in str(info.value)


def test_a_bincount_value_beyond_its_declared_bound_is_an_error_at_run_time():
    f = distjit.trace(lambda x: np.bincount(x, minlength=4), (np.arange(4),))
    assert_same(f(np.array([0, 3, 3, 1])), np.bincount(np.array([0, 3, 3, 1]), minlength=4))
    with pytest.raises(DistJitError, match="minlength=4"):
        f(np.array([0, 5, 1, 1]))


def test_eig_of_a_complex_matrix_is_supported():
    a = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    f = distjit.trace(lambda a: np.linalg.eig(a), (a,))
    assert_same(f(a), np.linalg.eig(a))      # NumPy's EigResult, fields and all
    w, v = distjit.script(_eig)(a)
    assert_same((w, v), tuple(np.linalg.eig(a)))


def _eig(a):
    return np.linalg.eig(a)


def test_nan_to_num_in_place_is_refused():
    with pytest.raises(ShapeError, match="copy=False"):
        distjit.trace(lambda x: np.nan_to_num(x, copy=False), (np.ones(3),))


def test_a_numpy_failure_at_run_time_is_an_execution_error_naming_the_node():
    f = distjit.trace(lambda a: np.linalg.cholesky(a) * 2, (np.eye(3),))
    with pytest.raises(distjit.ExecutionError, match="np.linalg.cholesky failed: LinAlgError"):
        f(-np.eye(3))


def _outcome(call):
    """("ok", result) or ("error", exception); a non-DistJitError from distjit fails the test."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "ok", call()
    except Exception as e:      # noqa: BLE001 - both sides are compared below
        return "error", e


@SETTINGS
@given(op=st.sampled_from(["fft", "rfft", "irfft", "hfft", "ihfft"]), n=st.one_of(st.none(), st.integers(-1, 6)),
       axis=st.integers(-3, 2), norm=st.sampled_from([None, "ortho", "forward", "bad"]),
       shape=st.lists(st.integers(0, 4), min_size=1, max_size=2), qs=st.lists(st.floats(-10, 110), max_size=2),
       mode=st.sampled_from(["full", "same", "valid", "wide"]), nv=st.integers(0, 3))
def test_distjit_refuses_exactly_what_numpy_refuses(op, n, axis, norm, shape, qs, mode, nv):
    x = np.arange(float(np.prod(shape))).reshape(shape) + 1.0
    fn = getattr(np.fft, op)
    cases = [
        (lambda x: fn(x, n, axis, norm), (x,)),
        (lambda x: np.percentile(x, qs, axis=axis if axis < len(shape) else None), (x,)),
        (lambda a, v: np.convolve(a, v, mode), (x.ravel(), np.ones(nv))),
    ]
    for call, args in cases:
        want_kind, want = _outcome(lambda: call(*args))
        got_kind, got = _outcome(lambda: distjit.trace(call, args)(*args))
        if got_kind == "error":
            assert isinstance(got, DistJitError), f"distjit raised a bare {type(got).__name__}: {got}"
        assert got_kind == want_kind, f"NumPy: {want_kind} ({want!r}); distjit: {got_kind} ({got!r})"
        if want_kind == "ok":
            assert_same(got, want)


@SETTINGS
@given(n=st.integers(2, 5), m=st.integers(2, 6), dtype=st.sampled_from([np.float32, np.float64, np.complex128]),
       rowvar=st.booleans(), bias=st.booleans(), ddof=st.one_of(st.none(), st.integers(0, 1)), seed=st.integers(0, 99),
       edge_order=st.sampled_from([1, 2]), axis=st.integers(0, 1))
def test_moments_and_numerics_match_numpy(n, m, dtype, rowvar, bias, ddof, seed, edge_order, axis):
    assume(min(n, m) > edge_order)
    x = _data((n, m), dtype, seed)
    real = x.real.copy()
    w = np.arange(1.0, x.shape[axis] + 1)
    xp = np.linspace(-2.0, 2.0, m)

    def fn(x, real):
        return (np.cov(x, rowvar=rowvar, bias=bias, ddof=ddof), np.corrcoef(real, rowvar=rowvar),
                np.average(x, axis=axis, weights=w, returned=True), np.ptp(real, axis=axis),
                np.nan_to_num(x / 0.0), np.interp(real, xp, real[0]), np.trapezoid(x, axis=axis),
                np.gradient(x, edge_order=edge_order), np.linalg.vector_norm(x, axis=axis, ord=1))

    f = distjit.trace(fn, (x, real))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same(f(x, real), fn(x, real))
