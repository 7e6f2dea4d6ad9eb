"""Every tracing and calling error: the right class, the user's file and line, and what to do."""
import numpy as np
import pytest

import distjit

HERE = __file__.rsplit("/", 1)[-1]


def line_of(fn, marker: str) -> int:
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if marker in line)


def data_dependent_if(x):
    if x.sum() > 0:  # marker:if
        return x
    return -x


def test_data_dependent_if_names_file_and_line_and_suggests_script():
    with pytest.raises(distjit.TracingError) as e:
        distjit.trace(data_dependent_if, (np.ones(3),), fallback=False)
    message = str(e.value)
    assert f"{HERE}:{line_of(data_dependent_if, 'marker:if')}" in message
    assert "distjit.script" in message


@pytest.mark.parametrize("body", [
    lambda x: float(x.sum()),
    lambda x: int(x[0]),
    lambda x: bool(x.any()),
    lambda x: x.item(),              # three elements: no one number (x.max().item() is a traced number)
    lambda x: x.tolist(),
    lambda x: [v for v in x[0]],     # a 0-d array has no first axis to iterate
    lambda x: list(range(x[0])),
    lambda x: x if x.sum() > 0 and x.max() else x,
])
def test_value_dependent_python_is_refused(body):
    with pytest.raises(distjit.TracingError) as e:
        distjit.trace(body, (np.ones(3, dtype=np.int64),), fallback=False)
    assert HERE in str(e.value)


def uses_random(x):
    return x + np.random.normal(size=x.shape)  # marker:random


def test_np_random_is_refused_not_baked():
    with pytest.raises(distjit.TracingError) as e:
        distjit.trace(uses_random, (np.ones(3),))
    assert f"{HERE}:{line_of(uses_random, 'marker:random')}" in str(e.value)
    assert "np.random.normal" in str(e.value)


RNG = np.random.default_rng(0)


def uses_generator(x):
    return x + RNG.normal(size=x.shape)


def test_random_generator_is_refused():
    with pytest.raises(distjit.TracingError, match="random generator"):
        distjit.trace(uses_generator, (np.ones(3),))


def unknown_function(x):
    return np.apply_along_axis(np.sum, 0, x)  # marker:unknown


def test_unknown_numpy_function_names_function_and_line():
    with pytest.raises(distjit.TracingError) as e:
        distjit.trace(unknown_function, (np.ones(4),))
    assert "apply_along_axis" in str(e.value)
    assert f"{HERE}:{line_of(unknown_function, 'marker:unknown')}" in str(e.value)


def test_unknown_keyword_is_refused_with_the_accepted_ones():
    with pytest.raises(distjit.TracingError, match="it accepts: .*axis"):
        distjit.trace(lambda x: np.sum(x, where=x > 0), (np.ones(4),))


def test_mutating_a_constant_is_refused():
    table = np.zeros(3)

    def f(x):
        np.add(table, x, out=table)
        return x
    with pytest.raises(distjit.TracingError, match="constant"):
        distjit.trace(f, (np.ones(3),))


def test_bad_shapes_at_trace_time_are_shape_errors_with_the_line():
    with pytest.raises(distjit.ShapeError) as e:
        distjit.trace(lambda a, b: a @ b, (np.ones((2, 3)), np.ones((4, 5))))
    assert HERE in str(e.value)


def test_dynamic_axes_errors():
    with pytest.raises(distjit.TracingError, match="not an argument"):
        distjit.trace(lambda x: x, (np.ones(2),), dynamic_axes={"y": {0: "B"}})
    with pytest.raises(distjit.TracingError, match="out of range"):
        distjit.trace(lambda x: x, (np.ones(2),), dynamic_axes={"x": {3: "B"}})


def test_python_loop_over_a_dynamic_dim_is_refused_not_baked():
    def f(x):
        for i in range(x.shape[0]):  # marker:range
            x = x + i
        return x
    with pytest.raises(distjit.TracingError) as e:
        distjit.trace(f, (np.ones((4, 2)),), dynamic_axes={0: {0: "B"}}, fallback=False)
    assert f"{HERE}:{line_of(f, 'marker:range')}" in str(e.value)


# -- calling a Function with the wrong arguments ----------------------------------------

def add(x, y):
    return x + y


@pytest.fixture(scope="module")
def f():
    return distjit.trace(add, (np.ones((2, 3)), np.ones(3)), dynamic_axes={"x": {0: "B"}})


