"""Native lowerings of small linear algebra inside a loop region: matrix products, np.outer, np.transpose.

lower.py's `_Lowering.node` hands a node here first (`lowers`), as it does to vectors.py:
each function emits the node's code and returns True, returns False for another op, and
raises Unsupported for a form not lowered.

NOTE: [Matrix products]
`@`, np.matmul and np.dot of a matrix by a matrix, a matrix by a vector or a vector by a
matrix fill a fresh C-contiguous array with explicit loops (`_mm`): numba's own np.dot
calls BLAS through SciPy, which a region cannot count on. The loop is NumPy's own for
integer dtypes (row i of the result accumulates a[i, p] * b[p, :] over p in order), so
integer products wrap bit for bit as NumPy's; for floats NumPy calls BLAS, which sums in
blocks, so a float product equals NumPy's to rounding, not bit for bit (as `_dot1`). The
operands are cast to the result's dtype first (NumPy's loop dtype), so the helper's
arithmetic is in that dtype. A term whose a[i, p] is zero while row p of b is finite is
skipped: its products are zeros, and adding a zero to a sum begun at +0.0 leaves it as it
was (a round-to-nearest sum begun at +0.0 is never -0.0), so the result is the same, and a
product by a sparse matrix (a rotation, a permutation) costs less than a dense one. A
NaN or an infinity in row p keeps every term of that row, so 0 * inf is NaN as NumPy's.
`_mm` checks the lengths it indexes by before its loops (NumPy's ValueError otherwise),
so it is compiled without bounds checks (every index is below a length it checked).

np.outer of two vectors is NumPy's `multiply(a[:, None], b[None, :])`, and is lowered as that
elementwise multiply of two views (so a reader such as `U - np.outer(u, v)` computes it in its
own loop, without the matrix): each element one multiply in the result's dtype, bit for bit for
real dtypes (a complex one to rounding: NumPy's SIMD complex multiply fuses a multiply-add where
numba's scalar one does not). np.transpose of a matrix is its `.T` view.
"""
from __future__ import annotations

import numpy as np

from distjit.ir.graph import Node, Value
from distjit.types import TensorType

