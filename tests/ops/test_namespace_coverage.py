"""Coverage by construction: every function of the Array API standard (2023.12) and of NumPy's public
namespace (np, np.linalg, np.fft, and the ufunc methods) is either supported, meaning that an example
call traces and scripts and matches NumPy, or listed with its reason in the README's table of
refusals ("What distjit refuses, and what to write instead"). The table is read here, so it stays
true both ways: a listed function that distjit supports fails too.

`python -m tests.ops.test_namespace_coverage` prints the counts by namespace.
"""
from __future__ import annotations

import importlib.util
import pathlib
import re
import types
import warnings

import numpy as np
import pytest

import distjit
from distjit.ops import REGISTRY, composite
from tests.compare import assert_same
from tests.ops.array_api_2023_12 import FFT, LINALG, MAIN
from tests.ops.namespace_examples import EXAMPLES, inputs

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
TITLE = "## What distjit refuses, and what to write instead"
_UFUNC_METHODS = ("outer", "reduce", "accumulate", "reduceat", "at")


def refused() -> dict[str, str]:
    """The README table: function name -> its row (reason and alternative)."""
    text = README.read_text()
    start = text.index(TITLE)
    end = text.find("\n## ", start + len(TITLE))
    rows = {}
    for line in text[start:end if end != -1 else None].splitlines():
        if not line.startswith("| `"):
            continue
        names_cell = line.split("|")[1]
        for name in re.findall(r"`([^`]+)`", names_cell):
            rows[name] = line
    return rows


def _quiet(fn, *args):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args)


# ---- the walk ---------------------------------------------------------------------------------------------------

def _ufuncs() -> dict[str, np.ufunc]:
    found = {}
    for name in dir(np):
        obj = getattr(np, name)
        if isinstance(obj, np.ufunc):
            found.setdefault(f"np.{obj.__name__}", obj)
    return found


def numpy_walk() -> dict[str, object]:
    """NumPy's public functions (classes and modules are not functions), ufuncs by their own name."""
    out: dict[str, object] = {}
    for module, prefix in ((np, "np"), (np.linalg, "np.linalg"), (np.fft, "np.fft")):
        for name in sorted(dir(module)):
            obj = getattr(module, name)
            if name.startswith("_") or isinstance(obj, (type, types.ModuleType, np.ufunc)) or not callable(obj):
                continue
            out[f"{prefix}.{name}"] = obj
    out.update(_ufuncs())
    return out


def array_api_walk() -> dict[str, str]:
    """Array API name ("linalg.qr") -> the key of the NumPy object it is."""
    by_id = {id(obj): key for key, obj in numpy_walk().items()}
    out = {}
    for names, module, prefix in ((MAIN, np, ""), (LINALG, np.linalg, "linalg."), (FFT, np.fft, "fft.")):
        for name in names:
            obj = getattr(module, name, None)
            mod_prefix = "np." + prefix
            out[prefix + name] = by_id.get(id(obj), mod_prefix + name)
    return out


# ---- examples ---------------------------------------------------------------------------------------------------

_POOLS = {"f": ("V", "W"), "i": ("K", "K"), "b": ("Mv", "Mv")}


def _ufunc_examples() -> dict[str, list[str]]:
    data = {**inputs(), "Mv": inputs()["K"] > 3}
    out: dict[str, list[str]] = {}
    for key, u in _ufuncs().items():
        for family, (a, b) in _POOLS.items():
            call = f"{key}({a})" if u.nin == 1 else f"{key}({a}, {b})"
            if _accepts(call, data):
                break
        else:
            continue
        out[key] = [call]
        if u.nin == 2 and u.nout == 1:
            candidates = {"outer": f"{key}.outer({a}, {b}[:3])", "reduce": f"{key}.reduce({a})",
                          "accumulate": f"{key}.accumulate({a})", "reduceat": f"{key}.reduceat({a}, [0, 2, 3])",
                          "at": f"({key}.at({a}, [0, 1, 0], {b}[:3]), {a})[1]"}
        elif u.nin == 1 and u.nout == 1:
            candidates = {"at": f"({key}.at({a}, [0, 2]), {a})[1]"}
        else:
            candidates = {}
        for method, call in candidates.items():
            if _accepts(call, data):
                out[f"{key}.{method}"] = [call]
    return out


def _accepts(call: str, data: dict) -> bool:
    env = {"np": np, **{k: np.copy(v) for k, v in data.items()}}
    try:
        _quiet(eval, call, env)
    except Exception:
        return False
    return True


def all_examples() -> dict[str, list[str]]:
    return {**EXAMPLES, **_ufunc_examples()}


