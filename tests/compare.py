"""Differential comparison of results: nested outputs, bitwise or within a tolerance."""
from __future__ import annotations

import copy

import numpy as np


def fresh(inputs):
    """A deep copy of inputs, so a program that mutates its arguments can be run twice."""
    return copy.deepcopy(inputs)


def assert_matches_numpy(f, prog, seeds) -> None:
    """`f` (a compiled `prog`) gives prog.fn's results on fresh inputs per seed, and mutates them the same way."""
    for seed in seeds:
        inputs = prog.make_inputs(np.random.default_rng(seed))
        reference_inputs = fresh(inputs)
        expected = prog.fn(*reference_inputs)
        assert_same(f(*inputs), expected, prog.rtol)
        assert_same(inputs, reference_inputs, 0.0, "inputs after the call")


def assert_same(got, expected, rtol: float = 0.0, path: str = "result", *, scaled: bool = False) -> None:
    """Same structure, same kind of leaf (array, NumPy scalar, Python scalar), dtype, shape and values.

    rtol == 0 means bit for bit (NaNs equal); otherwise allclose with that rtol for floats.
    `scaled=True` also allows an absolute error of rtol times the leaf's largest finite magnitude:
    an entry that cancels to about zero (QR's lower triangle, a residual) may differ by rounding of
    the big entries it came from when partial sums are reordered.
    """
    if isinstance(expected, dict):
        assert isinstance(got, dict) and list(got) == list(expected), f"{path}: keys {list(got)} != {list(expected)}"
        for k in expected:
            assert_same(got[k], expected[k], rtol, f"{path}[{k!r}]", scaled=scaled)
        return
    if isinstance(expected, (tuple, list)):
        assert type(got) is type(expected), f"{path}: {type(got).__name__} != {type(expected).__name__}"
        assert len(got) == len(expected), f"{path}: length {len(got)} != {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_same(g, e, rtol, f"{path}[{i}]", scaled=scaled)
        return
    if expected is None or isinstance(expected, str):
        assert got == expected, f"{path}: {got!r} != {expected!r}"
        return
    if isinstance(expected, (np.ndarray, np.generic)):
        assert isinstance(got, (np.ndarray, np.generic)), f"{path}: got {type(got).__name__}, expected an array"
        assert got.dtype == expected.dtype, f"{path}: dtype {got.dtype} != {expected.dtype}"
        assert np.shape(got) == np.shape(expected), f"{path}: shape {np.shape(got)} != {np.shape(expected)}"
    else:
        assert type(got) is type(expected) or (np.asarray(got).dtype == np.asarray(expected).dtype), \
            f"{path}: {type(got).__name__} != {type(expected).__name__}"
    g, e = np.asarray(got), np.asarray(expected)
    if rtol and g.dtype.kind in "fc":
        finite = np.abs(e[np.isfinite(e)])
        atol = rtol * float(finite.max()) if scaled and finite.size else 0.0
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, equal_nan=True, err_msg=path)
    else:
        np.testing.assert_array_equal(g, e, err_msg=path, strict=True)
