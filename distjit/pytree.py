"""Nested inputs and outputs: flattening tuples, named tuples, lists and dicts of leaves, and rebuilding them.

Leaves are arrays, NumPy scalars, Python numbers and traced values. None and
strings are kept in the spec itself (they are structure, not data). A named tuple
(NumPy's QRResult, a user's own) keeps its field names and its class; a spec read
from a file has only the class's name, and rebuilds an equivalent
`collections.namedtuple` (a file never names code to import).
"""
from __future__ import annotations

import collections
import functools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

LEAF = "leaf"


@dataclass(frozen=True)
class TreeSpec:
    kind: str                        # "leaf", "tuple", "namedtuple", "list", "dict", "static"
    children: tuple["TreeSpec", ...] = ()
    keys: tuple = ()                 # dict keys, in insertion order; a named tuple's field names
    static: Any = None               # the value of a "static" node (None, a string); a named tuple's class or name

    @property
    def num_leaves(self) -> int:
        if self.kind == LEAF:
            return 1
        return sum(c.num_leaves for c in self.children)

    def __str__(self):
        if self.kind == LEAF:
            return "*"
        if self.kind == "static":
            return repr(self.static)
        inner = ", ".join(str(c) for c in self.children)
        if self.kind == "tuple":
            return f"({inner}{',' if len(self.children) == 1 else ''})"
        if self.kind == "list":
            return f"[{inner}]"
        if self.kind == "namedtuple":
            return f"{self.type_name}(" + ", ".join(f"{k}={c}" for k, c in zip(self.keys, self.children)) + ")"
        return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(self.keys, self.children)) + "}"


    @property
    def type_name(self) -> str:
        """A named tuple's class name, as a file records it."""
        return self.static if isinstance(self.static, str) else self.static.__name__


def flatten(obj: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, TreeSpec]:
    leaves: list = []
    spec = _flatten(obj, leaves, is_leaf)
    return leaves, spec


def _flatten(obj, leaves, is_leaf) -> TreeSpec:
    if is_leaf is not None and is_leaf(obj):
        leaves.append(obj)
        return TreeSpec(LEAF)
    if isinstance(obj, tuple):
        children = tuple(_flatten(o, leaves, is_leaf) for o in obj)
        fields = getattr(type(obj), "_fields", None)
        if fields is not None:
            return TreeSpec("namedtuple", children, tuple(fields), type(obj))
        return TreeSpec("tuple", children)
    if isinstance(obj, list):
        return TreeSpec("list", tuple(_flatten(o, leaves, is_leaf) for o in obj))
    if isinstance(obj, dict):
        keys = tuple(obj)
        return TreeSpec("dict", tuple(_flatten(obj[k], leaves, is_leaf) for k in keys), keys)
    if obj is None or isinstance(obj, str):
        return TreeSpec("static", static=obj)
    if isinstance(obj, (np.ndarray, np.generic, bool, int, float, complex)):
        leaves.append(obj)
        return TreeSpec(LEAF)
    raise TypeError(f"cannot use a value of type {type(obj).__name__} as an input or output "
                    f"(arrays, numbers, None, strings, and tuples, lists and dicts of them are accepted)")


def unflatten(spec: TreeSpec, leaves: list) -> Any:
    it = iter(leaves)
    result = _unflatten(spec, it)
    return result


def _unflatten(spec: TreeSpec, it) -> Any:
    if spec.kind == LEAF:
        return next(it)
    if spec.kind == "static":
        return spec.static
    children = [_unflatten(c, it) for c in spec.children]
    if spec.kind == "tuple":
        return tuple(children)
    if spec.kind == "namedtuple":
        cls = spec.static if isinstance(spec.static, type) else named_tuple_class(spec.static, spec.keys)
        return cls(*children)
    if spec.kind == "list":
        return children
    return dict(zip(spec.keys, children))


def leaf_paths(spec: TreeSpec, prefix: str = "") -> list[str]:
    """A readable path for each leaf (`x`, `inputs[1]`, `batch['y']`), for error messages."""
    if spec.kind == LEAF:
        return [prefix]
    if spec.kind == "static":
        return []
    out: list[str] = []
    if spec.kind == "namedtuple":
        labels = [f".{k}" for k in spec.keys]
    elif spec.kind == "dict":
        labels = [f"[{k!r}]" for k in spec.keys]
    else:
        labels = [f"[{i}]" for i in range(len(spec.children))]
    for label, child in zip(labels, spec.children):
        out.extend(leaf_paths(child, prefix + label))
    return out


@functools.lru_cache(maxsize=256)
def named_tuple_class(name: str, fields: tuple[str, ...]) -> type:
    """The stand-in for a named tuple class known by name only (read from a file): equal names and
    fields give the same class."""
    return collections.namedtuple(name, fields)
