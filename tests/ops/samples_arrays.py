"""Samples for distjit/ops/arrays.py and distjit/ops/data_dependent.py, merged into `samples.SAMPLES`."""
from __future__ import annotations

import numpy as np

from tests.ops.samples import Sample, arr


def _outer(a, b, ufunc):
    return getattr(np, ufunc).outer(a, b)


def _reduceat(x, ufunc, indices, axis=0, dtype=None):
    return getattr(np, ufunc).reduceat(x, list(indices), axis=axis, dtype=dtype)


def _put_along_axis(arr_, indices, values, axis):
    out = arr_.copy()
    np.put_along_axis(out, indices, values, axis)
    return out


def _updated(fn):
    def run(a, *rest, **kwargs):
        out = a.copy()
        fn(out, *rest, **kwargs)
        return out
    return run


_M = arr("f8", 3, 4)
_IDX = np.array([[0, 3], [1, 1], [2, 0]])

SAMPLES_ARRAYS = {
    "np.triu": [Sample(np.triu, (_M, 1)), Sample(np.triu, (arr("i4", 2, 3, 3),)), Sample(np.triu, (arr("f4", 3), -1))],
    "np.tril": [Sample(np.tril, (_M,)), Sample(np.tril, (arr("c16", 2, 4, 3), 2))],
    "np.tri": [Sample(np.tri, (3,)), Sample(np.tri, (3, 5, 1), {"dtype": np.int32})],
    "np.diag": [Sample(np.diag, (arr("f8", 4),)), Sample(np.diag, (arr("i8", 3), -2)), Sample(np.diag, (_M, 1)),
                Sample(np.diag, (_M, -5))],
    "np.diagflat": [Sample(np.diagflat, (arr("f4", 2, 2), 1))],
    "np.diagonal": [Sample(np.diagonal, (_M,)), Sample(np.diagonal, (arr("i8", 2, 3, 4), 1, 1, 2))],
    "np.indices": [Sample(np.indices, ((2, 3),)), Sample(np.indices, ((4,),), {"dtype": np.int32})],
    "np.meshgrid": [Sample(np.meshgrid, (arr("f8", 3), arr("i4", 2))),
                    Sample(np.meshgrid, (arr("f8", 3), arr("f8", 2), arr("f8", 4)), {"indexing": "ij"}),
                    Sample(np.meshgrid, (arr("f8", 3), arr("f8", 2)), {"sparse": True})],
    "np.kron": [Sample(np.kron, (arr("f8", 2, 2), arr("i8", 3, 1))), Sample(np.kron, (arr("f8", 3), arr("f8", 2, 2)))],
    "np.vander": [Sample(np.vander, (arr("f8", 4),)), Sample(np.vander, (arr("i8", 3), 5, True))],
    "np.take_along_axis": [Sample(np.take_along_axis, (_M, _IDX, 1)),
                           Sample(np.take_along_axis, (_M, np.argsort(_M, axis=0), 0)),
                           Sample(np.take_along_axis, (arr("f8", 5), np.array([4, 0]), None))],
    "np.put_along_axis": [Sample(np.put_along_axis, (_M, _IDX, 9.0, 1))],
    "np.put": [Sample(np.put, (_M, np.array([0, 5]), np.array([1.0, 2.0])))],
    "np.place": [Sample(np.place, (_M, _M > 0, np.array([7.0, 8.0])))],
    "np.putmask": [Sample(np.putmask, (_M, _M < 0, np.array([1.0, 2.0, 3.0])))],
    "np.fill_diagonal": [Sample(np.fill_diagonal, (_M, 5.0)), Sample(np.fill_diagonal, (arr("i8", 5, 2), 1, True))],
    "np.count_nonzero": [Sample(np.count_nonzero, (arr("i8", 3, 4),)), Sample(np.count_nonzero, (_M > 0, 0)),
                         Sample(np.count_nonzero, (_M,), {"axis": 1, "keepdims": True})],
    "np.cumulative_sum": [Sample(np.cumulative_sum, (arr("i4", 5),)),
                          Sample(np.cumulative_sum, (_M,), {"axis": 1, "include_initial": True})],
    "np.cumulative_prod": [Sample(np.cumulative_prod, (arr("f8", 4),), {"include_initial": True}),
                           Sample(np.cumulative_prod, (_M,), {"axis": 0, "dtype": np.float32})],
    "np.partition": [Sample(np.partition, (arr("f8", 7), 3)), Sample(np.partition, (_M, (0, 2), 1)),
                     Sample(np.partition, (_M, 1, None))],
    "np.argpartition": [Sample(np.argpartition, (arr("i8", 6), 2)), Sample(np.argpartition, (_M, 1, 0))],
    "np.isin": [Sample(np.isin, (arr("i8", 3, 4), np.array([0, 1, 2]))),
                Sample(np.isin, (arr("i8", 5), arr("i8", 2, 2)), {"invert": True})],
    "np.array_equal": [Sample(np.array_equal, (_M, _M.copy())), Sample(np.array_equal, (_M, _M[:2])),
                       Sample(np.array_equal, (np.array([np.nan]), np.array([np.nan])), {"equal_nan": True})],
    "np.array_equiv": [Sample(np.array_equiv, (arr("i8", 4), arr("i8", 3, 4))),
                       Sample(np.array_equiv, (np.ones(4), np.ones((3, 4))))],
    "np.unravel_index": [Sample(np.unravel_index, (np.array([1, 7, 11]), (3, 4))),
                         Sample(np.unravel_index, (np.array([5]), (6,)))],
    "np.ravel_multi_index": [Sample(np.ravel_multi_index, ((np.array([0, 2]), np.array([3, 1])), (3, 4)))],
    "np.delete": [Sample(np.delete, (_M, [0, 2], 1)), Sample(np.delete, (_M, slice(None, None, 2))),
                  Sample(np.delete, (_M, 1, 0))],
    "np.insert": [Sample(np.insert, (_M, 1, 5.0, 0)), Sample(np.insert, (_M, [0, 2], np.array([1.0, 2.0]))),
                  Sample(np.insert, (_M, 2, arr("f8", 3), 1))],
    "ufunc.outer": [Sample(_outer, (arr("f8", 3), arr("f8", 2)), {"ufunc": "add"}),
                    Sample(_outer, (arr("i8", 2, 2), arr("i8", 3)), {"ufunc": "maximum"})],
    "ufunc.reduceat": [Sample(_reduceat, (arr("f8", 6),), {"ufunc": "add", "indices": (0, 2, 5)}),
                       Sample(_reduceat, (_M,), {"ufunc": "maximum", "indices": (0, 2), "axis": 1})],
    "np.broadcast_arrays": [Sample(np.broadcast_arrays, (_M, arr("i8", 4))), Sample(np.broadcast_arrays, (_M,))],
    "np.unstack": [Sample(np.unstack, (_M,)), Sample(np.unstack, (_M,), {"axis": 1})],
    "np.vecdot": [Sample(np.vecdot, (_M, _M)), Sample(np.vecdot, (arr("c16", 2, 3), arr("c16", 3)))],
    "np.matvec": [Sample(np.matvec, (_M, arr("f8", 4)))],
    "np.vecmat": [Sample(np.vecmat, (arr("f8", 3), _M))],
    "np.nonzero": [Sample(np.nonzero, (_M > 0,)), Sample(np.nonzero, (arr("i8", 6),))],
    "np.unique": [Sample(np.unique, (arr("i8", 8),)),
                  Sample(np.unique, (arr("i8", 3, 4), True, True, True)),
                  Sample(np.unique, (np.array([[1, 2], [1, 2], [0, 1]]),), {"axis": 0, "return_inverse": True})],
}
