"""Shared pytest configuration: make the repository root importable (``import tests.programs``, ``import distjit``).

Plans are made with the cost model's reference calibration, so what the partitioner decides does not
depend on the machine or its load (tests/partition/test_calibration.py tests the measuring itself).

Hypothesis draws the same examples on every run (profile "repeatable", the default), so a red run is
reproducible and a landing does not depend on luck; `HYPOTHESIS_PROFILE=explore` draws new ones each run,
with more examples, to hunt for bugs.
"""
import gc
import os
import pathlib
import sys

import pytest
from hypothesis import settings

settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

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


def pytest_unconfigure(config):
    """Leave the session's objects out of the collections at interpreter exit.

    A whole run leaves millions of objects behind (numba's dispatchers and type caches of thousands of
    compiled regions); the garbage collector's passes over them at shutdown kept the process alive for
    minutes after pytest had printed its result. Nothing a test checks runs in those collections."""
    gc.freeze()
