"""Python lists in scripted code: appended to in Python-run code, and as rows of one array in a graph loop.

NOTE: [Lists in graph loops]
A list is Python structure, not a graph value, so wherever the code runs as Python
(straight-line code, an unrolled loop, a branch on a Python value) `acc.append(v)`
simply appends the traced value and `np.array(acc)` stacks the items.

A `prim.Loop` body runs once for every iteration, so a list it appends to cannot
stay a Python list. When the loop's trip count is known before it starts (a `for`
over a range, an array or a sequence of them) and each iteration appends exactly
one value of one type, the list is the stack of those values: the loop carries a
buffer of shape (trip count, *value shape), preallocated before the loop, and
iteration k writes row k (a tuple appended, `acc.append((a, b))`, is one buffer per
part, and item k the tuple of their rows k). This is the one design that is linear in the trip count
(growing an array by concatenation copies it every iteration) and that keeps the
graph's size independent of the trip count (unrolling does not). Everything else
(an append under a data-dependent `if`, in a `while` or after a `break`, reading
the list inside the loop that appends to it) would make the list's length or
contents depend on data, and is a ScriptError that says so.

After the loop the list is a `StackedRows`: a list whose items are the buffer's
rows, made only when something reads them one by one. NumPy calls that take the
whole list (`np.array(acc)`, `np.stack(acc)`, `np.mean(acc)` ...) get the buffer
itself: for an array_like argument NumPy converts the list into exactly that
stack, and NumPy's sequence-of-arrays functions iterate an array over its first
axis, so passing the stack is the same as passing the list.
"""
from __future__ import annotations

import numpy as np

from distjit.frontend.fallbacks import StaticInfoNeeded
from distjit.frontend.proxy import TracedArray
from distjit.frontend.script_context import active
from distjit.frontend.script_convert import Site, site_error
from distjit.types import ScalarType, TensorType, Type

_MUTATORS = ("append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "__setitem__",
             "__delitem__", "__iadd__")


class RowList(list):
    """The stand-in a graph loop's body gets for a list it carries (NOTE: [Lists in graph loops]).

    While the loop's carried values are being found (`buffer is None`) it holds the list's
    items from before the loop and records what the body appends; once its rows are
    carried, `append` writes row k of the buffer.
    """

    def __init__(self, items, name: str, site: Site, block, buffers=None, parts=None, index=None):
        super().__init__(items)
        self.name = name
        self.site = site
        self.block = block          # the loop body's block: appends anywhere else are data-dependent
        self.buffers = buffers      # the carried buffers (TracedArrays), once the rows are carried
        self.parts = parts          # the number of parts of an appended tuple, None for one value
        self.index = index          # a callable giving the iteration number (a traced int)
        self.frozen: list = []
        self.call_site = None       # the line of the append being run (errors point at it)
        self.appended: list = []
        self.read = False

    def append(self, value):
        ctx = active()
        if ctx.builder.block is not self.block:
            raise site_error(self.call_site or self.site, f"{self.name!r} is appended to under a data-dependent `if` or in a nested "
                                        f"graph loop; a list carried by a graph loop takes exactly one append per "
                                        f"iteration", "preallocate an array with np.zeros and write rows into it",
                             cls=StaticInfoNeeded)
        self.appended.append(value)
        if self.buffers is not None:
            values = value if self.parts is not None else (value,)
            if not isinstance(values, tuple) or len(values) != len(self.buffers):
                raise site_error(self.site, f"{self.name!r} gets values of different structures in this loop",
                                 "append values of one type and shape")
            k = self.index()
            for buffer, v in zip(self.buffers, values):
                buffer[k] = v

    def _refuse(self, *args, **kwargs):
        raise site_error(self.call_site or self.site, f"{self.name!r} is changed inside a graph loop by something other than append",
                         "append one value per iteration, or preallocate an array with np.zeros and write rows")

    extend = insert = pop = remove = clear = sort = reverse = __setitem__ = __delitem__ = __iadd__ = _refuse

    def _read(self, method):
        def read(*args):
            self.read = True
            if self.appended or self.buffers is not None:
                raise site_error(self.site, f"{self.name!r} is read inside the graph loop that appends to it; its "
                                            f"items are known only once the loop has run",
                                 "keep the value you need in a variable of its own", cls=StaticInfoNeeded)
            return getattr(list, method)(self, *args)
        return read

    def __len__(self):
        return self._read("__len__")()

    def __getitem__(self, key):
        return self._read("__getitem__")(key)

    def __iter__(self):
        return self._read("__iter__")()


def check_appends(standin: RowList):
    """The type of the one value this iteration appended, a tuple of types for a tuple (None: nothing)."""
    from distjit.frontend.script_merge import value_type

    n = len(standin.appended)
    if n == 0:
        return None
    if n > 1:
        raise site_error(standin.site, f"{standin.name!r} is appended to {n} times in one iteration of a graph "
                                       f"loop; a list carried by a graph loop takes exactly one append per iteration",
                         "append a tuple's worth as one np.stack([...]) value, or preallocate an array",
                         cls=StaticInfoNeeded)
    if standin.read:
        raise site_error(standin.site, f"{standin.name!r} is read inside the graph loop that appends to it",
                         "keep the value you need in a variable of its own", cls=StaticInfoNeeded)
    value = standin.appended[0]
    if isinstance(value, tuple):
        return tuple(value_type(v, standin.name, standin.site) for v in value)
    return value_type(value, standin.name, standin.site)


def row_dtype(t: Type) -> np.dtype:
    if isinstance(t, ScalarType):
        return np.dtype(t.pytype if t.kind != "int" else np.int64)
    return t.dtype


