"""Robustness: thousands of mutated files either raise FormatError or load a graph the verifier accepts.

Two families of mutations, from a seeded generator (reproducible: the case number is in every failure):

* bytes: truncations, bit flips, byte splices, wrong magic, header fields set to wild values,
  appended bytes. Most are caught by the header and message checksums.
* messages: the Model message is changed field by field and the file reassembled with valid checksums,
  so the decoder's own checks are exercised: huge and negative dims, misaligned, out-of-range and
  overlapping tensor offsets, dangling and forward value references, cycles (a node using its own
  output, a graph calling itself or a later graph), unknown ops, attributes of the wrong kind or
  name, broken signatures, corrupt message bytes.

No case may crash, take longer than a second, or allocate much more than the file's size.
"""
from __future__ import annotations

import random
import time
import tracemalloc
import zlib

import numpy as np
import pytest

import distjit
from distjit import FormatError
from distjit.serialize import distjit_pb2 as pb
from google.protobuf.message import DecodeError
from distjit.serialize.layout import HEADER, HEADER_SIZE, Header, align

CASES = 10_500
BIG = [0, 1, 63, 64, 65, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**40, 2**62, 2**63 - 1, 2**63, 2**64 - 1]


def base_files() -> list[bytes]:
    from tests.programs import by_name
    from tests.serialize.make_golden import MAKERS

    files = [distjit.serialize.to_bytes(make()[0]) for make in MAKERS.values()]
    for name in ("nn.softmax", "stencils.laplacian_2d"):
        try:
            prog = by_name(name)
        except KeyError:
            continue
        f = distjit.trace(prog.fn, prog.make_inputs(np.random.default_rng(0)), dynamic_axes=prog.dynamic_axes)
        files.append(distjit.serialize.to_bytes(f))
    return files


def split(data: bytes) -> tuple[Header, pb.Model, bytes]:
    header, model = distjit.serialize.read_model(data, "base")
    return header, model, data[header.data_offset:]


def assemble(model: pb.Model, data: bytes, message: bytes | None = None) -> bytes:
    """A file with valid header and message checksum around `model` (or raw `message` bytes)."""
    message = model.SerializeToString(deterministic=True) if message is None else message
    data_offset = align(HEADER_SIZE + len(message))
    header = Header(model.format_major, model.format_minor, HEADER_SIZE, HEADER_SIZE, len(message), data_offset, len(data), zlib.crc32(message))
    return header.pack() + message + b"\0" * (data_offset - HEADER_SIZE - len(message)) + data


# ---- byte mutations ---------------------------------------------------------------------------

def truncate(rng, data):
    return data[:rng.randrange(len(data))]


def flip_bits(rng, data):
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def splice(rng, data):
    i = rng.randrange(len(data))
    return data[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))) + data[i + rng.randint(0, 16):]


def wrong_magic(rng, data):
    return rng.choice([b"DJIX", b"\0\0\0\0", b"PK\x03\x04", b"djit"]) + data[4:]


def header_field(rng, data):
    fields = list(HEADER.unpack_from(data))
    i = rng.randrange(1, len(fields))
    limit = 2**16 if i in (1, 2) else 2**32 if i in (3, 4, 9) else 2**64
    fields[i] = rng.choice([v for v in BIG if v < limit] + [rng.randrange(limit)])
    return HEADER.pack(*fields).ljust(HEADER_SIZE, b"\0") + data[HEADER_SIZE:]


def append(rng, data):
    return data + bytes(rng.randint(1, 200))


# ---- message mutations ---------------------------------------------------------------------------

def nodes_of(model: pb.Model):
    out = []

    def block(b):
        for n in b.nodes:
            out.append(n)
            for nb in n.blocks:
                block(nb)
    for g in model.graphs:
        block(g.block)
    return out


def values_count(model):
    return sum(len(n.outputs) for n in nodes_of(model)) + 8


