"""Run a corpus kernel the way a new user tries distjit, and record what happened at each stage.

Two routes, four stages each:

    trace            f = distjit.trace(fn, example_inputs)      then f(*inputs)
    trace.optimize   g = distjit.optimize(f)                    then g(*inputs)
    trace.save       distjit.save(g, path); h = distjit.load(path), then h(*inputs)
    trace.run        h.run(*inputs, cluster="local")
    script           s = distjit.script(fn)                     then s(*inputs)
    script.optimize / script.save / script.run: the same on s, a scripted function being a Function too:
                     distjit.optimize(s) optimizes each signature it compiles, distjit.save(s) writes every
                     signature compiled so far, and distjit.load gives back a Function (one signature) or
                     a FunctionSet that picks the signature of the arguments (several)

Every call is checked against eager NumPy on both input sets (results, and the caller's arrays after
the call: a kernel that mutates its arguments must mutate them the same way). A later stage works on
the previous stage's object when that stage passed and on the last one that did otherwise, so that
each column says something of its own: an optimize failure does not hide whether save works. When a
route's first stage fails (its function is missing or wrong), the rest of the route is "blocked".

The example inputs given to `trace` are the seed-0 set; the seed-1 set then checks that the graph
did not bake an example value (see kernel.py).
"""
from __future__ import annotations

import copy
import os
import signal
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

import distjit
from tests.compare import assert_same
from tests.programs.realcode.kernel import SEEDS, Kernel

ROUTES = ("trace", "script")
STEPS = ("", ".optimize", ".save", ".run")
STAGES = tuple(route + step for route in ROUTES for step in STEPS)
STAGE_TIMEOUT_S = 60
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(distjit.__file__)))
_PACKAGE_DIRS = tuple(os.path.join(_REPO, package) + os.sep for package in ("distjit", "scheduler"))


@dataclass(frozen=True)
class Outcome:
    """What one stage did. status: "ok", "wrong" (ran, result differs), "error" (raised), "timeout",
    or "blocked" (its route's first stage failed). `error` is the exception's class name,
    `message` its first line (or the first difference), `where` the innermost frame in distjit or
    scheduler (file:line function) for exceptions that escaped from there, `at` which step failed
    ("build", "set 0", "set 1")."""

    status: str
    at: str = ""
    error: str = ""
    message: str = ""
    where: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class StageTimeout(Exception):
    pass


class Wrong(Exception):
    """A call returned (or mutated its arguments into) something other than NumPy's answer."""


def fresh(inputs):
    return copy.deepcopy(inputs)


def run_kernel(k: Kernel) -> dict[str, Outcome]:
    """All stages of both routes for kernel `k`: {stage: Outcome}."""
    sets = [k.inputs(seed) for seed in SEEDS]
    references = [_reference(k, inputs) for inputs in sets]
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[str, Outcome] = {}
        for route, build in (("trace", lambda: distjit.trace(k.fn, fresh(sets[0]))),
                             ("script", lambda: distjit.script(k.fn))):
            results.update(_run_route(k, route, build, sets, references, os.path.join(tmp, k.name)))
        return results


def _run_route(k, route, build, sets, references, path_stem):
    out = {}
    call = lambda obj, inputs: obj(*inputs)     # noqa: E731
    first, obj = _stage(build, call, sets, references, k.rtol)
    out[route] = first
    if not first.ok:
        return {**out, **{route + step: Outcome("blocked") for step in STEPS[1:]}}
    steps = {
        ".optimize": (lambda o: distjit.optimize(o), call),
        ".save": (lambda o: _save_load(o, f"{path_stem}.{route}.djit"), call),
        ".run": (lambda o: o, lambda o, inputs: o.run(*inputs, cluster="local")),
    }
    for step, (make, step_call) in steps.items():
        outcome, made = _stage(lambda: make(obj), step_call, sets, references, k.rtol)
        out[route + step] = outcome
        if outcome.ok:
            obj = made
    return out


def run_ints_bound_trace(k: Kernel) -> Outcome:
    """A diagnostic, not a stage: `trace` as it would work if it specialized the Python int and bool
    arguments (issue 13, deliverable 1): traced again for each input set with those values bound.
    It shows what stands in the way of the kernels that fail today only at their int arguments."""
    sets = [k.inputs(seed) for seed in SEEDS]
    references = [_reference(k, inputs) for inputs in sets]
    return _stage(lambda: k.fn, _trace_with_ints_bound, sets, references, k.rtol)[0]


def _trace_with_ints_bound(fn, inputs):
    ints = {i: x for i, x in enumerate(inputs) if type(x) in (int, bool)}
    arrays = tuple(x for i, x in enumerate(inputs) if i not in ints)

    def bound(*rest):
        args = list(rest)
        for i in sorted(ints):
            args.insert(i, ints[i])
        return fn(*args)

    return distjit.trace(bound, fresh(arrays))(*arrays)


def _save_load(obj, path):
    distjit.save(obj, path)
    return distjit.load(path)


def _reference(k: Kernel, inputs):
    """NumPy's result and the inputs as the kernel left them."""
    after = fresh(inputs)
    return k.fn(*after), after


def _stage(make: Callable, call: Callable, sets, references, rtol) -> tuple[Outcome, object]:
    """Build the stage's object, then check it on every input set. Returns (outcome, object or None)."""
    start = time.perf_counter()
    at = "build"
    obj = None
    try:
        with _deadline(STAGE_TIMEOUT_S), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = make()
            for seed, inputs, (expected, expected_inputs) in zip(SEEDS, sets, references):
                at = f"set {seed}"
                given = fresh(inputs)
                got = call(obj, given)
                _check(got, expected, given, expected_inputs, rtol)
    except Wrong as e:
        return Outcome("wrong", at, "", str(e), "", time.perf_counter() - start), obj
    except StageTimeout:
        return Outcome("timeout", at, "", f"over {STAGE_TIMEOUT_S} s", "", time.perf_counter() - start), obj
    except Exception as e:   # the point is to record whatever escapes, whatever it is
        return Outcome("error", at, type(e).__name__, _first_line(e), _where(e), time.perf_counter() - start), obj
    return Outcome("ok", seconds=time.perf_counter() - start), obj


def _check(got, expected, given, expected_inputs, rtol):
    for what, g, e in (("result", got, expected), ("inputs after the call", given, expected_inputs)):
        try:
            assert_same(g, e, rtol, what, scaled=True)
        except AssertionError as failure:
            lines = [line.strip() for line in str(failure).splitlines() if line.strip()]
            raise Wrong(" | ".join(lines[:3])) from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else ""


def _where(e: BaseException) -> str:
    """The innermost traceback frame inside distjit/ or scheduler/ ("distjit/ops/index.py:120 _setitem")."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.startswith(_PACKAGE_DIRS)]
    if not frames:
        return ""
    return f"{os.path.relpath(frames[-1].filename, _REPO)}:{frames[-1].lineno} {frames[-1].name}"


class _deadline:
    """SIGALRM after `seconds` (main thread only; elsewhere no limit): a hanging stage is recorded, not waited for."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.armed = False

    def __enter__(self):
        import threading

        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self.armed = True
        return self

    def __exit__(self, *exc):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False

    @staticmethod
    def _fire(signum, frame):
        raise StageTimeout()
