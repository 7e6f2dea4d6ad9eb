"""Specimen NumPy calls for every op in the registry, keyed by op name.

`Sample(fn, args, kwargs)` is a call as a user writes it (``np.sum(x, axis=1)``);
`test_every_op.py` binds it through the op's declaration, infers its type and runs
its kernel, and compares both with the direct NumPy call. Inputs are built
deterministically by `arr`. Other families add theirs in ``samples_<family>.py`` as a
``SAMPLES_<FAMILY>`` dict (shape and index ops: `samples_shape.py`), merged at the end.

Ufunc samples are generated: each ufunc gets the input combinations below for which
NumPy has a loop (a combination NumPy rejects is left out).
"""
from __future__ import annotations

import warnings
import zlib
from typing import Any, Callable, NamedTuple

import numpy as np

from distjit.ops.elementwise import UFUNC_OPS


class Sample(NamedTuple):
    fn: Callable
    args: tuple = ()
    kwargs: dict = {}

    def describe(self) -> str:
        """A short readable id: the arguments' types and the keywords."""
        parts = [_describe(a) for a in self.args]
        parts += [f"{k}={_describe(v)}" for k, v in self.kwargs.items()]
        return ",".join(parts)


def _describe(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"{v.dtype.name}[{'x'.join(map(str, v.shape))}]"
    if isinstance(v, np.generic):
        return f"{v.dtype.name}()"
    if isinstance(v, (list, tuple)) and any(isinstance(x, np.ndarray) for x in v):
        return "[" + ";".join(_describe(x) for x in v) + "]"
    if isinstance(v, type):
        return v.__name__
    return repr(v).replace(" ", "")


def arr(dtype, *shape: int, seed: int = 0, positive: bool = False) -> np.ndarray:
    """A deterministic array: small signed values (non-negative when `positive`), both signs of zero excluded."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(zlib.crc32(repr((dtype.str, shape, seed, positive)).encode()))
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind == "u" or dtype.kind == "i" and positive:
        return rng.integers(0, 10, shape).astype(dtype)
    if dtype.kind == "i":
        return rng.integers(-5, 10, shape).astype(dtype)
    if dtype.kind == "f":
        x = rng.standard_normal(shape) * 3
        return (np.abs(x) if positive else x).astype(dtype)
    re, im = rng.standard_normal(shape), rng.standard_normal(shape)
    return (re + 1j * im).astype(dtype)


def spd(n: int, batch: tuple = (), seed: int = 0) -> np.ndarray:
    """Symmetric positive definite (well-conditioned) matrices, for inv/solve/det."""
    a = arr("f8", *batch, n, n, seed=seed)
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _accepted(fn, args, kwargs) -> bool:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            fn(*args, **kwargs)
        except Exception:
            return False
    return True


# ---- ufuncs ----------------------------------------------------------------------------------------------------

_UNARY = [
    (arr("f8", 3, 4),), (arr("f4", 5),), (arr("f2", 3),), (arr("i8", 2, 3),), (arr("i8", 4, positive=True),),
    (arr("i1", 4),), (arr("u1", 4),), (arr("b1", 3),), (arr("c16", 3),), (arr("c8", 2),),
    (np.array(1.5),), (np.float32(0.5),), (arr("f4", 0, 3),), (2.5,), (3,), (True,),
    (np.array(["2020-01-01", "NaT"], dtype="datetime64[D]"),), (np.array([1, "NaT"], dtype="timedelta64[s]"),),
]
_BINARY = [
    (arr("f8", 3, 4), arr("f8", 3, 4, seed=1)), (arr("f4", 3, 4), arr("f4", 4, seed=1)),
    (arr("i8", 2, 3), arr("i8", 2, 3, seed=1, positive=True)), (arr("i1", 4), arr("u1", 4, seed=1)),
    (arr("u1", 5), arr("u1", 5, seed=1)), (arr("b1", 3), arr("b1", 3, seed=1)),
    (arr("c16", 3), arr("c16", 3, seed=1)), (arr("f4", 3), 2.0), (arr("i1", 4), 3), (2, arr("i8", 3, positive=True)),
    (arr("u1", 4), True), (arr("f4", 0, 3), arr("f4", 3)), (np.array(1.5), arr("f4", 2)),
    (arr("i8", 2, 1), arr("f8", 3)), (arr("f4", 2), 1j), (arr("f8", 3), arr("i4", 3, positive=True)),
    (np.float64(2.0), np.float32(3.0)), (2.5, 3),
]


def _ufunc_samples() -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for name, opdef in UFUNC_OPS.items():
        ufunc = opdef.sources[0]
        inputs = _UNARY if ufunc.nin == 1 else _BINARY
        samples = [Sample(ufunc, args) for args in inputs if _accepted(ufunc, args, {})]
        if ufunc.nin == 2 and ufunc.nout == 1:
            extra = Sample(ufunc, (arr("i8", 3, positive=True), arr("i8", 3, seed=2, positive=True)), {"dtype": np.float64})
            if _accepted(extra.fn, extra.args, extra.kwargs):
                samples.append(extra)
        out[opdef.name] = samples
    return out


# ---- reductions ---------------------------------------------------------------------------------------------------

_F = arr("f8", 3, 4)
_F32 = arr("f4", 2, 3, 4)
_I = arr("i8", 3, 4)
_I8 = arr("i1", 5)
_U8 = arr("u1", 2, 3)
_B = arr("b1", 3, 4)
_C = arr("c16", 4)
_EMPTY = arr("f8", 0, 3)


def _reduction(fn, *, dtype_kw=True, empty_ok=True, tuple_axis=True) -> list[Sample]:
    s = [
        Sample(fn, (_F,)), Sample(fn, (_F,), {"axis": 1}), Sample(fn, (_F,), {"axis": 0, "keepdims": True}),
        Sample(fn, (_F32,), {"axis": -1}), Sample(fn, (_I,)), Sample(fn, (_I8,)), Sample(fn, (_U8,), {"axis": 0}),
        Sample(fn, (_B,), {"axis": 1}), Sample(fn, (_C,)), Sample(fn, (np.array(2.5),)), Sample(fn, (2.5,)),
        Sample(fn, (_F, 1)),
    ]
    if tuple_axis:
        s += [Sample(fn, (_F32,), {"axis": (0, 2)}), Sample(fn, (_F32,), {"axis": (0, 2), "keepdims": True})]
    if dtype_kw:
        s += [Sample(fn, (_I8,), {"dtype": np.float32}), Sample(fn, (_F32,), {"axis": 1, "dtype": np.float64})]
    s += [Sample(fn, (_EMPTY,), {"axis": 1}), Sample(fn, (_EMPTY,), {"axis": 0})]
    if empty_ok:
        s.append(Sample(fn, (_EMPTY,)))
    return [x for x in s if _accepted(x.fn, x.args, x.kwargs)]


_REDUCE = {
    "np.sum": _reduction(np.sum) + [Sample(np.sum, (_F,), {"initial": 10.0}), Sample(np.sum, (_B,))],
    "np.prod": _reduction(np.prod) + [Sample(np.prod, (_I8,), {"axis": 0, "initial": 2})],
    "np.mean": _reduction(np.mean),
    "np.std": _reduction(np.std) + [Sample(np.std, (_F,), {"ddof": 1}), Sample(np.std, (_F32,), {"correction": 1, "axis": 0})],
    "np.var": _reduction(np.var) + [Sample(np.var, (_F,), {"ddof": 1, "axis": 1, "keepdims": True})],
    "np.max": _reduction(np.max, dtype_kw=False) + [Sample(np.amax, (_F,), {"axis": 0}),
                                                   Sample(np.max, (_EMPTY,), {"initial": -1.0})],
    "np.min": _reduction(np.min, dtype_kw=False) + [Sample(np.amin, (_I,), {"axis": 1}),
                                                   Sample(np.min, (_I,), {"initial": 0, "axis": 0})],
    "np.argmax": _reduction(np.argmax, dtype_kw=False, tuple_axis=False) + [
        Sample(np.argmax, (_F,), {"axis": None, "keepdims": True})],
    "np.argmin": _reduction(np.argmin, dtype_kw=False, tuple_axis=False),
    "np.any": _reduction(np.any, dtype_kw=False),
    "np.all": _reduction(np.all, dtype_kw=False),
    "np.cumsum": _reduction(np.cumsum, tuple_axis=False),
    "np.cumprod": _reduction(np.cumprod, tuple_axis=False),
}

# ---- linalg -------------------------------------------------------------------------------------------------------------

_LINALG = {
    "np.matmul": [
        Sample(np.matmul, (arr("f8", 3, 4), arr("f8", 4, 5))), Sample(np.matmul, (arr("f4", 2, 3, 4), arr("f4", 4, 2))),
        Sample(np.matmul, (arr("f8", 4), arr("f8", 4, 2))), Sample(np.matmul, (arr("f8", 3, 4), arr("f8", 4))),
        Sample(np.matmul, (arr("f8", 4), arr("f8", 4, seed=1))), Sample(np.matmul, (arr("i8", 2, 1, 3, 2), arr("i8", 4, 2, 3))),
        Sample(np.matmul, (arr("f4", 3, 2), arr("i8", 2, 2))), Sample(np.matmul, (arr("b1", 2, 3), arr("b1", 3, 2))),
        Sample(np.matmul, (arr("c16", 2, 2), arr("f8", 2, 3))), Sample(np.matmul, (arr("f8", 0, 3), arr("f8", 3, 2))),
        Sample(np.matmul, (arr("f8", 2, 0), arr("f8", 0, 2))), Sample(np.matmul, (arr("u1", 2, 2), arr("i1", 2, 2))),
        Sample(np.matmul, (arr("i8", 2, 3), arr("i8", 3, 2)), {"dtype": np.float64}),
    ],
    "np.dot": [
        Sample(np.dot, (arr("f8", 3, 4), arr("f8", 4, 5))), Sample(np.dot, (arr("f8", 4), arr("f8", 4, seed=1))),
        Sample(np.dot, (arr("f4", 2, 3, 4), arr("f4", 5, 4, 6))), Sample(np.dot, (arr("f8", 2, 3), arr("f8", 3))),
        Sample(np.dot, (arr("f4", 3), 2.0)), Sample(np.dot, (2, arr("i8", 3))), Sample(np.dot, (np.float32(2), arr("f4", 2, 2))),
        Sample(np.dot, (arr("i1", 3), arr("u1", 3))), Sample(np.dot, (arr("b1", 3), arr("b1", 3, seed=1))),
        Sample(np.dot, (arr("c16", 3), arr("c16", 3, seed=1))), Sample(np.dot, (arr("f8", 0), arr("f8", 0))),
    ],
    "np.inner": [
        Sample(np.inner, (arr("f8", 3), arr("f8", 3, seed=1))), Sample(np.inner, (arr("f4", 2, 3), arr("f4", 4, 3))),
        Sample(np.inner, (arr("i8", 2, 3), 2.0)), Sample(np.inner, (arr("c16", 2), arr("f8", 2))),
    ],
    "np.outer": [
        Sample(np.outer, (arr("f8", 3), arr("f8", 4))), Sample(np.outer, (arr("i8", 2, 2), arr("f4", 3))),
        Sample(np.outer, (arr("b1", 2), arr("b1", 3))), Sample(np.outer, (2.0, arr("f4", 3))), Sample(np.outer, (arr("f8", 0), arr("f8", 2))),
    ],
    "np.vdot": [
        Sample(np.vdot, (arr("c16", 3), arr("c16", 3, seed=1))), Sample(np.vdot, (arr("f8", 2, 3), arr("f8", 6))),
        Sample(np.vdot, (arr("i8", 4), arr("f4", 4))),
    ],
    "np.einsum": [
        Sample(np.einsum, ("ij,jk->ik", arr("f8", 2, 3), arr("f8", 3, 4))), Sample(np.einsum, ("ij,jk", arr("f8", 2, 3), arr("f8", 3, 4))),
        Sample(np.einsum, ("ii", arr("f8", 3, 3))), Sample(np.einsum, ("ii->i", arr("i8", 3, 3))),
        Sample(np.einsum, ("ji", arr("f4", 2, 3))), Sample(np.einsum, ("Ba", arr("f4", 2, 3))),
        Sample(np.einsum, ("...ij,...jk->...ik", arr("f8", 5, 2, 3), arr("f8", 3, 4))),
        Sample(np.einsum, ("i...,i...", arr("f8", 2, 3), arr("f8", 2, 1))), Sample(np.einsum, ("...,...", arr("f8", 2, 3), arr("f8", 3))),
        Sample(np.einsum, ("bij,bjk->bik", arr("f4", 2, 2, 3), arr("f4", 2, 3, 2))), Sample(np.einsum, ("i,i->", arr("i8", 4), arr("i8", 4))),
        Sample(np.einsum, ("i,j->ij", arr("f8", 3), arr("f4", 2))), Sample(np.einsum, ("ij,ij->ij", arr("f8", 2, 3), arr("f8", 1, 3))),
        Sample(np.einsum, (" ij , jk -> ik ", arr("f8", 2, 3), arr("f8", 3, 4))),
        Sample(np.einsum, ("ij->", arr("i1", 2, 3)), {"dtype": np.float64}),
        Sample(np.einsum, ("ij,jk,kl->il", arr("f8", 2, 3), arr("f8", 3, 4), arr("f8", 4, 2)), {"optimize": True}),
        Sample(np.einsum, ("...i->i", arr("f8", 4))),
    ],
    "np.tensordot": [
        Sample(np.tensordot, (arr("f8", 2, 3, 4), arr("f8", 3, 4, 5))), Sample(np.tensordot, (arr("f8", 2, 3), arr("f8", 3, 4), 1)),
        Sample(np.tensordot, (arr("f4", 3, 2), arr("f4", 2, 3)), {"axes": ([0, 1], [1, 0])}),
        Sample(np.tensordot, (arr("f8", 2, 3), arr("f8", 4, 5)), {"axes": 0}),
        Sample(np.tensordot, (arr("i8", 2, 3, 4), arr("f8", 4, 3)), {"axes": ((1, 2), (1, 0))}),
        Sample(np.tensordot, (arr("f8", 2, 3), arr("f8", 3, 2)), {"axes": (1, 0)}),
    ],
    "np.trace": [
        Sample(np.trace, (arr("f8", 3, 3),)), Sample(np.trace, (arr("i8", 3, 4), 1)), Sample(np.trace, (arr("b1", 3, 3),)),
        Sample(np.trace, (arr("f4", 2, 3, 4),), {"axis1": 2, "axis2": 0}), Sample(np.trace, (arr("u1", 2, 2),), {"dtype": np.float32}),
        Sample(np.trace, (arr("f8", 3, 3),), {"offset": -5}),
    ],
    "np.linalg.norm": [
        Sample(np.linalg.norm, (arr("f8", 5),)), Sample(np.linalg.norm, (arr("f4", 3, 4),)), Sample(np.linalg.norm, (arr("i8", 3, 4),)),
        Sample(np.linalg.norm, (arr("c16", 3),)), Sample(np.linalg.norm, (arr("f8", 2, 3, 4),), {"keepdims": True}),
        Sample(np.linalg.norm, (arr("f8", 3, 4), 1)), Sample(np.linalg.norm, (arr("f8", 3, 4), "fro")),
        Sample(np.linalg.norm, (arr("f8", 3, 4), "nuc")), Sample(np.linalg.norm, (arr("f8", 3, 4), np.inf)),
        Sample(np.linalg.norm, (arr("f8", 3, 4), -np.inf)), Sample(np.linalg.norm, (arr("f8", 3, 4), 2)),
        Sample(np.linalg.norm, (arr("f8", 5), 3)), Sample(np.linalg.norm, (arr("f8", 5), 0)), Sample(np.linalg.norm, (arr("f8", 5), -np.inf)),
        Sample(np.linalg.norm, (arr("f4", 3, 4),), {"axis": 1}), Sample(np.linalg.norm, (arr("f8", 2, 3, 4),), {"ord": 1, "axis": (2, 0)}),
        Sample(np.linalg.norm, (arr("f8", 2, 3, 4), 0.5, -1, True)), Sample(np.linalg.norm, (2.0,)),
        Sample(np.linalg.norm, (arr("f8", 0, 3),), {"axis": 1}),
    ],
    "np.linalg.inv": [Sample(np.linalg.inv, (spd(3),)), Sample(np.linalg.inv, (spd(2, (4,)),)),
                      Sample(np.linalg.inv, (spd(2).astype(np.float32),)), Sample(np.linalg.inv, (np.array([[2, 1], [1, 1]]),))],
    "np.linalg.det": [Sample(np.linalg.det, (spd(3),)), Sample(np.linalg.det, (spd(2, (2, 3)),)),
                      Sample(np.linalg.det, (np.array([[2, 1], [1, 1]]),)), Sample(np.linalg.det, (arr("c16", 2, 2),))],
    "np.linalg.solve": [Sample(np.linalg.solve, (spd(3), arr("f8", 3))), Sample(np.linalg.solve, (spd(3), arr("f8", 3, 2))),
                        Sample(np.linalg.solve, (spd(2, (4,)), arr("f8", 4, 2, 1))),
                        Sample(np.linalg.solve, (spd(2, (4,)), arr("f8", 2))),
                        Sample(np.linalg.solve, (spd(2).astype(np.float32), arr("i8", 2)))],
}

# ---- creation ---------------------------------------------------------------------------------------------------------------

_CREATION = {
    "np.zeros": [Sample(np.zeros, (3,)), Sample(np.zeros, ((2, 3),)), Sample(np.zeros, ((2, 3), np.int8)),
                 Sample(np.zeros, ((),)), Sample(np.zeros, ((0, 2),), {"dtype": "c16"}), Sample(np.zeros, ([2, 2], bool)),
                 Sample(np.zeros, (np.int64(4),), {"order": "F", "dtype": np.float32})],
    "np.ones": [Sample(np.ones, (3,)), Sample(np.ones, ((2, 3), np.uint8)), Sample(np.ones, ((),), {"dtype": bool}),
                Sample(np.ones, (0,))],
    "np.empty": [Sample(np.empty, (3,)), Sample(np.empty, ((2, 3), np.int64)), Sample(np.empty, ((0,),))],
    "np.full": [Sample(np.full, (3, 2.5)), Sample(np.full, ((2, 3), 7)), Sample(np.full, ((2, 3), True)),
                Sample(np.full, ((2, 3), np.float32(1.5))), Sample(np.full, ((2, 3), arr("f4", 3))),
                Sample(np.full, ((2,), 1.5), {"dtype": np.int8}), Sample(np.full, ((), 1j)), Sample(np.full, ((2, 2), np.array(3, np.uint8)))],
    "np.zeros_like": [Sample(np.zeros_like, (arr("f4", 2, 3),)), Sample(np.zeros_like, (arr("i1", 4), np.float64)),
                      Sample(np.zeros_like, (2.0,)), Sample(np.zeros_like, (arr("b1", 2),), {"shape": (3, 2)}),
                      Sample(np.zeros_like, (np.float32(1),))],
    "np.ones_like": [Sample(np.ones_like, (arr("f8", 2, 3),)), Sample(np.ones_like, (arr("c16", 2),), {"dtype": "f4"}),
                     Sample(np.ones_like, (3,))],
    "np.empty_like": [Sample(np.empty_like, (arr("f4", 2, 3),)), Sample(np.empty_like, (arr("i8", 2),), {"shape": 5})],
    "np.full_like": [Sample(np.full_like, (arr("f4", 2, 3), 2.5)), Sample(np.full_like, (arr("i8", 3), 2.7)),
                     Sample(np.full_like, (arr("f8", 2, 3), arr("f8", 3))), Sample(np.full_like, (arr("u1", 2), 3), {"dtype": np.float32}),
                     Sample(np.full_like, (arr("f8", 2), 1.0), {"shape": (2, 2)})],
    "np.arange": [Sample(np.arange, (5,)), Sample(np.arange, (2, 9, 3)), Sample(np.arange, (0.0, 1.0, 0.1)),
                  Sample(np.arange, (5,), {"dtype": np.float32}), Sample(np.arange, (10, 0, -3)), Sample(np.arange, (3, 1)),
                  Sample(np.arange, (np.float32(5),)), Sample(np.arange, (1, 2.5, 0.5), {"dtype": np.float32}),
                  Sample(np.arange, (np.int8(3), 20, np.int8(4))), Sample(np.arange, (-1.5, 1.5)),
                  Sample(np.arange, (0, 2, 1), {"dtype": bool}), Sample(np.arange, (0,)),
                  Sample(np.arange, (1.0, 0.0, 0.1))],
    "np.linspace": [Sample(np.linspace, (0, 1)), Sample(np.linspace, (0.0, 1.0, 5)), Sample(np.linspace, (0, 10, 5), {"endpoint": False}),
                    Sample(np.linspace, (0, 1, 5), {"retstep": True}), Sample(np.linspace, (0, 10, 4), {"dtype": int}),
                    Sample(np.linspace, (arr("f4", 3), 1.0, 4)), Sample(np.linspace, (arr("f8", 2, 3), arr("f8", 3), 4), {"axis": -1}),
                    Sample(np.linspace, (arr("f4", 2), arr("f4", 2, seed=1), 3), {"retstep": True, "axis": 1}),
                    Sample(np.linspace, (0, 1, 0)), Sample(np.linspace, (0, 1, 1))],
    "np.eye": [Sample(np.eye, (3,)), Sample(np.eye, (2, 4)), Sample(np.eye, (4, 3, -1)), Sample(np.eye, (3,), {"k": 1, "dtype": np.int8}),
               Sample(np.eye, (0,))],
    "np.identity": [Sample(np.identity, (3,)), Sample(np.identity, (2, bool)), Sample(np.identity, (0,))],
    **{f"np.{w.__name__}": [Sample(w, (m,)) for m in (5, 1, 0, -2)] for w in (np.bartlett, np.blackman, np.hamming,
                                                                              np.hanning)},
    "np.kaiser": [Sample(np.kaiser, (6, 3.0)), Sample(np.kaiser, (4, np.float32(8.5))), Sample(np.kaiser, (1, 2)),
                  Sample(np.kaiser, (0, 3.0)), Sample(np.kaiser, (5, arr("f8", 1).reshape(())))],
}

# ---- misc ----------------------------------------------------------------------------------------------------------------------

_MISC = {
    "np.where": [Sample(np.where, (arr("b1", 3, 4), arr("f8", 3, 4), arr("f8", 3, 4, seed=1))),
                 Sample(np.where, (arr("b1", 3, 1), arr("f4", 4), 2.0)), Sample(np.where, (True, arr("i8", 2), arr("i1", 2))),
                 Sample(np.where, (arr("b1", 3), 1, 0)), Sample(np.where, (arr("b1", 3), 1.5, arr("u1", 3))),
                 Sample(np.where, (arr("b1", 0, 2), arr("f8", 2), arr("f8", 0, 1))), Sample(np.where, (arr("i8", 3), arr("c16", 3), 0))],
    "np.clip": [Sample(np.clip, (arr("f8", 3, 4), -1.0, 1.0)), Sample(np.clip, (arr("f4", 3, 4), -1.0, None)),
                Sample(np.clip, (arr("i8", 5), None, 3)), Sample(np.clip, (arr("i1", 5), 0, 5)),
                Sample(np.clip, (arr("f8", 3, 4), arr("f8", 4), arr("f8", 3, 1, positive=True))),
                Sample(np.clip, (arr("u1", 4), np.uint8(2), 6)), Sample(np.clip, (arr("f4", 4), np.float64(0), 1)),
                Sample(np.clip, (arr("f8", 0), 0, 1)), Sample(np.clip, (np.array(2.0), 0, 1)),
                Sample(np.clip, (arr("i8", 4),), {"a_min": 0, "a_max": 2.5})],
    "np.astype": [Sample(np.astype, (arr("f8", 3, 4), np.float32)), Sample(np.astype, (arr("f8", 3), np.int8)),
                  Sample(np.astype, (arr("i8", 3), "f4")), Sample(np.astype, (arr("b1", 3), np.float64)),
                  Sample(np.astype, (arr("c16", 2), np.float64)) if _accepted(np.astype, (arr("c16", 2), np.float64), {}) else
                  Sample(np.astype, (arr("c16", 2), np.complex64)),
                  Sample(np.astype, (arr("f4", 2), np.float32), {"copy": False}), Sample(np.astype, (np.float32(2.5), np.int64))],
    "np.copy": [Sample(np.copy, (arr("f8", 3, 4),)), Sample(np.copy, (arr("i1", 0),)), Sample(np.copy, (2.5,)),
                Sample(np.copy, (arr("b1", 2, 2),), {"order": "F"}), Sample(np.copy, (np.float32(1),))],
    "np.sort": [Sample(np.sort, (arr("f8", 3, 4),)), Sample(np.sort, (arr("i8", 3, 4), 0)), Sample(np.sort, (arr("f4", 2, 3),), {"axis": None}),
                Sample(np.sort, (arr("b1", 5),)), Sample(np.sort, (arr("c16", 4),)), Sample(np.sort, (arr("u1", 6),), {"kind": "stable"}),
                Sample(np.sort, (arr("f8", 6),), {"stable": True}), Sample(np.sort, (arr("f8", 0, 2),)),
                Sample(np.sort, (np.array([3.0, np.nan, -0.0, 0.0, 1.0]),))],
    "np.argsort": [Sample(np.argsort, (arr("f8", 3, 4),)), Sample(np.argsort, (arr("i8", 3, 4), 0)),
                   Sample(np.argsort, (arr("f4", 2, 3),), {"axis": None}), Sample(np.argsort, (arr("i1", 8),), {"kind": "stable"}),
                   Sample(np.argsort, (arr("u1", 8),), {"stable": True}), Sample(np.argsort, (arr("f8", 0),))],
    "np.take": [Sample(np.take, (arr("f8", 3, 4), np.array([0, 5, 11]))), Sample(np.take, (arr("f8", 3, 4), np.array([[0, 2]]), 1)),
                Sample(np.take, (arr("i8", 3, 4), 1), {"axis": 0}), Sample(np.take, (arr("f4", 5), np.array([7, -8])), {"mode": "wrap"}),
                Sample(np.take, (arr("u1", 5), np.array([9, -1], np.int8)), {"mode": "clip"}),
                Sample(np.take, (arr("f8", 3, 4), np.array([], np.int64)), {"axis": 1}),
                Sample(np.take, (arr("f8", 3), np.array([True, False]))), Sample(np.take, (arr("c16", 2, 2), np.uint8(1)))],
    "np.round": [Sample(np.round, (arr("f8", 3, 4),)), Sample(np.round, (arr("f4", 5), 2)), Sample(np.round, (arr("i8", 5), -1)),
                 Sample(np.around, (arr("f8", 4),), {"decimals": 1}), Sample(np.round, (2.5,)), Sample(np.round, (True,)),
                 Sample(np.round, (arr("c16", 3), 1)), Sample(np.round, (arr("u1", 3),)), Sample(np.round, (arr("f2", 3),))],
    "np.isclose": [Sample(np.isclose, (arr("f8", 3), arr("f8", 3) + 1e-9)), Sample(np.isclose, (arr("f4", 2, 3), 0.0), {"atol": 3.0}),
                   Sample(np.isclose, (np.array([np.nan, 1.0]), np.nan), {"equal_nan": True}),
                   Sample(np.isclose, (arr("i8", 3), arr("i8", 3, seed=1))), Sample(np.isclose, (arr("c16", 2), arr("c16", 2))),
                   Sample(np.isclose, (1.0, 1.0 + 1e-6), {"rtol": 1e-3})],
    "np.allclose": [Sample(np.allclose, (arr("f8", 3), arr("f8", 3) + 1e-9)), Sample(np.allclose, (arr("f4", 2, 3), arr("f4", 3))),
                    Sample(np.allclose, (arr("i8", 3), 1, 1e-05, 10.0)), Sample(np.allclose, (arr("f8", 0), 1.0))],
    "np.diff": [Sample(np.diff, (arr("f8", 5),)), Sample(np.diff, (arr("i8", 3, 4), 2)), Sample(np.diff, (arr("f4", 3, 4),), {"axis": 0}),
                Sample(np.diff, (arr("b1", 5),)), Sample(np.diff, (arr("u1", 4),)), Sample(np.diff, (arr("f8", 3), 5)),
                Sample(np.diff, (arr("f8", 3), 0)), Sample(np.diff, (arr("c16", 3),))],
    "np.cross": [Sample(np.cross, (arr("f8", 3), arr("f8", 3, seed=1))), Sample(np.cross, (arr("f4", 4, 3), arr("f4", 3))),
                 Sample(np.cross, (arr("i8", 3, 2), arr("i8", 2, 3)), {"axisa": 0, "axisc": 0}),
                 Sample(np.cross, (arr("f8", 3, 2), arr("f8", 3, 2, seed=1)), {"axis": 0}), Sample(np.cross, (arr("i1", 3), arr("f4", 3)))],
    "np.searchsorted": [Sample(np.searchsorted, (np.arange(5.0), 2.5)), Sample(np.searchsorted, (np.arange(5), arr("i8", 2, 3))),
                        Sample(np.searchsorted, (np.arange(5), arr("f4", 4)), {"side": "right"}),
                        Sample(np.searchsorted, (np.array([3, 1, 2]), arr("i8", 4)), {"sorter": np.array([1, 2, 0])}),
                        Sample(np.searchsorted, (np.array([3, 1, 2]), 2, "left", np.array([1, 2, 0])))],
}

SAMPLES: dict[str, list[Sample]] = {**_ufunc_samples(), **_REDUCE, **_LINALG, **_CREATION, **_MISC}


def _merge_other_families() -> None:
    """Every ``tests/ops/samples_*.py`` adds its ``SAMPLES_*`` dict (shape and index ops, frontend ops …)."""
    import importlib
    import pathlib

    for path in sorted(pathlib.Path(__file__).parent.glob("samples_*.py")):
        module = importlib.import_module(f"tests.ops.{path.stem}")
        for attr_name, table in sorted(vars(module).items()):
            if attr_name.startswith("SAMPLES_") and isinstance(table, dict):
                for name, samples in table.items():
                    SAMPLES.setdefault(name, []).extend(samples)


_merge_other_families()
