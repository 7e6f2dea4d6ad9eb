"""The `distjit` command: one subcommand per job (`distjit --help` lists them).

    distjit inspect model.djit [--json] [--verify]

A subcommand is a function `cmd_<name>(args) -> int` and an entry in `COMMANDS`
that adds its arguments to a subparser; errors distjit raises on purpose (and
I/O errors) are printed as one line, `distjit: error: ...`, with exit status 1,
never as a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable


def cmd_inspect(args) -> int:
    import distjit
    from distjit.pytree import leaf_paths

    f = distjit.load(args.path, mmap=True, verify_checksums=True if args.verify else None)
    header, model = _header_and_model(args.path)
    sig = f.signature
    in_paths = sig.input_paths()
    out_paths = leaf_paths(sig.out_spec, "output")
    out_paths += [f"{in_paths[leaf]} (new contents)" for leaf, _ in sig.mutations]
    try:
        graph_text = str(f.graph)
    except TypeError as e:       # the printer cannot show every attribute value yet
        graph_text = f"<the graph cannot be printed: {e}>"
    info = {
        "path": str(args.path),
        "format_version": f"{header.major}.{header.minor}",
        "producer": f"{model.producer_name} {model.producer_version}",
        "opset_version": model.opset_version,
        "name": f.name,
        "metadata": dict(f.metadata),
        "inputs": [{"name": p, "type": str(v.type)} for p, v in zip(in_paths, f.graph.inputs)],
        "outputs": [{"name": p, "type": str(v.type)} for p, v in zip(out_paths, f.graph.outputs)],
        "parameters": [{"name": n, "dtype": str(a.dtype.newbyteorder("=")), "shape": list(a.shape),
                        "bytes": int(a.nbytes)} for n, a in f.params.items()],
        "nodes": f.graph.node_count(),
        "graphs": len(model.graphs),
        "has_plan": model.HasField("plan"),
        "checksums": "verified" if args.verify or sum(t.length for t in model.tensors)
        <= distjit.serialize.files.AUTO_VERIFY_BYTES else "not verified (use --verify)",
        "graph": graph_text,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    total = sum(p["bytes"] for p in info["parameters"])
    lines = [f"{info['path']}: distjit format {info['format_version']} (written by {info['producer']}, "
             f"op set {info['opset_version']}; checksums {info['checksums']})",
             f"function {info['name']}: {info['nodes']} nodes in {info['graphs']} graph(s)"
             + (", with a partition plan" if info["has_plan"] else "")]
    lines.append("metadata:" + ("" if info["metadata"] else " (none)"))
    lines += [f"  {k}: {v}" for k, v in sorted(info["metadata"].items())]
    lines.append("inputs:")
    lines += [f"  {i['name']}: {i['type']}" for i in info["inputs"]]
    lines.append("outputs:")
    lines += [f"  {o['name']}: {o['type']}" for o in info["outputs"]]
    lines.append(f"parameters: {len(info['parameters'])}, {total:,} bytes")
    if info["parameters"]:
        rows = [("name", "dtype", "shape", "bytes")] + [
            (p["name"], p["dtype"], str(tuple(p["shape"])), f"{p['bytes']:,}")
            for p in info["parameters"]]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in
                                          enumerate(zip(r, widths))))
    lines.append("graph:")
    lines += ["  " + line for line in graph_text.splitlines()]
    print("\n".join(lines))
    return 0


def _header_and_model(path):
    import mmap

    from distjit.serialize import read_model

    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        return read_model(mm, str(path))


def _add_inspect(sub) -> None:
    p = sub.add_parser("inspect", help="show what a .djit file holds",
                       description="Print the format version, metadata, inputs and outputs with their types, "
                                   "the parameter table and the graph of a saved Function.")
    p.add_argument("path", help="a .djit file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--verify", action="store_true", help="check every tensor's checksum, whatever the file's size")
    p.set_defaults(run=cmd_inspect)


# Subcommands in the order `--help` lists them; add one by adding a function here.
COMMANDS: list[Callable] = [_add_inspect]


def build_parser() -> argparse.ArgumentParser:
    import distjit

    parser = argparse.ArgumentParser(prog="distjit", description="NumPy programs as graphs: inspect, run, "
                                                                 "optimize and submit them.")
    parser.add_argument("--version", action="version", version=f"distjit {distjit.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv=None) -> int:
    from distjit.errors import DistJitError

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except (DistJitError, OSError) as e:
        print(f"distjit: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
