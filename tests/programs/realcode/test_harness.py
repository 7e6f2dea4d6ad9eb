"""The harness itself: it must see a baked value, a lost mutation, a changed dtype and an exception
for what they are, or its table means nothing."""
import numpy as np

from tests.programs.realcode.harness import _reference, _stage
from tests.programs.realcode.kernel import SEEDS, Kernel


def _scale_in_place(x, factor):
    x *= factor
    return x.sum()


KERNEL = Kernel("test.scale_in_place", _scale_in_place,
                lambda rng, n: (rng.standard_normal(n), float(rng.uniform(1, 2))),
                size=5, bench_size=5, tags=frozenset({"mutates-arg", "float-arg"}), rtol=1e-12, corpus="test")


def _check(function):
    sets = [KERNEL.inputs(seed) for seed in SEEDS]
    references = [_reference(KERNEL, inputs) for inputs in sets]
    outcome, _ = _stage(lambda: function, lambda f, inputs: f(*inputs), sets, references, KERNEL.rtol)
    return outcome


def test_the_kernel_itself_passes():
    assert _check(_scale_in_place).status == "ok"


def test_a_baked_example_fails_the_second_set():
    example = KERNEL.inputs(SEEDS[0])
    factor = example[1]
    baked = lambda x, _factor: _scale_in_place(x, factor)    # noqa: E731  (the example's factor, baked)
    outcome = _check(baked)
    assert (outcome.status, outcome.at) == ("wrong", "set 1")


def test_a_lost_mutation_is_wrong():
    outcome = _check(lambda x, factor: (x * factor).sum())
    assert (outcome.status, outcome.at) == ("wrong", "set 0")
    assert "inputs after the call" in outcome.message


def test_a_changed_dtype_is_wrong():
    outcome = _check(lambda x, factor: np.float32(_scale_in_place(x, factor)))
    assert (outcome.status, outcome.at) == ("wrong", "set 0")
    assert "dtype" in outcome.message


def test_rounding_within_rtol_passes_and_beyond_fails():
    assert _check(lambda x, factor: _scale_in_place(x, factor) * (1 + 1e-14)).status == "ok"
    assert _check(lambda x, factor: _scale_in_place(x, factor) * (1 + 1e-9)).status == "wrong"


def test_an_exception_is_recorded_with_its_class_and_first_line():
    def broken(x, factor):
        raise ValueError("first line\nsecond line")

    outcome = _check(broken)
    assert (outcome.status, outcome.at, outcome.error) == ("error", "set 0", "ValueError")
    assert outcome.message == "first line"
