"""Structure-aware fuzzing by reflection: any field of the parsed Model, changed, with checksums fixed.

Where test_fuzz.py writes each mutation by hand, this one walks the protobuf descriptors, so
every field of every message the format has is a target, including ones added later. A case
picks one to three fields anywhere in a small file's Model (set or not, in any nested message)
and gives each a hostile value for its type: boundary integers, NaNs, strings that are not
names (Unicode digits and ligatures, terminal escapes, text-IR syntax), other enum numbers,
a message cleared or copied from elsewhere, a repeated field grown, shrunk or reordered. The
tensor checksums and the message checksum are then recomputed, so the decoder's own checks,
not the checksums, must answer.

Every case either raises FormatError (never the "unexpected error" catch-all) or loads a
Function for which:
- the text form round-trips: every graph it runs (the main graph and each plan subgraph)
  prints, parses back to a graph that verifies, and prints identically (Ray workers run
  the parsed text, so anything else would run a different graph from the one verified);
- the main graph and every plan subgraph compile to Python.
"""
from __future__ import annotations

import math
import random
import time
import zlib

import numpy as np
import pytest

import distjit
from distjit import FormatError
from distjit.ir.graph import Graph
from distjit.serialize import distjit_pb2 as pb
from google.protobuf.descriptor import FieldDescriptor as FD
from tests.serialize.test_fuzz import assemble, split

CASES = 10_000
SECONDS = 60

INTS = [0, 1, 2, 3, -1, -2, 7, 63, 64, 255, 2**31 - 1, -2**31, 2**32 - 1, 2**62, 2**63 - 1, -2**63, 2**64 - 1]
FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, math.nan, math.inf, -math.inf, 1e308, 5e-324, -1e-300]
STRINGS = ["", "x", "B", "?0", "0", "1", "%0", "a b", "a.b", "x.0", "fc1.bias", "²", "ﬁ", "٣", "B²", "\u200b",
           "\x1b[2J\x1b[31m", "\x9b31m", "a\nb", "a\rb", "a\tb", 'a"b', "a\\b", "B]", "B,3", "B) = np.sum(",
           "graph", "return", "params", "block", "-> (", "# x.py:1", "np.add", "np.negative", "np.sum",
           "prim.Call", "prim.Constant", "fused.elementwise", "--5", "-5", "99999999999999999999", "1e5", "x" * 300,
           "/../../etc/passwd", "output['/../x']", "value", "graph", "axis", "kind", "mean", "sum", "cloudpickle"]


def base_files() -> list[bytes]:
    """Small files that between them hold every message kind: params, control flow, calls, fused nodes, plans."""
    from tests.serialize.make_golden import MAKERS, PLANS

    files = []
    for name, make in MAKERS.items():
        f = make()[0]
        for workers, shard in PLANS[name][:1]:
            f.plan(workers=workers, shard=shard)
        files.append(distjit.serialize.to_bytes(f))
    x, w = np.linspace(-1, 1, 16).reshape(8, 2), np.ones((2, 3))

    def scores(x, w):
        h = np.tanh(x @ w + 1.0)
        return h - h.mean(axis=0), np.argmax(h, axis=0)

    f = distjit.trace(scores, (x, w))
    g = f.optimize(2)                                   # fused.elementwise with its expression graph
    for fn in (f, g):
        fn.plan(workers=2, shard={"x": 0})
        files.append(distjit.serialize.to_bytes(fn))
    return files


# ---- mutations, by the field's type ------------------------------------------------------------------

def message_paths(msg, prefix=(), out=None, depth=0) -> list:
    """(path, message type) of every message reachable from `msg`; a path is ((field, index or None), ...)."""
    out = [] if out is None else out
    out.append((prefix, msg.DESCRIPTOR))
    if depth < 40:
        for field, value in msg.ListFields():
            if field.type == FD.TYPE_MESSAGE:
                if field.is_repeated:
                    for i, item in enumerate(value):
                        message_paths(item, prefix + ((field.name, i),), out, depth + 1)
                else:
                    message_paths(value, prefix + ((field.name, None),), out, depth + 1)
    return out


def resolve(model, path):
    """The message at `path` in `model`, or None when an earlier mutation removed it."""
    m = model
    for name, i in path:
        if i is None:
            if not m.HasField(name):
                return None
            m = getattr(m, name)
        else:
            items = getattr(m, name)
            if i >= len(items):
                return None
            m = items[i]
    return m


_PATHS: dict[bytes, list] = {}


def scalar_value(rng, field, old):
    t = field.type
    if t == FD.TYPE_BOOL:
        return not old if old is not None else rng.random() < 0.5
    if t in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE):
        return rng.choice(FLOATS)
    if t == FD.TYPE_ENUM:
        top = max(v.number for v in field.enum_type.values)
        return rng.choice([0, top, top + 1, rng.randrange(top + 1), 99, -1])
    if t == FD.TYPE_STRING:
        return rng.choice(STRINGS)
    if t == FD.TYPE_BYTES:
        return bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 3, 4, 8, 16])))
    # integers: near the old value, small, or at a boundary of the field's range
    candidates = INTS + ([old - 1, old + 1, old * 2] if isinstance(old, int) else [])
    lo, hi = _int_range(t)
    return rng.choice([v for v in candidates if lo <= v <= hi] or [0])


