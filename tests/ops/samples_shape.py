"""Samples for the shape and index ops (np.reshape, np.concatenate, array.getitem …), merged into `samples.SAMPLES`.

Each is a NumPy call as a user writes it; 0-d and size-0 inputs are included where
NumPy accepts them. The index ops have no NumPy callable: their samples call
`getitem` / `setitem` below, which spell out ``x[index]`` with the Refs replaced
by hand (the attribute convention of distjit/ops/index.py).
"""
from __future__ import annotations

import numpy as np

from distjit.types import Ref
from tests.ops.samples import Sample, arr

F = arr("f8", 2, 3)
F3 = arr("f4", 2, 3, 4)
I = arr("i8", 3, 4)
B = arr("b1", 4)
Z = np.array(1.5)            # 0-d
E = arr("f8", 0, 3)          # size 0


def _s(fn, *args, **kwargs) -> Sample:
    return Sample(fn, args, kwargs)


SAMPLES_SHAPE: dict[str, list[Sample]] = {
    "np.reshape": [_s(np.reshape, F, (3, 2)), _s(np.reshape, F3, (4, -1)), _s(np.reshape, I, -1),
                   _s(np.reshape, B, (2, 2), order="F"), _s(np.reshape, Z, (1, 1)), _s(np.reshape, E, (3, 0)),
                   _s(np.reshape, arr("u1", 6), 6), _s(np.reshape, arr("c8", 2, 2), (4,), copy=True),
                   _s(np.reshape, 2.5, (1,)), _s(np.reshape, arr("i4", 1, 1), ())],
    "np.ravel": [_s(np.ravel, F), _s(np.ravel, F3, "F"), _s(np.ravel, Z), _s(np.ravel, E), _s(np.ravel, arr("b1", 2, 2))],
    "np.transpose": [_s(np.transpose, F3), _s(np.transpose, F3, (2, 0, 1)), _s(np.transpose, I, axes=[-1, 0]),
                     _s(np.transpose, Z), _s(np.transpose, E), _s(np.transpose, arr("i2", 5))],
    "np.swapaxes": [_s(np.swapaxes, F3, 0, 2), _s(np.swapaxes, I, -1, 0), _s(np.swapaxes, E, 0, 1),
                    _s(np.swapaxes, arr("u2", 3), 0, 0)],
    "np.moveaxis": [_s(np.moveaxis, F3, 0, -1), _s(np.moveaxis, F3, (0, 1), (2, 0)), _s(np.moveaxis, E, 1, 0),
                    _s(np.moveaxis, arr("b1", 2, 3), [0], [1])],
    "np.expand_dims": [_s(np.expand_dims, F, 0), _s(np.expand_dims, F, -1), _s(np.expand_dims, F3, (0, 2)),
                       _s(np.expand_dims, Z, 0), _s(np.expand_dims, E, axis=1), _s(np.expand_dims, arr("i1", 3), (-1, 0))],
    "np.squeeze": [_s(np.squeeze, arr("f8", 1, 3, 1)), _s(np.squeeze, arr("f8", 1, 3, 1), 0),
                   _s(np.squeeze, arr("i8", 1, 3, 1), axis=(0, 2)), _s(np.squeeze, Z), _s(np.squeeze, arr("f4", 1, 0)),
                   _s(np.squeeze, arr("b1", 1, 1))],
    "np.broadcast_to": [_s(np.broadcast_to, arr("f8", 3, 1), (2, 3, 4)), _s(np.broadcast_to, Z, (2, 3)),
                        _s(np.broadcast_to, arr("i8", 3), 3), _s(np.broadcast_to, arr("f4", 1), (2, 0)),
                        _s(np.broadcast_to, 3, (2,)),
                        _s(np.broadcast_to, arr("c16", 2, 1), shape=(2, 2))],
    "np.atleast_1d": [_s(np.atleast_1d, Z), _s(np.atleast_1d, F), _s(np.atleast_1d, 3)],
    "np.atleast_2d": [_s(np.atleast_2d, Z), _s(np.atleast_2d, arr("i8", 3)), _s(np.atleast_2d, F3)],
    "np.atleast_3d": [_s(np.atleast_3d, Z), _s(np.atleast_3d, arr("i8", 3)), _s(np.atleast_3d, F), _s(np.atleast_3d, E),
                      _s(np.atleast_3d, F3)],
    "np.flip": [_s(np.flip, F), _s(np.flip, F3, 1), _s(np.flip, F3, axis=(0, -1)), _s(np.flip, E, 0), _s(np.flip, Z),
                _s(np.flip, arr("b1", 3))],
    "np.concatenate": [_s(np.concatenate, [F, arr("f8", 4, 3)]), _s(np.concatenate, (F, arr("f8", 2, 2)), 1),
                       _s(np.concatenate, (F, arr("i8", 5)), axis=None), _s(np.concatenate, (arr("i4", 2), arr("f4", 3))),
                       _s(np.concatenate, (E, F)), _s(np.concatenate, (arr("i8", 2), arr("i8", 2)), dtype=np.float32),
                       _s(np.concatenate, (arr("f8", 2), arr("f8", 1)), dtype=np.int64, casting="unsafe"),
                       _s(np.concatenate, [arr("u1", 3)]), _s(np.concatenate, (arr("b1", 2, 1), arr("u1", 2, 2)), axis=-1)],
    "np.stack": [_s(np.stack, (F, F)), _s(np.stack, [F, arr("i8", 2, 3)], axis=-1), _s(np.stack, (Z, Z, Z)),
                 _s(np.stack, (E, E), 1), _s(np.stack, (arr("i8", 2), arr("i8", 2)), dtype=np.float32)],
    "np.hstack": [_s(np.hstack, (arr("f8", 2), arr("f8", 3))), _s(np.hstack, [F, arr("i4", 2, 1)]), _s(np.hstack, (Z, Z)),
                  _s(np.hstack, (arr("f8", 2), arr("f8", 2)), dtype=np.float32)],
    "np.vstack": [_s(np.vstack, (arr("f8", 3), F)), _s(np.vstack, [F, E]), _s(np.vstack, (Z, Z)),
                  _s(np.vstack, (arr("u1", 2), arr("i1", 2)))],
    "np.split": [_s(np.split, arr("f8", 6), 3), _s(np.split, arr("f8", 8, 3), [2, 5]), _s(np.split, F, 3, axis=1),
                 _s(np.split, arr("i8", 5, 2), [1, -2, 10]), _s(np.split, E, 1), _s(np.split, E, [0, 0], 1)],
    "np.array_split": [_s(np.array_split, arr("f8", 7), 3), _s(np.array_split, arr("i4", 2, 5), 4, axis=1),
                       _s(np.array_split, arr("f4", 6), [2]), _s(np.array_split, E, 2)],
    "np.roll": [_s(np.roll, F, 1), _s(np.roll, F3, -1, 0), _s(np.roll, F3, (1, 2), axis=(0, 2)), _s(np.roll, E, 2),
                _s(np.roll, Z, 3), _s(np.roll, arr("b1", 5), 7), _s(np.roll, I, (1, -1), (0, 0))],
    "np.pad": [_s(np.pad, F, 1), _s(np.pad, F, ((1, 2), (0, 3)), mode="constant", constant_values=-1.0),
               _s(np.pad, arr("i8", 4), (2, 1), "edge"), _s(np.pad, arr("f4", 3, 3), 2, mode="reflect"),
               _s(np.pad, arr("f8", 4), 3, mode="wrap"), _s(np.pad, arr("f8", 4), ((1,),), mode="symmetric"),
               _s(np.pad, arr("u1", 2, 2), 1, mode="maximum"), _s(np.pad, arr("i4", 4), 2, mode="mean"),
               _s(np.pad, arr("f8", 3), 2, mode="linear_ramp", end_values=5.0), _s(np.pad, E, 1),
               _s(np.pad, Z, 2), _s(np.pad, arr("b1", 2), 1, constant_values=True)],
    "np.tile": [_s(np.tile, F, 2), _s(np.tile, F, (2, 1)), _s(np.tile, arr("i8", 3), (2, 2, 1)), _s(np.tile, Z, 3),
                _s(np.tile, E, (1, 2)), _s(np.tile, F3, (2,)), _s(np.tile, 1.5, (2, 2)), _s(np.tile, F, 0)],
    "np.repeat": [_s(np.repeat, F, 3, axis=1), _s(np.repeat, I, [1, 0, 2], axis=0), _s(np.repeat, F, 2),
                  _s(np.repeat, Z, 3), _s(np.repeat, E, 2, 1), _s(np.repeat, arr("b1", 3), [2]),
                  _s(np.repeat, arr("u1", 4), [1, 2, 0, 1]), _s(np.repeat, 7, 2)],
}


