"""Never a bare Python exception for user code: generated programs with one unsupported or wrong construct.

Each program is written to a real .py file and imported, so that it has a file and
lines as a user's module does; hypothesis picks the construct, the frontend (trace
or script), the harmless lines before it and the names. Compiling and calling it
must raise a `distjit.DistJitError` whose message names that file and the line of
the construct, never a Python exception from inside distjit or NumPy.
"""
import atexit
import importlib.util
import itertools
import os
import shutil
import tempfile
import textwrap
import warnings

import numpy as np
from hypothesis import given, settings, strategies as st

import distjit

# Statements that are wrong in both frontends. `x` is an f64[4, 3] argument, `n` an int argument.
BOTH = [
    "y = math.sqrt(x)",
    "y = x.astype('no_such_dtype')",
    "y = np.ones(3, dtype='zz')",
    "y = np.add(x)",
    "y = np.add(x, x, x, x)",
    "y = np.sum(x, no_such_keyword=1)",
    "y = x + np.ones(7)",
    "y = x @ x",
    "y = np.concatenate([x, x[0]])",
    "y = x.sum(axis=5)",
    "y = x.reshape(5, 7)",
    "y = x.no_such_attribute",
    "y = x.no_such_method(1)",
    "y = x + 'a'",
    "y = x.upper()",
    "y = x['a']",
    "y = x[1.5]",
    "y = np.linalg.no_such_function(x)",
    "y = np.no_such_function(x)",
    "y = no_such_name + x",
    "y = len(x, x)",
    "y = int(x)",
    "y = float(x)",
    "y = np.random.rand(3)",
    "y = x.transpose(0, 0)",
    "y = np.take(x, 1.5)",
    "y = np.stack([x, x.T])",
    "y = np.full(x, 1.0)",
    "y = x.sum(axis='a')",
    "y = np.zeros((n, 'a'))",
    "y = x[::0]",
    "y = x.reshape(-1, -1)",
    "y = x ** 'a'",
    "y = np.dot(x, 'a')",
    "y = np.einsum('ij,jk->ik', x, x)",
    "y = np.linalg.inv(x)",
    "y = dict(x)",
    "y = np.mean(x, axis=(0, 0))",
    "x[0] = 'a'",
    "x[0, 0, 0] = 1.0",
    "x += np.ones(7)",
    "n.append(1)",
    "y = x.shape[5]",
    "y = np.cumsum(x, axis=3)",
    "y = np.transpose(x, (1, 2))",
    "y = np.swapaxes(x, 0, 4)",
    "y = np.broadcast_to(x, (5, 5))",
    "y = np.split(x, 3)",
    "y = np.clip(x, 'a', 1)",
    "y = np.array([x, 'a'])",
    "y = helper_with_try(x)",
    "i, j = x",
    "y = x[0, 0] < x < 5",
    # found only when the graph runs (the script compiler's dims are symbolic)
    "y = x[10]",
    "y = x[:, n * 5]",
    "y = x.reshape(n, 5)",
    "y = np.linalg.inv(x[:3, :3] * 0.0)",
    "y = np.ones(n + 2) + x",
    "x[n * 7] = 1.0",
]

# Python the script compiler refuses (the tracer runs it as Python).
SCRIPT_ONLY = [
    "try:\n    y = x\nexcept Exception:\n    y = x",
    "with open('f') as fh:\n    y = x",
    "class Box:\n    pass",
    "global COUNTER",
    "y = (yield x)",
    "del x",
    "raise ValueError('no')",
    "import os",
    "print(x)",
    "y = {1, 2}",
    "@staticmethod\ndef inner(v):  #!\n    return v",
    "if (s := x.sum()) > 0:\n    y = x",
    "y = {v for v in range(3)}",
    "async def inner():\n    pass",
    "y = eval('x')",
    "x.shape = (3, 4)",
    "y = [v for v in x if v.sum() > 0]",
    "y = x.tolist()",
    "if x > 0:\n    y = x",
    # lists whose length or contents would depend on data (the error is at the line marked #!)
    "acc = []\nfor i in range(n):\n    if x[i, 0] > 0:\n        acc.append(x[i])  #!",
    "acc = []\ni = 0\nwhile x[i, 0] > 0:  #!\n    acc.append(x[i])\n    i += 1",
    "acc = []\nif x.sum() > 0:\n    acc.append(x)  #!",
    "acc = []\nfor i in range(n):\n    acc.append(x[i])\n    acc.pop()  #!",
    "lst = [0.0]\nif x.sum() > 0:\n    lst[0] = x.sum()  #!",
]

# What the script compiler refuses with symbolic shapes and dynamic ints, and compiles when it specializes the
# signature to the call's shapes and ints (distjit.script(..., fallback=False) keeps refusing it).
SCRIPT_SPECIALIZES = [
    "acc = []\nfor i in range(n):  #!\n    acc.append(x[i])\nreturn acc",
    "y = fn_that_recurses(x)",
    "acc = [x]\nfor i in range(n):  #!\n    y = acc[0]\n    acc.append(x)",
    "acc = []\nfor i in range(n):  #!\n    acc.append(x[i])\n    acc.append(x[i])",
    "d = {}\nfor i in range(n):\n    d[i] = x[i]  #!",
]

