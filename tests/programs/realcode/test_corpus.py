"""Both real-code corpora (and the held-out one) under eager NumPy: the kernels must be fit to judge distjit by.

Deterministic, free of floating-point warnings, two input sets that differ where a baked value would
show (same array shapes, other values and other Python scalars, other results), and tags that say
what the kernel really does where that can be observed from the outside.
"""
import ast
import copy
import inspect
import textwrap
import warnings

import numpy as np
import pytest

from tests.compare import assert_same
from tests.programs.heldout import KERNELS as HELDOUT
from tests.programs.realcode import KERNELS as REALCODE
from tests.programs.realcode.kernel import SEEDS

ALL = {**REALCODE, **HELDOUT}
SCALARS_FOLLOW_SHAPES = {"numeric.correlation"}    # PolyBench passes the row count as float_n
assert len(ALL) == len(REALCODE) + len(HELDOUT)


def _run(k, inputs):
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        return k.fn(*inputs)


def _leaves(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _leaves(v)
    elif isinstance(obj, (tuple, list)):
        for v in obj:
            yield from _leaves(v)
    else:
        yield obj


def _scalars(inputs):
    return [x for x in inputs if isinstance(x, (bool, int, float, complex))]


def _arrays_differ(a, b) -> bool:
    return any(isinstance(x, np.ndarray) and not np.array_equal(x, y, equal_nan=True)
               for x, y in zip(_leaves(a), _leaves(b)))


def test_corpus_sizes():
    assert len(REALCODE) >= 70
    assert len(HELDOUT) >= 15


def test_held_out_kernels_are_other_kernels():
    short = lambda names: {n.split(".")[-1] for n in names}     # noqa: E731
    assert not short(REALCODE) & short(HELDOUT)
    sources = {textwrap.dedent(inspect.getsource(k.fn)).split("\n", 1)[1] for k in REALCODE.values()}
    for k in HELDOUT.values():
        assert textwrap.dedent(inspect.getsource(k.fn)).split("\n", 1)[1] not in sources, k.name


@pytest.mark.parametrize("name", sorted(ALL))
def test_deterministic_and_clean(name):
    k = ALL[name]
    for seed in SEEDS:
        first, second = k.inputs(seed), k.inputs(seed)
        assert isinstance(first, tuple)
        assert_same(first, second, 0.0, "inputs")
        out1, out2 = _run(k, first), _run(k, second)
        assert_same(out1, out2, 0.0)
        assert_same(first, second, 0.0, "inputs after the call")
        for leaf in _leaves(out1):
            if isinstance(leaf, (np.ndarray, np.generic, float, complex)):
                assert not np.any(np.isnan(leaf)), "NaN in the result"


@pytest.mark.parametrize("name", sorted(ALL))
def test_two_input_sets_catch_baked_values(name):
    """Same array shapes (a traced graph is shape-specialized), other values, other Python scalars
    where there are any, and another result (or other mutations): a graph that baked the first set
    cannot pass the second."""
    k = ALL[name]
    a, b = k.inputs(SEEDS[0]), k.inputs(SEEDS[1])
    assert len(a) == len(b)
    for x, y in zip(_leaves(a), _leaves(b)):
        assert type(x) is type(y)
        if isinstance(x, np.ndarray):
            assert (x.shape, x.dtype) == (y.shape, y.dtype), "the two sets must have arrays of the same shapes"
    if any(isinstance(x, np.ndarray) and x.size > 1 for x in _leaves(a)):
        assert _arrays_differ(a, b), "the arrays of the two sets are equal"
    if _scalars(a) and name not in SCALARS_FOLLOW_SHAPES:
        assert _scalars(a) != _scalars(b), "the Python scalars are the same in both sets"
    out_a, out_b = _run(k, copy.deepcopy(a)), _run(k, copy.deepcopy(b))
    after_a, after_b = copy.deepcopy(a), copy.deepcopy(b)
    _run(k, after_a)
    _run(k, after_b)
    with pytest.raises(AssertionError):
        assert_same((out_a, after_a), (out_b, after_b), 0.0)


@pytest.mark.parametrize("name", sorted(ALL))
def test_observable_tags_are_true(name):
    k = ALL[name]
    inputs = k.inputs(SEEDS[0])
    before = copy.deepcopy(inputs)
    out = _run(k, inputs)
    observed = {
        "int-arg": any(type(x) is int for x in inputs),
        "float-arg": any(type(x) is float for x in inputs),
        "mutates-arg": _arrays_differ(before, inputs),
        "returns-none": out is None,
        "dict-return": isinstance(out, dict),
        "tuple-return": isinstance(out, tuple),
    }
    for tag, seen in observed.items():
        assert (tag in k.tags) == seen, f"tag {tag!r} is {'missing' if seen else 'wrong'}"
    if any(np.iscomplexobj(x) for x in _leaves((inputs, out)) if isinstance(x, (np.ndarray, complex))):
        assert "complex" in k.tags


@pytest.mark.parametrize("name", sorted(ALL))
def test_written_as_plain_python(name):
    """A kernel is one plain def (no decorators but the registration, no distjit anywhere)."""
    source = textwrap.dedent(inspect.getsource(ALL[name].fn))
    tree = ast.parse(source)
    assert isinstance(tree.body[0], ast.FunctionDef) and len(tree.body[0].decorator_list) == 1
    assert "distjit" not in source
    module_source = inspect.getsource(inspect.getmodule(ALL[name].fn))
    assert "import distjit" not in module_source and "from distjit" not in module_source
