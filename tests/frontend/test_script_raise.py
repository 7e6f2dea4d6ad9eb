"""A scripted `raise` in a branch the data decides raises when the graph runs that branch: the user's exception
class and message, as an ExecutionError naming the line (NOTE: [Raised errors] in distjit/errors.py)."""
import numpy as np
import pytest

import distjit

HERE = __file__


def line_of(fn, marker: str) -> int:
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if marker in line)


def checked_double(x):
    if x.sum() > 10:
        raise ValueError("too big")  # marker:raise
    return x * 2


def else_defines(x, limit):
    if x.max() > limit:
        raise RuntimeError(f"max above {3}")  # marker:raise
    else:
        y = np.sqrt(x) + 1
    return y


def raise_in_loop(x):
    total = 0.0
    for i in range(x.shape[0]):
        if x[i] < 0:
            raise ArithmeticError("negative entry")  # marker:raise
        total += np.sqrt(x[i])
    return total


def runners(fn, example):
    scripted = distjit.script(fn)
    scripted(*example)
    optimized = distjit.optimize(scripted)
    optimized(*example)
    return [("script", scripted), ("optimized", optimized), ("interpret", scripted.interpret),
            ("local plan", lambda *args: optimized.run(*args, cluster="local", workers=2)),
            ("trace fallback", distjit.trace(fn, example))]


CASES = [
    (checked_double, lambda: (np.arange(4.0),), lambda: (np.arange(6.0),), ValueError, "too big"),
    (else_defines, lambda: (np.arange(4.0), 5.0), lambda: (np.arange(9.0), 5.0), RuntimeError, "max above 3"),
    (raise_in_loop, lambda: (np.arange(5.0),), lambda: (np.array([1.0, -2.0, 3.0]),), ArithmeticError,
     "negative entry"),
]


@pytest.mark.filterwarnings("ignore::distjit.FallbackWarning")
@pytest.mark.parametrize("fn, good, bad, cls, message", CASES, ids=[c[0].__name__ for c in CASES])
def test_raise_in_a_data_dependent_branch_runs_only_when_the_branch_does(fn, good, bad, cls, message):
    for name, run in runners(fn, good()):
        np.testing.assert_array_equal(run(*good()), fn(*good()), err_msg=name)
        with pytest.raises(cls, match=message) as python_error:
            fn(*bad())
        with pytest.raises(cls) as e:
            run(*bad())
        assert isinstance(e.value, distjit.ExecutionError), name
        assert str(e.value).startswith(f"{HERE}:{line_of(fn, 'marker:raise')}: "), name
        assert str(python_error.value) in str(e.value), name


def test_a_saved_raise_keeps_its_class(tmp_path):
    s = distjit.script(checked_double, example_inputs=(np.arange(4.0),))
    distjit.save(s, tmp_path / "f.djit")
    h = distjit.load(tmp_path / "f.djit")
    np.testing.assert_array_equal(h(np.arange(3.0)), checked_double(np.arange(3.0)))
    with pytest.raises(ValueError, match="too big"):
        h(np.arange(6.0))


def needs_matrix(x):
    if x.ndim != 2:
        raise TypeError("a matrix, please")  # marker:raise
    return x.T


def test_a_raise_every_call_takes_raises_while_compiling():
    s = distjit.script(needs_matrix)
    np.testing.assert_array_equal(s(np.ones((2, 3))), needs_matrix(np.ones((2, 3))))
    with pytest.raises(TypeError, match="a matrix, please") as e:
        s(np.ones(3))
    assert f"{HERE}:{line_of(needs_matrix, 'marker:raise')}" in str(e.value)


class MyError(Exception):
    pass


def raises_own_class(x):
    if x.sum() > 0:
        raise MyError("mine")  # marker:raise
    return x


def raises_traced_message(x):
    if x.sum() > 0:
        raise ValueError(x.sum())  # marker:raise
    return x


def raises_tuple_message(x):
    if x.sum() > 0:
        raise ValueError((1, 2))  # marker:raise
    return x


def bare_raise(x):
    if x.sum() > 0:
        raise  # marker:raise
    return x


@pytest.mark.parametrize("fn, message", [(raises_own_class, "builtin exception classes only"),
                                         (raises_traced_message, "calling ValueError on traced values"),
                                         (raises_tuple_message, "must be strings or numbers"),
                                         (bare_raise, "bare `raise`")])
def test_a_raise_the_graph_cannot_keep_is_a_script_error_at_its_line(fn, message):
    with pytest.raises(distjit.ScriptError, match=message) as e:
        distjit.script(fn)(np.ones(3))
    assert f"{HERE}:{line_of(fn, 'marker:raise')}" in str(e.value)


def dead_code_after_raise(x):
    if x.sum() > 10:
        raise ValueError("too big")  # marker:raise
        x = x.reshape(-1, 7)         # never runs: not compiled either
    return x + 1.0


def test_code_after_a_raise_is_dead_and_not_compiled():
    s = distjit.script(dead_code_after_raise)
    np.testing.assert_array_equal(s(np.arange(3.0)), dead_code_after_raise(np.arange(3.0)))
    with pytest.raises(ValueError, match="too big"):
        s(np.arange(8.0))


def test_a_raised_error_pickles_as_itself():
    """A Ray worker's error comes back pickled: it is still the user's class and an ExecutionError."""
    import pickle

    s = distjit.script(checked_double)
    with pytest.raises(ValueError) as e:
        s(np.arange(6.0))
    again = pickle.loads(pickle.dumps(e.value))
    assert type(again) is type(e.value) and str(again) == str(e.value)
    assert isinstance(again, ValueError) and isinstance(again, distjit.ExecutionError)