PRELUDE = '''

@njit({gil})
def _blas(a, b, out):
    # NumPy's own product (BLAS for floats) into out, for a product large enough that a call into the
    # interpreter costs little beside it (NOTE: [Matrix products]).
    with numba.objmode():
        np.matmul(a, b, out=out)
    return out


@njit({unchecked})
def _mm(a, b, out):
    # out (zeros, n x m) = a (n x k) @ b (k x m) (NOTE: [Matrix products]): by the terms of a diagonal and a
    # few more (a rotation, a permutation) of either operand when the other is finite, else the dense loops.
    n = a.shape[0]
    k = a.shape[1]
    m = b.shape[1]
    if b.shape[0] != k:
        raise ValueError("matmul: Input operand 1 has a mismatch in its core dimension 0")
    if out.shape[0] != n or out.shape[1] != m:
        raise ValueError("matmul: the result has the wrong shape")
    at = np.empty(max(n, k, m), np.int64)
    c = _off_diagonal(a, at)
    if c >= 0 and _by_rows(a, b, out, at, c):
        return out
    c = _off_diagonal(b, at)
    if c >= 0 and _by_columns(a, b, out, at, c):
        return out
    return _mm_dense(a, b, out)


@njit({unchecked})
def _off_diagonal(x, at):
    # The nonzero elements of x off its diagonal: their count, their flat positions (i * x.shape[1] + j) in
    # at; -1 once they outnumber at's length. A row is counted before it is searched (a count vectorizes, a
    # search does not), along the axis x is contiguous in. Unchecked: every index is below a length of x.
    if x.strides[0] < x.strides[1]:
        return _off_diagonal_rows(x.T, at, 1, x.shape[1])
    return _off_diagonal_rows(x, at, x.shape[1], 1)


@njit({unchecked})
def _off_diagonal_rows(x, at, si, sj):
    # _off_diagonal by the rows of x (or of its transpose: the position of x[i, j] is i * si + j * sj).
    c = 0
    m = x.shape[1]
    for i in range(x.shape[0]):
        r = 0
        for j in range(m):
            r += x[i, j] != 0
        if i < m:
            r -= x[i, i] != 0
        if r == 0:
            continue
        if c + r > at.shape[0]:
            return -1
        for j in range(m):
            if j != i and x[i, j] != 0:
                at[c] = i * si + j * sj
                c += 1
    return c


@njit({unchecked})
def _by_rows(a, b, out, at, c):
    # out += a @ b for a its diagonal and the c terms at `at` (_off_diagonal's): row i of out is a[i, i] * b[i]
    # plus a row of b per term. The terms it skips are zeros where b is finite; False (out to be recomputed)
    # if b is not. Unchecked: the positions are a's, the lengths are _mm's checked ones.
    n = a.shape[0]
    k = a.shape[1]
    m = b.shape[1]
    bad = 0
    for i in range(min(n, k)):
        d = a[i, i]
        r = 0
        for j in range(m):
            y = b[i, j]
            r += (y - y) != 0       # a count, not a flag: LLVM vectorizes this loop then
            out[i, j] += d * y
        bad += r
    for p in range(n, k):
        r = 0
        for j in range(m):
            y = b[p, j]
            r += (y - y) != 0
        bad += r
    if bad:
        return _cleared(out)
    for t in range(c):
        i = at[t] // k
        p = at[t] - i * k
        x = a[i, p]
        for j in range(m):
            out[i, j] += x * b[p, j]
    return True


@njit({unchecked})
def _by_columns(a, b, out, at, c):
    # out += a @ b for b its diagonal and the c terms at `at`: out[i, j] is a[i, j] * b[j, j] plus a column of
    # a per term; False (out to be recomputed) if a is not finite. Unchecked as _by_rows.
    n = a.shape[0]
    k = a.shape[1]
    m = b.shape[1]
    h = min(k, m)
    d = np.empty(h, b.dtype)       # the diagonal, read along each row of out
    for j in range(h):
        d[j] = b[j, j]
    bad = 0
    for i in range(n):
        r = 0
        for j in range(h):
            x = a[i, j]
            r += (x - x) != 0
            out[i, j] += x * d[j]
        for p in range(h, k):
            x = a[i, p]
            r += (x - x) != 0
        bad += r
    if bad:
        return _cleared(out)
    for t in range(c):
        p = at[t] // m
        j = at[t] - p * m
        y = b[p, j]
        for i in range(n):
            out[i, j] += a[i, p] * y
    return True


@njit({unchecked})
def _cleared(out):
    # out zeros again, for the dense loops; False.
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = 0
    return False


@njit({unchecked})
def _mm_dense(a, b, out):
    # _mm by the dense loops: each out[i, j] summed over p in order from +0.0, the zero terms of finite rows
    # (of b, or columns of a) skipped (NOTE: [Matrix products]), or by BLAS when it is large and dense.
    # Unchecked: _mm checked the lengths, and every index is below one of them.
    n = a.shape[0]
    k = a.shape[1]
    m = b.shape[1]
    za = 0
    for i in range(n):
        for p in range(k):
            za += a[i, p] == 0
    zb = 0
    if n >= 8:      # else counting b's zeros costs about as much as the product
        for p in range(k):
            for j in range(m):
                zb += b[p, j] == 0
    if 2 * max(za * m, zb * n) < n * k * m and n * k * m > 65536:
        return _blas(a, b, out)
    if zb * n > za * m:
        # b the sparser: for each of its nonzero terms b[p, j] (or one a column of a is not finite for),
        # a column of out accumulates a[:, p] * b[p, j]; each out[i, j] still sums over p in order
        finite = np.empty(k, np.bool_)
        for p in range(k):
            f = True
            for i in range(n):
                x = a[i, p]
                f &= (x - x) == 0
            finite[p] = f
        for p in range(k):
            for j in range(m):
                y = b[p, j]
                if y == 0 and finite[p]:
                    continue
                for i in range(n):
                    out[i, j] += a[i, p] * y
        return out
    finite = np.empty(k, np.bool_)
    for p in range(k):
        f = True
        for j in range(m):
            y = b[p, j]
            f &= (y - y) == 0
        finite[p] = f
    for i in range(n):
        for p in range(k):
            x = a[i, p]
            if x == 0 and finite[p]:
                continue
            for j in range(m):
                out[i, j] += x * b[p, j]
    return out


@njit({unchecked})
def _mv(a, v, out):
    # out (n) = a (n x k) @ v (k): each row's dot as _dot1 sums it. Unchecked: the lengths are checked first.
    n = a.shape[0]
    k = a.shape[1]
    if v.shape[0] != k:
        raise ValueError("matmul: Input operand 1 has a mismatch in its core dimension 0")
    if out.shape[0] != n:
        raise ValueError("matmul: the result has the wrong shape")
    if n * k > 65536:
        return _blas(a, v, out)
    for i in range(n):
        out[i] = _dot1(a[i], v)
    return out
'''

_PRODUCTS = ("np.matmul", "np.dot")


def may_lower(op: str) -> bool:
    """Whether `lowers` may take a node of this op (then it is no elementwise reader: chains.py)."""
    return op in _PRODUCTS or op in ("np.outer", "np.transpose")


def lowers(L, node: Node, depth: int) -> bool:
    """Emit `node` if it is one of this module's ops in a lowered form (see the module's doc)."""
    op = node.op
    if op in _PRODUCTS and len(node.inputs) == 2 and max(_rank(v) for v in node.inputs) == 2 \
            and min(_rank(v) for v in node.inputs) >= 1:
        product(L, node, depth)
        return True
    if op == "np.outer":
        outer(L, node, depth)
        return True
    if op == "np.transpose":
        transpose(L, node, depth)
        return True
    return False


