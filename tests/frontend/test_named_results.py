"""NumPy's named-tuple results (QRResult, SVDResult, ...) and users' own named tuples: fields read
inside the function, named tuples returned from it, in both frontends and through save/load."""
from __future__ import annotations

import collections

import numpy as np
import pytest

import distjit
from distjit.errors import FormatError
from distjit.serialize import distjit_pb2 as pb
from tests.serialize.test_fuzz import assemble

Stats = collections.namedtuple("Stats", ["mean", "spread"])


def by_fields(A):
    q = np.linalg.qr(A)
    s = np.linalg.svd(A)
    sign, logdet = np.linalg.slogdet(A)
    return q.Q @ q.R, s.S, sign * np.exp(logdet), np.linalg.eigh(A @ A.T).eigenvalues


def returns_named(A):
    return np.linalg.svd(A), Stats(A.mean(axis=0), A.std(axis=0)), np.linalg.qr(A, mode="raw")


def _inputs(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((5, 5))


def _same(got, want):
    assert type(got).__name__ == type(want).__name__
    if isinstance(want, tuple):
        assert getattr(type(got), "_fields", None) == getattr(type(want), "_fields", None)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("frontend", ["trace", "script"])
@pytest.mark.parametrize("fn", [by_fields, returns_named])
def test_named_results_match_numpy(frontend, fn, tmp_path):
    first, second = _inputs(0), _inputs(1)
    f = distjit.trace(fn, (first,)) if frontend == "trace" else distjit.script(fn)
    for A in (first, second):
        _same(f(A), fn(A))
    path = tmp_path / "f.djit"
    distjit.save(f, path)
    loaded = distjit.load(path)
    got, want = loaded(second), fn(second)
    _same(got, want)


def test_a_loaded_named_tuple_is_rebuilt_by_name_not_imported(tmp_path):
    f = distjit.trace(returns_named, (_inputs(0),))
    distjit.save(f, tmp_path / "f.djit")
    svd, stats, raw = distjit.load(tmp_path / "f.djit")(_inputs(1))
    assert type(svd).__name__ == "SVDResult" and type(svd) is not type(np.linalg.svd(_inputs(1)))
    assert stats._fields == ("mean", "spread") and type(raw) is tuple


@pytest.mark.parametrize("name,fields", [("Bad name", ["a", "b"]), ("R", ["a", "a"]), ("R", ["_x", "b"]),
                                         ("R", ["class", "b"]), ("R", ["a"])])
def test_a_file_with_a_bad_named_tuple_is_refused(name, fields):
    f = distjit.trace(lambda A: Stats(A.sum(), A.max()), (_inputs(0),))
    data = distjit.serialize.to_bytes(f)
    header, model = distjit.serialize.read_model(data, "t")
    spec = model.signature.out_spec
    assert spec.kind == pb.TreeSpec.NAMED_TUPLE
    spec.static_value.s = name
    del spec.keys[:]
    for k in fields:
        spec.keys.add().s = k
    with pytest.raises(FormatError, match="named tuple"):
        distjit.serialize.from_bytes(assemble(model, data[header.data_offset:]))
