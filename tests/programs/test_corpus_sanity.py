"""Sanity checks for the corpus itself, under plain eager NumPy.

Every program must be deterministic, produce finite floating results without
floating-point warnings, honour its tags (``mutates_input``, ``float32``,
``dynamic_axes``), and control programs must stay in the script subset.
"""
import ast
import copy
import inspect
import re
import textwrap

import numpy as np
import pytest

from tests.programs import CONTROL_PROGRAMS, PROGRAMS, Program, by_name
from tests.programs import control as control_module

ALL = PROGRAMS + CONTROL_PROGRAMS
SEEDS = range(6)


# ------------------------------------------------------------------ utilities

def flatten(obj, path=()):
    """Yield (path, leaf) for nested dict / tuple / list structures."""
    if isinstance(obj, dict):
        for k in obj:
            yield from flatten(obj[k], path + (("dict", k),))
    elif isinstance(obj, (tuple, list)):
        yield path + ((type(obj).__name__, len(obj)),), None
        for i, v in enumerate(obj):
            yield from flatten(v, path + ((type(obj).__name__, i),))
    else:
        yield path, obj


def assert_same(a, b, *, what="result"):
    """Structure, dtype and bitwise value equality (NaNs compare equal)."""
    fa, fb = list(flatten(a)), list(flatten(b))
    assert [p for p, _ in fa] == [p for p, _ in fb], f"{what}: structure differs"
    for (path, x), (_, y) in zip(fa, fb):
        if x is None and y is None:
            continue
        assert type(x) is type(y), f"{what} at {path}: {type(x)} vs {type(y)}"
        if isinstance(x, (np.ndarray, np.generic)):
            assert x.dtype == y.dtype, f"{what} at {path}: dtype {x.dtype} vs {y.dtype}"
            assert np.shape(x) == np.shape(y), f"{what} at {path}: shape differs"
        np.testing.assert_array_equal(x, y, err_msg=f"{what} at {path}", strict=True)


def float_leaves(obj):
    for path, leaf in flatten(obj):
        if leaf is None:
            continue
        arr = np.asarray(leaf)
        if np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.complexfloating):
            yield path, arr


def run(prog: Program, inputs):
    with np.errstate(divide="raise", over="raise", invalid="raise"):
        return prog.fn(*inputs)


def fresh_inputs(prog: Program, seed: int = 0):
    return prog.make_inputs(np.random.default_rng(seed))


# -------------------------------------------------------------- corpus shape

def test_corpus_sizes():
    assert len(PROGRAMS) >= 45
    assert len(CONTROL_PROGRAMS) >= 32


def test_names_unique_and_lookup():
    names = [p.name for p in ALL]
    assert len(names) == len(set(names))
    for p in ALL:
        assert re.fullmatch(r"[a-z_0-9]+\.[A-Za-z_0-9]+", p.name), p.name
        assert by_name(p.name) is p
    with pytest.raises(KeyError):
        by_name("no.such_program")


def test_control_tag_matches_list():
    assert all("control" not in p.tags for p in PROGRAMS)
    assert all("control" in p.tags for p in CONTROL_PROGRAMS)
    assert all(p.fn.__module__ == control_module.__name__ for p in CONTROL_PROGRAMS)


def test_required_features_present():
    tags = [p.tags for p in PROGRAMS]
    assert sum("mutates_input" in t for t in tags) >= 3
    assert any("inplace" in t for t in tags)
    assert any("int" in t for t in tags)
    assert any("float32" in t for t in tags)
    assert any("dict_output" in t for t in tags)
    assert any("dict_input" in t for t in tags)
    assert any(p.dynamic_axes for p in PROGRAMS)


# ------------------------------------------------------------ every program

@pytest.mark.parametrize("name", [p.name for p in ALL])
def test_deterministic_and_finite(name):
    prog = by_name(name)
    in1, in2 = fresh_inputs(prog), fresh_inputs(prog)
    assert isinstance(in1, tuple), "make_inputs must return a tuple"
    assert_same(in1, in2, what="make_inputs")
    out1 = run(prog, in1)
    out2 = run(prog, in2)
    assert_same(out1, out2)
    for path, arr in float_leaves(out1):
        assert np.all(np.isfinite(arr)), f"non-finite output at {path}"


