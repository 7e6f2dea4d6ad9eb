"""The real-code corpus of issue 13: NumPy kernels written the way people write NumPy, not for distjit.

`KERNELS` maps "module.function" to its `Kernel` (see kernel.py for how inputs are made and
compared). `harness.py` runs each one through trace, script, optimize, save/load and the local
executor against eager NumPy; `python -m tests.programs.realcode.report` prints the table;
`expected.json` records what passes today (test_realcode.py fails on any change, either way).
The held-out corpus, `tests.programs.heldout`, has the same form and is not to be tuned against.
"""
from tests.programs.realcode import (algorithms, applied, data, dynamics, linalg, models, solvers,  # noqa: F401
                                      stencils)  # (register)
from tests.programs.realcode.kernel import CORPORA, SEEDS, TAGS, Kernel  # noqa: F401

KERNELS = CORPORA["realcode"]
