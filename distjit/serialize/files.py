"""`save` / `load` of Functions as .djit files (NOTE: [File layout] in layout.py).

>>> distjit.save(f, "model.djit", metadata={"author": "me"})
>>> g = distjit.load("model.djit")          # every byte checked; read-only parameters; never runs code
>>> g = distjit.load("model.djit", verify=False)   # a trusted file: mapped, nothing read until used
>>> g(x)                                    # same results as f(x), bit for bit

NOTE: [Checksums]
Every tensor has a crc32 in its descriptor and the message has one in the
header. Both are checked by default: a file with one flipped byte in a tensor
is a FormatError naming the tensor, not different numbers. Checking reads every
byte once, in one streaming pass (isal's crc32: ~0.1 s per GiB, plus reading the
pages in; zlib's would take 0.5 s), over the mapped file in chunks, so memory
stays flat. `verify=False` skips the tensors' checksums: the fast path for a
trusted file, which maps it and reads a page only when it is used, so a GiB of
parameters loads in milliseconds. Skipping checksums never makes loading unsafe:
every offset, length, dtype and shape is still checked, so a corrupt tensor gives
wrong numbers, never a crash. `distjit inspect --no-verify` is the same for the CLI.
"""
from __future__ import annotations

import io
import mmap as _mmap
import os

import numpy as np

from distjit.errors import FormatError, ShapeError
from distjit.ir.collector import collector_off
from distjit.serialize import distjit_pb2 as pb
from distjit.serialize.layout import (FORMAT_MAJOR, FORMAT_MINOR, HEADER_SIZE, Header, align, atomic_write, crc32, layout,
                                      parse_header, write_tensors)

# ---- writing -------------------------------------------------------------------------------------

def save(f, path: str | os.PathLike, metadata: dict[str, str] | None = None, durable: bool = True,
         example_inputs=None) -> None:
    """Write Function `f` to `path` atomically: a temporary file in the same folder, renamed over `path`.

    `f` may be a scripted function: the file then holds every signature it has compiled so far, or
    those of `example_inputs` (a tuple of arguments, or a list of them), compiled now if needed;
    `load` gives back a plain Function for one signature and a `distjit.FunctionSet` for several.

    A failed or killed process never leaves a partial file at `path`. `durable=True` (the
    default) also fsyncs the file before the rename and the folder after it, so the file
    survives a power loss once `save` returns; large tensors are then written with O_DIRECT,
    as fast as the disk allows (NOTE: [Large writes] in layout.py). `durable=False` skips the
    fsyncs, like np.save and torch.save: faster (the bytes stay in the page cache for the
    system to write back later), but a power loss soon after may lose the file (or, depending
    on the file system, leave an empty or partial one at `path`). The bytes are the same either way.
    `metadata` (strings to strings) is stored with the Function's own `metadata`, if any.
    The bytes depend only on `f`: saving a loaded Function gives the file it came from.
    """
    model, arrays = _encode(f, metadata, example_inputs)
    atomic_write(path, lambda out: write_model(out, model, arrays, direct=durable), durable)


def to_bytes(f, metadata: dict[str, str] | None = None, example_inputs=None) -> bytes:
    """The .djit file of Function `f` (or of a scripted function, as `save` writes it), as bytes."""
    model, arrays = _encode(f, metadata, example_inputs)
    out = io.BytesIO()
    write_model(out, model, arrays)
    return out.getvalue()


