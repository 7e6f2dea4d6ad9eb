"""In-place updates: item/slice/mask/fancy assignment, augmented assignment,
``out=`` arguments, writes through views, and functions that MUTATE THEIR INPUTS
(tag ``mutates_input``) while also returning something."""
import numpy as np

from tests.programs.registry import program


# ------------------------------------------------------- updates of local arrays

@program(lambda rng: (rng.standard_normal((5, 6)), rng.standard_normal(6)), tags={"inplace"})
def set_row_and_item(x, v):
    a = x.copy()
    a[1] = v
    a[-1, 2] = 7.5
    a[0, :] = 0.0
    return a


@program(lambda rng: (rng.standard_normal((5, 7)),), tags={"inplace"})
def zero_strided_block(x):
    a = x.copy()
    a[1:3, ::2] = 0
    a[:, -1] = a[:, 0]
    return a


@program(lambda rng: (rng.standard_normal((4, 4)), rng.standard_normal((4, 4))), tags={"inplace"})
def augmented_assignment(x, b):
    a = x * 1.0          # fresh local array
    a += b
    a *= 2.0
    a -= 0.5
    a /= 3.0
    a[:, 0] += b[:, 1]
    a **= 2
    return a


@program(lambda rng: (rng.standard_normal(10), rng.standard_normal(10)), tags={"inplace", "tuple_output"})
def ufunc_out_argument(x, y):
    a = x.copy()
    np.add(a, y, out=a)
    np.multiply(a, 0.5, out=a)
    b = np.empty_like(a)
    np.exp(a, out=b)          # b is fully overwritten
    return a, b


@program(lambda rng: (rng.standard_normal((6, 6)),), tags={"inplace"})
def mask_assignment(x):
    a = x.copy()
    a[a < 0] = 0
    a[a > 1.0] = 1.0
    return a


@program(lambda rng: (rng.standard_normal((6, 3)),), tags={"inplace"})
def fancy_index_assignment(x):
    a = x.copy()
    a[[0, 2, 4]] = -1.0
    a[np.array([1, 3]), np.array([0, 2])] = 9.0
    a[[5, 0]] = a[[0, 5]]        # swap two rows (rhs is gathered before the write)
    return a


@program(lambda rng: (rng.standard_normal(8), rng.integers(0, 8, size=5)),
         tags={"inplace", "int", "ufunc_method", "tuple_output"})
def scatter_add_duplicates(x, idx):
    """``a[idx] += 1`` applies once per UNIQUE index (buffered), ``np.add.at`` accumulates duplicates."""
    a = x.copy()
    a[idx] += 1.0
    b = x.copy()
    np.add.at(b, idx, 1.0)
    return a, b


@program(lambda rng: (rng.standard_normal((6, 4)),), tags={"inplace"})
def write_through_view(x):
    """Writes through views alias the base array: the base must observe them."""
    a = x.copy()
    v = a[::2]          # view of even rows
    v[:] = 1.0
    col = a[:, 1]
    col *= 10.0
    t = a.T
    t[0, -1] = -3.0     # a[-1, 0]
    return a


@program(lambda rng: (rng.standard_normal((5, 5)),), tags={"inplace"})
def triangular_fill(x):
    """Upper triangle zeroed row by row with slice assignment (static loop)."""
    a = x.copy()
    n = a.shape[0]
    for i in range(n):
        a[i, i + 1:] = 0.0
        a[i, i] = 1.0
    return a


@program(lambda rng: (rng.standard_normal(12),), tags={"inplace"})
def prefix_recurrence_static(x):
    """y[i] = 0.5 * y[i-1] + x[i], unrolled over the static length."""
    y = np.zeros_like(x)
    y[0] = x[0]
    for i in range(1, x.shape[0]):
        y[i] = 0.5 * y[i - 1] + x[i]
    return y


# ------------------------------------------------------------ input mutation

@program(lambda rng: (rng.standard_normal((4, 5)),), tags={"inplace", "mutates_input"})
def relu_inplace_(x):
    """Clamps the INPUT in place and returns the number of zeroed entries."""
    neg = x < 0
    x[neg] = 0.0
    return neg.sum()


@program(lambda rng: (rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))),
         tags={"inplace", "mutates_input", "tuple_output"})
def sgd_momentum_step_(w, grad, velocity):
    """Updates the parameter AND the velocity inputs in place; returns (update norm, new w copy)."""
    lr, mu = 0.1, 0.9
    velocity *= mu
    velocity += grad
    w -= lr * velocity
    return np.linalg.norm(lr * velocity), w.copy()


@program(lambda rng: (rng.standard_normal((5, 3)) + 2.0,), tags={"inplace", "mutates_input", "tuple_output"})
def normalize_rows_(x):
    """Normalises the INPUT rows in place and returns (x itself, the norms): the first output aliases the input."""
    norms = np.sqrt((x * x).sum(axis=1, keepdims=True))
    x /= norms
    return x, norms[:, 0]


@program(lambda rng: (np.zeros(3), rng.standard_normal(20)), tags={"inplace", "mutates_input"})
def accumulate_stats_(acc, batch):
    """Running [count, sum, sum of squares] accumulator updated in place; returns the current mean."""
    acc[0] += batch.shape[0]
    acc[1] += batch.sum()
    acc[2] += np.sum(batch * batch)
    return acc[1] / acc[0]


@program(lambda rng: (rng.standard_normal((4, 6)), rng.integers(0, 6, size=4)),
         tags={"inplace", "mutates_input", "int"})
def clear_selected_columns_(x, cols):
    """Zeroes x[i, cols[i]] in the INPUT via np.add(..., out=) and integer indexing; returns the removed values."""
    rows = np.arange(x.shape[0])
    removed = x[rows, cols].copy()
    x[rows, cols] = 0.0
    np.add(x, 0.0, out=x)
    return removed