def buffer_types(trip, elem) -> list[TensorType]:
    """One buffer per part of the rows (`elem` a type, or a tuple of types for tuples)."""
    return [buffer_type(trip, t) for t in (elem if isinstance(elem, tuple) else (elem,))]


def buffer_type(trip, elem: Type) -> TensorType:
    from distjit.ops.infer import fresh_dim

    shape = elem.shape if isinstance(elem, TensorType) else ()
    return TensorType(row_dtype(elem), (trip if isinstance(trip, int) else _symbol_of(trip) or fresh_dim(), *shape))


def _symbol_of(trip) -> str | None:
    """The dim symbol a traced trip count is the size of (`for row in x`, `range(len(x))`), if it is one."""
    value = trip._value if isinstance(trip, TracedArray) else None
    node = value.node if value is not None else None
    if node is None or node.op != "prim.DimSize" or not node.inputs:
        return None
    t = node.inputs[0].type
    d = t.shape[node.attrs.get("axis", 0)] if isinstance(t, TensorType) else None
    return d if isinstance(d, str) else None


def new_buffer(ctx, trip, elem: Type, name: str, site: Site):
    """The zeroed buffer of `trip` rows of `elem`, made in the current block (before the loop)."""
    from distjit.frontend.script_merge import _ORIGINAL_ZEROS

    shape = [trip]
    for axis, d in enumerate(elem.shape if isinstance(elem, TensorType) else ()):
        shape.append(d if isinstance(d, int) else _size_of_symbol(ctx, d, name, site))
    return ctx.function(_ORIGINAL_ZEROS, (tuple(shape),), {"dtype": row_dtype(elem)})


def _size_of_symbol(ctx, symbol: str, name: str, site: Site):
    for value in ctx.graph.inputs:
        t = value.type
        if isinstance(t, TensorType) and symbol in t.shape:
            return ctx.dim(ctx.wrap(value), t.shape.index(symbol))
    raise site_error(site, f"the values appended to {name!r} in this graph loop have a size computed from data "
                           f"({symbol}), so the rows cannot be preallocated before the loop",
                     "preallocate the result with np.zeros of a size computed from the inputs' shapes")


class StackedRows(list):
    """A list appended to by a graph loop: its items are the rows of `parts` (NOTE: [Lists in graph loops]).

    `length` is the number of items when it is a Python int; the rows become list items
    only when read one by one, which needs it. `tuples`: each item is the tuple of the
    parts' rows, else the one part's row.
    """

    def __init__(self, parts: list, tuples: bool, length, name: str, site: Site):
        super().__init__()
        self.parts = parts
        self.tuples = tuples
        self.length = length
        self.name = "the comprehension's list" if name.startswith("_dj") else name
        self.site = site
        self._made = False

    @property
    def stacked(self) -> TracedArray:
        """np.array of the list: the one part, or the parts of its tuples stacked along axis 1."""
        if not self.tuples:
            return self.parts[0]
        return active().function(np.stack, (self.parts,), {"axis": 1})

    def materialize(self) -> "StackedRows":
        if not self._made:
            if not isinstance(self.length, int):
                raise site_error(self.site, f"{self.name!r} is a list whose length is known only at run time (the "
                                            f"trip count of the loop that appends to it); it can be used whole, as "
                                            f"np.array({self.name}) or np.stack({self.name}), not item by item",
                                 f"convert it with np.array({self.name}) first", cls=StaticInfoNeeded)
            rows = [tuple(p[k] for p in self.parts) if self.tuples else self.parts[0][k]
                    for k in range(self.length)]
            list.extend(self, rows)
            self._made = True
        return self

    def __len__(self):
        if isinstance(self.length, int):
            return self.length
        return self.materialize().__len__()

    def __getitem__(self, key):
        return list.__getitem__(self.materialize(), key)

    def __iter__(self):
        return list.__iter__(self.materialize())

    def append(self, value):
        list.append(self.materialize(), value)

    def extend(self, values):
        list.extend(self.materialize(), values)


_SEQUENCE_FUNCTIONS = ("concatenate", "vstack", "hstack", "dstack", "column_stack", "row_stack", "block")


def whole_lists(fn, args: tuple, kwargs: dict):
    """A NumPy call (function, arguments) with every StackedRows replaced by its stack (see the note).

    `np.stack(rows, axis=k)` is the stack with axis 0 moved to k; the functions that
    join a sequence of arrays otherwise get the rows one by one.
    """
    name = getattr(getattr(fn, "__wrapped__", fn), "__name__", "")
    if not any(isinstance(a, StackedRows) and not a._made for a in (*args, *kwargs.values())):
        return fn, args, kwargs
    if name in _SEQUENCE_FUNCTIONS:
        return fn, tuple(a.materialize() if isinstance(a, StackedRows) else a for a in args), kwargs
    if name == "stack" and args and isinstance(args[0], StackedRows) and set(kwargs) <= {"axis"}:
        axis = kwargs.get("axis", args[1] if len(args) > 1 else 0)
        return np.moveaxis, (args[0].stacked, 0, axis), {}
    swap = lambda a: a.stacked if isinstance(a, StackedRows) and not a._made else a  # noqa: E731
    return fn, tuple(swap(a) for a in args), {k: swap(v) for k, v in kwargs.items()}


def as_python(obj):
    """A result with every StackedRows made a plain list of its rows (what the function returns)."""
    if isinstance(obj, StackedRows):
        return list(obj.materialize())
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(as_python(o) for o in obj)
    if isinstance(obj, list):
        return [as_python(o) for o in obj]
    if isinstance(obj, dict):
        return {k: as_python(v) for k, v in obj.items()}
    return obj


def is_mutating_list_method(fn) -> bool:
    return isinstance(getattr(fn, "__self__", None), list) and getattr(fn, "__name__", "") in _MUTATORS
