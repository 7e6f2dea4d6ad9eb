"""Partition plans in .djit files (format 1.1): round trips, reuse after loading, and fuzzed plan indices."""
import io
import pathlib
import random
import sys

import numpy as np
import pytest

import distjit
from distjit import FormatError
from distjit.serialize import distjit_pb2 as pb
from distjit.serialize.encode import encode_function
from distjit.serialize.files import write_model
from tests.compare import assert_same, fresh
from tests.distributed.corpus import RTOL, split_everything
from tests.programs import by_name

pytestmark = pytest.mark.filterwarnings("ignore::distjit.partition.PlanWarning")

# Programs the partitioner splits into several tasks (split outputs, partial reductions, in-place updates,
# a single shared subgraph, many stages), plus one it keeps whole.
PROGRAMS = ["stats.kmeans_step", "stats.weighted_mean_var", "finance.black_scholes_greeks", "misc.reductions",
            "inplace.sgd_momentum_step_", "stats.moments", "linalg_progs.power_iteration_fixed", "nn.softmax"]


def traced(name):
    prog = by_name(name)
    return prog, distjit.trace(prog.fn, prog.make_inputs(np.random.default_rng(0)), dynamic_axes=prog.dynamic_axes)


class Dense:
    """A callable with parameters, so its plans read parameters (Source kind "param")."""

    def __init__(self, rng):
        self.w = rng.standard_normal((8, 4))
        self.b = rng.standard_normal(4)

    def __call__(self, x):
        return np.tanh(x @ self.w + self.b).sum(axis=0)


def with_params():
    x = np.random.default_rng(1).standard_normal((12, 8))
    return distjit.trace(Dense(np.random.default_rng(0)), (x,), name="dense"), x


def planned(f, workers=(2, 3)):
    for w in workers:
        f.plan(workers=w, shard=split_everything(f, w))
    return f


def _saved(explained: str) -> str:
    """explain() without what the partitioner knew but the file does not keep (its prediction and reasons)."""
    return "\n".join(line for line in explained.splitlines() if not line.startswith(("predicted ", "why: ")))


# ---- round trips -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", PROGRAMS)
def test_plans_round_trip_and_run(name, tmp_path):
    prog, f = traced(name)
    planned(f)
    path = tmp_path / "f.djit"
    distjit.save(f, path)
    g = distjit.load(path)
    assert list(g.plans) == list(f.plans) and len(g.plans) == 2
    for key, plan in f.plans.items():
        assert _saved(g.plans[key].explain()) == _saved(plan.explain())
        assert [str(s) for s in g.plans[key].subgraphs] == [str(s) for s in plan.subgraphs]
        assert g.plans[key].tasks == plan.tasks and g.plans[key].outputs == plan.outputs
        assert g.plans[key].inputs == plan.inputs
    assert distjit.serialize.to_bytes(g) == path.read_bytes()          # save(load(save(f))) is byte-identical with plans
    for workers in (2, 3):
        inputs = prog.make_inputs(np.random.default_rng(7))
        reference = fresh(inputs)
        expected = prog.fn(*reference)
        got = g.run(*inputs, cluster="local", workers=workers, shard=split_everything(g, workers))
        assert_same(got, expected, max(prog.rtol, RTOL))
        assert_same(inputs, reference, max(prog.rtol, RTOL), "inputs after the call")


def test_loaded_plans_run_without_partitioning(monkeypatch, tmp_path):
    f, x = with_params()
    planned(f)
    f.plan(workers=2)                   # the default sharding too
    distjit.save(f, tmp_path / "dense.djit")
    g = distjit.load(tmp_path / "dense.djit")
    assert len(g.plans) == 3
    saved = dict(g.plans)

    def no_partitioning(*args, **kwargs):
        raise AssertionError("a loaded Function re-partitioned instead of using its saved Plan")

    # `distjit.partition` is the function; patch it where Function.plan looks it up (the package) and at its source
    monkeypatch.setattr(sys.modules["distjit.partition"], "partition", no_partitioning)
    monkeypatch.setattr(sys.modules["distjit.partition.partition"], "partition", no_partitioning)
    expected = Dense(np.random.default_rng(0))(x)
    for workers in (2, 3):
        got = g.run(x, cluster="local", workers=workers, shard=split_everything(g, workers))
        np.testing.assert_allclose(got, expected, rtol=RTOL)
    np.testing.assert_allclose(g.run(x, cluster="local", workers=2), expected, rtol=RTOL)
    assert g.plan(workers=3, shard={"x": 0}) is saved[(3, (("x", 0),))]
    assert g.plans == saved and all(g.plans[k] is saved[k] for k in saved)
    assert any(s.kind == "param" for p in g.plans.values() for t in p.tasks for s in t.inputs)


