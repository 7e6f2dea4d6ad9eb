"""Tracing: what is recorded, in-place semantics, signatures, parameters, nested inputs and outputs."""
import numpy as np

import distjit
from tests.compare import assert_same, fresh


def mlp(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0)
    z = h @ w2 + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def mlp_inputs(batch=32, rng=None):
    rng = rng or np.random.default_rng(0)
    return (rng.standard_normal((batch, 16), dtype=np.float32), rng.standard_normal((16, 32), dtype=np.float32),
            rng.standard_normal(32, dtype=np.float32), rng.standard_normal((32, 4), dtype=np.float32),
            rng.standard_normal(4, dtype=np.float32))


def test_mlp_is_bitwise_identical_and_prints_types_and_lines():
    args = mlp_inputs()
    f = distjit.trace(mlp, args)
    assert_same(f(*args), mlp(*args))
    text = str(f.graph)
    assert "f32[32,4]" in text and "np.matmul" in text and "test_trace.py:" in text


def test_dynamic_axes_accept_other_sizes_and_keep_the_symbol():
    f = distjit.trace(mlp, mlp_inputs(32), dynamic_axes={"x": {0: "B"}})
    assert "f32[B,4]" in str(f.graph)
    args = mlp_inputs(7, np.random.default_rng(5))
    assert_same(f(*args), mlp(*args))


def test_symbolic_dim_passed_to_reshape_becomes_a_runtime_value():
    def flatten_rows(x):
        n = x.shape[0]
        return x.reshape(n, -1) * 2.0
    x = np.arange(24.0).reshape(2, 3, 4)
    f = distjit.trace(flatten_rows, (x,), dynamic_axes={0: {0: "N"}})
    y = np.arange(60.0).reshape(5, 3, 4)
    assert_same(f(y), flatten_rows(y))


