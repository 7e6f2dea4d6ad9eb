"""Running corpus programs through partitioned Plans: the helpers the distributed tests share."""
from __future__ import annotations

import numpy as np

import distjit
from distjit.types import TensorType
from tests.compare import assert_same, fresh

# Partial reductions and split contractions add in another order than NumPy's pairwise sums.
RTOL = 1e-5

_traced: dict = {}


def traced(prog):
    if prog.name not in _traced:
        example = prog.make_inputs(np.random.default_rng(0))
        _traced[prog.name] = distjit.trace(prog.fn, example, dynamic_axes=prog.dynamic_axes)
    return _traced[prog.name]


def split_everything(f, workers: int) -> dict:
    """shard= that splits axis 0 of every array input long enough: the corpus's arrays are small, so the
    default (split only big inputs) would run them whole; this exercises every sharding rule instead."""
    shard = {}
    for name, v in zip(f.signature.input_paths(), f.graph.inputs):
        t = v.type
        if isinstance(t, TensorType) and t.ndim >= 1 and isinstance(t.shape[0], int) and t.shape[0] >= workers:
            shard[name] = 0
    return shard


def check_program(prog, cluster, workers: int, seed: int = 1) -> None:
    f = traced(prog)
    inputs = prog.make_inputs(np.random.default_rng(seed))
    reference_inputs = fresh(inputs)
    expected = prog.fn(*reference_inputs)
    got = f.run(*inputs, cluster=cluster, workers=workers, shard=split_everything(f, workers))
    rtol = max(prog.rtol, RTOL)
    assert_same(got, expected, rtol)
    assert_same(inputs, reference_inputs, rtol, "inputs after the call")
