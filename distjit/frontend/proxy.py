"""`TracedArray`: the stand-in for an array while a function is traced.

It answers NumPy's dispatch protocols (NEP 13 `__array_ufunc__`, NEP 18
`__array_function__`), Python's operators, and the ndarray methods and
properties numerical code uses, by recording nodes in the trace. Anything that
needs the *value* of the array (`bool(x)`, `float(x)`) raises TracingError at the
user's line: baking one path of a data-dependent branch into the graph would
silently give wrong results later. Iterating needs only the first dim, so it is
unrolled when that dim is static. An ndarray attribute the proxy lacks is a
TracingAttributeError at the user's line, never a bare AttributeError.

A Python scalar argument is the exception (NOTE: [Scalar specialization] in
trace.py): its proxy also knows the example's value (`_known`), and so does
arithmetic on it (`n - 1`). Where the program needs that value (range(), a
size, bool()), the tracer specializes the graph on it behind a guard.
"""
from __future__ import annotations

import operator

import numpy as np

from distjit.errors import TracingAttributeError, TracingError
from distjit.frontend.fallbacks import DataDependentError, StaticInfoNeeded, SymbolicScalarError
from distjit.ir.source import user_loc
from distjit.types import ScalarType, TensorType


def _value_needed(what: str, convert=None):
    """A conversion that needs the value: a scalar with a known example value specializes (`convert` of it)."""
    def method(self, *args, **kwargs):
        if convert is not None and self._known is not None:
            return convert(self._ctx.specialize(self))
        if isinstance(self.type, ScalarType):
            raise SymbolicScalarError(
                f"{what} needs the value of a traced Python {self.type}, which is not known while tracing: it comes "
                f"from an argument named in dynamic_argnames, a dynamic dim or an array. Leave the argument out of "
                f"dynamic_argnames (or name it in static_argnames) to specialize the graph on its value, or use "
                f"distjit.script to keep the control flow", user_loc())
        raise DataDependentError(
            f"{what} needs the value of a traced array ({self.type}), which is not known while tracing: "
            f"a Python branch or conversion on it would be baked into the graph. Use distjit.script to keep "
            f"data-dependent control flow, or np.where/np.clip to compute it as arrays.", user_loc())
    return method


def _item(value):
    return value


_ITEM_TYPES = {"b": bool, "i": int, "u": int, "f": float}   # a complex element has no py.* conversion


def is_python_scalar(x) -> bool:
    """A Python number, or a traced one (a scalar argument, a dynamic dim, `n - 1`)."""
    if isinstance(x, TracedArray):
        return isinstance(x.type, ScalarType)
    return type(x) in (bool, int, float, complex)


def is_number(x) -> bool:
    """A value Python or NumPy holds as an immutable number (a Python number, a NumPy scalar such as `z[0]` or
    `z.sum()`, traced or not): it has no identity an in-place update could reach through an alias."""
    if isinstance(x, TracedArray):
        return x._scalar or isinstance(x.type, ScalarType)
    return isinstance(x, (bool, int, float, complex, np.generic))


def _binary(ufunc, pyop=None, reflected=False):
    """An operator: Python's (`pyop`, e.g. operator.add) on two Python numbers (weak results, as eagerly),
    else the ufunc."""
    def method(self, other):
        operands = (other, self) if reflected else (self, other)
        if pyop is not None and is_python_scalar(self) and is_python_scalar(other):
            return self._ctx.scalar(pyop, operands)
        return self._ctx.ufunc(ufunc, "__call__", operands, {})
    return method


def _binaries(ufunc, pyop=None):
    return _binary(ufunc, pyop), _binary(ufunc, pyop, reflected=True), _inplace(ufunc, pyop)


def _inplace(ufunc, pyop=None):
    def method(self, other):
        if pyop is not None and is_python_scalar(self):   # `n += 1` rebinds a Python number
            return _binary(ufunc, pyop)(self, other)
        if self._scalar:              # a NumPy scalar is immutable too: `s += 1` rebinds, its aliases keep it
            return _binary(ufunc)(self, other)
        self._ctx.ufunc(ufunc, "__call__", (self, other), {"out": (self,)})
        return self
    return method


def _unary(ufunc, pyop=None):
    def method(self):
        if pyop is not None and is_python_scalar(self):
            return self._ctx.scalar(pyop, (self,))
        return self._ctx.ufunc(ufunc, "__call__", (self,), {})
    return method


def _method(func, **fixed):
    def method(self, *args, **kwargs):
        return self._ctx.function(func, (self, *args), {**fixed, **kwargs})
    method.__name__ = func.__name__
    return method


def _store(ctx, view, value) -> None:
    """`x.real = v`: v (an array, a list, a number) written through the view, as NumPy stores it."""
    traced = ctx.as_traced(value) if isinstance(value, (list, tuple)) else ctx.wrap(ctx.value_of(value))
    ctx.assign(view, traced)


