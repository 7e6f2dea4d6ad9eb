"""Arguments that share memory, when the function updates one of them in place.

NOTE: [Aliased arguments]
The IR is functional (frontend/functionalize.py): each argument is a graph input of its
own, and an update makes a new value. Eager NumPy has one memory: after `a[0] = 5` in
`f(A, A)` a read of `b` sees the 5, and after `a += 1` in `f(A[1:], A)` so does `b[1]`.
A graph traced with `a` and `b` as two inputs reads the old values there (the program
works on its own values, or on a copy, NOTE: [Donated arguments]), so it must not run
for such a call. As torch's AOTAutograd does for duplicated and aliased inputs, the
function is compiled again for the call's *alias pattern*, with the aliasing known to
the tracer, which already keeps NumPy's view semantics inside a function:
- the same view passed twice (same address, shape, strides, dtype): both parameters are
  one traced array;
- one argument a basic-index view of another (`A[1:]` and `A`): it is traced as that
  view of the other (`b = a[1:]`), so writes through either reach both;
- two views of a common base that is not an argument (`A[1:]` and `A[:-1]`): the base
  (the ndarray both are views of) is passed as a hidden input, and both are traced as
  views of it (torch's "synthetic base").
Each pattern is its own Function, cached on the Function called (`alias_variant`). A
scripted variant takes the views' offsets as int inputs (its shapes are symbols already),
so it is cached by the pattern's `structure` and serves `f(A[k:], A[:-k])` for every k; a
traced one keeps them, as a trace keeps its shapes, so another offset traces (and, for a
native loop, compiles) again. The
variant records the mutations of the Function it varies, so its outputs are laid out as
that one's and `finish` writes them back: the memory a call changes is that of the
arguments the user's code writes through, whichever array the variant writes them into.
Its program is planned with the arrays the others are views of (an argument, a hidden
base) donated too, so the updates land in the caller's memory as NumPy's do. Overlaps that are no
basic-index view of one array (a transpose of the other, a reshape, a strided trick),
and a mutated argument that shares memory with a parameter the graph holds as its own
(it reads the parameter, not the caller's update), raise AliasedArgumentsError at the
caller's line, naming the two; so does a Function without the Python function at hand
(loaded from a file). A call whose mutated arguments share no memory with anything runs
as before: the check is `np.may_share_memory` per pair with a mutated argument, and
`np.shares_memory` only where the bounds overlap (`A[:, :4]` and `A[:, 4:]` share none).

Parameters are bound when the program is compiled, so what can be decided about them is
decided then (`ParamMemory`): a mutated argument whose memory is owned by a NumPy array
no parameter lives in cannot share memory with one, which one identity test tells.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from distjit.errors import AliasedArgumentsError
from distjit.ir.source import user_loc

__all__ = ["AliasPattern", "ParamMemory", "alias_pattern", "as_index", "basic_index", "dynamic_index"]

# The work np.shares_memory may do to decide an overlap exactly; beyond it the arrays are taken to overlap.
_MAX_WORK = 10_000


@dataclass(frozen=True)
class AliasPattern:
    """How a call's arguments share memory: what a Function is compiled again for.

    `links`: (leaf, source, index) per argument traced as another array's view: `source` is a leaf
    index, or `n_leaves + k` for the k-th hidden base; `index` the `index_key` of a basic index, or
    None for the very same array. `bases`: (shape, dtype) of each hidden base (the call's arrays for
    them are passed beside the pattern: they are not part of the key)."""

    links: tuple
    bases: tuple = ()

    @property
    def structure(self) -> tuple:
        """The pattern without its numbers: which argument is which kind of view of which array (each index
        entry an int, a slice, a reversed slice, or the Ellipsis of a 0-d view), and each hidden base's rank
        and dtype. A variant that takes the numbers as inputs (`index_values`) serves every pattern of it."""
        links = tuple((j, source, None if index is None else tuple(_kind(k) for k in index))
                      for j, source, index in self.links)
        return links, tuple((len(shape), dtype) for shape, dtype in self.bases)

    def index_values(self) -> tuple[int, ...]:
        """The numbers of the pattern's indices, in order: an int's value; a slice's start, stop and step, a
        reversed slice's as the forward slice over the same elements (`dynamic_index` reverses it)."""
        out: list[int] = []
        for _, _, index in self.links:
            for k in index or ():
                if k[0] == "i":
                    out.append(k[1])
                elif k[0] == "s":
                    _, start, stop, step = k
                    if step > 0:
                        out += [start, stop, step]
                    else:
                        n = len(range(start, -1 if stop is None else stop, step))
                        out += [start + step * (n - 1), start + 1, -step]
        return tuple(out)


def _kind(k: tuple) -> str:
    return "r" if k[0] == "s" and k[3] < 0 else k[0]


