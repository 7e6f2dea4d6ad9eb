"""A custom elementwise op through the whole pipeline: trace, optimize (fused with its neighbours), a plan
split over 2 workers, save, load in a fresh process (FormatError without the op, NumPy's results with it),
the LocalExecutor, and Ray workers that do not have the module that declares the op."""
import importlib
import json
import subprocess
import sys
import textwrap
import uuid

import numpy as np
import pytest

import distjit
from distjit.ops import REGISTRY

pytestmark = pytest.mark.filterwarnings("ignore::distjit.partition.PlanWarning")

# The module a user would write: it lives in a directory that only the driver has on sys.path.
MODULE = '''
import numpy as np
import distjit


@distjit.custom_op("{name}", elementwise=True)
def softplus(x, beta=1.0):
    """log(1 + exp(beta x)) / beta, without overflow."""
    return np.logaddexp(beta * x, 0.0) / beta
'''


def program(softplus):
    def f(x, w):
        h = x @ w
        return softplus(h + 1.0, beta=2.0) * 0.5 - h.mean(axis=0)
    return f


def reference(x, w):
    h = x @ w
    return np.logaddexp(2.0 * (h + 1.0), 0.0) / 2.0 * 0.5 - h.mean(axis=0)


@pytest.fixture(scope="module")
def softplus_module(tmp_path_factory):
    """(module, its directory, the op's name): a fresh module and op name, so the op is declared once."""
    root = tmp_path_factory.mktemp("custom_op_module")
    module_name = f"djit_user_ops_{uuid.uuid4().hex[:8]}"
    op_name = f"{module_name}.softplus"
    (root / f"{module_name}.py").write_text(MODULE.format(name=op_name))
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
        yield module, root, op_name
    finally:
        sys.path.remove(str(root))
        sys.modules.pop(module_name, None)
        if op_name in REGISTRY:
            REGISTRY.unregister(op_name)


def inputs(seed=0, rows=40_000):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, 6)), rng.standard_normal((6, 5))


def test_called_outside_a_trace_it_runs_the_function(softplus_module):
    module, _, _ = softplus_module
    x, _ = inputs(rows=10)
    np.testing.assert_array_equal(module.softplus(x, beta=2.0), np.logaddexp(2.0 * x, 0.0) / 2.0)


def test_custom_elementwise_op_through_the_pipeline(softplus_module, tmp_path, ray_local):
    module, root, op_name = softplus_module
    x, w = inputs()
    f = distjit.trace(program(module.softplus), (x, w))
    assert [n.op for n in f.graph.block.nodes].count(op_name) == 1
    np.testing.assert_allclose(f(x, w), reference(x, w), rtol=1e-12, atol=1e-12)

    g = distjit.optimize(f)
    fused = [n for n in g.graph.block.nodes if n.op == "fused.elementwise"]
    assert len(fused) == 1, str(g.graph)
    inner = [n.op for n in fused[0].attrs["graph"].block.nodes]
    assert op_name in inner and "np.add" in inner and "np.multiply" in inner, inner
    assert op_name not in [n.op for n in g.graph.block.nodes]
    np.testing.assert_allclose(g(x, w), reference(x, w), rtol=1e-12, atol=1e-12)

    plan = g.plan(workers=2, shard={"x": 0})
    shards = [s for s in plan.subgraphs if any(n.op == "fused.elementwise" for n in s.block.nodes)]
    assert sum(1 for t in plan.tasks if any(n.op == "fused.elementwise"
                                           for n in plan.subgraphs[t.subgraph].block.nodes)) == 2
    assert shards and all(n.outputs[0].type.shape[0] == x.shape[0] // 2
                          for s in shards for n in s.block.nodes if n.op == "fused.elementwise")

    np.testing.assert_allclose(g.run(x, w, cluster="local", workers=2, shard={"x": 0}), reference(x, w),
                               rtol=1e-12, atol=1e-12)

    path = tmp_path / "softplus.djit"
    distjit.save(g, path)
    assert b"cloudpickle" not in path.read_bytes() and op_name.encode() in path.read_bytes()
    _loads_in_a_fresh_process(path, root, op_name, tmp_path)

    _workers_lack_the_module(module.__name__)
    x2, w2 = inputs(seed=3)
    got = g.run(x2, w2, cluster=ray_local, workers=2, shard={"x": 0})
    np.testing.assert_allclose(got, reference(x2, w2), rtol=1e-12, atol=1e-12)


def _loads_in_a_fresh_process(path, root, op_name, tmp_path):
    """Without the op: a FormatError naming it. With its module imported: the file loads, plans and runs."""
    x, w = inputs(seed=5)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "w.npy", w)
    script = textwrap.dedent(f"""
        import importlib, json, sys
        import numpy as np
        import distjit
        result = {{}}
        try:
            distjit.load({str(path)!r})
            result["without"] = "loaded"
        except distjit.FormatError as e:
            result["without"] = str(e)
        sys.path.insert(0, {str(root)!r})
        importlib.import_module({op_name.split(".")[0]!r})
        g = distjit.load({str(path)!r})
        x, w = np.load({str(tmp_path / "x.npy")!r}), np.load({str(tmp_path / "w.npy")!r})
        np.save({str(tmp_path / "direct.npy")!r}, g(x, w))
        np.save({str(tmp_path / "local.npy")!r}, g.run(x, w, cluster="local", workers=2, shard={{"x": 0}}))
        print(json.dumps(result))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "unknown op" in result["without"] and op_name in result["without"], result
    for name in ("direct", "local"):
        np.testing.assert_allclose(np.load(tmp_path / f"{name}.npy"), reference(x, w), rtol=1e-12, atol=1e-12)


def _workers_lack_the_module(module_name):
    """The test means something only if Ray's workers cannot import the op's module themselves."""
    import ray

    @ray.remote
    def importable(name):
        try:
            importlib.import_module(name)
            return True
        except ImportError:
            return False

    assert ray.get([importable.remote(module_name) for _ in range(4)]) == [False] * 4