def m_tensor_desc(rng, model, data):
    if not model.tensors:
        return m_node_input(rng, model, data)
    d = rng.choice(model.tensors)
    what = rng.randrange(6)
    if what == 0:
        d.shape[:] = [rng.choice(BIG[:-3] + [2**63 - 1]) for _ in range(rng.randint(0, 4))]
    elif what == 1:
        if d.shape:
            d.shape[rng.randrange(len(d.shape))] = rng.choice([-1, -2**63, 2**62, 0])
    elif what == 2:
        d.offset = rng.choice(BIG)
    elif what == 3:
        d.length = rng.choice(BIG)
    elif what == 4:
        other = rng.choice(model.tensors)
        d.offset = other.offset + rng.choice([0, 64])
    else:
        d.dtype = rng.choice([0, 16, 99, -1 & 0x7FFFFFFF, pb.BOOL, pb.COMPLEX128])
    return model


def m_huge_type_dim(rng, model, data):
    nodes = [n for n in nodes_of(model) if n.outputs]
    n = rng.choice(nodes)
    t = n.outputs[0].type
    t.tensor.dims.add().size = rng.choice([2**62, 2**63 - 1, -1, -2**63])
    return model


def m_node_input(rng, model, data):
    nodes = nodes_of(model)
    n = rng.choice(nodes)
    choice = rng.randrange(4)
    if choice == 0:
        n.inputs.append(rng.choice([values_count(model) + rng.randrange(100), 2**32 - 1]))
    elif choice == 1 and n.inputs:
        n.inputs[rng.randrange(len(n.inputs))] = rng.randrange(values_count(model) + 5)
    elif choice == 2 and n.inputs:
        del n.inputs[rng.randrange(len(n.inputs))]
    else:
        b = rng.choice(model.graphs).block
        b.returns.append(rng.randrange(values_count(model) + 5))
    return model


def m_cycle(rng, model, data):
    """A node that uses a value defined after it (or its own output), or a graph calling itself / a later one."""
    calls = [n for n in nodes_of(model) for a in n.attrs if a.value.WhichOneof("value") == "graph"]
    if calls and rng.random() < 0.5:
        n = rng.choice(calls)
        for a in n.attrs:
            if a.value.WhichOneof("value") == "graph":
                a.value.graph = rng.choice([len(model.graphs) - 1, len(model.graphs), 2**32 - 1])
        return model
    nodes = [n for n in nodes_of(model)]
    n = rng.choice(nodes)
    n.inputs.append(values_count(model) - 9)
    return model


def m_unknown_op(rng, model, data):
    n = rng.choice(nodes_of(model))
    n.op = rng.choice(["np.nope", "", "os.system", "prim.Constantx", "np.add" * 50, "builtins.eval"])
    return model


def m_swap_op(rng, model, data):
    n = rng.choice(nodes_of(model))
    n.op = rng.choice(["np.add", "np.sum", "prim.If", "prim.Loop", "prim.Call", "prim.Constant", "np.matmul",
                       "np.reshape", "np.zeros", "np.astype"])
    return model


