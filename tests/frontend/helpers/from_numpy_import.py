"""A helper module that binds NumPy's functions by name, as `from numpy import zeros` does."""
from numpy import zeros, arange  # noqa: F401  (the tracer must patch these names here too)


def padded_copy(x):
    out = zeros(x.shape[0] + 2)
    out[1:-1] = x
    return out
