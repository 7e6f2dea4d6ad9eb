"""Python on traced arrays: iteration, builtins, complex parts, `x.shape =`, helpers and lambdas, lists built
in loops, and the error for an attribute the tracer lacks. Each is compared with NumPy on fresh inputs."""
import math
import traceback
from math import sqrt

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import distjit
from tests.compare import assert_same, fresh
from tests.frontend.helpers.from_numpy_import import arange, padded_copy, zeros

HERE = __file__


def check(fn, *args, second=None):
    """Trace on args; the Function matches NumPy on args and (for a graph that baked values) on `second`."""
    f = distjit.trace(fn, fresh(args))
    for inputs in (args, second) if second is not None else (args,):
        expected_inputs = fresh(inputs)
        expected = fn(*expected_inputs)
        got_inputs = fresh(inputs)
        assert_same(f(*got_inputs), expected)
        assert_same(got_inputs, expected_inputs, 0.0, "inputs after the call")
    return f


def rng_array(seed, *shape, dtype=np.float64):
    r = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "c":
        return (r.standard_normal(shape) + 1j * r.standard_normal(shape)).astype(dtype)
    return r.standard_normal(shape).astype(dtype)


# -- iterating over the first axis ------------------------------------------------------------------------

def rows_appended(X):
    acc = []
    for row in X:
        acc.append(row.sum() * 2.0)
    return np.array(acc)


def zipped(X, Y):
    return np.stack([a * b for a, b in zip(X, Y)])


def enumerated(X):
    total = np.zeros(X.shape[1])
    for i, row in enumerate(X):
        total += i * row
    return total


def rows_updated_in_place(X):
    for row in X:          # rows are views: NumPy writes into X
        row *= 2.0
    return X.sum()


def unpacked(X):
    a, b, c = X
    return a - b * c


@pytest.mark.parametrize("fn", [rows_appended, enumerated, rows_updated_in_place, unpacked])
def test_iterating_over_the_first_axis_unrolls(fn):
    check(fn, rng_array(0, 3, 4), second=(rng_array(1, 3, 4),))


def test_zip_of_two_arrays():
    check(zipped, rng_array(0, 4, 3), rng_array(1, 4, 3), second=(rng_array(2, 4, 3), rng_array(3, 4, 3)))


def test_iterating_over_a_dynamic_first_dim_names_the_line_and_points_to_script():
    def loop(x):
        return sum(row for row in x)  # marker
    with pytest.raises(distjit.TracingError) as e:
        distjit.trace(loop, (np.ones((3, 2)),), dynamic_axes={0: {0: "N"}}, fallback=False)
    assert f"{HERE}:" in str(e.value) and "distjit.script" in str(e.value)


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 5), cols=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_iteration_matches_numpy_for_any_static_shape(rows, cols, seed):
    def fn(X):
        out = []
        for i, row in enumerate(X):
            out.append(row * (i + 1) - row.max())
        return np.vstack(out), np.hstack(out), np.concatenate(out), sum(out)
    check(fn, rng_array(seed, rows, cols), second=(rng_array(seed + 1, rows, cols),))


# -- builtins ---------------------------------------------------------------------------------------------

def test_len_abs_min_max_and_sum_builtins():
    def fn(X):
        n = len(X)
        return abs(X) * max(n, 2) + min(1, 3, X.shape[1]) + max([X.shape[0], 7]) + sum([X, X, X])
    check(fn, rng_array(0, 4, 3), second=(rng_array(1, 4, 3),))


def test_abs_of_a_traced_scalar():
    check(lambda x, a: x * abs(a), rng_array(0, 3), -2.5, second=(rng_array(1, 3), 4.0))


def math_in_a_scalar_loop(S, sigma, r):
    """math's functions on elements and scalar arguments, as a textbook pricing loop writes them (the math
    module's attribute, and one bound by `from math import sqrt`)."""
    out = np.empty(len(S))
    for i in range(len(S)):
        d = (math.log(S[i] / 100.0) + r) / (sigma[i] * sqrt(2.0))
        out[i] = math.exp(-r) * math.floor(3 * d) + math.atan2(d, 2) + math.log(S[i], 10) + math.pow(2, i)
        out[i] += 0.5 * (1.0 + math.erf(d / sqrt(2.0))) + math.lgamma(S[i])
    return out, math.isnan(out[0]), math.hypot(out[1], 1.0)


