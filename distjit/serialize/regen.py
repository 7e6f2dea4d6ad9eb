"""Regenerate `distjit_pb2.py` from `proto/distjit.proto` (run after editing the .proto).

    python -m distjit.serialize.regen            # writes distjit/serialize/distjit_pb2.py
    python -m distjit.serialize.regen --check    # exit 1 when the checked-in module is stale

It runs ``python -m grpc_tools.protoc -I proto --python_out=distjit/serialize proto/distjit.proto``
from the repository root (grpcio-tools comes with the `test` extra, pinned to the
protoc that made the checked-in module; it is not a runtime dependency). The generated code embeds the protobuf version of the generator
(see `GENERATOR_NOTE`): the runtime that imports it must be at least that version,
which is why pyproject.toml pins protobuf's lower bound.
"""
from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "proto"
PROTO = PROTO_DIR / "distjit.proto"
OUT_DIR = ROOT / "distjit" / "serialize"
GENERATED = OUT_DIR / "distjit_pb2.py"
GENERATOR_NOTE = "the generated module requires protobuf >= the 'Protobuf Python Version' in its header"


def generate(out_dir: pathlib.Path) -> pathlib.Path:
    """Run protoc into `out_dir`; returns the path of the generated module."""
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_DIR}", f"--python_out={out_dir}", str(PROTO)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"protoc failed ({' '.join(cmd)}):\n{result.stderr}")
    return out_dir / "distjit_pb2.py"


def is_stale() -> bool:
    """Whether the checked-in module differs from what the .proto generates now."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(pathlib.Path(tmp)).read_bytes()
    return not GENERATED.exists() or GENERATED.read_bytes() != fresh


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m distjit.serialize.regen", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the generated module is up to date")
    args = parser.parse_args(argv)
    if args.check:
        if is_stale():
            print(f"{GENERATED} is out of date; run: python -m distjit.serialize.regen", file=sys.stderr)
            return 1
        print(f"{GENERATED.name} is up to date")
        return 0
    path = generate(OUT_DIR)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