def _int_range(t):
    if t in (FD.TYPE_UINT32, FD.TYPE_FIXED32):
        return 0, 2**32 - 1
    if t in (FD.TYPE_UINT64, FD.TYPE_FIXED64):
        return 0, 2**64 - 1
    if t in (FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32):
        return -2**31, 2**31 - 1
    return -2**63, 2**63 - 1


def mutate_field(rng, model, paths, msg, field):
    name = field.name
    if field.is_repeated:
        items = getattr(msg, name)
        n = len(items)
        what = rng.randrange(5)
        if what == 0 and n:
            del items[rng.randrange(n)]
        elif what == 1 and n > 1:
            i, j = rng.sample(range(n), 2)
            if field.type == FD.TYPE_MESSAGE:
                a, b = type(items[i])(), type(items[i])()
                a.CopyFrom(items[i]); b.CopyFrom(items[j])
                items[i].CopyFrom(b); items[j].CopyFrom(a)
            else:
                items[i], items[j] = items[j], items[i]
        elif what == 2 and n and field.type == FD.TYPE_MESSAGE:
            items.add().CopyFrom(items[rng.randrange(n)])
        elif field.type == FD.TYPE_MESSAGE:
            donor = _same_type(rng, model, paths, field.message_type)
            new = items.add()
            if donor is not None and rng.random() < 0.7:
                new.CopyFrom(_snapshot(donor))        # the donor may be an ancestor of `new`
        elif what == 3 and n:
            items[rng.randrange(n)] = scalar_value(rng, field, items[rng.randrange(n)])
        else:
            items.append(scalar_value(rng, field, items[0] if n else None))
        return
    if field.type == FD.TYPE_MESSAGE:
        sub = getattr(msg, name)
        what = rng.randrange(3)
        if what == 0:
            msg.ClearField(name)
        elif what == 1:
            donor = _same_type(rng, model, paths, field.message_type)
            if donor is not None and donor is not sub:
                sub.CopyFrom(_snapshot(donor))
        else:
            sub.SetInParent()            # present but empty (for a oneof member: switches the oneof)
        return
    setattr(msg, name, scalar_value(rng, field, getattr(msg, name)))


def _snapshot(msg):
    copy = type(msg)()
    copy.CopyFrom(msg)
    return copy


def _same_type(rng, model, paths, descriptor):
    same = [p for p, d in paths if d is descriptor]
    return resolve(model, rng.choice(same)) if same else None


def fix_checksums(model: pb.Model, data: bytes) -> None:
    """Give every tensor whose bytes lie in the data section the crc32 of those bytes."""
    for desc in model.tensors:
        if desc.offset + desc.length <= len(data):
            desc.crc32 = zlib.crc32(data[desc.offset:desc.offset + desc.length])


def mutate(rng: random.Random, base: bytes) -> bytes:
    _, model, data = split(base)
    if base not in _PATHS:      # the base's messages, found once: resolved in each mutated copy
        _PATHS[base] = [(p, d) for p, d in message_paths(model) if d.fields]
    paths = _PATHS[base]
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        msg = resolve(model, rng.choice(paths)[0]) or model
        mutate_field(rng, model, paths, msg, rng.choice(msg.DESCRIPTOR.fields))
    fix_checksums(model, data)
    message = model.SerializeToString(deterministic=True)
    major, minor = model.format_major, model.format_minor
    model.format_major, model.format_minor = major & 0xFFFF, minor & 0xFFFF    # the header's fields are 16-bit
    return assemble(model, data, message)


# ---- what a loaded file must satisfy ------------------------------------------------------------------

def run_graphs(f) -> list[Graph]:
    return [f.graph] + [s for plan in f.plans.values() for s in plan.subgraphs]


def check_loaded(loaded, case: int) -> None:
    from distjit.runtime.executor import compile_graph

    # a file of several signatures (format 1.2) loads as a FunctionSet: every one of its Functions must hold
    for f in loaded.functions if isinstance(loaded, distjit.FunctionSet) else [loaded]:
        for g in run_graphs(f):
            text = str(g)
            again = Graph.parse(text)
            again.verify()
            assert str(again) == text, f"case {case}: graph {g.name!r} prints differently after a round trip"
            compile_graph(g, f.params if g is f.graph else None)


def check_one(data: bytes, case: int) -> str:
    try:
        f = distjit.serialize.from_bytes(data)
    except FormatError as e:
        assert "unexpected error" not in str(e), f"case {case}: a check is missing: {e}"
        return "refused"
    check_loaded(f, case)
    return "loaded"


@pytest.mark.filterwarnings("ignore::distjit.partition.plan.PlanWarning")
def test_field_mutations_are_refused_or_load_consistently():
    rng = random.Random(16)
    bases = base_files()
    outcomes = {"refused": 0, "loaded": 0}
    start = time.perf_counter()
    for case in range(CASES):
        outcomes[check_one(mutate(rng, rng.choice(bases)), case)] += 1
    elapsed = time.perf_counter() - start
    print(f"\n{outcomes} in {elapsed:.1f} s")
    assert sum(outcomes.values()) >= 10_000
    assert outcomes["loaded"] > CASES // 20 and outcomes["refused"] > CASES // 4, outcomes


@pytest.mark.filterwarnings("ignore::distjit.partition.plan.PlanWarning")
def test_every_base_loads_and_round_trips():
    for i, data in enumerate(base_files()):
        assert check_one(data, -1 - i) == "loaded"
