"""Dense linear-algebra helpers: Gram matrices, projections, norms, outer and
tensor products, power iteration (fixed steps), Gram-Schmidt, pairwise distances."""
import numpy as np

from tests.programs.registry import program


@program(lambda rng: (rng.standard_normal((10, 6)),), dynamic_axes={0: {0: "N"}}, tags={"tuple_output"})
def gram_matrices(x):
    return x @ x.T, x.T @ x


@program(lambda rng: (rng.standard_normal((12, 5)), rng.standard_normal(5)))
def project_onto_vector(x, v):
    """Project each row of x onto v and return the orthogonal residual."""
    coef = (x @ v) / (v @ v)
    proj = np.outer(coef, v)
    return x - proj


@program(lambda rng: (rng.standard_normal((6, 4)),), tags={"dict_output"})
def norms(x):
    return {
        "fro": np.linalg.norm(x),
        "rows_l2": np.linalg.norm(x, axis=1),
        "cols_l1": np.linalg.norm(x, ord=1, axis=0),
        "rows_inf": np.linalg.norm(x, ord=np.inf, axis=1),
        "keepdims": np.linalg.norm(x, axis=1, keepdims=True),
        "manual": np.sqrt(np.sum(x * x, axis=1)),
    }


@program(lambda rng: (rng.standard_normal((8, 8)),))
def power_iteration_fixed(a):
    """Dominant eigenpair of the symmetric matrix a + a.T with five unrolled steps."""
    s = a + a.T
    v = np.ones(s.shape[0]) / np.sqrt(s.shape[0])
    for _ in range(5):
        w = s @ v
        v = w / np.linalg.norm(w)
    return v @ s @ v, v


@program(lambda rng: (rng.standard_normal((7, 4)),))
def gram_schmidt(a):
    """Modified Gram-Schmidt over the (static) columns; returns Q with orthonormal columns."""
    n = a.shape[1]
    cols = []
    for j in range(n):
        v = a[:, j]
        for q in cols:
            v = v - (q @ v) * q
        cols.append(v / np.linalg.norm(v))
    return np.stack(cols, axis=1)


@program(lambda rng: (rng.standard_normal((3, 4, 5)), rng.standard_normal((5, 4, 2))), tags={"tuple_output"})
def tensordot_contractions(a, b):
    full = np.tensordot(a, b, axes=([1, 2], [1, 0]))      # (3, 2)
    last = np.tensordot(a, b, axes=1)                      # (3, 4, 4, 2)
    outer = np.tensordot(a[0, 0], b[0, 0], axes=0)         # (5, 2): outer product
    return full, last, outer


@program(lambda rng: (rng.standard_normal((4, 3, 5)), rng.standard_normal((4, 5, 2))),
         dynamic_axes={0: {0: "B"}, 1: {0: "B"}}, tags={"tuple_output"})
def batched_matmul(a, b):
    return a @ b, np.matmul(a, b).sum(axis=0), np.einsum("bij,bjk->bik", a, b)


@program(lambda rng: (rng.standard_normal((5, 5)),), tags={"tuple_output"})
def trace_diag_identity(a):
    """Trace and diagonal via einsum and an identity mask from np.eye."""
    tr = np.einsum("ii->", a)
    diag = np.einsum("ii->i", a)
    off_diag = a * (1.0 - np.eye(a.shape[0]))
    return tr, diag, off_diag


@program(lambda rng: (rng.standard_normal((9, 3)), rng.standard_normal((7, 3))),
         dynamic_axes={0: {0: "N"}, 1: {0: "M"}})
def pairwise_distances(x, y):
    """Euclidean distances via ||x||^2 + ||y||^2 - 2 x.y, clamped at zero."""
    xx = (x * x).sum(axis=1)[:, None]
    yy = (y * y).sum(axis=1)[None, :]
    d2 = xx + yy - 2.0 * x @ y.T
    return np.sqrt(np.maximum(d2, 0.0))


@program(lambda rng: (rng.standard_normal((6, 8)) + 0.1,))
def cosine_similarity(x):
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    return np.clip(xn @ xn.T, -1.0, 1.0)


@program(lambda rng: (rng.standard_normal(3), rng.standard_normal(3)), tags={"tuple_output"})
def cross_and_rotation(u, v):
    """Cross product written out, Rodrigues rotation of v about u by 0.3 rad."""
    cross = np.stack([u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]])
    k = u / np.linalg.norm(u)
    kxv = np.stack([k[1] * v[2] - k[2] * v[1], k[2] * v[0] - k[0] * v[2], k[0] * v[1] - k[1] * v[0]])
    theta = 0.3
    rotated = v * np.cos(theta) + kxv * np.sin(theta) + k * (k @ v) * (1.0 - np.cos(theta))
    return cross, rotated