def test_wrong_dtype(f):
    with pytest.raises(distjit.ShapeError, match=r"argument y has dtype float32.*float64"):
        f(np.ones((2, 3)), np.ones(3, dtype=np.float32))


def test_wrong_static_dim(f):
    with pytest.raises(distjit.ShapeError, match=r"argument y has shape \(4,\), but the function was traced "
                                                 r"for f64\[3\]"):
        f(np.ones((2, 3)), np.ones(4))


def scaled_tanh(x, w):
    return np.tanh(x @ w) * 2.0


def test_another_static_shape_is_refused_at_the_call_line_with_the_dynamic_axes_that_accept_it():
    """A trace keeps the example's static shapes (NOTE: [Static shapes of a trace]): the error names the call's
    line and spells the dynamic_axes= to pass; tracing with it then runs the new shapes as NumPy does."""
    x, w = np.random.default_rng(0).random((4, 3)), np.random.default_rng(1).random((3, 2))
    g = distjit.trace(scaled_tanh, (x, w))
    wide = np.random.default_rng(2).random((6, 5))
    with pytest.raises(distjit.ShapeError) as e:
        g(wide, w)  # marker:call
    message = str(e.value)
    assert message.startswith(f"{__file__}:{line_of(test_another_static_shape_is_refused_at_the_call_line_with_the_dynamic_axes_that_accept_it, 'marker:call')}:")
    assert "axis 0 must be 4" in message
    suggested = message.split("dynamic_axes=", 1)[1].split(")", 1)[0]
    assert suggested == "{'x': {0: 'X0', 1: 'X1'}}"
    taller = wide[:, :3]
    h = distjit.trace(scaled_tanh, (x, w), dynamic_axes=eval(suggested))
    np.testing.assert_array_equal(h(taller, w), scaled_tanh(taller, w))


def test_a_nested_argument_of_another_shape_says_dynamic_axes_takes_whole_arrays():
    g = distjit.trace(lambda pair: pair[0] + pair[1], ((np.ones(3), np.ones(3)),))
    with pytest.raises(distjit.ShapeError, match=r"argument pair\[0\] has shape \(4,\).*dynamic_axes names "
                                                 r"whole array arguments only") as e:
        g((np.ones(4), np.ones(3)))
    assert HERE in str(e.value)


def test_dynamic_dim_accepts_any_size(f):
    assert f(np.ones((9, 3)), np.ones(3)).shape == (9, 3)


def test_wrong_rank_structure_and_arity(f):
    with pytest.raises(distjit.ShapeError, match="dimensions"):
        f(np.ones(3), np.ones(3))
    with pytest.raises(distjit.ShapeError, match="missing"):
        f(np.ones((2, 3)))
    with pytest.raises(distjit.ShapeError, match="unexpected argument 'z'"):
        f(np.ones((2, 3)), np.ones(3), z=1)
    with pytest.raises(distjit.ShapeError, match="argument x must be a NumPy array.*got list"):
        f([[1.0, 2.0, 3.0]], np.ones(3))


def test_inconsistent_symbolic_dims():
    g = distjit.trace(add, (np.ones(3), np.ones(3)), dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    with pytest.raises(distjit.ShapeError, match="dimension N is 4 in x but 5 in argument y"):
        g(np.ones(4), np.ones(5))


def gather(x, idx):
    return x[idx]  # marker:gather


def test_runtime_failure_is_execution_error_naming_node_and_line():
    g = distjit.trace(gather, (np.arange(5.0), np.array([0, 1])))
    with pytest.raises(distjit.ExecutionError) as e:
        g(np.arange(5.0), np.array([0, 9]))
    assert f"{HERE}:{line_of(gather, 'marker:gather')}" in str(e.value)
    assert "array.getitem" in str(e.value)
    assert isinstance(e.value.__cause__, IndexError)
    with pytest.raises(distjit.ExecutionError, match=HERE):
        g.interpret(np.arange(5.0), np.array([0, 9]))


def test_all_errors_derive_from_distjit_error():
    for cls in (distjit.TracingError, distjit.ScriptError, distjit.ShapeError, distjit.FormatError,
                distjit.ExecutionError, distjit.ClusterError, distjit.VerifyError):
        assert issubclass(cls, distjit.DistJitError)