def _shape_args(args):
    """ndarray methods take shapes and axes both as varargs and as one tuple: `x.reshape(2, 3)`, `x.reshape((2, 3))`."""
    if len(args) == 1 and (args[0] is None or isinstance(args[0], (tuple, list))):
        return args[0]
    return tuple(args)


class TracedArray:
    """A traced NumPy value (an array, a NumPy scalar, or a Python scalar input)."""

    __slots__ = ("_ctx", "_value", "_view", "_version", "_known", "_sources", "_scalar", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, ctx, value, view=None):
        self._ctx = ctx
        self._value = value      # the IR value that holds this array's current contents
        self._view = view        # (base, how) when NumPy would have made this array a view of base
        self._version = 0        # bumped on every in-place update
        self._known = None       # a Python scalar's example value, when it derives only from scalar arguments
        self._sources = ()       # the graph inputs `_known` derives from: what specializing it guards
        # A NumPy scalar (np.float64 & co.), not a 0-d array: both are f64[] in the IR, but NumPy's scalar is
        # immutable, so `+=` rebinds it instead of updating it in place (see mark_scalar in trace.py).
        self._scalar = False

    # -- dispatch protocols -------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return self._ctx.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return self._ctx.function(func, args, kwargs)

    __array__ = _value_needed("converting to a NumPy array (np.asarray, or a function distjit does not know)",
                              np.asarray)
    __bool__ = _value_needed("a Python truth test (`if`, `while`, `and`, `or`, `not`, bool())", bool)
    __float__ = _value_needed("float()", float)
    __int__ = _value_needed("int()", int)
    __complex__ = _value_needed("complex()", complex)
    __index__ = _value_needed("using it as a Python index or size (range(), list indexing)", operator.index)
    _item_of_value = _value_needed(".item()", _item)

    def item(self, *args):
        """The element as the Python number NumPy's .item() gives (x.item(i): at a flat index, x.item(i, j): at
        a full one), recorded as a traced Python number computed from the array, so nothing is baked. A
        complex element, or a value known from scalar arguments, goes the way float() of it goes."""
        t = self.type
        pytype = _ITEM_TYPES.get(t.dtype.kind) if isinstance(t, TensorType) else None
        if self._known is not None or pytype is None:
            return self._item_of_value(*args)
        if len(args) == 1 and isinstance(args[0], tuple):
            args = args[0]
        if len(args) > 1:
            element = self[tuple(args)]
        elif args:
            element = np.reshape(self, -1)[args[0]]
        elif t.size == 1:
            element = np.reshape(self, ())
        elif t.size is None:    # scripted with symbolic dims: static ones may say it is one element
            raise StaticInfoNeeded(f".item() of an array of a run-time number of elements ({t})", user_loc())
        else:
            raise TracingError(f".item() of an array of {t.size} elements ({t}): only an array of one element "
                               f"converts to a Python number", user_loc())
        return self._ctx.scalar(pytype, (element,))

    tolist = _value_needed(".tolist()", _item)

    def __iter__(self):
        return self._ctx.iterate(self)

    def __len__(self):
        if not self.ndim:
            raise TracingError(f"len() of a 0-d array ({self.type}): it has no first axis", user_loc())
        dim = self.shape[0]
        if isinstance(dim, TracedArray):
            raise SymbolicScalarError(f"len() of an array whose first dimension is dynamic ({self.type}) would "
                                      f"bake its traced size into the graph; use x.shape[0]", user_loc())
        return dim

    def __getattr__(self, name):
        # Only reached for names the class lacks; private names (NumPy's `__array_interface__` probes) stay
        # ordinary AttributeErrors.
        if name.startswith("_"):
            raise AttributeError(name)
        what = f"ndarray.{name}" if hasattr(np.ndarray, name) else f"{name!r} (not an ndarray attribute either)"
        raise TracingAttributeError(f"{what} is not supported on a traced array ({self.type}) by distjit's "
                                    f"tracer; use the NumPy function instead if there is one", user_loc())

    # -- properties -----------------------------------------------------------------
    @property
    def type(self):
        return self._ctx.current(self).type

    @property
    def shape(self) -> tuple:
        t = self.type
        if not isinstance(t, TensorType):
            return ()
        return tuple(d if isinstance(d, int) else self._ctx.dim(self, axis) for axis, d in enumerate(t.shape))

    @shape.setter
    def shape(self, new_shape):
        """`x.shape = (3, 4)` reshapes x itself, in place, as a view of the same data."""
        self._ctx.set_shape(self, new_shape)

    @property
    def real(self):
        return self._ctx.function(np.real, (self,), {})

    @real.setter
    def real(self, value):
        _store(self._ctx, self.real, value)

    @property
    def imag(self):
        return self._ctx.function(np.imag, (self,), {})

    @imag.setter
    def imag(self, value):
        _store(self._ctx, self.imag, value)

    @property
    def dtype(self) -> np.dtype:
        t = self.type
        return t.dtype if isinstance(t, TensorType) else np.result_type(t.pytype)

    @property
    def ndim(self) -> int:
        t = self.type
        return t.ndim if isinstance(t, TensorType) else 0

    @property
    def size(self):
        total = 1
        for d in self.shape:
            total = total * d
        return total

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.itemsize

    @property
    def T(self):
        return self._ctx.function(np.transpose, (self,), {})

    @property
    def mT(self):
        return self._ctx.function(np.swapaxes, (self, -1, -2), {})

    def __repr__(self):
        return f"TracedArray({self.type})"

    __hash__ = object.__hash__

    # -- indexing -----------------------------------------------------------------------
    def __getitem__(self, key):
        return self._ctx.getitem(self, key)

    def __setitem__(self, key, value):
        self._ctx.setitem(self, key, value)

    # -- operators ---------------------------------------------------------------------
    __add__, __radd__, __iadd__ = _binaries(np.add, operator.add)
    __sub__, __rsub__, __isub__ = _binaries(np.subtract, operator.sub)
    __mul__, __rmul__, __imul__ = _binaries(np.multiply, operator.mul)
    __truediv__, __rtruediv__, __itruediv__ = _binaries(np.divide, operator.truediv)
    __floordiv__, __rfloordiv__, __ifloordiv__ = _binaries(np.floor_divide, operator.floordiv)
    __mod__, __rmod__, __imod__ = _binaries(np.remainder, operator.mod)
    __pow__, __rpow__, __ipow__ = _binaries(np.power, operator.pow)
    __matmul__, __rmatmul__ = _binary(np.matmul), _binary(np.matmul, reflected=True)
    __and__, __rand__, __iand__ = _binaries(np.bitwise_and, operator.and_)
    __or__, __ror__, __ior__ = _binaries(np.bitwise_or, operator.or_)
    __xor__, __rxor__, __ixor__ = _binaries(np.bitwise_xor, operator.xor)
    __lshift__, __rlshift__, __ilshift__ = _binaries(np.left_shift)
    __rshift__, __rrshift__, __irshift__ = _binaries(np.right_shift, operator.rshift)
    __lt__, __le__ = _binary(np.less, operator.lt), _binary(np.less_equal, operator.le)
    __gt__, __ge__ = _binary(np.greater, operator.gt), _binary(np.greater_equal, operator.ge)
    __eq__, __ne__ = _binary(np.equal, operator.eq), _binary(np.not_equal, operator.ne)
    __neg__, __pos__ = _unary(np.negative, operator.neg), _unary(np.positive)
    __abs__, __invert__ = _unary(np.absolute, abs), _unary(np.invert)

    def __divmod__(self, other):
        return self._ctx.ufunc(np.divmod, "__call__", (self, other), {})

    def __rdivmod__(self, other):
        return self._ctx.ufunc(np.divmod, "__call__", (other, self), {})

    def __imatmul__(self, other):
        return self._ctx.function(np.matmul, (self, other), {"out": self})

    # -- methods -------------------------------------------------------------------------
    sum, prod, mean = _method(np.sum), _method(np.prod), _method(np.mean)
    std, var = _method(np.std), _method(np.var)
    max, min = _method(np.max), _method(np.min)
    argmax, argmin = _method(np.argmax), _method(np.argmin)
    any, all = _method(np.any), _method(np.all)
    cumsum, cumprod = _method(np.cumsum), _method(np.cumprod)
    round, take = _method(np.round), _method(np.take)
    repeat, dot, argsort = _method(np.repeat), _method(np.dot), _method(np.argsort)
    squeeze, swapaxes, ravel = _method(np.squeeze), _method(np.swapaxes), _method(np.ravel)
    copy, trace, diagonal = _method(np.copy), _method(np.trace), _method(np.diagonal)
    conj = conjugate = _unary(np.conjugate)

    def clip(self, min=None, max=None, **kwargs):
        return self._ctx.function(np.clip, (self, min, max), kwargs)

    def reshape(self, *shape, order="C"):
        return self._ctx.function(np.reshape, (self, _shape_args(shape)), {"order": order})

    def transpose(self, *axes):
        axes = _shape_args(axes) if axes else None
        return self._ctx.function(np.transpose, (self, axes), {})

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        return self._ctx.function(np.astype, (self, dtype), {"copy": copy})

    def flatten(self, order="C"):
        flat = self._ctx.function(np.ravel, (self,), {"order": order})
        flat._view = None   # flatten always copies: writing to it never reaches self
        return flat

    def sort(self, axis=-1, kind=None, order=None):
        """In place, like ndarray.sort."""
        self._ctx.assign(self, self._ctx.function(np.sort, (self,), {"axis": axis, "kind": kind}))

    def fill(self, value):
        self._ctx.assign(self, self._ctx.function(np.full_like, (self, value), {}))
