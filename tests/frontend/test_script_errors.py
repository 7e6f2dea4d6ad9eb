"""Unsupported Python gives ScriptError with file:line:col, the source line, a caret under the column, and a hint."""
import inspect
import math

import numpy as np
import pytest

import distjit
from distjit import ScriptError
from tests.compare import assert_same


def _find(fn, marker: str):
    """(line, col) of `marker` in fn's source, the def line last: where the caret must point."""
    lines, first = inspect.getsourcelines(fn)
    order = list(range(1, len(lines))) + [0]
    for offset in order:
        if marker in lines[offset]:
            return first + offset, lines[offset].index(marker)
    raise AssertionError(f"{marker!r} not in the source of {fn.__name__}")


def assert_error_form(err: ScriptError, fn, marker: str, what: str):
    """Line 1: file:line:col: what; line 2: the source line; line 3: a caret under the column; then the hint."""
    line, col = _find(fn, marker)
    text = str(err).split("\n")
    file = inspect.getsourcefile(fn)
    assert text[0].startswith(f"{file}:{line}:{col + 1}: "), text[0]
    assert what in text[0], text[0]
    source_line = inspect.getsourcelines(fn)[0][line - inspect.getsourcelines(fn)[1]]
    assert text[1] == "    " + source_line.rstrip("\n"), text[1]
    assert text[2] == "    " + " " * col + "^", (text[1], text[2])
    assert len(text) >= 4 and text[3], "a hint saying what to do instead"
    assert err.loc.file == file and err.loc.line == line


# --------------------------------------------------------------------- constructs refused up front

def uses_class(x: np.ndarray) -> np.ndarray:
    class Box:
        pass
    return x


def uses_try(x: np.ndarray) -> np.ndarray:
    try:
        y = np.log(x)
    except ValueError:
        y = x
    return y


def uses_with(x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        y = np.log(x)
    return y


def uses_yield(x: np.ndarray):
    for i in range(3):
        yield x * i


COUNTER = 0


def uses_global(x: np.ndarray) -> np.ndarray:
    global COUNTER
    COUNTER = COUNTER + 1
    return x


def make_nonlocal():
    total = 0

    def uses_nonlocal(x: np.ndarray) -> np.ndarray:
        nonlocal total
        total = total + 1
        return x
    return uses_nonlocal


def uses_del(x: np.ndarray) -> np.ndarray:
    y = x + 1
    del y
    return x


def uses_walrus(x: np.ndarray) -> np.ndarray:
    if (s := x.sum()) > 0:
        return x / s
    return x


def uses_star_unpack(x: np.ndarray) -> np.ndarray:
    a, *rest = x.shape
    return x


def uses_varargs(x: np.ndarray, *more) -> np.ndarray:
    return x


def uses_kwargs(x: np.ndarray, **options) -> np.ndarray:
    return x


def uses_print(x: np.ndarray) -> np.ndarray:
    print(x)
    return x


def uses_raise(x: np.ndarray) -> np.ndarray:
    if x.sum() < 0:
        raise ValueError("negative") from None
    return x


def uses_import(x: np.ndarray) -> np.ndarray:
    import scipy  # noqa: F401
    return x


def uses_for_else(x: np.ndarray) -> np.ndarray:
    for i in range(3):
        x = x + i
    else:
        x = -x
    return x


def uses_kwargs_call(x: np.ndarray) -> np.ndarray:
    opts = {"axis": 0}
    return np.sum(x, **opts)


STATIC = [
    (uses_class, "class Box", "a class definition"),
    (uses_try, "try:", "try/except"),
    (uses_with, "with ", "a with statement"),
    (uses_yield, "yield", "a generator (yield)"),
    (uses_global, "global", "a global statement"),
    (make_nonlocal(), "nonlocal", "a nonlocal statement"),
    (uses_del, "del y", "del"),
    (uses_walrus, "s := ", "an assignment expression"),
    (uses_star_unpack, "*rest", "star-unpacking"),
    (uses_varargs, "more", "*args parameters"),
    (uses_kwargs, "options", "**kwargs parameters"),
    (uses_print, "print(x)", "print"),
    (uses_raise, "raise", "`raise ... from ...`"),
    (uses_import, "import scipy", "import inside the function"),
    (uses_for_else, "for i in range(3):", "for ... else"),
    (uses_kwargs_call, "opts)", "**kwargs in a call"),
]


@pytest.mark.parametrize("fn,marker,what", STATIC, ids=[s[0].__name__ for s in STATIC])
def test_unsupported_construct(fn, marker, what):
    with pytest.raises(ScriptError) as info:
        distjit.script(fn)
    assert_error_form(info.value, fn, marker, what)
    assert "not supported" in str(info.value)


# --------------------------------------------------------------------- errors found while compiling

def calls_math(x: np.ndarray) -> float:
    s = x.sum()
    return math.factorial(s)    # math.sqrt has a ufunc to compute it with (pymath.py), factorial nothing


def ambiguous_truth(x: np.ndarray) -> np.ndarray:
    if x > 0:
        return x
    return -x


def branch_types_differ(x: np.ndarray, flag: bool) -> np.ndarray:
    if flag:
        y = x
    else:
        y = 1
    return y


def loop_type_changes(x: np.ndarray, n: int) -> np.ndarray:
    k = 0
    for i in range(n):
        k = x
    return k


def defined_only_in_loop(x: np.ndarray, n: int) -> np.ndarray:
    for i in range(n):
        last = x * i
    return last


DYNAMIC = [
    (calls_math, "math.factorial(s)", "math.factorial of a traced number is not supported"),
    (ambiguous_truth, "if x > 0", "truth value of an array"),
    (branch_types_differ, "if flag", "'y' has type f64[?x_0] on one path of the if and int on another"),
    (loop_type_changes, "for i in range(n)", "'k' has type int before the loop but f64[?x_0]"),
]


@pytest.mark.parametrize("fn,marker,what", DYNAMIC, ids=[s[0].__name__ for s in DYNAMIC])
def test_error_while_compiling(fn, marker, what):
    f = distjit.script(fn)
    args = [np.ones(3)] + [True if p.annotation is bool else 3 for p in
                           list(inspect.signature(fn).parameters.values())[1:]]
    with pytest.raises(ScriptError) as info:
        f(*args)
    line, col = _find(fn, marker)
    first = str(info.value).split("\n")[0]
    assert first.startswith(f"{inspect.getsourcefile(fn)}:{line}:{col + 1}: "), first
    assert what in first, first
    assert "^" in str(info.value).split("\n")[2]


def test_name_defined_only_inside_a_loop():
    """Valid Python when the loop runs: the graph carries the name and asserts, where it is read, that the loop
    ran (Python's UnboundLocalError when it did not)."""
    f = distjit.script(defined_only_in_loop)
    assert_same(f(np.ones(3), 2), defined_only_in_loop(np.ones(3), 2))
    with pytest.raises(distjit.ExecutionError, match="'last' is used after the loop at line .* ran zero times"):
        f(np.ones(3), 0)


def test_never_a_bare_python_exception():
    def bad_index(x: np.ndarray) -> np.ndarray:
        return x["a"]
    f = distjit.script(bad_index)
    with pytest.raises(distjit.DistJitError):
        f(np.ones(3))