@pytest.mark.parametrize("name", [p.name for p in ALL])
def test_mutation_matches_tag(name):
    prog = by_name(name)
    inputs = fresh_inputs(prog)
    before = copy.deepcopy(inputs)
    run(prog, inputs)
    changed = False
    for (path, x), (_, y) in zip(flatten(before), flatten(inputs)):
        if isinstance(x, np.ndarray) and not np.array_equal(x, y, equal_nan=True):
            changed = True
    if "mutates_input" in prog.tags:
        assert changed, "tagged mutates_input but left its inputs unchanged"
    else:
        assert not changed, "mutates an input but is not tagged mutates_input"


@pytest.mark.parametrize("name", [p.name for p in ALL if p.dynamic_axes])
def test_dynamic_axes_consistent(name):
    prog = by_name(name)
    inputs = fresh_inputs(prog)
    sizes = {}
    for idx, axes in prog.dynamic_axes.items():
        arr = inputs[idx]
        assert isinstance(arr, np.ndarray)
        for axis, sym in axes.items():
            assert 0 <= axis < arr.ndim
            sizes.setdefault(sym, set()).add(arr.shape[axis])
    assert all(len(s) == 1 for s in sizes.values()), f"a symbol binds different sizes: {sizes}"


@pytest.mark.parametrize("name", [p.name for p in ALL if "float32" in p.tags])
def test_float32_stays_float32(name):
    prog = by_name(name)
    out = run(prog, fresh_inputs(prog))
    leaves = list(float_leaves(out))
    assert leaves
    for path, arr in leaves:
        assert arr.dtype == np.float32, f"{path} is {arr.dtype}"


# ------------------------------------------------------------ control programs

@pytest.mark.parametrize("name", [p.name for p in CONTROL_PROGRAMS])
@pytest.mark.parametrize("seed", SEEDS)
def test_control_many_seeds(name, seed):
    prog = by_name(name)
    out1 = run(prog, fresh_inputs(prog, seed))
    out2 = run(prog, fresh_inputs(prog, seed))
    assert_same(out1, out2)
    for path, arr in float_leaves(out1):
        assert np.all(np.isfinite(arr)), f"non-finite output at {path}"


FORBIDDEN = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Try,
             ast.With, ast.ClassDef, ast.Global, ast.Nonlocal, ast.Yield, ast.YieldFrom, ast.Await,
             ast.AsyncFunctionDef, ast.AsyncFor, ast.AsyncWith)
ALLOWED_BUILTINS = {"range", "int", "float", "bool", "len", "abs", "min", "max"}


def _compiled_functions():
    """Control programs plus the module-level helpers they may call (not the _inputs_* builders)."""
    return [obj for name, obj in vars(control_module).items()
            if inspect.isfunction(obj) and obj.__module__ == control_module.__name__
            and not name.startswith("_")]


@pytest.mark.parametrize("fn", _compiled_functions(), ids=lambda f: f.__name__)
def test_control_source_in_script_subset(fn):
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    fdef = tree.body[0]
    assert isinstance(fdef, ast.FunctionDef)
    for deco in fdef.decorator_list:           # decorators must not hide lambdas either
        assert not any(isinstance(n, FORBIDDEN) for n in ast.walk(deco))
    args = fdef.args
    assert not args.vararg and not args.kwarg and not args.kwonlyargs and not args.posonlyargs
    for a in args.args:
        assert a.annotation is not None, f"parameter {a.arg} is not annotated"
    assert fdef.returns is not None, "missing return annotation"
    module_names = set(vars(control_module))
    for node in ast.walk(fdef):
        assert not isinstance(node, FORBIDDEN), f"forbidden construct {type(node).__name__}"
        if isinstance(node, ast.FunctionDef) and node is not fdef:
            raise AssertionError("nested function definition")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            callee = node.func.id
            assert callee in ALLOWED_BUILTINS or callee in module_names, f"call to {callee}"
            assert callee != "print"


def test_control_programs_take_different_paths():
    """Different seeds must drive control programs down different paths (opcode trace, so trip counts and ternaries count)."""
    import sys

    def lines_hit(prog, seed):
        hit = []
        code_names = {f.__code__ for f in _compiled_functions()}

        def tracer(frame, event, arg):
            if frame.f_code in code_names:
                frame.f_trace_opcodes = True       # opcode granularity also sees ternary branches
                if event == "opcode":
                    hit.append((frame.f_code.co_name, frame.f_lasti))
                return tracer
            return None

        inputs = fresh_inputs(prog, seed)
        old = sys.gettrace()
        sys.settrace(tracer)
        try:
            prog.fn(*inputs)
        finally:
            sys.settrace(old)
        return tuple(hit)

    single_path = [p.name for p in CONTROL_PROGRAMS
                   if len({lines_hit(p, s) for s in range(12)}) == 1]
    assert not single_path, single_path
