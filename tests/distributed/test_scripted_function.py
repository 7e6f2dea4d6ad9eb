"""A scripted function goes the whole way: optimized, saved, loaded in a fresh process, run on the
LocalExecutor and on Ray, against NumPy on two input sets per signature (issue 13, deliverable 4)."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import distjit
from tests.compare import assert_same, fresh

pytestmark = pytest.mark.filterwarnings("ignore::distjit.partition.PlanWarning")

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def smooth(u, tol: float, steps: int):
    """Relax `u` towards its running mean until it moves less than `tol`: a loop with a data-dependent exit."""
    moved = np.abs(u).sum() * 0.0
    for _ in range(steps):
        new = 0.5 * (u + np.roll(u, 1, axis=0))
        if np.abs(new - u).max() < tol:
            return new, moved
        moved = moved + np.abs(new - u).sum()
        u = new
    return u, moved


def _inputs(signature: str, seed: int):
    """Two signatures (float64 vectors, float32 matrices), each with two input sets of other sizes and values:
    a graph that baked an example value or size fails the second set."""
    rng = np.random.default_rng(seed)
    n = 40 + 17 * seed
    if signature == "f64":
        return rng.standard_normal(n), 1e-4, 6 + seed
    return rng.standard_normal((n, 3)).astype(np.float32), 1e-3, 5 + 2 * seed


SETS = [(sig, seed) for sig in ("f64", "f32") for seed in (0, 1)]


def _check(got, args, rtol=1e-5):
    expected = smooth(*fresh(args))
    assert_same(got, expected, rtol, "result", scaled=True)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The optimized scripted function, compiled for both signatures, saved: (path, optimized ScriptFunction)."""
    sf = distjit.script(smooth)
    for sig in ("f64", "f32"):
        sf(*_inputs(sig, 0))
    g = distjit.optimize(sf)
    assert isinstance(g, distjit.ScriptFunction) and len(g.functions) == 2
    assert all(f.optimization is not None for f in g.functions)        # every present specialization
    ops = {n.op for f in g.functions for n in f.graph.walk()}
    assert {"prim.Loop", "prim.If"} <= ops
    path = tmp_path_factory.mktemp("scripted") / "smooth.djit"
    distjit.save(g, path)
    return path, g


def test_optimize_covers_future_specializations(saved):
    _, g = saved
    x = np.random.default_rng(3).standard_normal((6, 2))        # float64 matrices: a third signature
    _check(g(x, 1e-4, 4), (x, 1e-4, 4))
    assert len(g.functions) == 3
    assert g.function_for(x, 1e-4, 4).optimization is g.optimization     # the latest one, optimized too
    assert g.function_for(x, 1e-4, 4).graph is g.graph


def test_loaded_in_a_fresh_process_runs_locally_and_on_ray(saved, ray_local, tmp_path):
    """The subprocess has no source of `smooth`: it loads the file, calls it in-process, runs its Plans on the
    LocalExecutor and, joining the session's Ray as a second driver, on Ray."""
    import ray

    path, _ = saved
    args_path = tmp_path / "args.npz"
    arrays = {}
    for i, (sig, seed) in enumerate(SETS):
        x, tol, steps = _inputs(sig, seed)
        arrays[f"x{i}"] = x
        arrays[f"p{i}"] = np.array([tol, steps])
    np.savez(args_path, **arrays)
    out_path = tmp_path / "out.npz"
    child = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        import distjit
        h = distjit.load({str(path)!r})
        assert type(h).__name__ == "FunctionSet" and len(h) == 2, h
        out = {{}}
        with np.load({str(args_path)!r}) as z:
            for i in range({len(SETS)}):
                tol, steps = z[f"p{{i}}"]
                args = (z[f"x{{i}}"], float(tol), int(steps))
                for mode in ("call", "local", "ray"):
                    if mode == "call":
                        y, moved = h(*args)
                    else:
                        cluster = "local" if mode == "local" else {ray.get_runtime_context().gcs_address!r}
                        y, moved = h.run(*args, cluster=cluster, workers=2)
                    out[f"{{mode}}{{i}}"] = y
                    out[f"{{mode}}{{i}}_moved"] = np.array(moved)
        np.savez({str(out_path)!r}, **out)
        print(json.dumps(sorted(out)))
    """)
    env = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", PYTHONPATH=_ROOT)
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=300, env=env,
                            cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-4000:]
    assert len(json.loads(result.stdout.strip().splitlines()[-1])) == 2 * 3 * len(SETS)
    with np.load(out_path) as got:
        for i, (sig, seed) in enumerate(SETS):
            args = _inputs(sig, seed)
            for mode in ("call", "local", "ray"):
                _check((got[f"{mode}{i}"], got[f"{mode}{i}_moved"][()]), args)


def test_loaded_set_on_the_session_executors(saved, local, ray_local):
    path, g = saved
    h = distjit.load(path)
    assert isinstance(h, distjit.FunctionSet) and len(h) == 2
    assert distjit.serialize.to_bytes(h) == path.read_bytes()          # saving what was loaded gives the file
    for sig, seed in SETS:
        args = _inputs(sig, seed)
        _check(h(*fresh(args)), args)
        _check(h.interpret(*fresh(args)), args)
        for executor in (local, ray_local):
            _check(h.run(*fresh(args), cluster=executor, workers=2), args)
        assert h.function_for(*args) is h.latest
    with pytest.raises(distjit.ShapeError, match="argument u is a Python float"):
        h(1.5, 1e-3, 2)