def test_plan_is_attached_and_ordered_deterministically():
    f, _ = with_params()
    f.plan(workers=3, shard={"x": 0})
    f.plan(workers=2, shard={"x": None})
    f.plan(workers=2, shard={"x": 0})
    g, _ = with_params()
    g.plan(workers=2, shard={"x": 0})
    g.plan(workers=2, shard={"x": None})
    g.plan(workers=3, shard={"x": 0})
    assert f.plans.keys() == g.plans.keys() and list(f.plans) != list(g.plans)
    assert distjit.serialize.to_bytes(f) == distjit.serialize.to_bytes(g)               # attachment order does not change the file
    assert list(distjit.serialize.from_bytes(distjit.serialize.to_bytes(f)).plans) == [(2, (("x", None),)), (2, (("x", 0),)),
                                                                      (3, (("x", 0),))]


def test_function_without_plans_and_optimized_copies():
    f, _ = with_params()
    assert f.plans == {} and distjit.serialize.from_bytes(distjit.serialize.to_bytes(f)).plans == {}
    f.plan(workers=2)
    assert f.with_graph(f.graph).plans == {}           # plans belong to one graph; a new Function starts empty


def test_subgraphs_shared_with_plans_are_stored_once():
    _, f = traced("stats.covariance")
    plan = planned(f, (3,)).plans[(3, tuple(sorted(split_everything(f, 3).items())))]
    model, _ = encode_function(f)
    stored = model.plans[0]
    assert len(stored.subgraphs) == len(plan.subgraphs) and len(set(stored.subgraphs)) == len(plan.subgraphs)
    assert len(model.graphs) == 1 + len(plan.subgraphs)


GOLDEN = pathlib.Path(__file__).resolve().parent / "golden"


def test_golden_files_of_older_minors_load_without_plans():
    for path in sorted(GOLDEN.glob("*_v1_0.djit")):
        assert distjit.load(path).plans == {}


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*_v1_1.djit")), ids=lambda p: p.name)
def test_golden_plans_run_without_partitioning(path, monkeypatch):
    """Format 1.1 golden files carry plans (tests/serialize/make_golden.py: PLANS): they run as saved."""
    from distjit.ir import ScalarType
    from tests.serialize.make_golden import PLANS

    f = distjit.load(path)
    name = path.name.split("_v")[0]
    assert sorted(f.plans) == sorted(distjit.function.plan_key(w, s) for w, s in PLANS[name])

    def no_partitioning(*args, **kwargs):
        raise AssertionError("re-partitioned a Function that carries its Plan")

    monkeypatch.setattr(sys.modules["distjit.partition"], "partition", no_partitioning)
    with np.load(path.with_suffix(".args.npz")) as npz:
        stored = [npz[f"arr_{i}"] for i in range(len(npz.files))]
    args = [a.item() if isinstance(v.type, ScalarType) else a for a, v in zip(stored, f.graph.inputs)]
    expected = np.load(path.with_suffix(".expected.npy"))
    for workers, shard in PLANS[name]:
        got = np.asarray(f.run(*args, cluster="local", workers=workers, shard=shard))
        np.testing.assert_allclose(got, expected, rtol=RTOL)