def dynamic_index(kinds: tuple, values: list) -> tuple[tuple, tuple | None]:
    """(the forward index, the reversal after it or None) of a view of `kinds` (AliasPattern.structure), taking
    its numbers from the front of `values` (traced ints when a variant takes them as inputs)."""
    index, reverse = [], []
    for kind in kinds:
        if kind == "i":
            index.append(values.pop(0))
        elif kind == "e":
            index.append(Ellipsis)
        else:
            index.append(slice(values.pop(0), values.pop(0), values.pop(0)))
            reverse.append(kind == "r")
    return tuple(index), (tuple(slice(None, None, -1) if r else slice(None) for r in reverse)
                          if any(reverse) else None)


class ParamMemory:
    """The parameters' memory, as far as it is known when the program is compiled: the arrays whose memory
    is owned by a NumPy array (found by identity of that owner) and the others (checked per call)."""

    def __init__(self, params: dict):
        self.owners: dict[int, str] = {}
        self.others: list[tuple[str, np.ndarray]] = []
        self.arrays: list[tuple[str, np.ndarray]] = []
        for name, p in params.items():
            if not isinstance(p, np.ndarray):
                continue
            self.arrays.append((name, p))
            owner = _owner(p)
            if owner is None:
                self.others.append((name, p))
            else:
                self.owners.setdefault(id(owner), name)

    def shared_with(self, a: np.ndarray) -> str | None:
        """The name of a parameter `a` shares memory with, or None."""
        if not self.arrays:
            return None
        owner = _owner(a)
        # an owner no parameter's memory belongs to rules out every parameter whose owner is known
        candidates = self.others if owner is not None and id(owner) not in self.owners else self.arrays
        for name, p in candidates:
            if np.may_share_memory(a, p) and _shares(a, p):
                return name
        return None


def _owner(a: np.ndarray):
    """The NumPy array that owns `a`'s memory, or None when a foreign buffer does (mmap, bytes, Ray)."""
    while True:
        base = a.base
        if base is None:
            return a if a.flags.owndata else None
        if not isinstance(base, np.ndarray):
            return None
        a = base


def _shares(a: np.ndarray, b: np.ndarray) -> bool:
    try:
        return bool(np.shares_memory(a, b, max_work=_MAX_WORK))
    except np.exceptions.TooHardError:
        return True


def alias_pattern(name: str, leaves: Sequence, mutated: Sequence[int], paths: Sequence[str],
                  params: ParamMemory) -> tuple[AliasPattern, tuple] | None:
    """None when no argument in `mutated` shares memory with another argument or a parameter (the usual
    call); else (the pattern to compile for, the hidden bases' arrays), or AliasedArgumentsError at the
    caller's line."""
    groups = None
    for i in mutated:
        a = leaves[i]
        if type(a) is not np.ndarray:
            continue
        for j, b in enumerate(leaves):
            if j != i and isinstance(b, np.ndarray) and np.may_share_memory(a, b) and _shares(a, b):
                groups = _union(groups, i, j)
        shared = params.shared_with(a)
        if shared is not None:
            raise AliasedArgumentsError(
                f"{name}(): argument {paths[i]} shares memory with the parameter {shared!r}, and {name} updates "
                f"{paths[i]} in place; the compiled function reads {shared!r} as it was when compiled, not as "
                f"updated, so it cannot give NumPy's result: pass a copy ({paths[i]}.copy())", user_loc())
    if groups is None:
        return None
    links, bases, base_arrays = [], [], []
    for members in _components(groups):
        _link_group(name, sorted(members), leaves, paths, len(leaves), links, bases, base_arrays)
    return AliasPattern(tuple(links), tuple(bases)), tuple(base_arrays)


def _union(groups, i: int, j: int) -> dict:
    groups = {} if groups is None else groups
    gi, gj = groups.get(i, {i}), groups.get(j, {j})
    if gi is not gj:
        gi |= gj
        for k in gi:
            groups[k] = gi
    return groups


def _components(groups: dict) -> list[set]:
    out, seen = [], set()
    for members in groups.values():
        if id(members) not in seen:
            seen.add(id(members))
            out.append(members)
    return out


def _link_group(name, members, leaves, paths, n_leaves, links, bases, base_arrays) -> None:
    """Express every member of one group of overlapping arguments as a view of one array: a member, else
    their common base (hidden); AliasedArgumentsError when none is."""
    first = leaves[members[0]]
    if all(_same_view(first, leaves[m]) for m in members[1:]):
        links.extend((m, members[0], None) for m in members[1:])
        return
    # the member that holds the most memory first: it is the one the others may be views of
    for source in sorted(members, key=lambda m: -leaves[m].nbytes):
        found = _views_of(leaves[source], [m for m in members if m != source], leaves)
        if found is not None:
            links.extend((m, source, index) for m, index in found)
            return
    root = _root(first)
    if root is not None and all(_root(leaves[m]) is root for m in members):
        found = _views_of(root, members, leaves)
        if found is not None:
            links.extend((m, n_leaves + len(bases), index) for m, index in found)
            bases.append((root.shape, root.dtype))
            base_arrays.append(root)
            return
    a, b = _first_unrelated(members, leaves)
    raise AliasedArgumentsError(
        f"{name}(): arguments {paths[a]} and {paths[b]} share memory, and {name} updates one of them in place; "
        f"distjit keeps NumPy's semantics for the same array passed twice and for basic-index views (slices, "
        f"integers) of one array, but {paths[b]} is no such view of {paths[a]} or of a common base: pass a "
        f"copy ({paths[b]}.copy())", user_loc())


