"""Make the golden .djit files of tests/serialize/golden/ (run once per format version; commit the result).

    python -m tests.serialize.make_golden

Each file pins what this format version writes; test_golden.py checks that every
later distjit still loads them and computes the recorded results. Never
regenerate a golden file to make a failing test pass: add a new one instead.
"""
from __future__ import annotations

import pathlib
import sys

import numpy as np

GOLDEN = pathlib.Path(__file__).resolve().parent / "golden"
ROOT = GOLDEN.parents[2]      # the repository's root: golden files name sources relative to it


class MLP:
    """A callable object: its arrays are the traced Function's parameters (`fc1.weight`, ...)."""

    def __init__(self, rng):
        self.fc1 = {"weight": rng.standard_normal((8, 16)).astype(np.float32),
                    "bias": rng.standard_normal(16).astype(np.float32)}
        self.fc2 = {"weight": rng.standard_normal((16, 4)).astype(np.float32),
                    "bias": rng.standard_normal(4).astype(np.float32)}

    def __call__(self, x):
        h = np.maximum(x @ self.fc1["weight"] + self.fc1["bias"], 0)
        return h @ self.fc2["weight"] + self.fc2["bias"]


def mlp():
    import distjit

    model = MLP(np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((3, 8)).astype(np.float32)
    return distjit.trace(model, (x,), dynamic_axes={0: {0: "B"}}, name="mlp"), (x,)


def control():
    """`y = x * 2 if s > 0 else -x`, then `for i in range(n): y = y + i` (prim.If and prim.Loop, built by hand)."""
    from distjit.function import Signature
    from distjit.ir import INT, Builder, Graph, tensor
    from distjit.ir.graph import SourceLoc
    from distjit.pytree import LEAF, TreeSpec
    import distjit

    g = Graph("control")
    x = g.add_input(tensor(np.float64, ("N",)), "x")
    n = g.add_input(INT, "n")
    b = Builder(g.block, SourceLoc("golden_control.py", 1))
    s, = b.op("np.sum", [x])
    zero = b.constant(0.0)
    pos, = b.op("np.greater", [s, zero])
    if_node = b.create("prim.If", [pos], {}, [x.type], names=["y"])
    then = if_node.add_block()
    bt = Builder(then, SourceLoc("golden_control.py", 2))
    two = bt.constant(np.float64(2.0))
    then.add_return(bt.op("np.multiply", [x, two])[0])
    other = if_node.add_block()
    other.add_return(Builder(other).op("np.negative", [x])[0])
    y = if_node.output
    true = b.constant(True)
    loop = b.create("prim.Loop", [n, true, y], {}, [y.type], names=["acc"])
    body = loop.add_block()
    i = body.add_param(INT, "i")
    acc = body.add_param(y.type, "acc_in")
    bb = Builder(body, SourceLoc("golden_control.py", 4))
    body.add_return(bb.constant(True))
    body.add_return(bb.op("np.add", [acc, i])[0])
    g.add_output(loop.output)
    sig = Signature(("x", "n"), TreeSpec("tuple", (TreeSpec(LEAF), TreeSpec(LEAF))), TreeSpec(LEAF))
    g.verify()
    f = distjit.Function(g, sig, {}, "control")
    return f, (np.arange(5, dtype=np.float64) - 1.0, 3)


def call():
    """A graph that calls another with prim.Call (twice), with a constant array and a NumPy scalar attribute."""
    from distjit.function import Signature
    from distjit.ir import Builder, Graph, tensor
    from distjit.pytree import LEAF, TreeSpec
    import distjit

    inner = Graph("affine")
    a = inner.add_input(tensor(np.float32, (2, 3)), "a")
    bi = Builder(inner.block)
    scale = bi.constant(np.array([[1.5, -2.0, 0.25]], dtype=np.float32), name="scale")
    inner.add_output(bi.op("np.add", [bi.op("np.multiply", [a, scale])[0], bi.constant(np.float32(0.5))])[0])
    inner.verify()

    outer = Graph("twice")
    x = outer.add_input(tensor(np.float32, (2, 3)), "x")
    b = Builder(outer.block)
    y, = b.op("prim.Call", [x], {"graph": inner})
    z, = b.op("prim.Call", [y], {"graph": inner})
    outer.add_output(b.op("np.sum", [z], {"axis": 1})[0])
    outer.verify()
    sig = Signature(("x",), TreeSpec("tuple", (TreeSpec(LEAF),)), TreeSpec(LEAF))
    f = distjit.Function(outer, sig, {}, "twice")
    return f, (np.arange(6, dtype=np.float32).reshape(2, 3),)


def scripted_relax(x, tol: float, steps: int):
    """A loop with a data-dependent exit and an if: the body of the `script` golden file."""
    for _ in range(steps):
        new = 0.5 * (x + np.roll(x, 1, axis=-1))
        if np.abs(new - x).max() < tol:
            return new
        x = new
    return x


def script():
    """A scripted function compiled for two signatures (format 1.2's Model.functions): float64 vectors and
    float32 matrices. The arguments are the last signature's, whose graph `load` shows as `.graph`."""
    import distjit

    f = distjit.script(scripted_relax, name="relax")
    f(np.linspace(-1.0, 1.0, 7), 1e-3, 4)
    args = (np.arange(12, dtype=np.float32).reshape(3, 4), 1e-2, 5)
    f(*args)
    return f, args


def repo_relative(file: str) -> str:
    """`file` relative to the repository's root, as a golden file names it: the bytes of a golden file must not
    depend on where the checkout that wrote it was. An absolute path of another checkout keeps its part from
    `tests/` on."""
    path = pathlib.PurePosixPath(file)
    if not path.is_absolute():
        return file
    if pathlib.Path(file).is_relative_to(ROOT):
        return pathlib.Path(file).relative_to(ROOT).as_posix()
    parts = path.parts
    return "/".join(parts[parts.index("tests"):]) if "tests" in parts else file


def graphs_of(f):
    """Every graph a Function (or a set of them) holds: each signature's, each Plan's subgraphs, and the graphs
    their nodes call or fuse, once each."""
    from distjit.ir import Graph

    functions = list(getattr(f, "functions", None) or [f])
    todo = [fn.graph for fn in functions] + [g for fn in functions for plan in fn.plans.values()
                                              for g in plan.subgraphs]
    seen: dict[int, Graph] = {}
    while todo:
        g = todo.pop()
        if id(g) in seen:
            continue
        seen[id(g)] = g
        for node in g.walk():
            todo.extend(v for v in node.attrs.values() if isinstance(v, Graph))
    return list(seen.values())


def with_relative_locs(f):
    """`f` with every node's source file relative to the repository's root (`repo_relative`)."""
    from distjit.ir.graph import SourceLoc

    for g in graphs_of(f):
        for node in g.walk():
            if node.loc is not None:
                node.loc = SourceLoc(repo_relative(node.loc.file), node.loc.line)
    return f


MAKERS = {"mlp": mlp, "control": control, "call": call, "script": script}

# Since format 1.1 the golden files carry partition plans: `f.plan(workers=..., shard=...)` for each of these.
PLANS = {"mlp": [(2, None)], "control": [(2, None)], "call": [(2, {"x": 0}), (3, {"x": 0})], "script": [(2, None)]}


def main() -> int:
    import warnings

    import distjit

    GOLDEN.mkdir(exist_ok=True)
    for name, make in MAKERS.items():
        f, args = make()
        with_relative_locs(f)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # PlanWarning: golden programs are tiny on purpose
            for workers, shard in PLANS.get(name, []):
                f.plan(workers=workers, shard=shard)
        path = GOLDEN / f"{name}_v{distjit.serialize.FORMAT_MAJOR}_{distjit.serialize.FORMAT_MINOR}.djit"
        distjit.save(f, path, metadata={"golden": name})
        result = np.asarray(f(*args))
        np.save(path.with_suffix(".expected.npy"), result)
        path.with_suffix(".ir.txt").write_text(str(f.graph) + "\n")
        args_path = path.with_suffix(".args.npz")
        np.savez(args_path, *[np.asarray(a) for a in args])
        print(f"wrote {path.name} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