def test_arithmetic_on_dynamic_dims_runs_at_run_time_with_python_semantics():
    def f(x):
        n = x.shape[0]
        centered = x - x.sum(axis=0) / n
        return centered.T @ centered / (n - 1), x.reshape(n // 2, -1), x.size * 1.0
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    g = distjit.trace(f, (x,), dynamic_axes={0: {0: "N"}})
    for rows in (4, 6, 10):
        y = np.random.default_rng(rows).standard_normal((rows, 2)).astype(np.float32)
        assert_same(g(y), f(y))


def test_shape_dependent_python_is_fine():
    def f(x):
        out = x
        for _ in range(x.shape[0]):
            out = out * 0.5 + 1
        return out if x.ndim == 2 else -out
    x = np.ones((3, 2))
    assert_same(distjit.trace(f, (x,))(x), f(x))


class Linear:
    def __init__(self, rng, n_in, n_out):
        self.weight = rng.standard_normal((n_in, n_out))
        self.bias = np.zeros(n_out)

    def __call__(self, x):
        return x @ self.weight + self.bias


class Model:
    def __init__(self, rng):
        self.layers = [Linear(rng, 8, 16), Linear(rng, 16, 2)]
        self.scale = 0.5

    def __call__(self, x):
        for layer in self.layers:
            x = np.tanh(layer(x))
        return x * self.scale


def test_callable_object_weights_become_named_parameters():
    model = Model(np.random.default_rng(1))
    x = np.random.default_rng(2).standard_normal((4, 8))
    f = distjit.trace(model, (x,))
    assert set(f.params) == {"layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"}
    assert "params(%layers.0.weight: f64[8,16]" in str(f.graph)
    assert_same(f(x), model(x))
    assert not any(n.op == "prim.Constant" and isinstance(n.attrs["value"], np.ndarray) for n in f.graph.walk())


def test_nested_inputs_and_outputs():
    def f(batch, params):
        x, y = batch["x"], batch["y"]
        pred = x @ params[0] + params[1]
        return {"loss": ((pred - y) ** 2).mean(), "pred": [pred, None], "n": (x.shape[0], "rows")}
    rng = np.random.default_rng(3)
    batch = {"x": rng.standard_normal((5, 3)), "y": rng.standard_normal((5, 2))}
    params = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    g = distjit.trace(f, (batch, params))
    assert_same(g(batch, params), f(batch, params))


def test_keyword_arguments_bind_by_name():
    args = mlp_inputs()
    f = distjit.trace(mlp, args)
    x, w1, b1, w2, b2 = args
    assert_same(f(x, w1, b2=b2, w2=w2, b1=b1), mlp(*args))


def test_python_scalar_inputs_stay_weak_and_dynamic():
    def f(x, alpha):
        return x * alpha + 1
    x = np.ones(3, dtype=np.float32)
    g = distjit.trace(f, (x, 2.0))
    assert_same(g(x, 3.5), f(x, 3.5))
    assert g(x, 3.5).dtype == np.float32


# -- in-place updates -------------------------------------------------------------

def test_mutated_input_is_written_back():
    def f(a, b):
        a[0] = 10.0
        a += b
        np.multiply(a, 2.0, out=a)
        return a.sum()
    a, b = np.arange(4.0), np.ones(4)
    g = distjit.trace(f, fresh((a, b)))
    a1, a2 = a.copy(), a.copy()
    assert_same(g(a1, b), f(a2, b))
    assert_same(a1, a2)


def test_writes_through_views_reach_the_base():
    def f(x):
        a = x.copy()
        v = a[::2]
        v += 1.0
        col = a[:, 1]
        col *= -1
        a.T[0] = 5.0
        r = a.reshape(-1)
        r[3] = 42.0
        return a, v, col
    x = np.arange(20.0).reshape(4, 5)
    assert_same(distjit.trace(f, (x,))(x), f(x))


def test_view_sees_later_updates_of_its_base():
    def f(x):
        a = x.copy()
        row = a[1]
        a[1, 2] = -7.0
        return row * 1.0
    x = np.arange(12.0).reshape(3, 4)
    assert_same(distjit.trace(f, (x,))(x), f(x))


def test_augmented_subscript_assignment():
    def f(x, idx):
        a = x.copy()
        a[1:3] += 1
        a[idx] *= 2
        a[a > 5] = 0
        return a
    x, idx = np.arange(8.0), np.array([0, 4])
    assert_same(distjit.trace(f, (x, idx))(x, idx), f(x, idx))


def test_creation_functions_are_recorded_so_they_can_be_filled():
    def f(x):
        out = np.zeros((x.shape[0], 2))
        out[:, 0] = x.sum(axis=1)
        out[:, 1] = x.max(axis=1)
        return out
    x = np.random.default_rng(0).standard_normal((5, 3))
    g = distjit.trace(f, (x,))
    assert any(n.op == "np.zeros" for n in g.graph.walk())
    assert_same(g(x), f(x))


def test_in_place_sort_and_fill():
    def f(x):
        a = x.copy()
        a.sort()
        b = np.empty_like(x)
        b.fill(3.0)
        return a, b
    x = np.array([3.0, 1.0, 2.0])
    assert_same(distjit.trace(f, (x,))(x), f(x))


def test_generated_code_frees_intermediates():
    args = mlp_inputs()
    code = distjit.trace(mlp, args).code
    assert "del " in code


def test_scalar_read_is_a_copy_not_a_view():
    def f(x):
        y = x.copy()
        tmp = y[1]
        y[1] = y[2]
        y[2] = tmp
        return y, tmp
    x = np.arange(4.0)
    assert_same(distjit.trace(f, (x,))(x), f(x))


def test_in_place_update_on_dynamic_dims():
    def f(x, row):
        acc = np.zeros_like(x)
        acc += row
        acc[0] += 1.0
        return acc
    x, row = np.ones((3, 4)), np.arange(4.0)
    g = distjit.trace(f, (x, row), dynamic_axes={"x": {0: "N"}})
    y = np.ones((7, 4))
    assert_same(g(y, row), f(y, row))