def _encode(f, metadata, example_inputs):
    """The Model and tensors of a Function, or of every signature of a scripted function (a FunctionSet):
    one signature is written as a plain Function, several as format 1.2's `Model.functions`."""
    from distjit.function import Function
    from distjit.function_set import FunctionSet, example_sets
    from distjit.serialize.encode import encode_functions

    if isinstance(f, FunctionSet):
        functions = f.functions_to_save(example_inputs)
        own = dict(f.metadata)
        if len(functions) == 1:
            own = {**(getattr(functions[0], "metadata", None) or {}), **own}
        return encode_functions(functions, own, metadata)
    if not isinstance(f, Function):
        raise FormatError(f"distjit.save takes a distjit.Function or a scripted function, not a {type(f).__name__}: "
                          f"make one with distjit.trace(fn, example_inputs) or distjit.script(fn)")
    if example_inputs is not None:
        for args in example_sets(example_inputs):
            f.flatten_inputs(args, {})      # a Function has one signature: the examples must fit it
    return encode_functions([f], getattr(f, "metadata", None), metadata)


def write_model(out, model: pb.Model, arrays: list[np.ndarray], direct: bool = False) -> None:
    """Lay out and write a Model whose tensor descriptors match `arrays` (little-endian, C order).

    `direct=True`: write large tensors with O_DIRECT when `out` is a file on a disk that allows it.
    """
    buffers = [memoryview(a.reshape(-1).view(np.uint8)) for a in arrays]
    offsets, data_length = layout([len(b) for b in buffers])
    for desc, offset in zip(model.tensors, offsets):
        desc.offset = offset
    message = model.SerializeToString(deterministic=True)
    data_offset = align(HEADER_SIZE + len(message))
    crcs = write_tensors(out, data_offset, buffers, offsets, direct)
    for desc, crc in zip(model.tensors, crcs):
        desc.crc32 = crc
    final = model.SerializeToString(deterministic=True)
    assert len(final) == len(message), "crc32 fields are fixed32: the message size cannot change"
    header = Header(model.format_major, model.format_minor, HEADER_SIZE, HEADER_SIZE, len(final),
                    data_offset, data_length, crc32(final))
    out.seek(0)
    out.write(header.pack())
    out.write(final)
    out.write(b"\0" * (data_offset - HEADER_SIZE - len(final)))


# ---- reading -------------------------------------------------------------------------------------

def load(path: str | os.PathLike, mmap: bool = True, allow_pickle: bool = False, verify: bool = True):
    """Read a Function from a .djit file; never runs code from the file unless `allow_pickle=True`.

    A file saved from a scripted function with several signatures gives a `distjit.FunctionSet`,
    which runs the Function of the arguments' signature (one signature gives a plain Function).

    With `mmap=True` parameters and constant tensors are read-only views of the mapped
    file (no copy); with `mmap=False` the file is read into memory once. A malformed,
    truncated or incompatible file raises FormatError saying what is wrong and where; a
    missing file raises OSError. `verify=True` (the default) checks every tensor's checksum
    first; `verify=False` is the fast path for trusted files (NOTE: [Checksums]).
    """
    where = os.fspath(path)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < HEADER_SIZE:
            parse_header(fh.read(HEADER_SIZE), size, str(where))    # raises with the right message
        if mmap:
            buffer = _mmap.mmap(fh.fileno(), 0, access=_mmap.ACCESS_READ)
        else:
            buffer = fh.read()
    return decode_buffer(buffer, str(where), allow_pickle, verify)


def from_bytes(data, allow_pickle: bool = False, verify: bool = True):
    """A Function from the bytes of a .djit file (arrays are read-only views of `data` when it is `bytes`)."""
    if not isinstance(data, bytes):
        data = bytes(data)
    return decode_buffer(data, "<bytes>", allow_pickle, verify)


def read_model(buffer, where: str) -> tuple[Header, pb.Model]:
    """The header and the Model message of a file's bytes, both checked; tensors are not read."""
    size = len(buffer)
    header = parse_header(bytes(buffer[:HEADER_SIZE]), size, where)
    message = bytes(buffer[header.msg_offset:header.msg_offset + header.msg_length])
    if crc32(message) != header.msg_crc32:
        raise FormatError(f"{where}: the model message fails its checksum: the file is corrupt")
    model = pb.Model()
    try:
        model.ParseFromString(message)
    except Exception as e:   # DecodeError, and the recursion limit of deeply nested messages
        raise FormatError(f"{where}: the model message cannot be parsed: {e}") from None
    if model.format_major != header.major or model.format_minor != header.minor:
        raise FormatError(f"{where}: the header says format {header.major}.{header.minor}, the message "
                          f"{model.format_major}.{model.format_minor}")
    return header, model


