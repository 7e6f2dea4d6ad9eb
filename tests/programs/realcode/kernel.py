"""One kernel of the real-code corpora: a NumPy function as people write it, and how to feed it.

The corpora (`tests.programs.realcode`, and the held-out `tests.programs.heldout`) are NOT written
for distjit: Python ints as sizes and trip counts, in-place updates in loop nests, helpers that
mutate their arguments, results only through mutation, tuple and dict returns, complex numbers,
np.linalg. They measure how much of such code distjit takes unchanged (issue 13) and how fast it
runs it (issue 14).

Each kernel is compared with eager NumPy on two input sets, `make_inputs(rng(seed), size)` for
seeds 0 and 1, at the same `size`. The array arguments keep their shapes from one set to the other
(a traced graph is specialized on shapes) but not their values, and the Python scalars (trip
counts, slice bounds, bin counts, step sizes) differ wherever the kernel allows: a graph that baked
an example value fails the second set.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

SEEDS = (0, 1)

TAGS = {
    "int-arg": "a Python int argument used as a size, trip count, index or slice bound",
    "float-arg": "a Python float argument (a step size, a tolerance, a coefficient)",
    "time-loop": "an outer `for t in range(steps)` loop",
    "scalar-loop": "a loop nest reading and writing single elements (`A[i, j]`)",
    "inplace-loop": "in-place updates inside a loop (`A[i, j] -= ...`, `x[i] = ...`, `u[1:-1] += ...`)",
    "mutates-arg": "writes into an array the caller passed (the caller must see it)",
    "returns-none": "no return value: the result is the mutated argument",
    "helper": "calls a helper function of its module (some mutate their arguments)",
    "tuple-return": "returns a tuple",
    "dict-return": "returns a dict",
    "complex": "complex numbers",
    "linalg": "calls np.linalg",
    "data-control": "Python control flow on array values (`if a[i] == b[j]`, `while err > tol`, a convergence `break`)",
    "dynamic-shape": "a shape that depends on array values (np.unique, `X[mask]`, slices or trip counts from an array)",
    "iterate-array": "iterates over an array's first axis (`for row in X`)",
    "list-build": "builds a Python list in a loop (`acc.append(v)`), then np.array/np.stack",
    "builtins": "Python builtins on arrays or scalars (`abs`, `len`, `min`, `max`, `float`, `int`)",
    "binning": "np.histogram, np.bincount, np.digitize or searchsorted",
    "ufunc-method": "a ufunc method (`np.add.at`, `np.maximum.accumulate`, `np.subtract.outer`)",
    "int-dtype": "integer or boolean arrays (compared exactly)",
    "bitwise": "bitwise operators and shifts",
    "gather": "indexing with integer arrays (`x[indices]`, CSR `indptr`)",
    "reduction": "reductions whose order a partitioned run may change (compared to rounding)",
}


@dataclass(frozen=True)
class Kernel:
    """A corpus kernel. `fn` is called as `fn(*make_inputs(rng, size))`.

    `rtol` is the tolerance against eager NumPy: 0 means exact (integer kernels); for floats the
    comparison allows `rtol` relative to each output's largest magnitude, because partitioned runs
    and fused reductions may sum in another order. `size` is the test size (milliseconds in NumPy,
    and small enough that a loop unrolled by tracing stays a few thousand nodes); `bench_size` is
    where eager NumPy takes 10-300 ms (the loops bench of issue 14).
    """

    name: str
    fn: Callable
    make_inputs: Callable[[np.random.Generator, int], tuple]
    size: int
    bench_size: int
    tags: frozenset
    rtol: float
    corpus: str

    def inputs(self, seed: int, size: int | None = None) -> tuple:
        """The input set for `seed`: a fresh tuple each call (kernels may mutate it)."""
        return self.make_inputs(np.random.default_rng(seed), self.size if size is None else size)

    def __call__(self, *args):
        return self.fn(*args)


CORPORA: dict[str, dict[str, Kernel]] = {"realcode": {}, "heldout": {}}


def kernel(make_inputs, *, size: int, bench_size: int, tags=(), rtol: float = 1e-10):
    """Register `fn` as a kernel of the corpus its package belongs to; returns `fn` unchanged.

    The name is "<module>.<function>", e.g. "linalg.lu_inplace".
    """
    def register(fn):
        parts = fn.__module__.split(".")
        corpus, module = parts[-2], parts[-1]
        unknown = set(tags) - set(TAGS)
        if unknown:
            raise ValueError(f"{fn.__name__}: unknown tags {sorted(unknown)}")
        name = f"{module}.{fn.__name__}"
        if name in CORPORA[corpus]:
            raise ValueError(f"duplicate kernel {name!r}")
        CORPORA[corpus][name] = Kernel(name, fn, make_inputs, size, bench_size, frozenset(tags), rtol, corpus)
        return fn

    return register


def steps(rng: np.random.Generator, lo: int, hi: int) -> int:
    """A trip count drawn in [lo, hi): another one for the other seed, most of the time (test_corpus checks)."""
    return int(rng.integers(lo, hi))


def spd_matrix(rng: np.random.Generator, n: int) -> np.ndarray:
    """A well-conditioned symmetric positive definite matrix (factorizations stay accurate)."""
    a = rng.standard_normal((n, n))
    return a @ a.T / n + np.eye(n)


def diagonally_dominant(rng: np.random.Generator, n: int) -> np.ndarray:
    """A nonsymmetric matrix that LU without pivoting and Jacobi iterations handle."""
    a = rng.uniform(-1.0, 1.0, (n, n))
    a[np.diag_indices(n)] = np.abs(a).sum(axis=1) + 1.0
    return a
