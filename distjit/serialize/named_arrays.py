"""Named arrays in and out of a saved Function: what `distjit run`, `submit` and the job entry share.

Inputs are named by their flattened argument path, as `distjit inspect` lists them ("x",
"batch['y']"); outputs likewise ("output", "output[0]"), and an input the function mutates comes
back as "<path>:new". A scalar input may be given as a literal ("n=3") or a 0-d .npy.

It lives beside the .djit format rather than in the CLI because the Ray job's entry point
(scheduler/jobs/entry.py) reads the same files, and the CLI imports the jobs package: the
shared part sits below both.
"""
from __future__ import annotations

import os
import re
import zipfile

import numpy as np

from distjit.errors import DistJitError, FormatError, ShapeError
from distjit.types import ScalarType, TensorType


class InputError(DistJitError):
    """An input is missing, unknown, unreadable, or does not fit the function's signature."""


def input_names(f) -> list[str]:
    return f.signature.input_paths()


def output_names(f) -> list[str]:
    from distjit.pytree import leaf_paths

    paths = f.signature.input_paths()
    names = leaf_paths(f.signature.out_spec, "output")
    return names + [f"{paths[leaf]}:new" for leaf, _ in f.signature.mutations]


def parse_input_args(specs: list[str]) -> dict[str, str]:
    """`["x=x.npy", "n=3"]` -> {"x": "x.npy", "n": "3"}."""
    named = {}
    for spec in specs or []:
        name, sep, value = spec.partition("=")
        if not sep or not name or not value:
            raise InputError(f"--input {spec!r}: write it as NAME=PATH.npy (or NAME=NUMBER for a scalar input)")
        if name in named:
            raise InputError(f"--input {name} is given twice")
        named[name] = value
    return named


def read_npz(path: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise InputError(f"inputs file {path} does not exist") from None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise InputError(f"inputs file {path} is not a readable .npz ({e})") from None


def load_inputs(f, named: dict[str, str], npz: str | None = None) -> dict[str, object]:
    """Read every input of `f` from `named` paths/literals and the `npz` file; check names, shapes, dtypes."""
    wanted = input_names(f)
    types = {n: v.type for n, v in zip(wanted, f.graph.inputs)}
    values: dict[str, object] = dict(read_npz(npz)) if npz else {}
    unknown = [n for n in list(values) + list(named) if n not in types]
    if unknown:
        raise InputError(f"{f.name} has no input named {', '.join(map(repr, unknown))}; its inputs are "
                         f"{', '.join(wanted)} (see `distjit inspect`)")
    for name, source in named.items():
        values[name] = _read_one(name, source, types[name])
    missing = [n for n in wanted if n not in values]
    if missing:
        raise InputError(f"missing input(s) {', '.join(missing)}: give each with --input NAME=PATH.npy "
                         f"or in --inputs FILE.npz (inputs of {f.name}: "
                         + ", ".join(f"{n}: {types[n]}" for n in wanted) + ")")
    out = {}
    for name in wanted:
        out[name] = _coerce(name, values[name], types[name])
    check(f, out)
    return out


def function_and_inputs(f, named: dict[str, str], npz: str | None = None):
    """(the Function to run, its inputs): `f` itself, or, for a file that holds several signatures of a
    scripted function (a FunctionSet), the first signature the inputs fit."""
    from distjit.function_set import FunctionSet

    if not isinstance(f, FunctionSet):
        return f, load_inputs(f, named, npz)
    refusals = []
    for i, candidate in enumerate(f.functions):
        try:
            return candidate, load_inputs(candidate, named, npz)
        except (InputError, ShapeError) as e:
            refusals.append(f"signature {i} ({', '.join(str(v.type) for v in candidate.graph.inputs)}): {e}")
    raise InputError(f"the inputs fit none of the {len(refusals)} signatures of {f.name}:\n  " + "\n  ".join(refusals))


def check(f, values: dict[str, object]) -> None:
    """Raise ShapeError when an input does not fit (Function's own check, on the flat leaves)."""
    from distjit.function import check_inputs

    check_inputs(f.name, f.graph.inputs, [values[n] for n in input_names(f)], input_names(f),
                 at_caller=False)


def call_args(f, values: dict[str, object]) -> tuple:
    """The positional arguments of `f` for named inputs."""
    from distjit.pytree import unflatten

    leaves = [values[n] for n in input_names(f)]
    return tuple(unflatten(f.signature.in_spec, leaves))


def outputs(f, result) -> dict[str, np.ndarray]:
    """The outputs by name; the names are safe as .npz member (file) names, whatever the file's dict keys."""
    from distjit.pytree import flatten

    leaves, _ = flatten(result)
    names = [member_name(n) for n in output_names(f)[:len(leaves)]]
    out: dict[str, np.ndarray] = {}
    for n, v in zip(names, leaves):
        name, k = n, 1
        while name in out:
            k += 1
            name = f"{n}~{k}"
        out[name] = np.asarray(v)
    return out


_UNSAFE = re.compile(r"[^A-Za-z0-9_.,:;=+~@#()\[\]{}' \"-]|\.\.")


def member_name(name: str) -> str:
    """`name` with every character that could make an .npz member a path, or drive a terminal, replaced:
    a file's dict keys (`output['/../../x']`) must not name files outside the archive's folder."""
    return _UNSAFE.sub("_", name)[:200] or "_"


def _read_one(name: str, source: str, t) -> object:
    if isinstance(t, ScalarType) and not source.endswith(".npy"):
        try:
            return {"bool": lambda s: {"true": True, "false": False}[s.lower()], "int": int, "float": float,
                    "complex": complex}[t.kind](source)
        except (KeyError, ValueError):
            raise InputError(f"--input {name}={source}: {name} is a Python {t.kind}; give a {t.kind} literal "
                             f"or a .npy file") from None
    if not os.path.exists(source):
        raise InputError(f"--input {name}: file {source} does not exist")
    try:
        return np.load(source, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"--input {name}: {source} is not a readable .npy file ({e})") from None


def _coerce(name: str, value, t):
    if isinstance(t, ScalarType) and isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise ShapeError(f"input {name} is a Python {t.kind}, but the file holds an array of shape {value.shape}")
        return t.pytype(value.item())
    if isinstance(t, TensorType) and isinstance(value, np.ndarray):
        return np.ascontiguousarray(value)
    return value


__all__ = ["InputError", "FormatError", "load_inputs", "call_args", "outputs", "input_names", "output_names",
           "parse_input_args", "read_npz"]
