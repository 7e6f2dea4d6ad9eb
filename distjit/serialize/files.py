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

import gc
import io
import mmap as _mmap
import os

import numpy as np

from distjit.errors import FormatError
from distjit.serialize import distjit_pb2 as pb
from distjit.serialize.layout import (FORMAT_MAJOR, FORMAT_MINOR, HEADER_SIZE, Header, align, atomic_write, crc32, layout,
                                      parse_header, write_tensors)

# ---- writing -------------------------------------------------------------------------------------

def save(f, path: str | os.PathLike, metadata: dict[str, str] | None = None, durable: bool = True) -> None:
    """Write Function `f` to `path` atomically: a temporary file in the same folder, renamed over `path`.

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
    from distjit.serialize.encode import encode_function

    model, arrays = encode_function(f, metadata)
    atomic_write(path, lambda out: write_model(out, model, arrays, direct=durable), durable)


def to_bytes(f, metadata: dict[str, str] | None = None) -> bytes:
    """The .djit file of Function `f`, as bytes."""
    from distjit.serialize.encode import encode_function

    model, arrays = encode_function(f, metadata)
    out = io.BytesIO()
    write_model(out, model, arrays)
    return out.getvalue()


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
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _decode(buffer, where, allow_pickle, verify)
    except FormatError:
        raise
    except RecursionError:
        raise FormatError(f"{where}: the model nests too deeply") from None
    except Exception as e:   # a check is missing somewhere: still a FormatError for the caller
        raise FormatError(f"{where}: unexpected error while loading: {type(e).__name__}: {e}") from e
    finally:
        if collecting:
            gc.enable()


def _decode(buffer, where, allow_pickle, verify):
    from distjit.function import Function
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
    if model.main_graph >= len(graphs):
        raise FormatError(f"{where}: the main graph {model.main_graph} does not exist ({len(graphs)} graphs)")
    graph = graphs[model.main_graph]
    signature = decoder.signature(graph)
    params = decoder.params(graph)
    plans = decoder.plans(graph, signature, params)
    f = Function(graph, signature, params, model.name or graph.name)
    f.metadata = {e.key: e.value for e in model.metadata}
    f.plans.update(plans)
    f.loaded_plan_keys = set(plans)
    return f


def verify_file(path: str | os.PathLike) -> None:
    """Check everything, checksums included; raises FormatError."""
    load(path, mmap=True, verify=True)


__all__ = ["save", "load", "to_bytes", "from_bytes", "read_model", "verify_file", "FORMAT_MAJOR", "FORMAT_MINOR"]
