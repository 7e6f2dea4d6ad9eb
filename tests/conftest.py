"""Shared pytest configuration: make the repository root importable (``import tests.programs``, ``import distjit``).

Plans are made with the cost model's reference calibration, so what the partitioner decides does not
depend on the machine or its load (tests/partition/test_calibration.py tests the measuring itself).
"""
import os
import pathlib
import sys

import pytest

_ROOT = str(pathlib.Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
os.environ.setdefault("DISTJIT_CALIBRATION", "reference")     # inherited by CLI subprocesses and Ray workers


@pytest.fixture(scope="session")
def traced():
    """`traced(prog)`: the corpus program traced on its seed-0 inputs, once per test session."""
    import numpy as np

    import distjit   # after the sys.path line above

    cache = {}

    def get(prog):
        if prog.name not in cache:
            example = prog.make_inputs(np.random.default_rng(0))
            cache[prog.name] = distjit.trace(prog.fn, example, dynamic_axes=prog.dynamic_axes)
        return cache[prog.name]
    return get
