"""Functions with symbolic dims run partitioned: each call's shapes get a static Plan (cached per shape)."""
import numpy as np

import distjit


def centered_rows(x, w):
    n = x.shape[0]
    h = np.tanh(x @ w)
    return h - h.sum(axis=0) / n, h.reshape(n // 2, -1)


def test_symbolic_batch_is_split_for_each_call_shape():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((16, 16))
    f = distjit.trace(centered_rows, (rng.standard_normal((1 << 15, 16)), w), dynamic_axes={"x": {0: "N"}})
    for rows in (1 << 15, 1 << 16, 1000):
        x = rng.standard_normal((rows, 16))
        got = f.run(x, w, cluster="local", workers=2)
        for g, e in zip(got, centered_rows(x, w)):
            np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)
    shapes = {types[0].shape[0]: plan for types, plan in f.plan_per_shape(2).plans.items()}
    assert set(shapes) == {1 << 15, 1 << 16, 1000}
    assert shapes[1 << 16].inputs[0].axis == 0          # the big batch is split
    assert not f.plans                                  # per-shape Plans are not saved with the Function
