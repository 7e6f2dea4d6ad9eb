"""Core array semantics, one concern per program: indexing, shape manipulation,
reductions, sorting, array creation, dtype conversion, comparisons, integer /
bitwise / logical arithmetic, float32 (NEP 50) promotion, where/clip, einsum,
ndarray methods and properties, container outputs."""
import numpy as np

from tests.programs.registry import program


# ------------------------------------------------------------------ indexing

@program(lambda rng: (rng.standard_normal((6, 7)),), tags={"tuple_output"})
def negative_step_slices(x):
    return x[::-1], x[::-2, 1::3], x[-1:0:-2, ::-1], x[4:1:-1, -2]


@program(lambda rng: (rng.standard_normal((3, 4, 5)),), tags={"tuple_output"})
def none_and_ellipsis(x):
    a = x[None, ..., 0]          # (1, 3, 4)
    b = x[..., None]             # (3, 4, 5, 1)
    c = x[1, ..., None, 2:4]     # (4, 1, 2)
    d = x[:, None, :, None, -1]  # (3, 1, 4, 1)
    return a, b, c, d


@program(lambda rng: (rng.standard_normal((6, 5)), rng.integers(0, 6, size=4), rng.integers(-5, 5, size=3)),
         tags={"int", "tuple_output"})
def integer_array_indexing(x, rows, cols):
    picked_rows = x[rows]                     # (4, 5)
    block = x[rows[:, None], cols[None, :]]   # (4, 3), negative indices included
    pairs = x[rows[:3], cols]                 # (3,)
    mixed = x[1:4, cols]                      # (3, 3)
    return picked_rows, block, pairs, mixed


@program(lambda rng: (rng.standard_normal((5, 6)),), tags={"dynamic_shape", "tuple_output"})
def boolean_mask_select(x):
    """Mask selection has a data-dependent length; reductions of it do not."""
    pos = x[x > 0]
    row_mask = x.sum(axis=1) > 0
    masked_sum = np.where(x > 0, x, 0.0).sum()
    return pos, x[row_mask], masked_sum, pos.sum()


@program(lambda rng: (rng.standard_normal((4, 6)), rng.integers(0, 6, size=3)), tags={"int", "tuple_output"})
def take_along_axes(x, idx):
    return np.take(x, idx, axis=1), np.take(x, [0, -1], axis=0), np.take(x, 5)


# ---------------------------------------------------------------- shape ops

@program(lambda rng: (rng.standard_normal((2, 3, 4)),), tags={"tuple_output"})
def reshape_transpose_family(x):
    a = x.reshape(6, 4)
    b = np.reshape(x, (4, -1))
    c = np.transpose(x, (2, 0, 1))
    d = np.swapaxes(x, 0, 2)
    e = np.moveaxis(x, 0, -1)
    f = np.expand_dims(x, axis=1)
    g = np.squeeze(f, axis=1)
    h = np.broadcast_to(x[:, :1, :], (2, 5, 4))
    return a, b, c, d, e, f, g, h, x.T, np.ravel(c), c.ravel()


@program(lambda rng: (rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), rng.standard_normal((4, 3))),
         tags={"list_output"})
def join_and_split(a, b, c):
    cat0 = np.concatenate([a, b, c], axis=0)            # (8, 3)
    cat1 = np.concatenate((a, b), axis=1)               # (2, 6)
    st = np.stack([a, b], axis=-1)                      # (2, 3, 2)
    parts = np.split(cat0, [2, 5], axis=0)              # (2,3) (3,3) (3,3)
    halves = np.split(cat1, 2, axis=1)
    return [cat0, cat1, st, parts[0], parts[1], parts[2], halves[0] - halves[1]]


@program(lambda rng: (rng.standard_normal((3, 4)),), tags={"tuple_output"})
def flip_roll_pad_tile_repeat(x):
    return (
        np.flip(x),
        np.flip(x, axis=1),
        np.roll(x, 2),
        np.roll(x, -1, axis=0),
        np.pad(x, ((1, 2), (0, 3)), mode="constant", constant_values=-1.0),
        np.tile(x, (2, 1)),
        np.repeat(x, 3, axis=1),
        np.repeat(x, [1, 0, 2], axis=0),
        np.ravel(x.T),
    )


# --------------------------------------------------------------- reductions

@program(lambda rng: (rng.uniform(0.5, 1.5, size=(4, 5, 3)),), tags={"dict_output"})
def reductions(x):
    return {
        "sum_all": np.sum(x),
        "sum_axis": np.sum(x, axis=1),
        "sum_axes_keep": x.sum(axis=(0, 2), keepdims=True),
        "sum_f32": np.sum(x, axis=0, dtype=np.float32),
        "prod": np.prod(x, axis=-1),
        "mean": x.mean(axis=(1, 2)),
        "std_ddof": np.std(x, axis=0, ddof=1),
        "var": np.var(x, axis=2, keepdims=True),
        "max": np.max(x, axis=0),
        "min": x.min(axis=-1),
        "argmax": np.argmax(x, axis=1),
        "argmin_flat": np.argmin(x),
        "any": np.any(x > 1.4, axis=2),
        "all": np.all(x > 0.6, axis=(0, 1)),
        "cumsum": np.cumsum(x, axis=1),
        "cumsum_flat": x.cumsum(),
        "cumprod": np.cumprod(x, axis=2),
    }


