"""Files written by earlier versions of the format still load, print the same IR and compute the same results."""
import pathlib

import numpy as np
import pytest

import distjit
from distjit.ir import ScalarType

GOLDEN = pathlib.Path(__file__).resolve().parent / "golden"
FILES = sorted(GOLDEN.glob("*.djit"))


def test_there_are_golden_files():
    names = {p.name.split("_v")[0] for p in FILES}
    assert {"mlp", "control", "call", "script"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("mmap", [True, False])
def test_golden_loads_and_runs(path, mmap):
    f = distjit.load(path, mmap=mmap, verify=True)
    # The .ir.txt next to each file shows what it held when written; the printer may change since, so the
    # checks are: the graph prints and parses back, and re-saving (current version) gives the same bytes.
    text = str(f.graph)
    assert str(distjit.Graph.parse(text)) == text
    assert f.metadata["golden"] == path.name.split("_v")[0]
    with np.load(path.with_suffix(".args.npz")) as npz:
        stored = [npz[f"arr_{i}"] for i in range(len(npz.files))]
    args = [a.item() if isinstance(v.type, ScalarType) else a for a, v in zip(stored, f.graph.inputs)]
    expected = np.load(path.with_suffix(".expected.npy"))
    got = np.asarray(f(*args))
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()
    assert np.asarray(f.interpret(*args)).tobytes() == expected.tobytes()


@pytest.mark.parametrize("path", [p for p in FILES if p.name.endswith(
    f"_v{distjit.serialize.FORMAT_MAJOR}_{distjit.serialize.FORMAT_MINOR}.djit")], ids=lambda p: p.name)
def test_current_version_resaves_identically(path):
    assert distjit.serialize.to_bytes(distjit.load(path)) == path.read_bytes()


def test_a_scripted_function_file_holds_every_signature():
    """Format 1.2: the `script` golden file holds two signatures; `load` dispatches on the arguments."""
    from tests.serialize.make_golden import scripted_relax

    for path in [p for p in FILES if p.name.startswith("script_")]:
        h = distjit.load(path, verify=True)
        assert isinstance(h, distjit.FunctionSet) and len(h) == 2
        assert [str(v.type) for v in h.functions[0].graph.inputs] == ["f64[?x_0]", "float", "int"]
        for x in (np.linspace(-2.0, 3.0, 9), np.arange(20, dtype=np.float32).reshape(4, 5)):
            np.testing.assert_array_equal(h(x, 1e-3, 6), scripted_relax(x.copy(), 1e-3, 6))
        assert {key[0] for key in h.latest.plans} == {2}
        with pytest.raises(distjit.ShapeError, match="argument x is an int64 array"):
            h(np.arange(3), 1e-3, 2)


def _version(path) -> tuple[int, int]:
    major, minor = path.stem.split("_v")[1].split("_")
    return int(major), int(minor)


@pytest.mark.parametrize("path", [p for p in FILES if _version(p) >= (1, 2)], ids=lambda p: p.name)
def test_golden_files_name_sources_relative_to_the_repository(path):
    """A golden file's bytes must not depend on the checkout that wrote it (make_golden.repo_relative). Files of
    formats 1.0 and 1.1 keep the absolute paths they were written with: they pin those versions' bytes, which
    the current writer cannot produce again."""
    import os

    from tests.serialize.make_golden import graphs_of

    files = {node.loc.file for g in graphs_of(distjit.load(path)) for node in g.walk() if node.loc is not None}
    assert not [f for f in files if os.path.isabs(f)], files
    text = path.with_suffix(".ir.txt").read_text()
    assert "# /" not in text


def test_make_golden_writes_sources_relative_to_the_repository():
    """What make_golden would write from this checkout names make_golden.py from the repository's root, and a
    path of another checkout is cut to its part from tests/ on."""
    from tests.serialize.make_golden import ROOT, graphs_of, mlp, repo_relative, with_relative_locs

    f, _ = mlp()
    absolute = {node.loc.file for g in graphs_of(f) for node in g.walk() if node.loc is not None}
    assert absolute == {str(ROOT / "tests" / "serialize" / "make_golden.py")}
    with_relative_locs(f)
    assert {node.loc.file for node in f.graph.walk()} == {"tests/serialize/make_golden.py"}
    assert repo_relative("/elsewhere/wt-x/tests/serialize/make_golden.py") == "tests/serialize/make_golden.py"
    assert repo_relative("golden_control.py") == "golden_control.py"
