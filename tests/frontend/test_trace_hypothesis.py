"""Random expression programs: traced and eager NumPy agree bit for bit."""
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

import distjit
from tests.compare import assert_same

UNARY = [np.negative, np.absolute, np.tanh, np.sin, np.square, np.floor, np.sign,
         lambda a: np.sqrt(np.abs(a)), lambda a: np.exp(np.clip(a, -5, 5))]
BINARY = [np.add, np.subtract, np.multiply, np.maximum, np.minimum, np.hypot,
          lambda a, b: np.where(a > b, a, b * 0.5), lambda a, b: a @ b.T if a.ndim == 2 and b.ndim == 2 else a * b]
REDUCE = [lambda a: a.sum(axis=-1, keepdims=True), lambda a: a.max(axis=0), lambda a: a.mean(),
          lambda a: np.cumsum(a, axis=-1), lambda a: a.std(axis=-1, keepdims=True)]
SCALARS = [2, 0.5, -1.25, 3.0]


@st.composite
def programs(draw):
    """A straight-line program: a list of steps, each reading earlier values by index."""
    n_inputs = draw(st.integers(1, 3))
    steps = []
    for i in range(draw(st.integers(1, 12))):
        n_values = n_inputs + i
        kind = draw(st.sampled_from(["unary", "binary", "scalar", "reduce"]))
        a, b = draw(st.integers(0, n_values - 1)), draw(st.integers(0, n_values - 1))
        if kind == "unary":
            steps.append((kind, draw(st.integers(0, len(UNARY) - 1)), a))
        elif kind == "binary":
            steps.append((kind, draw(st.integers(0, len(BINARY) - 1)), a, b))
        elif kind == "scalar":
            steps.append((kind, draw(st.sampled_from(SCALARS)), a, draw(st.booleans())))
        else:
            steps.append((kind, draw(st.integers(0, len(REDUCE) - 1)), a))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    rows, cols = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    return n_inputs, steps, dtype, (rows, cols)


def build(steps):
    def fn(*inputs):
        values = list(inputs)
        for step in steps:
            kind, which, a = step[0], step[1], values[step[2]]
            if kind == "unary":
                out = UNARY[which](a)
            elif kind == "binary":
                b = values[step[3]]
                try:
                    np.broadcast_shapes(np.shape(a), np.shape(b))
                    out = BINARY[which](a, b)
                except ValueError:
                    out = a
            elif kind == "scalar":
                out = a * which if step[3] else which - a
            else:
                out = REDUCE[which](a) if np.ndim(a) else a
            values.append(out)
        return values[len(inputs):]
    return fn


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 2**32 - 1))
def test_random_programs_match_numpy(program, seed):
    n_inputs, steps, dtype, shape = program
    rng = np.random.default_rng(seed)
    inputs = tuple(rng.standard_normal(shape).astype(dtype) for _ in range(n_inputs))
    fn = build(steps)
    with np.errstate(all="ignore"):
        try:
            expected = fn(*inputs)
        except ValueError:           # an op NumPy itself rejects (e.g. matmul of mismatched dims)
            return
        f = distjit.trace(fn, inputs)
        assert_same(f(*inputs), expected)
        other = tuple(rng.standard_normal(shape).astype(dtype) for _ in range(n_inputs))
        assert_same(f(*other), fn(*other))
        assert_same(f.interpret(*other), fn(*other))
