"""Registry for the shared program corpus.

Every program is a plain NumPy function plus a deterministic ``make_inputs(rng)``
that builds a fresh tuple of example inputs. Eager NumPy is the reference: a
compiled version must reproduce ``fn(*make_inputs(rng))`` (bitwise when
``rtol == 0``).

Tags used in the corpus:

* ``"inplace"``        - the program uses in-place updates (on locals and/or inputs)
* ``"mutates_input"``  - the program mutates one of its INPUT arrays (observable side effect)
* ``"int"``            - integer / bool arithmetic, bitwise or logical ops
* ``"float32"``        - float32 inputs; every floating output must stay float32 (NEP 50)
* ``"control"``        - data-dependent control flow (CONTROL_PROGRAMS only; added automatically)
* ``"dynamic_shape"``  - an output shape depends on array VALUES (boolean-mask selection)
* ``"ufunc_method"``   - uses a ufunc method such as ``np.maximum.accumulate``
* ``"dict_input"`` / ``"dict_output"`` / ``"tuple_output"`` / ``"list_output"`` - container I/O
* ``"scalar_input"``   - takes Python int/float/bool arguments besides arrays
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Program:
    name: str                      # unique, e.g. "nn.softmax"
    fn: Callable                   # the plain NumPy function
    make_inputs: Callable[[np.random.Generator], tuple]   # builds a fresh tuple of example inputs
    dynamic_axes: dict | None = None   # e.g. {0: {0: "B"}} : input index -> {axis: symbol}; optional
    tags: frozenset = frozenset()  # e.g. {"inplace"}, {"int"}, {"float32"}, {"control"}
    rtol: float = 0.0              # 0 means the traced result must be bitwise identical

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


PROGRAMS: list[Program] = []        # straight-line programs (traceable)
CONTROL_PROGRAMS: list[Program] = []  # programs with data-dependent control flow (for the script frontend)

_BY_NAME: dict[str, Program] = {}


def program(make_inputs, *, name=None, dynamic_axes=None, tags=(), control=False, rtol=0.0):
    """Decorator registering ``fn`` as a corpus program; returns ``fn`` unchanged.

    The default name is ``"<module>.<function name>"`` where ``<module>`` is the
    last component of the defining module (e.g. ``"nn.softmax"``).
    """
    def register(fn):
        module = fn.__module__.rsplit(".", 1)[-1]
        full_name = name or f"{module}.{fn.__name__}"
        if full_name in _BY_NAME:
            raise ValueError(f"duplicate program name {full_name!r}")
        tag_set = frozenset(tags) | ({"control"} if control else frozenset())
        prog = Program(
            name=full_name,
            fn=fn,
            make_inputs=make_inputs,
            dynamic_axes=dynamic_axes,
            tags=tag_set,
            rtol=rtol,
        )
        _BY_NAME[full_name] = prog
        (CONTROL_PROGRAMS if control else PROGRAMS).append(prog)
        return fn

    return register


def by_name(name) -> Program:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no program named {name!r}") from None
