"""Native code is memory-safe on any file that loads: mutated files of loop nests run through the native path.

The bases are saved files of the loop nests in native_fuzz_programs.py, every loop of which the native
backend compiles (distjit/runtime/native/). Hypothesis draws batches of mutants (derandomized by the
repository's default profile, tests/conftest.py): byte flips and truncations of the file, and, more
useful, structured changes of its decoded Model, reassembled with valid checksums so that the decoder
and the verifier, not the checksums, must answer: constants, loop bounds and index operands
(a node's input replaced by another value in scope), integer and index attributes, dims and dtypes in
the declared types, ops swapped for others of the same family, operands swapped.

A child process (native_fuzz_child.py) loads each mutant with distjit.load and runs it on the program's
valid inputs. Each must load and return, or raise a DistJitError; an exception outside that hierarchy,
or the child dying (a segfault in native code), fails the test. A mutant that ran natively must also
compute what the same file computes as NumPy code (the native path runs what the graph means). A good fraction of the mutants that load
must have run native regions, or the test would prove nothing about the native path.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import distjit
from distjit.serialize import distjit_pb2 as pb
from tests.security.native_fuzz_programs import PROGRAMS, inputs
from tests.serialize.test_fuzz import assemble, split

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BATCH = 40
BATCHES = int(os.environ.get("NATIVE_FUZZ_BATCHES", "6"))     # more to hunt (with HYPOTHESIS_PROFILE=explore)

# Values a mutated integer takes: near the old one, small, negative, or at an overflow boundary.
INTS = [0, 1, 2, -1, -2, 3, 7, -7, 2**31 - 1, -2**31, 2**32, 2**62, 2**63 - 1, -2**63]
FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, float("nan"), float("inf"), -float("inf"), 1e308, 5e-324]
DIMS = [0, 1, 2, 3, 5, 9, -1, -5, 2**31, 2**62, 2**63 - 1, -2**63]
OP_FAMILIES = [
    ["np.add", "np.subtract", "np.multiply", "np.true_divide", "np.floor_divide", "np.remainder", "np.maximum",
     "np.minimum", "np.power", "np.left_shift", "np.right_shift", "np.bitwise_and"],
    ["py.add", "py.sub", "py.mul", "py.floordiv", "py.mod", "py.truediv", "py.pow", "py.max", "py.min",
     "py.lshift", "py.rshift"],
    ["np.greater", "np.less", "np.equal", "np.not_equal", "np.greater_equal", "np.less_equal"],
    ["array.getitem", "array.setitem", "np.copy", "np.negative", "np.sqrt", "np.abs"],
    ["prim.Loop", "prim.If"],
    ["np.matmul", "np.dot", "np.linalg.norm", "np.sum", "np.broadcast_to"],
]


# ---- the base files ------------------------------------------------------------------------------------

class _Bases(dict):
    def __repr__(self):             # Hypothesis prints a failing example's arguments: not the files' bytes
        return f"<the base files of {', '.join(self)}>"


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, bytes]:
    """Each program scripted, optimized and specialized on its inputs, as the bytes of its saved file. The
    NumPy path makes them: the parent never compiles native code."""
    old = os.environ.get("DISTJIT_NATIVE")
    os.environ["DISTJIT_NATIVE"] = "0"
    try:
        out = _Bases()
        for name, fn in PROGRAMS.items():
            f = distjit.optimize(distjit.script(fn))
            f(*inputs(name))
            out[name] = distjit.serialize.to_bytes(f)
        return out
    finally:
        if old is None:
            del os.environ["DISTJIT_NATIVE"]
        else:
            os.environ["DISTJIT_NATIVE"] = old


# ---- structured mutations of the decoded Model -----------------------------------------------------------

class Site:
    """A node of the model, with the value numbers in scope where it is (inputs may be any of them)."""

    def __init__(self, node: pb.Node, visible: list[int]):
        self.node = node
        self.visible = visible


def sites(model: pb.Model) -> tuple[list[Site], list[pb.Value]]:
    """Every node of every graph (the main graph, fused expressions, callees; nested nodes too) in order, and
    every value declared (for types). Values are numbered per graph in definition order (distjit.proto)."""
    found: list[Site] = []
    values: list[pb.Value] = []
    count = 0

    def block(b: pb.Block, visible: list[int]) -> None:
        nonlocal count
        visible = list(visible)
        for p in b.params:
            values.append(p)
            visible.append(count)
            count += 1
        for n in b.nodes:
            found.append(Site(n, list(visible)))
            for nested in n.blocks:
                block(nested, visible)      # nested values are numbered before the node's outputs
            for o in n.outputs:
                values.append(o)
                visible.append(count)
                count += 1

    for g in model.graphs:
        count = 0
        for p in g.params:
            values.append(p)
            count += 1
        block(g.block, list(range(count)))
    return found, values


def int_leaves(attr: pb.Attribute, out: list) -> None:
    """The integer and ref leaves of an attribute (an index's items, a slice's bounds, an axis)."""
    kind = attr.WhichOneof("value")
    if kind in ("i", "ref"):
        out.append(attr)
    elif kind in ("tuple", "list"):
        for item in getattr(attr, kind).items:
            int_leaves(item, out)
    elif kind == "slice":
        for part in ("start", "stop", "step"):
            if attr.slice.HasField(part):
                int_leaves(getattr(attr.slice, part), out)


def pick(seq, k: int):
    return seq[k % len(seq)]


def m_constant(model, k, v):
    """A constant (a loop bound, an index offset, a coefficient) changed: near its value, or hostile."""
    found, _ = sites(model)
    consts = [s.node for s in found if s.node.op == "prim.Constant" and s.node.attrs]
    if not consts:
        return
    a = pick(consts, k).attrs[0].value
    kind = a.WhichOneof("value")
    if kind == "i":
        a.i = pick([a.i + 1, a.i - 1, -a.i, a.i * 2, *INTS], v) if -2**62 < a.i < 2**62 else pick(INTS, v)
    elif kind == "f":
        a.f = pick([a.f * 2, -a.f, *FLOATS], v)
    elif kind == "b":
        a.b = not a.b
    else:
        a.i = pick(INTS, v)


def m_operand(model, k, v):
    """A node's input (a loop's trip count, an index operand, an arithmetic operand) replaced by another value
    in scope."""
    found, _ = sites(model)
    users = [s for s in found if s.node.inputs and s.visible]
    if not users:
        return
    s = pick(users, k)
    i = v % len(s.node.inputs)
    s.node.inputs[i] = pick(s.visible, v // 7 + k)


def m_swap_operands(model, k, v):
    found, _ = sites(model)
    users = [s.node for s in found if len(s.node.inputs) >= 2]
    if not users:
        return
    n = pick(users, k)
    i, j = v % len(n.inputs), (v // 5) % len(n.inputs)
    n.inputs[i], n.inputs[j] = n.inputs[j], n.inputs[i]


def m_index_attr(model, k, v):
    """An integer or ref inside an attribute (an index item, a slice bound, an axis): another integer, another
    operand position, or a ref turned into a constant."""
    found, _ = sites(model)
    leaves: list = []
    for s in found:
        for a in s.node.attrs:
            int_leaves(a.value, leaves)
    if not leaves:
        return
    a = pick(leaves, k)
    if a.WhichOneof("value") == "ref" and v % 3:
        a.ref = pick([0, 1, 2, 3, a.ref + 1, a.ref - 1 if a.ref else 5, 2**32 - 1], v)
    else:
        a.i = pick(INTS, v)


def m_dims(model, k, v):
    """A declared type's dims (of a node's result or a block's parameter): a size changed, made static or
    negative, a dim added or dropped; or its dtype changed."""
    _, values = sites(model)
    tensors = [x for x in values if x.type.WhichOneof("kind") == "tensor"]
    if not tensors:
        return
    t = pick(tensors, k).type.tensor
    what = v % 5
    if what in (0, 1) and t.dims:
        d = t.dims[(v // 5) % len(t.dims)]
        d.size = pick(DIMS, v // 25)
    elif what == 2:
        t.dims.add().size = pick(DIMS, v // 5)
    elif what == 3 and t.dims:
        del t.dims[(v // 5) % len(t.dims)]
    else:
        t.dtype = pick([pb.INT32, pb.INT64, pb.FLOAT32, pb.FLOAT64, pb.BOOL, pb.UINT8, pb.INT8, pb.COMPLEX128], v)


def m_scalar_type(model, k, v):
    """A Python scalar's kind changed (an int loop counter declared float or bool), or a scalar declared a 0-d array."""
    _, values = sites(model)
    scalars = [x for x in values if x.type.WhichOneof("kind") == "scalar"]
    if not scalars:
        return
    t = pick(scalars, k).type
    if v % 3 == 0:
        t.tensor.dtype = pick([pb.INT64, pb.INT32, pb.FLOAT64, pb.UINT64], v)
    else:
        t.scalar = pick([pb.SCALAR_BOOL, pb.SCALAR_INT, pb.SCALAR_FLOAT], v)