@program(lambda rng: (rng.integers(-20, 20, size=(5, 6)),), tags={"int", "tuple_output"})
def integer_reductions(x):
    return (np.sum(x, axis=0), x.prod(axis=1, dtype=np.int64), np.max(x), np.argmin(x, axis=0),
            np.mean(x, axis=1), np.cumsum(x, axis=1), (x > 0).sum(axis=1), np.any(x == 0))


@program(lambda rng: (rng.standard_normal((4, 7)),), tags={"int", "tuple_output"})
def sort_argsort(x):
    s = np.sort(x, axis=1)
    s0 = np.sort(x, axis=0)
    order = np.argsort(x[:, 0])
    by_first_col = x[order]
    stable = np.argsort(np.round(x * 2.0), axis=-1, kind="stable")
    return s, s0, order, by_first_col, stable, np.sort(x, axis=None)[::-1]


# ----------------------------------------------------------------- creation

@program(lambda rng: (rng.standard_normal((3, 4)),), tags={"tuple_output"})
def creation_functions(x):
    z = np.zeros((2, 3))
    o = np.ones(4, dtype=np.int32)
    f = np.full((2, 2), 3.5)
    e = np.empty((3,))
    e[:] = 2.0                      # fully overwritten
    r = np.arange(10)
    r2 = np.arange(1.0, 2.0, 0.25)
    ls = np.linspace(0.0, 1.0, 7)
    ls2 = np.linspace(-1.0, 1.0, 4, endpoint=False)
    eye = np.eye(3)
    eye_k = np.eye(3, 4, k=1, dtype=np.int64)
    zl = np.zeros_like(x)
    ol = np.ones_like(x, dtype=np.float32)
    fl = np.full_like(x, 0.25)
    return z, o, f, e, r, r2, ls, ls2, eye, eye_k, zl + x, ol, fl * x


@program(lambda rng: (rng.standard_normal(6) * 10.0,), tags={"int", "tuple_output"})
def astype_and_copy(x):
    i = x.astype(np.int64)              # truncation toward zero
    i32 = x.astype(np.int32) % 7
    u8 = np.clip(x + 20.0, 0.0, 255.0).astype(np.uint8)
    f32 = x.astype(np.float32)
    b = x.astype(bool)
    back = i.astype(np.float64) + 0.5
    c = x.copy()
    c2 = np.copy(x)
    return i, i32, u8, f32, b, back, c, c2


# ------------------------------------------------------ comparisons & logic

@program(lambda rng: (rng.integers(0, 5, size=(4, 5)), rng.integers(0, 5, size=(4, 5))), tags={"int", "tuple_output"})
def comparisons(a, b):
    return a == b, a != b, a < b, a <= 2, np.greater(a, b), np.greater_equal(b, 3), (a > 1) & (b < 4)


@program(lambda rng: (rng.integers(0, 256, size=16, dtype=np.int64), rng.integers(1, 9, size=16, dtype=np.int64)),
         tags={"int", "dict_output"})
def bitwise_and_integer_ops(a, b):
    return {
        "and": a & b,
        "or": a | 0x0F,
        "xor": np.bitwise_xor(a, b),
        "not": ~a,
        "shl": a << 2,
        "shr": np.right_shift(a, b),
        "floordiv": a // b,
        "np_floordiv": np.floor_divide(-a, b),
        "mod": a % b,
        "np_mod": np.mod(-a, b),
        "pow": np.power(b, 3),
        "abs_sign": np.abs(a - 128) * np.sign(a - 100),
        "popcount_low4": (a & 1) + ((a >> 1) & 1) + ((a >> 2) & 1) + ((a >> 3) & 1),
    }


@program(lambda rng: (rng.uniform(size=12) > 0.5, rng.uniform(size=12) > 0.3), tags={"int", "tuple_output"})
def boolean_logic(p, q):
    return (np.logical_and(p, q), np.logical_or(p, q), np.logical_not(p), np.logical_xor(p, q),
            p & ~q, p | q, p ^ q, p.astype(np.int64) + q, np.all(p | ~p), np.any(p & ~p))


@program(lambda rng: (rng.integers(-50, 50, size=(3, 8), dtype=np.int32),), tags={"int", "tuple_output"})
def int32_arithmetic(x):
    """int32 stays int32 with Python int scalars; true division promotes to float64."""
    y = x * 3 + 1
    z = np.maximum(y, 0) // 4
    w = np.minimum(x, 10) - np.abs(x)
    return y, z, w, x / 4, (x % 5).astype(np.int8), np.where(x > 0, x, -1)


