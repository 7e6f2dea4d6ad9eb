"""Saving and loading Functions (with the partition Plans they carry) in the .djit format; see proto/distjit.proto.

`files.py` is the API (save, load, to_bytes, from_bytes), `layout.py` the byte layout
of a file, `encode.py` / `decode.py` the two directions between the IR and the
protobuf messages, `dtypes.py` the whitelist of element types, `distjit_pb2.py`
the generated code (`python -m distjit.serialize.regen`); `named_arrays.py` the .npy/.npz
files of a saved Function's inputs and outputs (what `distjit run`, `submit` and a job read and write).
"""
from distjit.serialize.files import (FORMAT_MAJOR, FORMAT_MINOR, from_bytes, load, read_model, save,  # noqa: F401
                                     to_bytes, verify_file)