def decode_buffer(buffer, where: str, allow_pickle: bool = False, verify: bool = True):
    # Decoding makes many small objects that all stay alive: the cyclic collector's passes over them
    # would find nothing and cost a third of a big graph's load, so it waits until the graph is built.
    with collector_off():
        try:
            return _decode(buffer, where, allow_pickle, verify)
        except FormatError:
            raise
        except RecursionError:
            raise FormatError(f"{where}: the model nests too deeply") from None
        except Exception as e:   # a check is missing somewhere: still a FormatError for the caller
            raise FormatError(f"{where}: unexpected error while loading: {type(e).__name__}: {e}") from e


def _decode(buffer, where, allow_pickle, verify):
    from distjit.function_set import FunctionSet, signature_key
    from distjit.serialize.decode import ModelDecoder, TensorTable

    header, model = read_model(buffer, where)
    tensors = TensorTable(model, buffer, header.data_offset, header.data_length, where)
    if verify:              # before anything is decoded: a corrupt file is refused whatever it holds
        for i in range(len(tensors)):
            tensors.check(i)
    decoder = ModelDecoder(model, tensors, where, allow_pickle)
    graphs = decoder.decode_graphs()
    if not graphs:
        raise FormatError(f"{where}: the file holds no graph")
    metadata = {e.key: e.value for e in model.metadata}
    first = _function(decoder, model.name, model.main_graph, model.signature, model.params, model.plans, where)
    if not model.functions:
        first.metadata = metadata
        return first

    def key_of(f, i):
        try:
            return signature_key(f)
        except ShapeError as e:     # an input no call can fill (a hostile file's `any`)
            raise FormatError(f"{where}: function {i}: {e}") from None

    functions, keys = [first], {key_of(first, 0)}
    for i, entry in enumerate(model.functions):
        f = _function(decoder, entry.name, entry.main_graph, entry.signature, entry.params, entry.plans,
                      f"{where}: function {i + 1}")
        if f.signature.arg_names != first.signature.arg_names:
            raise FormatError(f"{where}: function {i + 1} takes the arguments {f.signature.arg_names}, the first "
                              f"{first.signature.arg_names}; the signatures of one function take the same names")
        key = key_of(f, i + 1)
        if key in keys:
            raise FormatError(f"{where}: function {i + 1} repeats the signature of an earlier one")
        keys.add(key)
        functions.append(f)
    out = FunctionSet(functions, model.name or first.name)
    out.metadata = metadata
    return out


def _function(decoder, name, main_graph, signature_msg, param_indices, plan_msgs, where):
    """One Function of the file from its fields (the Model's own, or a FunctionDef's), every index checked."""
    from distjit.function import Function

    graphs = decoder.graphs
    if main_graph >= len(graphs):
        raise FormatError(f"{where}: the main graph {main_graph} does not exist ({len(graphs)} graphs)")
    graph = graphs[main_graph]
    signature = decoder.signature(graph, signature_msg)
    params = decoder.params(graph, param_indices)
    plans = decoder.plans(graph, signature, params, plan_msgs)
    f = Function(graph, signature, params, name or graph.name)
    f.plans.update(plans)
    f.loaded_plan_keys = set(plans)
    return f


def verify_file(path: str | os.PathLike) -> None:
    """Check everything, checksums included; raises FormatError."""
    load(path, mmap=True, verify=True)


__all__ = ["save", "load", "to_bytes", "from_bytes", "read_model", "verify_file", "FORMAT_MAJOR", "FORMAT_MINOR"]
