"""The real-code corpus through distjit, against expected.json: what passes today, kernel by kernel.

Most of the corpus does not go through distjit yet (issue 13), so the test pins the current state
instead of skipping: each kernel's passing stages must be exactly those listed in expected.json.
A listed stage that fails is a regression; a stage that passes but is not listed is progress that
must be recorded (both fail the test, so that expected.json always says where the work stands).
After a change that makes kernels pass:

    python -m tests.programs.realcode.report --write-expected

and commit expected.json with the change. The held-out corpus is deliberately not run here.
"""
import pytest

from tests.programs.realcode import KERNELS
from tests.programs.realcode.harness import STAGES, run_kernel
from tests.programs.realcode.report import load_expected, passing

EXPECTED = load_expected()


def test_expectations_cover_the_corpus():
    assert sorted(EXPECTED) == sorted(KERNELS), "expected.json and the corpus list different kernels"
    for name, stages in EXPECTED.items():
        assert set(stages) <= set(STAGES), f"{name}: unknown stages {set(stages) - set(STAGES)}"


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_matches_expectation(name):
    outcomes = run_kernel(KERNELS[name])
    passed = set(passing(outcomes))
    expected = set(EXPECTED.get(name, ()))
    regressions = [f"  {stage}: {outcomes[stage].status} at {outcomes[stage].at}: "
                   f"{outcomes[stage].error} {outcomes[stage].message} {outcomes[stage].where}".rstrip()
                   for stage in STAGES if stage in expected - passed]
    progress = [stage for stage in STAGES if stage in passed - expected]
    problems = []
    if regressions:
        problems.append("expected to pass, now fails (regression):\n" + "\n".join(regressions))
    if progress:
        problems.append(f"now passes, not recorded: {progress}; record it with "
                        "`python -m tests.programs.realcode.report --write-expected`")
    assert not problems, f"{name}:\n" + "\n".join(problems)
