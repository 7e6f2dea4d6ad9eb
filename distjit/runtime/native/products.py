"""Native lowerings of small linear algebra inside a loop region: matrix products, np.outer, np.transpose.

lower.py's `_Lowering.node` hands a node here first (`lowers`), as it does to vectors.py:
each function emits the node's code and returns True, returns False for another op, and
raises Unsupported for a form not lowered.

NOTE: [Matrix products]
`@`, np.matmul and np.dot of a matrix by a matrix, a matrix by a vector or a vector by a
matrix fill a fresh C-contiguous array with explicit loops (`_mm`): numba's own np.dot
calls BLAS through SciPy, which a region cannot count on. For floats NumPy calls BLAS, which
sums in blocks of its own choosing, so a float product equals NumPy's to rounding, not bit for
bit (as `_dot1`), and the loops may add the terms of out[i, j] in any order; integer sums wrap,
and a wrapping sum is the same in any order, so integer products are NumPy's bit for bit. The
operands are cast to the result's dtype first (NumPy's loop dtype), so the helper's arithmetic
is in that dtype. A term whose factor of one operand is zero while its factor of the other is
finite is skipped: its product is a zero, and adding a zero to a sum begun at +0.0 leaves it as
it was (a round-to-nearest sum begun at +0.0 is never -0.0). A product by a matrix that is its
diagonal and a few more terms (a rotation, a permutation, an elementary row operation) so costs
O(n^2), not O(n^3): out is a[i, j] * b[j, j] along its rows (or a[i, i] * b[i] for such an a),
plus a column of a (a row of b) per other term. The other operand's values are counted as they
are read: where one is not finite (0 * inf is NaN), NumPy's own product (`_blas`) is the result.
A large product of dense operands is NumPy's too (BLAS, in numba.objmode); an integer one NumPy's
own loop. `_mm` checks the lengths it indexes by before its loops (NumPy's ValueError otherwise),
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
from distjit.runtime.native.unsupported import Unsupported, rank as _rank

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
    # out (zeros, n x m) += a (n x k) @ b (k x m) (NOTE: [Matrix products]). Unchecked: the lengths are
    # checked first, and every index is below one of them.
    n = a.shape[0]
    k = a.shape[1]
    m = b.shape[1]
    if b.shape[0] != k:
        raise ValueError("matmul: Input operand 1 has a mismatch in its core dimension 0")
    if out.shape[0] != n or out.shape[1] != m:
        raise ValueError("matmul: the result has the wrong shape")
    # b its diagonal and at most max(k, m) more terms (a rotation, a permutation)? Their positions, counted
    # by rows before a row is searched: a count vectorizes, a search does not, and a dense b stops it soon.
    at = np.empty(max(k, m), np.int64)
    c = 0
    for p in range(k):
        r = 0
        for j in range(m):
            r += b[p, j] != 0
        if p < m:
            r -= b[p, p] != 0
        if r == 0:
            continue
        if c + r > at.shape[0]:
            c = -1
            break
        for j in range(m):
            if j != p and b[p, j] != 0:
                at[c] = p * m + j
                c += 1
    if c >= 0:
        # out[i, j] = a[i, j] * b[j, j] along each row, then a column of a per term at `at`
        h = min(k, m)
        d = np.empty(h, b.dtype)
        for j in range(h):
            d[j] = b[j, j]
        for i in range(n):
            for j in range(h):
                out[i, j] += a[i, j] * d[j]
        bad = 0
        for i in range(n):
            for p in range(h, k):
                x = a[i, p]
                bad += (x - x) != 0
        for t in range(c):
            p = at[t] // m
            j = at[t] - p * m
            y = b[p, j]
            for i in range(n):
                out[i, j] += a[i, p] * y
    else:
        if n * k * m > 65536:
            z = 0
            for i in range(n):
                for p in range(k):
                    z += a[i, p] == 0
            if 2 * z < n * k:
                return _blas(a, b, out)
        # Row i of out is a[i, i] * b[i] plus a row of b per other nonzero a[i, p]: a row whose only nonzero
        # is its diagonal's (most of a rotation's) is one vectorized pass. (A second loop reading a transpose's
        # view along its columns, its memory, is faster at run time but costs numba more than it saves.)
        h = min(n, k)
        for i in range(n):
            r = 0
            for p in range(k):
                r += a[i, p] != 0
            if i < h:
                x = a[i, i]
                r -= x != 0
                for j in range(m):
                    out[i, j] += x * b[i, j]
            if r == 0:
                continue
            for p in range(k):
                x = a[i, p]
                if p != i and x != 0:
                    for j in range(m):
                        out[i, j] += x * b[p, j]
        bad = 0
        for p in range(h, k):
            for j in range(m):
                y = b[p, j]
                bad += (y - y) != 0
    # A skipped zero term met a value that is not finite if out is not (each value of the other operand is
    # in a diagonal term, never skipped, of the element it is read for: inf and NaN stay in a sum) or the
    # values no diagonal term reads are not: NumPy's own product then (rarely: an overflow also lands here).
    for i in range(n):
        r = 0           # a count, not a flag: LLVM vectorizes the loop then
        for j in range(m):
            y = out[i, j]
            r += (y - y) != 0
        bad += r
    if bad:
        return _blas(a, b, out)
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
        raise Unsupported(node, "only the plain product of matrices and vectors is lowered")
    dtype = out.type.dtype
    if dtype.kind not in "iufc":
        raise Unsupported(node, f"a product of dtype {dtype}")
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
        raise Unsupported(node, "np.outer of other than two vectors")
    if out.type.dtype.kind not in "biufc":
        raise Unsupported(node, f"np.outer of dtype {out.type.dtype}")
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
        raise Unsupported(node, "np.transpose of other than a vector or a matrix")
    if rank == 1 or axes is not None and tuple(axes) == (0, 1):
        return L.assign(node, L.name(x), depth)
    L.assign(node, f"{L.name(x)}.T", depth)