def m_swap_op(model, k, v):
    found, _ = sites(model)
    candidates = [(s.node, fam) for s in found for fam in OP_FAMILIES if s.node.op in fam]
    if not candidates:
        return
    n, fam = pick(candidates, k)
    n.op = pick(fam, v)


def m_structure(model, k, v):
    """A node dropped or duplicated, a block return redirected."""
    found, _ = sites(model)
    s = pick(found, k)
    what = v % 3
    if what == 0:
        blocks = [b for x in found for b in x.node.blocks if b.returns]
        if blocks:
            b = pick(blocks, v)
            b.returns[v % len(b.returns)] = pick(s.visible or [0], v // 3)
    elif what == 1 and s.node.blocks:
        b = s.node.blocks[v % len(s.node.blocks)]
        if b.nodes:
            del b.nodes[(v // 3) % len(b.nodes)]
    else:
        n = s.node
        n.attrs.add(name=pick(["axis", "index", "dtype", "out", "keepdims"], v)).value.i = pick(INTS, v // 3)


STRUCTURED = {f.__name__: f for f in (m_constant, m_operand, m_swap_operands, m_index_attr, m_dims, m_scalar_type,
                                      m_swap_op, m_structure)}
# weights: the mutations that keep a file loadable and change what the native code computes come first
KINDS = ["m_constant"] * 4 + ["m_operand"] * 4 + ["m_index_attr"] * 3 + ["m_dims"] * 3 + \
        ["m_swap_operands", "m_scalar_type", "m_swap_op", "m_swap_op", "m_structure", "flip", "truncate"]


def mutate(base: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    _, model, data = split(base)
    raw = None
    for kind, k, v in mutations:
        if kind == "flip":
            message = bytearray(model.SerializeToString(deterministic=True))
            message[k % len(message)] ^= 1 << (v % 8)
            raw = bytes(message)
            break
        if kind == "truncate":
            whole = assemble(model, data)
            return whole[:k % len(whole)]
        STRUCTURED[kind](model, k, v)
    for desc in model.tensors:
        if desc.offset + desc.length <= len(data):
            desc.crc32 = zlib.crc32(data[desc.offset:desc.offset + desc.length])
    return assemble(model, data, raw)


mutation = st.tuples(st.sampled_from(KINDS), st.integers(0, 2**16), st.integers(0, 2**16))
mutant = st.tuples(st.sampled_from(sorted(PROGRAMS)), st.lists(mutation, min_size=1, max_size=3))


# ---- the child -------------------------------------------------------------------------------------------

class Child:
    """One child process, reused across batches; restarted after it dies."""

    def __init__(self, folder):
        self.env = dict(os.environ, XDG_CACHE_HOME=str(folder / "cache"), PYTHONFAULTHANDLER="1")
        self.stderr_path = folder / "stderr"     # a file, not a pipe: warnings never fill it and block the child
        self.proc = None

    def start(self):
        with open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "native_fuzz_child.py")], cwd=ROOT,
                                         env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                         text=True, bufsize=1)
        assert json.loads(self.proc.stdout.readline())["ready"]

    def run(self, path: str, program: str, crash: bool = False) -> dict:
        if self.proc is None:
            self.start()
        self.proc.stdin.write(json.dumps({"path": path, "program": program, "crash": crash}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if line:
            return json.loads(line)
        code = self.proc.wait()
        stderr = self.stderr_path.read_text(errors="replace")
        self.proc = None
        if code == -signal.SIGVTALRM:   # the child's alarm: a mutated loop that runs too long
            return {"outcome": "timeout"}
        return {"outcome": "crashed", "code": code, "why": stderr[-4000:]}

    def stop(self):
        if self.proc is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:      # still inside a long native loop: ours to end
                self.proc.kill()
                self.proc.wait()
            self.proc = None


@pytest.fixture(scope="module")
def child(tmp_path_factory):
    c = Child(tmp_path_factory.mktemp("native_child"))
    yield c
    c.stop()


def test_unmutated_bases_run_natively(bases, child, tmp_path):
    for name, data in bases.items():
        path = tmp_path / f"{name}.djit"
        path.write_bytes(data)
        got = child.run(str(path), name)
        assert got["outcome"] == "returned" and got["native"] >= 1, (name, got)


def test_a_crash_of_the_child_is_seen_and_the_next_child_runs(bases, child, tmp_path):
    got = child.run("", "", crash=True)
    assert got["outcome"] == "crashed" and got["code"] == -signal.SIGSEGV and "Fatal Python error" in got["why"]
    path = tmp_path / "seidel.djit"
    path.write_bytes(bases["seidel"])
    assert child.run(str(path), "seidel")["outcome"] == "returned"


TOTALS: dict[str, int] = {}


@pytest.mark.filterwarnings("ignore::distjit.partition.plan.PlanWarning")
@settings(max_examples=BATCHES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(batch=st.lists(mutant, min_size=BATCH, max_size=BATCH))
def test_mutated_native_loops_return_or_raise_distjit_errors(batch, bases, child, tmp_path_factory):
    folder = tmp_path_factory.mktemp("mutants")
    start = time.perf_counter()
    for case, (program, mutations) in enumerate(batch):
        path = folder / f"m{case}.djit"
        path.write_bytes(mutate(bases[program], mutations))
        got = child.run(str(path), program)
        where = f"mutant {case} of {program} by {mutations}"
        assert got["outcome"] != "crashed", f"{where}: the child died ({got['code']}):\n{got['why']}"
        assert got["outcome"] != "bare", f"{where}: an exception outside DistJitError at {got['where']}:\n{got['why']}"
        assert not got.get("differs"), f"{where}: {got['differs']}"
        TOTALS[got["outcome"]] = TOTALS.get(got["outcome"], 0) + 1
        loaded = got["outcome"] in ("raised", "returned")
        TOTALS["loaded"] = TOTALS.get("loaded", 0) + loaded
        TOTALS["ran native"] = TOTALS.get("ran native", 0) + (loaded and got.get("native", 0) > 0)
    TOTALS["seconds"] = TOTALS.get("seconds", 0) + time.perf_counter() - start
    TOTALS["mutants"] = TOTALS.get("mutants", 0) + len(batch)


def test_the_fuzzer_reached_the_native_path():
    """Runs after the fuzz test (file order): the mutants that loaded mostly ran native regions."""
    if not TOTALS:
        pytest.skip("the fuzz test did not run")
    print(f"\nnative fuzz: {TOTALS}, {TOTALS['mutants'] / TOTALS['seconds']:.1f} mutants/s")
    assert TOTALS["loaded"] >= TOTALS["mutants"] // 4, TOTALS
    assert TOTALS["ran native"] >= TOTALS["loaded"] // 3, TOTALS
    assert TOTALS.get("timeout", 0) <= TOTALS["mutants"] // 20, TOTALS


# ---- the holes the fuzzer found, one test each -------------------------------------------------------------

def _loaded(text: str, example: tuple):
    """A Function of the graph `text`, saved and loaded: what a hostile file could hold, if it verifies."""
    from distjit.ir.graph import Graph

    g = Graph.parse(text)
    f = distjit.trace(lambda *xs: xs[0] * 1.0, example).with_graph(g)
    return distjit.serialize.from_bytes(distjit.serialize.to_bytes(f), verify=True)


def _nested_loops(depth: int) -> str:
    lines = ["graph g(%x: f64[?n]) {", "  %t: bool = prim.Constant() {value=True}",
             "  %c: float = prim.Constant() {value=2.0}", "  %n: int = prim.DimSize(%x) {axis=0}"]
    for k in range(depth):
        ind = "  " * (2 * k + 1)
        lines += [ind + f"%r{k}: f64[?n] = prim.Loop(%n, %t, %{'x' if k == 0 else f'a{k - 1}'})",
                  ind + f"  block(%i{k}: int, %a{k}: f64[?n]) {{"]
    inner = "  " * (2 * depth + 1)
    lines += [inner + f"%v: f64[?n] = array.setitem(%a{depth - 1}, %c, %i{depth - 1}) {{index=(ref(2),)}}",
              inner + "-> (%t, %v)"]
    for k in reversed(range(depth)):
        ind = "  " * (2 * k + 1)
        lines += [ind + "  }"]
        if k:
            lines += ["  " * (2 * k - 1) + f"    -> (%t, %r{k})"]
    return "\n".join(lines + ["  return (%r0)", "}"])


def test_loops_nested_deeper_than_python_compiles_raise_a_distjit_error():
    """Python compiles at most 20 nested loops; a file may nest more (protobuf stops near 50)."""
    f = _loaded(_nested_loops(3), (np.ones(2),))
    assert np.array_equal(f(np.ones(2)), [2.0, 2.0])
    deep = _loaded(_nested_loops(25), (np.ones(2),))
    with pytest.raises(distjit.errors.ExecutionError, match="does not compile"):
        deep(np.ones(1))


@pytest.mark.parametrize("text, why", [
    ("graph g(%x: f64[?n], %k: int) {\n  %n: int = prim.DimSize(%k) {axis=0}\n  return (%n)\n}", "not an array"),
    ("graph g(%x: f64[?n], %k: int) {\n  %n: int = prim.DimSize(%x) {axis=1}\n  return (%n)\n}", "not an axis"),
    ("graph g(%x: f64[?n], %k: int) {\n  %z: i64[5] = np.zeros(%k) {shape=5, dtype=dtype(\"i64\")}\n"
     "  return (%z)\n}", "operands"),
])
def test_loop_bounds_and_operands_that_do_not_fit_their_op_are_refused_when_loading(text, why):
    with pytest.raises(distjit.FormatError, match=why):
        _loaded(text, (np.ones(2), 3))
