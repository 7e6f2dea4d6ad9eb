"""HELD-OUT real-code corpus: do NOT tune distjit against these kernels.

Issue 13's "Done means" says that a held-out suite will also be run against the result. These
kernels have the form of `tests.programs.realcode` (same `Kernel` registry, same harness, run with
`python -m tests.programs.realcode.report --heldout`) but are different programs. They exist to
check that the general mechanisms work, not that the real-code corpus's kernels were special-cased:
look at the numbers, not at the kernels, and do not add expectations for them to the test suite.
Only their sanity under eager NumPy is tested.
"""
from tests.programs.heldout import numeric, polybench, sequences, simulation  # noqa: F401  (register)
from tests.programs.realcode.kernel import CORPORA

KERNELS = CORPORA["heldout"]