# ---------------------------------------------------------------- the index ops


def getitem(x, *dynamic, index):
    """``x[index]`` with ``Ref(k)`` meaning input k (input 0 is x)."""
    inputs = (x, *dynamic)
    return x[tuple(_fill(item, inputs) for item in index)]


def setitem(x, value, *dynamic, index):
    """``out = x.copy(); out[index] = value`` with ``Ref(k)`` meaning input k (x is 0, value is 1)."""
    inputs = (x, value, *dynamic)
    out = x.copy()
    out[tuple(_fill(item, inputs) for item in index)] = value
    return out


def _fill(item, inputs):
    if isinstance(item, Ref):
        return inputs[item.index]
    if isinstance(item, slice):
        return slice(*(inputs[b.index] if isinstance(b, Ref) else b for b in (item.start, item.stop, item.step)))
    return item


_X = arr("f8", 4, 5, 3)
_IDX = np.array([0, -1, 2])

SAMPLES_SHAPE["array.getitem"] = [
    _s(getitem, _X, index=(1,)),
    _s(getitem, _X, index=(slice(None, None, -2), None, Ellipsis, -1)),
    _s(getitem, _X, 2, index=(slice(1, Ref(1)),)),
    _s(getitem, _X, _IDX, index=(Ref(1), slice(None), 0)),                 # separated: advanced dims first
    _s(getitem, _X, _IDX, index=(slice(None), Ref(1))),
    _s(getitem, arr("i8", 3, 4), arr("b1", 3, 4), index=(Ref(1),)),        # a mask: data-dependent length
    _s(getitem, arr("u1", 5), np.int64(3), index=(Ref(1),)),
    _s(getitem, Z, index=()),
    _s(getitem, E, index=(slice(None), 1)),
    _s(getitem, arr("b1", 3), index=(True,)),
]
SAMPLES_SHAPE["array.setitem"] = [
    _s(setitem, _X, 0.0, index=(1,)),
    _s(setitem, _X, arr("f8", 3), index=(slice(None, None, 2), Ellipsis)),
    _s(setitem, arr("i8", 3, 4), 2.7, _IDX, index=(slice(None), Ref(2))),
    _s(setitem, arr("f4", 3, 4), arr("f8", 1), arr("b1", 3, 4), index=(Ref(2),)),
    _s(setitem, arr("i4", 3, 4), arr("i8", 2, 1), 1, index=(slice(Ref(2), None),)),
    _s(setitem, np.array(1.0), 5, index=()),
    _s(setitem, E, 1.0, index=(slice(None), 0)),
    _s(setitem, arr("b1", 2, 2), True, index=(0, 1)),
]