@pytest.mark.parametrize("mode", ["trace", "script"])
def test_math_functions_of_traced_numbers(mode):
    args = (np.linspace(90.0, 110.0, 4), np.linspace(0.1, 0.3, 4), 0.03)
    f = distjit.trace(math_in_a_scalar_loop, fresh(args)) if mode == "trace" else distjit.script(math_in_a_scalar_loop)
    for inputs in (args, (args[0][::-1].copy(), args[1], 0.05)):
        got, expected = f(*fresh(inputs)), math_in_a_scalar_loop(*fresh(inputs))
        assert_same(got, expected)
        assert [type(v) for v in got] == [type(v) for v in expected]


@pytest.mark.parametrize("mode", ["trace", "script"])
def test_a_math_function_without_a_ufunc_is_refused_at_the_users_line(mode):
    def fn(x):
        return x * math.factorial(x[0])

    with pytest.raises(distjit.DistJitError, match="math.factorial") as info:
        (distjit.trace(fn, (np.ones(3),)) if mode == "trace" else distjit.script(fn))(np.ones(3))
    assert f"{HERE}:" in str(info.value)


def items(X):
    return X.sum().item() / X.shape[0], X.item(1) + X.item((0, 2)), (X > 0.5).sum().item(), (X > 2).any().item()


@pytest.mark.parametrize("mode", ["trace", "script"])
def test_item_is_a_traced_python_number(mode):
    xs = [rng_array(0, 3, 3), rng_array(1, 3, 3)]
    f = distjit.trace(items, (xs[0],)) if mode == "trace" else distjit.script(items)
    for x in xs:
        got, expected = f(x), items(x)
        assert_same(got, expected)
        assert [type(v) for v in got] == [type(v) for v in expected]


def test_item_of_several_elements_is_a_tracing_error():
    with pytest.raises(distjit.TracingError, match="one element"):
        distjit.trace(lambda x: x.item(), (np.ones(3),), fallback=False)


def lists_of_computed_numbers(A):
    d = np.sign(np.linalg.det(A))
    return np.diag([1.0, 1.0, d]) @ A, np.mean([A[0, 0], A.max(), 2.0]), np.reshape(A, [A.shape[1], -1])


@pytest.mark.parametrize("mode", ["trace", "script"])
def test_a_list_of_numpy_scalars_is_an_array_argument(mode):
    """NumPy's dispatch does not look into the list; NumPy would make an array of it, so the trace does."""
    xs = [rng_array(0, 3, 3), rng_array(1, 3, 3)]
    f = distjit.trace(lists_of_computed_numbers, (xs[0],)) if mode == "trace" else distjit.script(
        lists_of_computed_numbers)
    for x in xs:
        assert_same(f(x), lists_of_computed_numbers(x))


def test_len_of_a_0d_array_is_a_tracing_error():
    with pytest.raises(distjit.TracingError):
        distjit.trace(lambda x: len(x.sum()), (np.ones(3),))


# -- complex parts ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.complex128, np.complex64, np.float64])
def test_real_imag_conj_angle(dtype):
    def fn(z):
        return (z.real + 2 * z.imag, z.conj() * np.conj(z), np.angle(z), np.angle(z, deg=True), np.real(z),
                np.imag(z), z.conjugate().real)
    check(fn, rng_array(0, 3, 4, dtype=dtype), second=(rng_array(1, 3, 4, dtype=dtype),))


def test_writes_through_real_and_imag():
    def fn(z):
        z.real[0] = 5.0
        z.imag[:, 1] *= -1.0
        w = z.copy()
        w.imag = 0.5
        w.real = w.real * 2
        return w
    check(fn, rng_array(0, 3, 4, dtype=np.complex128), second=(rng_array(1, 3, 4, dtype=np.complex128),))


def test_writing_the_imaginary_part_of_a_real_array_is_refused():
    def fn(x):
        x.imag = 1.0
        return x
    with pytest.raises(distjit.TracingError):
        distjit.trace(fn, (np.ones(3),))


# -- x.shape = ... ----------------------------------------------------------------------------------------