def ufunc_method_keys() -> list[str]:
    """The ufunc methods NumPy itself accepts on one of the example dtypes (others are no functions to cover)."""
    return [k for k in _ufunc_examples() if k.rsplit(".", 1)[-1] in _UFUNC_METHODS]


def _names(expr: str) -> list[str]:
    pool = {**inputs(), "Mv": None}
    return [n for n in pool if re.search(rf"\b{n}\b", expr)]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """Every example as a def in a real file (distjit.script reads source), imported once."""
    cases = [(key, i, expr) for key, exprs in sorted(all_examples().items()) for i, expr in enumerate(exprs)]
    lines = ["import numpy as np", ""]
    for n, (key, i, expr) in enumerate(cases):
        lines += [f"def example_{n}({', '.join(_names(expr))}):", f"    return {expr}", ""]
    path = tmp_path_factory.mktemp("namespace") / "namespace_examples_generated.py"
    path.write_text("\n".join(lines))
    spec = importlib.util.spec_from_file_location("namespace_examples_generated", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {(key, i): getattr(module, f"example_{n}") for n, (key, i, expr) in enumerate(cases)}


CASES = [(key, i, expr) for key, exprs in sorted(all_examples().items()) for i, expr in enumerate(exprs)]


@pytest.mark.parametrize("key,index,expr", CASES, ids=[f"{k}#{i}" for k, i, _ in CASES])
def test_example_traces_and_scripts_like_numpy(compiled, key, index, expr):
    fn = compiled[(key, index)]
    data = {**inputs(), "Mv": inputs()["K"] > 3}
    args = tuple(data[n] for n in _names(expr))
    want_inputs = [np.copy(a) for a in args]
    want = _quiet(fn, *want_inputs)
    rtol = 1e-9
    traced = distjit.trace(fn, tuple(np.copy(a) for a in args))
    got_inputs = [np.copy(a) for a in args]
    assert_same(_quiet(traced, *got_inputs), want, rtol, "trace", scaled=True)
    assert_same(got_inputs, want_inputs, rtol, "trace: inputs after the call", scaled=True)
    scripted = distjit.script(fn)
    got_inputs = [np.copy(a) for a in args]
    assert_same(_quiet(scripted, *got_inputs), want, rtol, "script", scaled=True)
    assert_same(got_inputs, want_inputs, rtol, "script: inputs after the call", scaled=True)


# ---- the coverage ------------------------------------------------------------------------------------------------

def walked_keys() -> dict[str, set[str]]:
    return {"numpy": set(numpy_walk()) | set(ufunc_method_keys()), "array-api": set(array_api_walk().values())}


def test_every_function_is_supported_or_refused():
    table, examples = refused(), all_examples()
    missing = sorted(k for keys in walked_keys().values() for k in keys if k not in table and k not in examples)
    assert not missing, (f"{len(missing)} functions are neither supported (an example in "
                         f"tests/ops/namespace_examples.py) nor refused in the README's table: {missing}")


def test_refused_functions_are_refused_and_exist():
    table, examples = refused(), all_examples()
    walked = set().union(*walked_keys().values())
    stale = sorted(k for k in table if k not in walked)
    assert not stale, f"the README refuses functions the walk does not find: {stale}"
    both = sorted(k for k in table if k in examples)
    assert not both, f"listed as refused but supported (they have examples): {both}"
    objects = numpy_walk()
    recorded = sorted(k for k, row in table.items() if k in objects and "trace only" not in row and "is declared" not in row and (
        REGISTRY.for_source(objects[k]) is not None or composite.implementation(objects[k]) is not None))
    assert not recorded, f"listed as refused but distjit records them: {recorded}"


def counts() -> dict[str, tuple[int, int]]:
    table, examples = refused(), all_examples()
    out = {}
    api = array_api_walk()
    groups = {"array-api main": [v for k, v in api.items() if "." not in k],
              "array-api linalg": [v for k, v in api.items() if k.startswith("linalg.")],
              "array-api fft": [v for k, v in api.items() if k.startswith("fft.")],
              "np": [k for k in numpy_walk() if k.count(".") == 1],
              "np.linalg": [k for k in numpy_walk() if k.startswith("np.linalg.")],
              "np.fft": [k for k in numpy_walk() if k.startswith("np.fft.")],
              "ufunc methods": ufunc_method_keys()}
    for name, keys in groups.items():
        out[name] = (sum(k in examples for k in keys), sum(k in table and k not in examples for k in keys))
    return out


if __name__ == "__main__":
    for name, (supported, refusals) in counts().items():
        print(f"{name:18} supported {supported:4}   refused {refusals:4}")