def _rank(v) -> int:
    return v.type.ndim if isinstance(v.type, TensorType) else 0


def _unsupported(node, why):
    from distjit.runtime.native.lower import Unsupported      # lower.py imports this module
    return Unsupported(node, why)


def _np(dtype: np.dtype) -> str:
    return "np.bool_" if dtype.kind == "b" else f"np.{dtype.name}"


def _operand(L, node: Node, v, dtype: np.dtype, depth: int) -> str:
    """The operand's name, or a fresh copy of it cast to `dtype` (NumPy's loop casts it so)."""
    if v.type.dtype == dtype:
        return L.name(v)
    cast = L.fresh("x")
    L.emit(f"{cast} = {L.name(v)}.astype({_np(dtype)})", depth)
    return cast


def product(L, node: Node, depth: int) -> None:
    """A matrix product (NOTE: [Matrix products]); the vector operand of a matrix-vector one is a one-row or
    one-column view of itself, and the result the matching view of a fresh matrix."""
    a, b = node.inputs
    out = node.output
    explicit = {k: v for k, v in node.attrs.items() if v is not None}
    if explicit or len(node.outputs) != 1 or not isinstance(out.type, TensorType) or \
            out.type.ndim != _rank(a) + _rank(b) - 2:
        raise _unsupported(node, "only the plain product of matrices and vectors is lowered")
    dtype = out.type.dtype
    if dtype.kind not in "iufc":
        raise _unsupported(node, f"a product of dtype {dtype}")
    x = _operand(L, node, a, dtype, depth)
    y = _operand(L, node, b, dtype, depth)
    if _rank(a) == 2 and _rank(b) == 1:
        L.assign(node, f"_mv({x}, {y}, np.zeros({x}.shape[0], {_np(dtype)}))", depth)
        L.fresh_arrays.add(out)
        return
    if _rank(a) == 1:
        x = f"{x}[None, :]"
    full = L.fresh("m")
    L.emit(f"{full} = _mm({x}, {y}, np.zeros(({x}.shape[0], {y}.shape[1]), {_np(dtype)}))", depth)
    L.assign(node, f"{full}[0]" if _rank(a) == 1 else full, depth)
    L.fresh_arrays.add(out)             # row 0 of a fresh matrix is fresh C-contiguous memory too


def outer(L, node: Node, depth: int) -> None:
    """np.outer of two vectors: NumPy's multiply of a column view of one by a row view of the other, lowered
    as that elementwise multiply, so that its reader's loop may compute it (NOTE: [Elementwise chains])."""
    a, b = node.inputs if len(node.inputs) == 2 else (None, None)
    out = node.output
    if a is None or _rank(a) != 1 or _rank(b) != 1 or len(node.outputs) != 1 or \
            any(v is not None for v in node.attrs.values()) or not isinstance(out.type, TensorType) \
            or out.type.ndim != 2:
        raise _unsupported(node, "np.outer of other than two vectors")
    if out.type.dtype.kind not in "biufc":
        raise _unsupported(node, f"np.outer of dtype {out.type.dtype}")
    column = _view(L, node, a, (slice(None), None), (a.type.shape[0], 1), depth)
    row = _view(L, node, b, (None, slice(None)), (1, b.type.shape[0]), depth)
    # The lowering's own nodes, unknown to the graph (no use of theirs is registered): the views read as
    # getitems of a and b (so the in-place analysis of the reader sees through them), and the multiply.
    product = Node("np.multiply", loc=node.loc)
    product.inputs, product.outputs, product.block = [column, row], [out], node.block
    L.elementwise(product, depth, at=node)


def _view(L, node: Node, v, index: tuple, shape: tuple, depth: int) -> Value:
    getitem = Node("array.getitem", {"index": index}, loc=node.loc)
    view = Value(f"{v.name}.{'col' if index[0] is not None else 'row'}", TensorType(v.type.dtype, shape), getitem)
    getitem.inputs, getitem.outputs, getitem.block = [v], [view], node.block
    L.getitem(getitem, depth)
    return view


def transpose(L, node: Node, depth: int) -> None:
    """np.transpose of a vector (itself) or a matrix (its `.T` view, as NumPy's)."""
    x = node.inputs[0]
    axes = node.attrs.get("axes")
    rank = _rank(x)
    if len(node.inputs) != 1 or rank not in (1, 2) or \
            axes is not None and tuple(axes) not in ((0,), (1, 0), (0, 1)):
        raise _unsupported(node, "np.transpose of other than a vector or a matrix")
    if rank == 1 or axes is not None and tuple(axes) == (0, 1):
        return L.assign(node, L.name(x), depth)
    L.assign(node, f"{L.name(x)}.T", depth)
