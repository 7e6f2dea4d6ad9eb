"""The child process of the native fuzz test (tests/security/test_native_fuzz.py): loads and runs mutants.

It reads one JSON request per line on stdin ({"path": a mutated .djit file, "program": the name of its
program in native_fuzz_programs}) and answers one JSON line per request on stdout:
  outcome "refused" (load raised a DistJitError), "raised" (the run raised one), "returned", or "bare"
  (an exception outside the DistJitError hierarchy, with its traceback: a failure);
  native: the number of the graph's native regions that ran (compiled for the inputs and called), and of
    its fused elementwise expressions that ran as native loop stages;
  numba_refused: regions numba could not compile (they fell back to NumPy code);
  differs: for a mutant that ran natively, how its run differs from the same file's as NumPy code
    (DISTJIT_NATIVE=0), or "": the native path must compute what the graph means.
A crash (a segfault in native code) ends the process, which the parent reads as a failure of the
request it sent last; faulthandler prints the native stack to stderr. A run longer than the alarm
(a mutated loop bound of 2**62 iterations) ends the process by SIGVTALRM, which the parent counts as a
timeout, not a failure.
"""
from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import numpy as np  # noqa: E402

import distjit  # noqa: E402
from distjit.runtime import fused_eval, native  # noqa: E402
from distjit.runtime.native.region import Region  # noqa: E402
from tests.security.native_fuzz_programs import inputs  # noqa: E402

ALARM_SECONDS = float(os.environ.get("NATIVE_FUZZ_ALARM", "10"))    # of CPU time: a busy machine does not trip it


def fused_native_ran() -> int:
    """Fused elementwise expressions whose native loop stages compiled (they ran on inputs this large)."""
    return sum(1 for k in list(fused_eval._kernels.values()) if k.native and k._steps)


def regions() -> list[Region]:
    return [r for decisions in list(native._regions.values()) for r in decisions.values() if isinstance(r, Region)]


def run_one(path: str, program: str) -> dict:
    native._regions.clear()
    fused_eval._kernels.clear()
    try:
        f = distjit.load(path)
    except distjit.DistJitError as e:
        return {"outcome": "refused", "why": str(e)[:200]}
    except Exception:                   # noqa: BLE001 - reported to the parent as a failure
        return {"outcome": "bare", "where": "load", "why": traceback.format_exc()[-3000:]}
    ran = run(f, program)
    if ran[0] == "bare":
        return {"outcome": "bare", "where": "run", "why": ran[1]}
    outcome = {"outcome": ran[0], "why": ran[1] if ran[0] == "raised" else ""}
    found = regions()
    outcome["native"] = sum(1 for r in found if r._signatures and r.failed is None) + fused_native_ran()
    outcome["numba_refused"] = [r.failed for r in found if r.failed is not None]
    if outcome["native"]:
        outcome["differs"] = differs(ran, numpy_path(path, program))
    return outcome


def run(f, program: str) -> tuple:
    """("returned", results, the arguments after the call), ("raised", why, cause) or ("bare", traceback)."""
    args = inputs(program)
    try:
        with np.errstate(all="ignore"):
            out = f(*args)
        return ("returned", out, args)
    except distjit.DistJitError as e:
        return ("raised", f"{type(e).__name__}: {e}"[:300], type(e.__cause__).__name__)
    except Exception:                   # noqa: BLE001
        return ("bare", traceback.format_exc()[-3000:])


def numpy_path(path: str, program: str) -> tuple:
    """The same file run as NumPy code (DISTJIT_NATIVE=0 is read when a graph compiles)."""
    os.environ["DISTJIT_NATIVE"] = "0"
    try:
        return run(distjit.load(path), program)
    finally:
        del os.environ["DISTJIT_NATIVE"]


def differs(mine: tuple, numpy: tuple) -> str:
    """How the native run differs from the NumPy code's, or "" (native loops sum np.dot in other blocks,
    so floats agree to rounding; and a Python int wraps at int64 inside a region where the NumPy code's
    grows until NumPy refuses it, OverflowError: documented in lower.py)."""
    if numpy[0] == "raised" and numpy[2] == "OverflowError":
        return ""
    if mine[0] != numpy[0]:
        return f"native {mine[0]} {mine[1] if mine[0] == 'raised' else ''}, NumPy code {numpy[0]} " \
               f"{numpy[1] if numpy[0] != 'returned' else ''}"
    if mine[0] == "raised":
        return "" if mine[2] == numpy[2] else f"native raised {mine[1]}, NumPy code raised {numpy[1]}"
    return "" if same(mine[1:], numpy[1:]) else "native results or arguments differ from the NumPy code's"


def same(a, b) -> bool:
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        return bool(np.allclose(a, b, rtol=1e-9, atol=1e-300, equal_nan=True))
    return bool(np.array_equal(a, b))


def main() -> None:
    faulthandler.enable()
    signal.signal(signal.SIGVTALRM, signal.SIG_DFL)   # the alarm ends the process, even inside native code
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("crash"):        # the parent's test that a crash is seen as one
            faulthandler._sigsegv()
        signal.setitimer(signal.ITIMER_VIRTUAL, ALARM_SECONDS)
        answer = run_one(request["path"], request["program"])
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
