"""Donated arguments: the arrays a function mutates, updated in place in the caller's memory when that is safe.

NOTE: [Donated arguments]
The IR is functional: a function that mutates its argument `x` returns x's new
contents as one more output, and `Function.finish` writes them back into the caller's
array. Planned as any graph input (core/inplace.py: the caller's arrays own nothing),
that costs two copies of `x` per call: one where the graph first writes over it (a
loop's entry copy, an update's copy), one written back. Eager NumPy makes neither.

So the program a Function runs is planned with its mutated arrays *donated*: they own
their buffers as fresh values do, and the same analysis decides which updates write
into them (no third copy of the aliasing rules). The program is built from a copy of
the graph (`donated_program`): the graph itself may be the callee of a `prim.Call` or
be partitioned into tasks, where its inputs are someone else's values.

At each call, `owned_inputs` hands over the caller's array for a donated input only when
writing into it is what NumPy would do: it is a writable ndarray. Nothing else the program
reads can see the writes early: a call whose mutated argument shares memory with another
argument or a parameter never reaches this program, it runs the one compiled for how they
alias, where the arguments that alias are one traced array (NOTE: [Aliased arguments] in
runtime/aliased_args.py), or raises. Any other array is copied first, and the program
writes into the copy (a read-only array, such as a Ray object-store array, stays
untouched; the write-back then raises NumPy's ValueError as before). `write_back` skips
the copy when the program's result is the caller's array itself.

On an error mid-call, a donated array holds the updates the program made before the
failing node: what eager NumPy leaves after the failing line, since updates run in
program order (passes move only pure nodes). A copied argument is left untouched, as
it was before donation (NumPy would have left its earlier writes there).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from distjit.core.buffers import plan_reuse
from distjit.core.inplace import plan_in_place
from distjit.ir.graph import Graph
from distjit.runtime.codegen import generate
from distjit.types import TensorType

__all__ = ["donated_indices", "donated_program", "owned_inputs", "write_back"]


def donated_indices(graph: Graph, mutated: Sequence[int]) -> frozenset[int]:
    """The inputs among the `mutated` leaves that may be donated: arrays of at least one dimension."""
    inputs = graph.inputs
    return frozenset(i for i in mutated if i < len(inputs) and isinstance(inputs[i].type, TensorType)
                     and inputs[i].type.ndim >= 1)


def donated_program(graph: Graph, params: dict[str, Any] | None, donated: frozenset[int]):
    """(the graph copy the program runs, the program) for a graph whose inputs `donated` own their buffers.
    The copy is planned again (plan_reuse, then plan_in_place with the donated inputs)."""
    copy = graph.copy()
    plan_reuse(copy)
    plan_in_place(copy, donated=frozenset(copy.inputs[i] for i in donated))
    return copy, generate(copy, params or None)


def owned_inputs(leaves: Sequence, donated: frozenset[int]) -> Sequence:
    """The program's inputs: `leaves`, with each donated array the program must not write into replaced by a copy
    (the caller has made sure that no donated array shares memory with another input or a parameter)."""
    out = None
    for i in donated:
        a = leaves[i]
        if type(a) is np.ndarray and a.flags.writeable:
            continue
        if out is None:
            out = list(leaves)
        out[i] = np.array(a, copy=True)     # the layout kept, as a loop's entry copy keeps it
    return leaves if out is None else out


def write_back(dest, result) -> None:
    """Give the caller's array `dest` the new contents `result`, unless `result` is `dest`'s very memory."""
    if isinstance(result, np.ndarray) and _same_view(dest, result):
        return
    np.copyto(dest, result, casting="unsafe")


def _same_view(a: np.ndarray, b: np.ndarray) -> bool:
    if a is b:
        return True
    return (isinstance(a, np.ndarray) and a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])