# -------------------------------------------------------------- float32 (NEP 50)

def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


@program(lambda rng: (_f32(rng, 8, 6),), tags={"float32"})
def float32_polynomial(x):
    """Horner polynomial with Python float scalars: result stays float32."""
    return ((0.5 * x - 1.25) * x + 2.0) * x - 0.75 + x * 2.0


@program(lambda rng: (_f32(rng, 4, 10) * 3.0,), tags={"float32"})
def float32_softmax(x):
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@program(lambda rng: (_f32(rng, 5, 8), _f32(rng, 8, 3), _f32(rng, 3)), tags={"float32", "tuple_output"})
def float32_dense_stats(x, w, b):
    """float32 matmul, reductions, ufuncs and clip; ``d ** 0.5`` (Python float) avoids a float64 np scalar."""
    d = x.shape[1]
    h = np.tanh((x @ w) / d ** 0.5 + b)
    mu = h.mean(axis=0)
    sd = h.std(axis=0)
    out = np.clip(np.sqrt(np.abs(h)) * np.sign(h), -0.9, 0.9)
    return out, mu, sd, np.linalg.norm(h, axis=1)


@program(lambda rng: (_f32(rng, 3, 4), rng.integers(0, 5, size=(3, 4)).astype(np.int32)), tags={"float32", "int"})
def float32_mixed_with_int(x, k):
    """float32 combined with int32 promotes to float64 in NumPy; keep it float32 by casting k first."""
    kf = k.astype(np.float32)
    return np.where(kf > 2.0, x * kf, x / (kf + 1.0)) + np.float32(0.5)


# ------------------------------------------------------------- where / clip / einsum

@program(lambda rng: (rng.standard_normal((5, 5)) * 2.0,), tags={"tuple_output"})
def where_and_clip(x):
    a = np.where(x > 0, x, 0.1 * x)
    b = np.where(x > 1.0, 1.0, np.where(x < -1.0, -1.0, x))
    c = np.clip(x, -0.5, 0.5)
    d = x.clip(min=0.0)
    e = np.clip(x, np.full(5, -1.0), x.mean(axis=0))
    return a, b, c, d, e


@program(lambda rng: (rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal((3, 4))),
         tags={"tuple_output"})
def einsum_variety(a, b, c):
    return (
        np.einsum("ij,jk->ik", a, b),
        np.einsum("ij,ij->i", a, c),
        np.einsum("ij->ji", a),
        np.einsum("ij->", a),
        np.einsum("ij,ij->", a, c),
        np.einsum("i,j->ij", a[0], b[:, 0]),
        np.einsum("...j,jk->...k", a, b),
        np.einsum("ij,jk,ik->i", a, b, np.ones((3, 5))),
    )


# ------------------------------------------------------- methods and properties

@program(lambda rng: (rng.standard_normal((6, 4)),), dynamic_axes={0: {0: "N"}})
def methods_and_properties(x):
    n, d = x.shape
    centered = x - x.mean(axis=0)
    scaled = centered / centered.max()
    flat = scaled.reshape(-1).astype(np.float32)
    return flat.reshape(n, d).T.sum() + x.ndim + x.size + x.T.shape[0] + scaled.sum(axis=1).max()


@program(lambda rng: (rng.uniform(0.1, 3.0, size=(4, 6)), rng.uniform(-3.0, 3.0, size=(4, 6))),
         tags={"tuple_output"})
def elementwise_ufuncs(x, y):
    """A spread of unary and binary ufuncs (positive domain where needed)."""
    return (
        np.exp(-x) + np.log(x) + np.log1p(x) + np.expm1(-x) + np.sqrt(x),
        np.sin(y) * np.cos(y) + np.tan(0.3 * y) + np.arctan(y) + np.arcsin(np.tanh(y)),
        np.floor(y) + np.ceil(y) + np.round(y) + np.trunc(y),
        np.hypot(x, y) + np.arctan2(y, x),
        np.power(x, y) + x ** 0.5 + np.square(y) + np.reciprocal(x),
        np.mod(y, 1.5) + np.fmod(y, 1.5) + np.floor_divide(y, 0.7),
        np.maximum(x, y) - np.minimum(x, y) + np.fmax(x, y) + np.abs(y) + np.sign(y) + np.negative(y),
        np.log2(x) + np.log10(x) + np.exp2(y) + np.cosh(0.5 * y) + np.sinh(0.5 * y),
    )


@program(lambda rng: (rng.standard_normal(5), rng.standard_normal((3, 1)), 2.5), tags={"scalar_input"})
def broadcasting_with_scalar_arg(v, col, scale):
    """A Python float argument mixed with arrays of different rank."""
    return scale * (v + col) - v[::-1] / (1.0 + scale)