# Python on array data that the tracer cannot record (the script compiler keeps it as control flow): refused by
# distjit.trace(..., fallback=False); by default, the trace scripts the function instead.
TRACE_ONLY = [
    "if x.sum() > 0:\n    y = x",
    "while x.max() > 10:\n    x = x / 2",
    "y = bool(x.sum())",
    "y = float(x.sum())",
    "y = x.item()",
    "y = x if x.max() > 0 else -x",
    "y = [0] * int(x[0, 0])",
    "y = range(x[0, 0])",
]

# Of those, what the script compiler refuses too: distjit.trace's fallback fails, and the trace's error is raised.
TRACE_FALLBACK_FAILS = [
    "y = x.item()",
    "y = range(x[0, 0])",
]

PRELUDE = [
    "{a} = x * 2.0",
    "{a} = np.sin(x) + 1.0",
    "{a} = x.sum(axis=0)",
    "{a} = n + 1",
    "{a} = x.T",
]

_DIR = tempfile.mkdtemp(prefix="distjit_user_errors_")
atexit.register(shutil.rmtree, _DIR, True)
_counter = itertools.count()


# What the construct may sit in: straight-line code, an unrolled loop, a branch (a prim.If in script).
WRAPPERS = ["", "for _k in range(2):", "if x.shape[0] > 1:"]


def _program(prelude: list[str], construct: str, wrapper: str = "") -> tuple[str, int]:
    """The module's source and the line the error must name: the construct's first, or the one marked #!."""
    header = ["import math", "", "import numpy as np", "", "COUNTER = 0", "", "", "def helper_with_try(v):",
              "    try:", "        return v.no_such_attribute", "    except KeyError:", "        return v", "", "",
              "def fn_that_recurses(v):", "    return fn_that_recurses(v[1:]) if len(v) > 1 else v", "", "",
              "def kernel(x, n):"]
    lines = construct.split("\n")
    if wrapper:
        lines = [wrapper] + ["    " + text for text in lines]
    body = list(prelude) + lines + ["return x"]
    marked = [i for i, text in enumerate(lines) if text.endswith("#!")]
    line = len(header) + len(prelude) + 1 + (marked[0] if marked else 1 if wrapper else 0)
    return "\n".join(header + [textwrap.indent(s, "    ") for s in body]) + "\n", line


def _load(source: str):
    path = os.path.join(_DIR, f"user_program_{next(_counter)}.py")
    with open(path, "w") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.kernel, path


def _run(frontend: str, kernel):
    x, n = np.arange(12.0).reshape(4, 3), 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", distjit.FallbackWarning)
        if frontend.startswith("trace"):
            f = distjit.trace(kernel, (x, n), fallback=frontend != "trace-strict")
        else:
            f = distjit.script(kernel, fallback=frontend != "script-strict")
        f(x, n)


prelude_lines = st.lists(st.tuples(st.sampled_from(PRELUDE), st.sampled_from(["a", "b", "tmp", "w2"])),
                         max_size=3).map(lambda items: [t.format(a=name) for t, name in items])
cases = st.one_of(
    st.tuples(st.sampled_from(["trace", "trace-strict", "script"]), st.sampled_from(BOTH)),
    st.tuples(st.sampled_from(["script", "script-strict"]), st.sampled_from(SCRIPT_ONLY)),
    st.tuples(st.just("script-strict"), st.sampled_from(SCRIPT_SPECIALIZES)),
    st.tuples(st.just("trace-strict"), st.sampled_from(TRACE_ONLY)),
    st.tuples(st.just("trace"), st.sampled_from(TRACE_FALLBACK_FAILS)),
)


@settings(max_examples=300, deadline=None)
@given(case=cases, prelude=prelude_lines, wrapper=st.sampled_from(WRAPPERS))
def test_user_error_is_a_distjit_error_naming_file_and_line(case, prelude, wrapper):
    frontend, construct = case
    source, line = _program(prelude, construct, wrapper)
    kernel, path = _load(source)
    try:
        _run(frontend, kernel)
    except distjit.DistJitError as e:
        message = str(e)
        assert f"{path}:{line}" in message, f"{frontend}: {construct!r}: the message does not name " \
                                            f"{path}:{line}:\n{message}"
    except Exception as e:  # the property under test: nothing but a DistJitError reaches the user
        raise AssertionError(f"{frontend}: {construct!r} raised a bare {type(e).__name__}: {e}") from e
    else:
        raise AssertionError(f"{frontend}: {construct!r} compiled and ran without an error")


def _scaled(x, n):
    return x * n


WRONG_CALLS = {
    "missing argument": lambda f, x: f(x),
    "extra argument": lambda f, x: f(x, 3, 4),
    "unknown keyword": lambda f, x: f(x, n=3, m=1),
    "a string for an array": lambda f, x: f("a", 3),
    "a string for a number": lambda f, x: f(x, "a"),
    "None for a number": lambda f, x: f(x, None),
}


@given(frontend=st.sampled_from(["trace", "script"]), wrong=st.sampled_from(sorted(WRONG_CALLS)))
@settings(max_examples=30, deadline=None)
def test_a_wrong_call_of_a_compiled_function_is_a_distjit_error(frontend, wrong):
    x = np.ones((4, 3))
    f = distjit.trace(_scaled, (x, 3)) if frontend == "trace" else distjit.script(_scaled)
    try:
        WRONG_CALLS[wrong](f, x)
    except distjit.DistJitError:
        pass
    except Exception as e:  # the property under test
        raise AssertionError(f"{frontend}: {wrong} raised a bare {type(e).__name__}: {e}") from e
    else:
        raise AssertionError(f"{frontend}: {wrong} was accepted")