def test_inspect_prints_plans(tmp_path, capsys):
    import json

    from distjit.cli import main

    f, _ = with_params()
    planned(f)
    distjit.save(f, tmp_path / "d.djit")
    assert main(["inspect", str(tmp_path / "d.djit")]) == 0
    out = capsys.readouterr().out
    for plan in f.plans.values():
        assert _saved(plan.explain()) in out.replace("\n  ", "\n")
    assert main(["inspect", "--json", str(tmp_path / "d.djit")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["has_plan"] and [p["workers"] for p in info["plans"]] == [2, 3]
    for p, plan in zip(info["plans"], f.plans.values()):
        assert p["tasks"] == len(plan.tasks) and p["stages"] == plan.stages and p["shard"] == {"x": 0}


# ---- corrupt plans ------------------------------------------------------------------------------------------

def _base_models():
    bases = []
    f, _ = with_params()
    bases.append(encode_function(planned(f)))
    for name in ("misc.reductions", "stats.zscores_and_outliers"):   # split outputs, task-to-task edges; small
        _, g = traced(name)
        bases.append(encode_function(planned(g, (3,))))
    return bases


def _to_bytes(model, arrays):
    out = io.BytesIO()
    write_model(out, model, arrays)
    return out.getvalue()


def _sources(plan):
    out = [s for t in plan.tasks for s in t.inputs]
    out += [s for o in plan.outputs for s in o.sources]
    return out


BIG = [0, 1, 2, 3, 7, 2**31 - 1, 2**32 - 1]


def _mutate(rng, model):
    """Corrupt one index (or one structural fact) of one plan; returns what it did."""
    plan = rng.choice(model.plans)
    kind = rng.randrange(17)
    pick = lambda: rng.choice(BIG + [rng.randrange(64)])       # noqa: E731
    if kind == 0 and plan.tasks:
        rng.choice(plan.tasks).subgraph = pick()
    elif kind == 1 and _sources(plan):
        rng.choice(_sources(plan)).index = pick()
    elif kind == 2 and _sources(plan):
        rng.choice(_sources(plan)).output = pick()
    elif kind == 3 and _sources(plan):
        rng.choice(_sources(plan)).shard = pick()
    elif kind == 4 and _sources(plan):
        rng.choice(_sources(plan)).kind = rng.choice([0, 1, 2, 3, 4, 99])
    elif kind == 5 and plan.subgraphs:
        plan.subgraphs[rng.randrange(len(plan.subgraphs))] = pick()
    elif kind == 6 and plan.tasks:
        rng.choice(plan.tasks).shard = pick()
    elif kind == 7:
        plan.parts = pick()
    elif kind == 8 and plan.inputs:
        layout = rng.choice(plan.inputs)
        if rng.random() < 0.5:
            layout.axis = rng.choice([-1, 0, 1, 2, 5, 2**31 - 1])
        elif layout.bounds:
            b = rng.choice(layout.bounds)
            setattr(b, rng.choice(["start", "stop"]), rng.choice([-1, 0, 1, 5, 2**40]))
        else:
            layout.ClearField("axis")
    elif kind == 9 and plan.outputs:
        o = rng.choice(plan.outputs)
        if rng.random() < 0.5:
            o.axis = rng.choice([-1, 0, 1, 3, 2**31 - 1])
        else:
            o.ClearField("axis")
    elif kind == 10 and plan.tasks:
        t = rng.choice(plan.tasks)
        if t.inputs and rng.random() < 0.5:
            del t.inputs[rng.randrange(len(t.inputs))]
        else:
            t.inputs.add(kind=pb.Source.ARG, index=0)
    elif kind == 11:
        target = rng.choice([plan.inputs, plan.outputs, plan.input_names, plan.tasks])
        if len(target):
            del target[rng.randrange(len(target))]
    elif kind == 12:
        plan.params.append(rng.choice(["nope", "w", plan.params[0] if plan.params else "x"]))
    elif kind == 13:
        plan.shard.add(name=rng.choice(["nope", "x", "x[0]"]), axis=rng.choice([0, 1, -1]))
    elif kind == 14:
        plan.workers = rng.choice([0, plan.workers])
        model.plans.add().CopyFrom(plan)            # a repeated key (or workers=0)
    elif kind == 15 and plan.tasks:
        t = rng.choice(plan.tasks)
        setattr(t, rng.choice(["flops", "bytes", "seconds", "bytes_in"]),
                rng.choice([float("nan"), float("inf"), -1.0]))
    else:   # swap two tasks: sources may now point forward
        if len(plan.tasks) >= 2:
            i, j = rng.sample(range(len(plan.tasks)), 2)
            a, b = pb.Task(), pb.Task()
            a.CopyFrom(plan.tasks[i])
            b.CopyFrom(plan.tasks[j])
            plan.tasks[i].CopyFrom(b)
            plan.tasks[j].CopyFrom(a)
        else:
            plan.task_overhead_s = float("nan")
    return kind


def _check_loaded_plan(g):
    """A plan the loader accepts has indices an executor can follow."""
    for plan in g.plans.values():
        for t, task in enumerate(plan.tasks):
            assert 0 <= task.subgraph < len(plan.subgraphs)
            assert len(task.inputs) == len(plan.subgraphs[task.subgraph].inputs)
            for s in task.inputs:
                assert s.kind != "task" or (s.index < t and s.output < plan.task_outputs(s.index))
        assert len(plan.outputs) == len(g.graph.outputs) and len(plan.inputs) == len(g.graph.inputs)
        for o in plan.outputs:
            for s in o.sources:
                assert s.kind != "task" or (s.index < len(plan.tasks) and s.output < plan.task_outputs(s.index))


def test_corrupt_plans_raise_format_error():
    rng = random.Random(20240611)
    bases = _base_models()
    outcomes = {"refused": 0, "loaded": 0}
    for case in range(600):
        base_model, arrays = rng.choice(bases)
        model = pb.Model()
        model.CopyFrom(base_model)
        kinds = [_mutate(rng, model) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        data = _to_bytes(model, arrays)
        try:
            g = distjit.serialize.from_bytes(data)
        except FormatError as e:
            msg = str(e)
            assert "unexpected error" not in msg, (case, kinds, msg)     # a check caught it, not the safety net
            assert "plan" in msg or "graph" in msg, (case, kinds, msg)
            outcomes["refused"] += 1
            continue
        _check_loaded_plan(g)
        outcomes["loaded"] += 1
    assert outcomes["refused"] > 400, outcomes


def test_corrupt_plan_messages_say_where():
    f, _ = with_params()
    model, arrays = encode_function(planned(f, (2,)))
    plan = model.plans[0]
    last = len(plan.tasks) - 1
    cases = [
        (lambda p: setattr(p.tasks[0], "subgraph", 99), "task 0 .* runs subgraph 99, which does not exist"),
        (lambda p: p.subgraphs.__setitem__(0, 99), "subgraph 0 is graph 99, which does not exist"),
        (lambda p: setattr(p.outputs[0].sources[0], "index", 99), "output 0, source 0 reads task 99"),
        (lambda p: setattr(p.outputs[0].sources[0], "output", 99), "reads output 99 of task"),
        (lambda p: p.tasks[last].inputs.add(kind=pb.Source.TASK, index=last), "sources for the"),
        (lambda p: setattr(p, "parts", 0), "parts is 0"),
        (lambda p: setattr(p.inputs[0], "axis", 7), "input x: split along axis 7"),
        (lambda p: setattr(p.inputs[0].bounds[0], "stop", 1), "shard 1 is"),
        (lambda p: p.params.append("missing"), "parameter 2 is 'missing'"),
        (lambda p: p.shard.add(name="y"), "names no input"),
        (lambda p: setattr(p.tasks[0], "flops", float("nan")), "flops is nan"),
    ]
    for mutate, pattern in cases:
        m = pb.Model()
        m.CopyFrom(model)
        mutate(m.plans[0])
        with pytest.raises(FormatError, match=f"<bytes>: plan 0 \\('dense'\\): .*{pattern}"):
            distjit.serialize.from_bytes(_to_bytes(m, arrays))
    forward = pb.Model()
    forward.CopyFrom(model)
    forward.plans[0].tasks[0].inputs[0].CopyFrom(pb.Source(kind=pb.Source.TASK, index=0))
    with pytest.raises(FormatError, match="reads task 0, which is not before it"):
        distjit.serialize.from_bytes(_to_bytes(forward, arrays))


def test_save_refuses_a_plan_that_does_not_fit():
    f, _ = with_params()
    _, other = traced("misc.reductions")
    f.plans[(2, ())] = other.plan(workers=2)
    with pytest.raises(FormatError, match="made for another graph"):
        distjit.serialize.to_bytes(f)
    f.plans[(2, ())] = f.plan(workers=3)              # attached under the wrong number of workers
    with pytest.raises(FormatError, match="attached for workers=2 but was planned for 3"):
        distjit.serialize.to_bytes(f)


def test_retired_plan_fields_stay_retired():
    """Format 1.0's schema had `Model.plan = 13` and `Plan.outputs = 9` (repeated Source): never reuse them."""
    plan_fields = {f.number: f.name for f in pb.Plan.DESCRIPTOR.fields}
    model_fields = {f.number: f.name for f in pb.Model.DESCRIPTOR.fields}
    assert 9 not in plan_fields and plan_fields[11] == "outputs" and plan_fields[12] == "shard"
    assert 13 not in model_fields and model_fields[14] == "plans"
    assert pb.Plan.DESCRIPTOR.fields_by_name["outputs"].message_type.name == "PlanOutput"


def test_split_fused_nodes_load_and_run(tmp_path):
    # A fused node cut into shards keeps its (whole) expression graph: its output type is the shards' inputs'
    # broadcast, so the loaded plan verifies and runs (it did not: the types came from the expression).
    rng = np.random.default_rng(0)
    args = (rng.standard_normal((1000, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3))

    def scores(x, w, b):
        h = np.tanh(x @ w + b)
        return h - h.mean(axis=0)

    g = distjit.optimize(distjit.trace(scores, args))
    assert any(n.op == "fused.elementwise" for n in g.graph.walk())
    g.plan(workers=2, shard={"x": 0})
    distjit.save(g, tmp_path / "m.djit")
    h = distjit.load(tmp_path / "m.djit")
    np.testing.assert_allclose(h.run(*args, cluster="local", shard={"x": 0}), scores(*args), rtol=1e-12, atol=1e-12)