def random_attribute(rng, model, depth=0) -> pb.Attribute:
    a = pb.Attribute()
    kind = rng.randrange(19)
    if kind == 0: a.none.SetInParent()
    elif kind == 1: a.b = True
    elif kind == 2: a.i = rng.choice([0, -1, 2**63 - 1, -2**63, 5])
    elif kind == 3: a.big_int = rng.choice(["1" * 5000, "12x", "-", "", "99999999999999999999999"])
    elif kind == 4: a.f = rng.choice([float("nan"), 1e308, -0.0])
    elif kind == 5: a.c.real = 1.0
    elif kind == 6: a.s = rng.choice(["", "x" * 1000, "\u2603"])
    elif kind == 7: a.dtype = rng.choice([0, 1, 15, 16, 1000])
    elif kind == 8: a.scalar_type = rng.choice(["numpy.float32", "os.system", "builtins.eval", ""])
    elif kind in (9, 10):
        lst = a.tuple if kind == 9 else a.list
        lst.SetInParent()
        if depth < 3:
            for _ in range(rng.randint(0, 3)):
                lst.items.append(random_attribute(rng, model, depth + 1))
    elif kind == 11:
        a.slice.SetInParent()
        if depth < 3:
            a.slice.start.CopyFrom(random_attribute(rng, model, depth + 1))
    elif kind == 12: a.ellipsis.SetInParent()
    elif kind == 13: a.ref = rng.choice([0, 1, 7, 2**32 - 1])
    elif kind == 14: a.tensor = rng.choice([0, 1, len(model.tensors), 2**32 - 1])
    elif kind == 15:
        a.numpy_scalar.dtype = rng.choice([0, 11, 12, 40])
        a.numpy_scalar.data = bytes(rng.choice([0, 4, 8, 3]))
    elif kind == 16: a.graph = rng.choice([0, len(model.graphs), 2**32 - 1])
    elif kind == 17:
        a.pickled_code.format = "cloudpickle"
        a.pickled_code.data = b"cos\nsystem\n(S'echo pwned'\ntR."   # must never be unpickled
    return a  # kind 18: no value at all (a kind from the future)


def m_attribute(rng, model, data):
    n = rng.choice(nodes_of(model))
    if n.attrs and rng.random() < 0.7:
        n.attrs[rng.randrange(len(n.attrs))].value.CopyFrom(random_attribute(rng, model))
    else:
        a = n.attrs.add()
        a.name = rng.choice(["value", "axis", "graph", "dtype", "keepdims", "bogus", ""])
        a.value.CopyFrom(random_attribute(rng, model))
    return model


def m_structure(rng, model, data):
    """Delete, duplicate or move nodes and blocks."""
    g = rng.choice(model.graphs)
    b = g.block
    what = rng.randrange(5)
    if what == 0 and b.nodes:
        del b.nodes[rng.randrange(len(b.nodes))]
    elif what == 1 and b.nodes:
        b.nodes.append(b.nodes[rng.randrange(len(b.nodes))])
    elif what == 2:
        nodes = nodes_of(model)
        rng.choice(nodes).blocks.add()
    elif what == 3:
        nodes = [n for n in nodes_of(model) if n.blocks]
        if nodes:
            del rng.choice(nodes).blocks[0]
    else:
        del g.block.params[:]
    return model


def m_signature(rng, model, data):
    s = model.signature
    what = rng.randrange(6)
    if what == 0:
        s.arg_names.append("extra")
    elif what == 1:
        s.mutations.add(input_leaf=rng.choice([0, 99]), output=rng.choice([0, 99]))
    elif what == 2:
        s.in_spec.kind = rng.choice([0, 1, 4, 5, 77])
    elif what == 3:
        s.out_spec.children.add().kind = pb.TreeSpec.LEAF
    elif what == 4:
        s.defaults.add(name=rng.choice(["x", "nope"])).value.CopyFrom(random_attribute(rng, model))
    else:
        k = s.in_spec.keys.add()
        k.list.SetInParent()
    return model


def m_versions_and_tables(rng, model, data):
    what = rng.randrange(5)
    if what == 0:
        model.main_graph = rng.choice([len(model.graphs), 2**32 - 1])
    elif what == 1:
        model.params.append(rng.choice([0, len(model.tensors), 2**32 - 1]))
    elif what == 2 and model.tensors:
        model.tensors[rng.randrange(len(model.tensors))].name = rng.choice(["", "w", "other"])
    elif what == 3:
        model.format_major = 2
    else:
        del model.graphs[:]
    return model