def _views_of(base: np.ndarray, members, leaves):
    out = []
    for m in members:
        if _same_view(base, leaves[m]):
            out.append((m, None))
            continue
        index = basic_index(base, leaves[m])
        if index is None:
            return None
        out.append((m, index_key(index)))
    return out


def _first_unrelated(members, leaves) -> tuple[int, int]:
    for a, b in itertools.combinations(members, 2):
        if _shares(leaves[a], leaves[b]) and basic_index(leaves[a], leaves[b]) is None \
                and basic_index(leaves[b], leaves[a]) is None:
            return a, b
    return members[0], members[1]


def _root(a: np.ndarray):
    """The outermost ndarray `a` is a view of (itself when it is no view)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _same_view(a: np.ndarray, b: np.ndarray) -> bool:
    """The same elements in the same order: address, shape, dtype, and the strides of axes longer than 1 (NumPy
    keeps any stride on a length-1 axis: `x[0:1:2]`)."""
    return a is b or (a.shape == b.shape and a.dtype == b.dtype and _address(a) == _address(b)
                      and all(n == 1 or s == t for n, s, t in zip(a.shape, a.strides, b.strides)))


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def basic_index(base: np.ndarray, view: np.ndarray) -> tuple | None:
    """A tuple of ints and slices `index` with `base[index]` exactly `view` (address, shape, strides), or None.

    Each axis of `view` is one of `base`'s, in order, sliced with a step; the other axes of `base` are
    integers. The starts are found from the byte offset, axes of larger stride first; a candidate is only
    returned once `base[index]` is checked to be `view`."""
    if base.dtype != view.dtype or view.ndim > base.ndim or view.size == 0:
        return None
    offset = _address(view) - _address(base)
    starts = _starts(offset, base.shape, base.strides)
    if starts is None:
        return None
    for kept in itertools.combinations(range(base.ndim), view.ndim):
        index, ok = [], True
        for k in range(base.ndim):
            if k not in kept:
                index.append(starts[k])
                continue
            m = kept.index(k)
            n, stride = view.shape[m], base.strides[k]
            if n == 1:
                step = 1
            elif stride == 0 or view.strides[m] % stride:
                ok = False
                break
            else:
                step = view.strides[m] // stride
            stop = starts[k] + step * (n - 1) + (1 if step > 0 else -1)
            index.append(slice(starts[k], None if stop < 0 else stop, step))
        if not ok:
            continue
        if not view.ndim:
            index.append(Ellipsis)      # a 0-d view, not the scalar all-integer indexing gives
        try:
            candidate = base[tuple(index)]
        except IndexError:
            continue
        if isinstance(candidate, np.ndarray) and _same_view(candidate, view):
            return tuple(index)
    return None


def _starts(offset: int, shape, strides) -> list[int] | None:
    """Per axis, a start with sum(start * stride) == offset and 0 <= start < size: axes of larger stride first,
    each start the quotient rounded down or up (with strides of both signs, either may be the one), or the
    nearest start in range."""
    order = [k for k in sorted(range(len(shape)), key=lambda k: -abs(strides[k])) if shape[k] > 1 and strides[k]]
    starts = [0] * len(shape)

    def solve(i: int, rest: int) -> bool:
        if i == len(order):
            return rest == 0
        k = order[i]
        low = rest // strides[k]
        for start in dict.fromkeys((low, low + 1, min(max(low, 0), shape[k] - 1))):
            if 0 <= start < shape[k] and solve(i + 1, rest - start * strides[k]):
                starts[k] = start
                return True
        return False

    return starts if solve(0, offset) else None


def index_key(index: tuple) -> tuple:
    """A hashable form of a basic index (slices are not hashable before Python 3.12)."""
    return tuple(("s", i.start, i.stop, i.step) if isinstance(i, slice) else ("e",) if i is Ellipsis
                 else ("i", int(i)) for i in index)


def as_index(key: tuple) -> tuple:
    """The basic index `index_key` made the key of."""
    return tuple(slice(k[1], k[2], k[3]) if k[0] == "s" else Ellipsis if k[0] == "e" else k[1] for k in key)