def test_setting_shape_reshapes_and_writes_reach_the_data_and_earlier_views():
    def fn(x):
        a = x * 1.0
        first = a[0:2]
        a.shape = (3, 4)
        a[1] = -1.0
        first += 10.0        # a view made before the shape was set writes into the same data
        y = a * 2
        y.shape = -1
        view = x[2:]         # the shape of a view of an argument is the view's own
        view.shape = (5, 2)
        view[0] = 0.0        # ... and writing it writes into the caller's array
        return y, first + 0.0, a
    check(fn, np.arange(12.0), second=(np.arange(12.0) * 3,))


def test_setting_the_shape_of_an_argument_is_refused():
    def fn(x):
        x.shape = (2, 3)
        return x
    with pytest.raises(distjit.TracingError) as e:
        distjit.trace(fn, (np.arange(6.0),))
    assert f"{HERE}:" in str(e.value) and "reshape" in str(e.value)


# -- helpers, lambdas, containers -------------------------------------------------------------------------

def test_helper_with_a_lambda_and_a_dict_and_from_numpy_import():
    square = lambda v: v * v   # noqa: E731

    def summary(a):
        return {"mean": a.mean(axis=0), "sq": square(a), "padded": padded_copy(a[0]), "z": zeros(2) + arange(2)}

    def fn(x):
        d = summary(x)
        return {"out": d["mean"] + d["sq"], "rest": (d["padded"], d["z"])}
    check(fn, rng_array(0, 3, 2), second=(rng_array(1, 3, 2),))


def test_dicts_tuples_and_lists_of_arrays_in_and_out():
    def fn(d):
        return [d["a"] + d["b"][0], {"t": (d["b"][1], d["a"] * 2)}]
    check(fn, {"a": rng_array(0, 3), "b": [rng_array(1, 3), rng_array(2, 3)]},
          second=({"a": rng_array(3, 3), "b": [rng_array(4, 3), rng_array(5, 3)]},))


def test_lists_built_in_loops_stack_concatenate():
    def fn(X):
        acc = []
        for i in range(X.shape[0]):
            acc.append(X[i] * i)
        return np.array(acc), np.stack(acc, axis=1), np.concatenate(acc), np.vstack(acc), np.hstack(acc)
    check(fn, rng_array(0, 3, 2), second=(rng_array(1, 3, 2),))


# -- attributes the tracer lacks --------------------------------------------------------------------------

@pytest.mark.parametrize("body", [lambda x: x.flags, lambda x: x.tobytes(), lambda x: x.no_such_thing])
def test_a_missing_attribute_is_a_tracing_error_at_the_users_line(body):
    with pytest.raises(distjit.TracingError) as e:
        distjit.trace(body, (np.ones(3),))
    assert isinstance(e.value, distjit.DistJitError) and f"{HERE}:" in str(e.value)


def test_hasattr_on_a_traced_array_answers_false_for_a_missing_attribute():
    check(lambda x: x * 2 if not hasattr(x, "toarray") else x, rng_array(0, 3))


# -- parameters of a traced callable object ----------------------------------------------------------------

class Dense:
    def __init__(self, rng, n_in, n_out):
        self.weight = rng.standard_normal((n_out, n_in))
        self.bias = {"b": rng.standard_normal(n_out)}
        self.scales = [rng.standard_normal(n_out)]

    def __call__(self, x):
        return (x @ self.weight.T + self.bias["b"]) * self.scales[0] + self.weight[0].sum() + (self.weight * 2).mean()


def test_views_and_arithmetic_on_parameters_stay_computations_on_them(tmp_path):
    rng = np.random.default_rng(0)
    layer = Dense(rng, 256, 250)
    x = rng.standard_normal((4, 256))
    f = distjit.trace(layer, (x,))
    assert set(f.params) == {"weight", "bias.b", "scales.0"}
    assert_same(f(x), layer(x))
    assert len(str(f.graph)) < 5000                     # no weight printed inline as a constant
    assert isinstance(layer.weight, np.ndarray)         # the object is put back
    path = tmp_path / "dense.djit"
    distjit.save(f, path)
    param_bytes = sum(a.nbytes for a in f.params.values())
    assert path.stat().st_size < param_bytes * 1.1
    h = distjit.load(path)
    assert_same(h(x), layer(x))
    layer.weight = rng.standard_normal((250, 256))
    h.params["weight"] = layer.weight
    assert_same(h(x), layer(x))