def m_value_names(rng, model, data):
    n = rng.choice([n for n in nodes_of(model) if n.outputs] or nodes_of(model))
    if n.outputs:
        n.outputs[0].name = rng.choice(["", "x", "0", "a\nb", "%"])
        if rng.random() < 0.3:
            n.outputs[0].type.Clear()
    return model


def m_raw_message(rng, model, data):
    message = bytearray(model.SerializeToString(deterministic=True))
    for _ in range(rng.randint(1, 4)):
        message[rng.randrange(len(message))] = rng.randrange(256)
    return bytes(message)


def m_deep_nesting(rng, model, data):
    """Attributes and types nested far beyond any real graph: the parser's recursion limit must answer."""
    n = rng.choice(nodes_of(model))
    a = n.attrs.add()
    a.name = "value"
    cur = a.value
    for _ in range(rng.choice([50, 120, 400])):
        cur = cur.list.items.add()
    cur.i = 1
    return model


BYTE_MUTATIONS = [truncate, flip_bits, splice, wrong_magic, header_field, append]
MESSAGE_MUTATIONS = [m_tensor_desc, m_huge_type_dim, m_node_input, m_cycle, m_unknown_op, m_swap_op,
                     m_attribute, m_structure, m_signature, m_versions_and_tables, m_value_names,
                     m_raw_message, m_deep_nesting]


def mutate(rng: random.Random, base: bytes) -> bytes:
    if rng.random() < 0.35:
        return rng.choice(BYTE_MUTATIONS)(rng, base)
    _, model, data = split(base)
    out = model
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        try:
            out = rng.choice(MESSAGE_MUTATIONS)(rng, model, data)
        except (IndexError, DecodeError):   # an earlier mutation removed (or nested too deep) what this one changes
            continue
        if isinstance(out, bytes):
            return assemble(model, data, out)
    return assemble(model, data)


def check_one(data: bytes, case: int) -> str:
    try:
        f = distjit.serialize.from_bytes(data, verify=True)
    except FormatError as e:
        assert "unexpected error" not in str(e), f"case {case}: a check is missing: {e}"
        return "refused"
    f.graph.verify()     # what loaded must verify
    return "loaded"


def test_mutated_files_never_crash():
    rng = random.Random(20240605)
    bases = base_files()
    outcomes = {"refused": 0, "loaded": 0}
    slowest = 0.0
    for case in range(CASES):
        data = mutate(rng, rng.choice(bases))
        measure_memory = case % 50 == 0
        if measure_memory:
            tracemalloc.start()
        start = time.perf_counter()
        outcomes[check_one(data, case)] += 1
        elapsed = time.perf_counter() - start
        if measure_memory:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert peak < 32 * len(data) + (8 << 20), f"case {case}: {peak} bytes allocated for a {len(data)}-byte file"
        slowest = max(slowest, elapsed)
        assert elapsed < 2.0, f"case {case} took {elapsed:.2f} s"
    assert sum(outcomes.values()) >= 10_000
    assert outcomes["refused"] > CASES // 2, outcomes
    print(f"\n{outcomes}, slowest {slowest * 1e3:.1f} ms")


def test_unmutated_bases_load():
    for data in base_files():
        assert check_one(data, -1) == "loaded"
        assert split(data)[1].SerializeToString(deterministic=True)   # the helpers agree with the writer
        h, m, d = split(data)
        assert assemble(m, d) == data


@pytest.mark.parametrize("mutation", BYTE_MUTATIONS + MESSAGE_MUTATIONS, ids=lambda m: m.__name__)
def test_each_mutation_kind(mutation):
    """Every kind alone, 60 times, so a failure points at one kind."""
    rng = random.Random(mutation.__name__)
    bases = base_files()
    for case in range(60):
        base = rng.choice(bases)
        if mutation in BYTE_MUTATIONS:
            data = mutation(rng, base)
        else:
            _, model, d = split(base)
            out = mutation(rng, model, d)
            data = assemble(model, d, out if isinstance(out, bytes) else None)
        check_one(data, case)