def test_a_bound_methods_arrays_are_parameters_too():
    rng = np.random.default_rng(1)
    layer = Dense(rng, 8, 3)
    f = distjit.trace(layer.__call__, (rng.standard_normal((2, 8)),))
    assert "weight" in f.params


class Stateful:
    def __init__(self):
        self.w = np.ones(3)

    def __call__(self, x):
        self.w += x          # the object's state changes: a graph cannot do that
        return self.w * 2


def test_updating_a_parameter_in_place_is_refused_and_the_object_restored():
    obj = Stateful()
    with pytest.raises(distjit.TracingError) as e:
        distjit.trace(obj, (np.ones(3),))
    assert f"{HERE}:" in str(e.value) and "'w'" in str(e.value)
    assert isinstance(obj.w, np.ndarray)


class ViewWriter(Stateful):
    def __call__(self, x):
        row = self.w[1:]
        row[0] = x.sum()     # a write through a view of the parameter
        return x


class Rebinder(Stateful):
    def __call__(self, x):
        self.w = self.w * x
        return self.w


@pytest.mark.parametrize("cls", [ViewWriter, Rebinder])
def test_writing_through_a_parameters_view_or_rebinding_it_is_refused(cls):
    obj = cls()
    original = obj.w
    with pytest.raises(distjit.TracingError):
        distjit.trace(obj, (np.ones(3),))
    assert obj.w is original


# -- min and max of traced values --------------------------------------------------------------------------

def test_min_max_of_traced_python_numbers_choose_at_run_time():
    def fn(x, a, b):
        return x * max(a, 1.0) + min(a, b, 2.0) - max([b, a])
    check(fn, rng_array(0, 3), 3.5, -1.0, second=(rng_array(1, 3), -3.5, 0.25))


def test_min_max_of_arrays_follow_pythons_rule_with_where():
    def fn(x):
        rows = list(x)
        return (max(x.sum(), 0.0), min(x.max(), x.min()), max(x[0]), min(x[:, 1]),
                max(rows, key=lambda r: r.sum()), min(rows, key=lambda r: r[0]), max(3, 1, 2) * x[0])
    second = rng_array(1, 4, 3)
    second[0, 1] = np.nan                    # Python keeps or drops a NaN by its position, and so must we
    check(fn, rng_array(0, 4, 3), second=(second,))


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.floats(-5, 5, allow_nan=False) | st.just(float("nan")), min_size=1, max_size=5))
def test_builtin_max_and_min_over_a_1d_array_match_python(values):
    def fn(v):
        return max(v), min(v)
    check(fn, np.array(values), second=(np.array(values[::-1]),))


@pytest.mark.parametrize("name", sorted(n for n in dir(np.ndarray) if not n.startswith("_")))
def test_every_ndarray_attribute_either_traces_or_is_a_distjit_error(name):
    """Reading any public ndarray attribute of a traced array, and calling it when it is a method, never
    raises a bare Python exception from inside distjit."""
    def fn(x):
        value = getattr(x, name)
        return value() if callable(value) else value
    try:
        distjit.trace(fn, (np.arange(6.0).reshape(2, 3),))
    except distjit.DistJitError:
        pass
    except TypeError as e:     # a method that needs arguments: Python's own error, raised at the user's call
        assert traceback.extract_tb(e.__traceback__)[-1].filename == HERE, f"{name}: {e!r}"


# -- ufunc where= with out= ------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), out_dtype=st.sampled_from([np.float64, np.float32]))
def test_ufunc_where_with_out_keeps_outs_values_where_the_mask_is_false(seed, out_dtype):
    def fn(x, y, out):
        np.divide(x, y, out=out, where=y > 0)
        np.add(out, 1.0, out=out, where=np.array([True, False, True]))
        return out * 2
    r = np.random.default_rng(seed)
    make = lambda: (r.standard_normal((4, 3)), r.standard_normal((4, 3)), r.standard_normal((4, 3)).astype(out_dtype))  # noqa: E731
    check(fn, *make(), second=make())


def test_ufunc_where_without_out_is_refused_at_the_users_line():
    with pytest.raises(distjit.TracingError) as e:
        distjit.trace(lambda x: np.sqrt(x, where=x > 0), (np.ones(3),))
    assert f"{HERE}:" in str(e.value) and "np.where" in str(e.value)
