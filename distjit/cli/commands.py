"""The `distjit` command: one subcommand per job (`distjit --help` lists them).

    distjit inspect model.djit [--json] [--no-verify]
    distjit optimize model.djit fast.djit [--level N]
    distjit run model.djit --input x=x.npy [--inputs in.npz] --output out.npz [--cluster local|auto|ADDR]
    distjit dot model.djit [--plan] -o graph.svg
    distjit submit model.djit --input x=x.npy --address http://127.0.0.1:8265 [--wait]   # prints JOB
    distjit status|logs|result|stop JOB ...;  distjit list;  distjit cluster up|down

A subcommand is a function `cmd_<name>(args) -> int` and an entry in `COMMANDS`
that adds its arguments to a subparser; errors distjit raises on purpose (and
I/O errors) are printed as one line, `distjit: error: ...`, never as a traceback.
Ray is imported only by the commands that need it.

NOTE: [Exit status]
  0    success
  1    bad input: a missing or corrupt model file, a missing, unknown or ill-fitting input,
       an unknown job, a job that has not finished, model + inputs too big to submit
  2    usage: unknown command or option, missing argument (argparse)
  3    the cluster: unreachable address, token refused, Ray failed, --timeout passed
  4    the job failed or was stopped (`submit --wait`, `result`)
  130  interrupted (Ctrl-C)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Callable


def cmd_inspect(args) -> int:
    import distjit

    loaded = distjit.load(args.path, mmap=True, verify=args.verify)
    header, model = _header_and_model(args.path)
    functions = loaded.functions if isinstance(loaded, distjit.FunctionSet) else [loaded]
    info = {
        "path": str(args.path),
        "format_version": f"{header.major}.{header.minor}",
        "producer": f"{model.producer_name} {model.producer_version}",
        "opset_version": model.opset_version,
        "name": loaded.name,
        "metadata": dict(loaded.metadata),
        **_function_info(functions[0]),
        "graphs": len(model.graphs),
        "checksums": "verified" if args.verify else "not verified (--no-verify)",
    }
    if len(functions) > 1:      # a scripted function saved with several signatures; the fields above are the first's
        info["signatures"] = [_function_info(f) for f in functions]
    if args.json:
        print(json.dumps(info, indent=2).replace("\x7f", "\\u007f"))     # ASCII only: no control codes
        return 0
    lines = [f"{info['path']}: distjit format {info['format_version']} (written by {info['producer']}, "
             f"op set {info['opset_version']}; checksums {info['checksums']})"]
    if len(functions) == 1:
        lines.append(f"function {info['name']}: {info['nodes']} nodes in {info['graphs']} graph(s)"
                     + (f", with {len(info['plans'])} partition plan(s)" if info["has_plan"] else ""))
    else:
        lines.append(f"scripted function {info['name']}: {len(functions)} signatures, {info['graphs']} graph(s); "
                     f"a call runs the signature its arguments fit")
    lines.append("metadata:" + ("" if info["metadata"] else " (none)"))
    lines += [f"  {k}: {v}" for k, v in sorted(info["metadata"].items())]
    for i, one in enumerate(info.get("signatures", [info])):
        indent = "" if len(functions) == 1 else "  "
        if len(functions) > 1:
            lines.append(f"signature {i}: {one['nodes']} nodes"
                         + (f", with {len(one['plans'])} partition plan(s)" if one["has_plan"] else ""))
        lines += [indent + line for line in _function_lines(one)]
    print("\n".join(terminal_safe(line) for line in lines))
    return 0


def _function_info(f) -> dict:
    """What `inspect` shows of one Function of a file: inputs, outputs, parameters, graph, plans."""
    from distjit.pytree import leaf_paths

    sig = f.signature
    in_paths = sig.input_paths()
    out_paths = leaf_paths(sig.out_spec, "output")
    out_paths += [f"{in_paths[leaf]} (new contents)" for leaf, _ in sig.mutations]
    try:
        graph_text = str(f.graph)
    except TypeError as e:       # the printer cannot show every attribute value yet
        graph_text = f"<the graph cannot be printed: {e}>"
    return {
        "inputs": [{"name": p, "type": str(v.type)} for p, v in zip(in_paths, f.graph.inputs)],
        "outputs": [{"name": p, "type": str(v.type)} for p, v in zip(out_paths, f.graph.outputs)],
        "parameters": [{"name": n, "dtype": str(a.dtype.newbyteorder("=")), "shape": list(a.shape),
                        "bytes": int(a.nbytes)} for n, a in f.params.items()],
        "nodes": f.graph.node_count(),
        "has_plan": bool(f.plans),
        "plans": _plan_summaries(f),
        "graph": graph_text,
    }


def _function_lines(info: dict) -> list[str]:
    total = sum(p["bytes"] for p in info["parameters"])
    lines = ["inputs:"]
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
    lines += ["  " + line for line in info["graph"].splitlines()]
    for plan in info["plans"]:
        lines.append(f"plan for workers={plan['workers']}, shard={plan['shard']}:")
        lines += ["  " + line for line in plan["explain"].splitlines()]
    return lines


def terminal_safe(text: str) -> str:
    """`text` with every unprintable character (terminal escapes, C1 controls, bidi overrides) written as an
    escape sequence: a file's names, metadata and strings must not drive the reader's terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _plan_summaries(f) -> list[dict]:
    """The saved plans (in file order), each with a summary and its `explain()` text."""
    from distjit.serialize.encode import plan_sort_key

    out = []
    for key in sorted(f.plans, key=plan_sort_key):
        plan = f.plans[key]
        out.append({"workers": key[0], "shard": {name: axis for name, axis in key[1]}, "parts": plan.parts,
                    "tasks": len(plan.tasks), "stages": plan.stages, "subgraphs": len(plan.subgraphs),
                    "explain": plan.explain()})
    return out


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
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="skip the tensors' checksums (a trusted file: it is mapped, not read through)")
    p.set_defaults(run=cmd_inspect)


# -- optimize ---------------------------------------------------------------------------------------------------
def cmd_optimize(args) -> int:
    import distjit

    f = distjit.load(args.path)
    g = distjit.optimize(f, args.level)
    distjit.save(g, args.out)
    if not args.quiet:
        print(f"{args.path}: {f.graph.node_count()} nodes -> {args.out}: {g.graph.node_count()} nodes "
              f"(level {args.level})")
    return 0


def _add_optimize(sub) -> None:
    p = sub.add_parser("optimize", help="optimize a .djit file into another",
                       description="Run distjit.optimize on a saved Function and save the result.")
    p.add_argument("path", help="the .djit file to read")
    p.add_argument("out", help="the .djit file to write (atomically)")
    p.add_argument("--level", type=int, default=2, choices=range(0, 4), metavar="N",
                   help="optimization level 0-3 (default 2)")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing on success")
    p.set_defaults(run=cmd_optimize)


# -- run --------------------------------------------------------------------------------------------------------
def cmd_run(args) -> int:
    import time

    from distjit.serialize import named_arrays as arrays
    from distjit.cli.progress import Bar

    f, values = arrays.function_and_inputs(_load(args.path), arrays.parse_input_args(args.input), args.inputs)
    _check_cluster(args.cluster)
    bar = Bar("running ", enabled=None if not args.quiet else False)
    t = time.perf_counter()
    try:
        result, stats = f.run(*arrays.call_args(f, values), cluster=args.cluster, workers=args.workers,
                              stats=True, progress=bar)
    finally:
        bar.close()
    seconds = time.perf_counter() - t
    named = arrays.outputs(f, result)
    if args.output:
        _write_npz(args.output, named)
        if not args.quiet:
            print(f"wrote {', '.join(named)} to {args.output} ({seconds:.2f} s)")
    else:
        import numpy as np

        for name, value in named.items():
            print(f"{name}: {value.dtype} {value.shape}")
            print(np.array2string(value, threshold=20, edgeitems=3))
    if args.stats:
        print(stats)
    return 0


def _add_run(sub) -> None:
    p = sub.add_parser("run", help="run a .djit file on inputs from .npy/.npz files",
                       description="Run a saved Function's partitioned Plan here (--cluster local), on Ray "
                                   "(--cluster auto: RAY_ADDRESS or a local Ray on 127.0.0.1) or on a cluster's "
                                   "address, and write its outputs to an .npz named by output path "
                                   "('output', 'output[0]', ...; see `distjit inspect`).")
    p.add_argument("path", help="a .djit file")
    _input_args(p)
    p.add_argument("--output", "-o", help="write the outputs to this .npz (else print them)")
    p.add_argument("--cluster", default="local",
                   help="local (threads, default), auto, ray://HOST:10001 or a GCS HOST:PORT")
    p.add_argument("--workers", type=int, help="plan for N workers (default: the executor's CPUs)")
    p.add_argument("--stats", action="store_true", help="print tasks, bytes moved and time per stage")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no messages")
    p.set_defaults(run=cmd_run)


def _input_args(p) -> None:
    p.add_argument("--input", "-i", action="append", default=[], metavar="NAME=PATH",
                   help="an input: NAME=file.npy, or NAME=literal for a scalar input (repeat per input)")
    p.add_argument("--inputs", metavar="FILE.npz", help="inputs in one .npz, keyed by input name")


def _check_cluster(cluster: str) -> None:
    """Fail fast when a cluster address does not answer (Ray would retry for a long time)."""
    import os

    from scheduler.jobs.client import probe

    target = cluster
    if cluster == "auto":
        target = os.environ.get("RAY_ADDRESS", "")
    if not target or target in ("local", "auto"):
        return
    if "://" not in target:
        target = "tcp://" + target
    probe(target)


# -- jobs -------------------------------------------------------------------------------------------------------
def cmd_submit(args) -> int:
    from distjit.serialize import named_arrays as arrays
    from scheduler.jobs.client import Jobs, JobFailedError, status_of
    from distjit.cli.progress import Bar

    f, values = arrays.function_and_inputs(_load(args.path), arrays.parse_input_args(args.input), args.inputs)
    jobs = Jobs(args.address)
    job = jobs.submit(args.path, f, values, workers=args.workers, ship_code=not args.no_ship_code)
    print(job, flush=True)
    if not args.wait:
        return 0
    bar = Bar(f"{job} ", enabled=None if not args.quiet else False)
    try:
        info = jobs.wait(job, progress=bar if bar.enabled else None, timeout=args.timeout)
    finally:
        bar.close()
    if status_of(info) != "SUCCEEDED":
        raise JobFailedError(f"job {job} {status_of(info).lower()}: {jobs.error_of(job, info)}")
    if not args.quiet:
        print(f"job {job} succeeded; `distjit result {job} --output out.npz` fetches its outputs", file=sys.stderr)
    return 0


def _add_submit(sub) -> None:
    p = sub.add_parser("submit", help="submit a .djit file as a Ray job; prints the job id",
                       description="Send a saved Function and its inputs to a Ray cluster as a job (Ray's Jobs "
                                   "API: the dashboard's address). The job runs the Plan on the cluster and keeps "
                                   "the outputs for `distjit result`. Model + inputs must fit in Ray's upload "
                                   "limit (100 MiB).")
    p.add_argument("path", help="a .djit file")
    _input_args(p)
    _address_arg(p)
    p.add_argument("--workers", type=int, help="plan for N workers (default: the cluster's CPUs)")
    p.add_argument("--wait", action="store_true", help="wait for the job; exit 4 if it fails")
    p.add_argument("--timeout", type=float, help="with --wait: give up after this many seconds (exit 3)")
    p.add_argument("--no-ship-code", action="store_true",
                   help="use the distjit installed on the cluster instead of uploading this one")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no messages")
    p.set_defaults(run=cmd_submit)


def _address_arg(p) -> None:
    p.add_argument("--address", help="the Ray dashboard, http://HOST:8265 (default: RAY_ADDRESS, else the "
                                     "`distjit cluster up` cluster, else http://127.0.0.1:8265)")


def _job_dict(info) -> dict:
    from scheduler.jobs.client import status_of

    return {"job": info.submission_id, "status": status_of(info), "message": info.message,
            "model": (info.metadata or {}).get("model"), "entrypoint": info.entrypoint,
            "start_time": info.start_time, "end_time": info.end_time}


def cmd_status(args) -> int:
    from scheduler.jobs.client import Jobs, status_of

    jobs = Jobs(args.address)
    info = jobs.info(args.job)
    d = _job_dict(info)
    if status_of(info) == "FAILED":
        d["error"] = jobs.error_of(args.job, info)
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    print(f"{d['job']}: {d['status']}" + (f" ({d['model']})" if d["model"] else ""))
    if d.get("error"):
        print(f"error: {d['error']}")
    elif d["message"]:
        print(d["message"])
    return 0


def _add_status(sub) -> None:
    p = sub.add_parser("status", help="a job's state (and its error if it failed)",
                       description="Print a job's state: PENDING, RUNNING, SUCCEEDED, FAILED or STOPPED; for a "
                                   "failed job, the distjit error (node and source line) from its log.")
    p.add_argument("job", help="the job id `distjit submit` printed")
    _address_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_status)


def cmd_logs(args) -> int:
    import time

    from scheduler.jobs.client import TERMINAL, Jobs, status_of

    jobs = Jobs(args.address)
    jobs.info(args.job)
    shown = 0
    while True:
        text = jobs.logs(args.job)
        sys.stdout.write(text[shown:])
        sys.stdout.flush()
        shown = len(text)
        if not args.follow or status_of(jobs.info(args.job)) in TERMINAL:
            if args.follow:                       # what was logged between the last read and the end
                sys.stdout.write(jobs.logs(args.job)[shown:])
            return 0
        time.sleep(0.5)


def _add_logs(sub) -> None:
    p = sub.add_parser("logs", help="a job's log", description="Print a job's log (its driver's output).")
    p.add_argument("job", help="the job id")
    _address_arg(p)
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until the job ends")
    p.set_defaults(run=cmd_logs)


def cmd_result(args) -> int:
    from scheduler.jobs.client import Jobs

    jobs = Jobs(args.address)
    if args.wait:
        jobs.wait(args.job, timeout=args.timeout)
    data = jobs.fetch(args.job, ship_code=not args.no_ship_code, delete=args.delete)
    _write_bytes(args.output, data)
    if not args.quiet:
        import numpy as np

        with np.load(args.output) as z:
            names = list(z.files)
        print(f"wrote {', '.join(names)} to {args.output}")
    return 0


def _add_result(sub) -> None:
    p = sub.add_parser("result", help="fetch a finished job's outputs into an .npz",
                       description="Fetch the outputs a job stored on its cluster and write them to an .npz "
                                   "(atomically). Exit 4 if the job failed, 1 if it has not finished.")
    p.add_argument("job", help="the job id")
    p.add_argument("--output", "-o", required=True, help="the .npz to write")
    _address_arg(p)
    p.add_argument("--wait", action="store_true", help="wait for the job to finish first")
    p.add_argument("--timeout", type=float, help="with --wait: give up after this many seconds (exit 3)")
    p.add_argument("--delete", action="store_true", help="free the stored result on the cluster once fetched")
    p.add_argument("--no-ship-code", action="store_true", help="use the distjit installed on the cluster")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing on success")
    p.set_defaults(run=cmd_result)


def cmd_list(args) -> int:
    import datetime

    from scheduler.jobs.client import Jobs

    rows = [_job_dict(j) for j in Jobs(args.address).list(everything=args.all)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no distjit jobs" + ("" if args.all else " (--all lists every job)"))
        return 0
    for r in rows:
        start = datetime.datetime.fromtimestamp(r["start_time"] / 1000).strftime("%Y-%m-%d %H:%M:%S") \
            if r["start_time"] else "-"
        print(f"{r['job']:<44} {r['status']:<10} {start}  {r['model'] or r['entrypoint']}")
    return 0


def _add_list(sub) -> None:
    p = sub.add_parser("list", help="the cluster's distjit jobs", description="List the distjit jobs on a cluster.")
    _address_arg(p)
    p.add_argument("--all", action="store_true", help="every job, not only distjit's")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_list)


def cmd_stop(args) -> int:
    from scheduler.jobs.client import Jobs

    stopped = Jobs(args.address).stop(args.job)
    print(f"{args.job}: " + ("stop requested" if stopped else "already finished"))
    return 0


def _add_stop(sub) -> None:
    p = sub.add_parser("stop", help="stop a running job", description="Ask the cluster to stop a job.")
    p.add_argument("job", help="the job id")
    _address_arg(p)
    p.set_defaults(run=cmd_stop)


# -- dot --------------------------------------------------------------------------------------------------------
def cmd_dot(args) -> int:
    from distjit.cli import dot

    f = _load(args.path)
    if args.plan:
        plans = getattr(f, "plans", {}) or {}
        saved = [p for p in plans.values() if args.workers is None or p.workers == args.workers]
        plan = saved[0] if saved else f.plan(workers=args.workers or 2)
        text = dot.plan_dot(plan)
    else:
        text = dot.graph_dot(f.graph, f.name)
    dot.write(text, args.output)
    return 0


def _add_dot(sub) -> None:
    p = sub.add_parser("dot", help="draw the graph or the plan with Graphviz",
                       description="Write a saved Function's graph (or, with --plan, its partition plan) as "
                                   "Graphviz: .dot/.gv as text, .svg/.png/.pdf rendered by the `dot` program.")
    p.add_argument("path", help="a .djit file")
    p.add_argument("--output", "-o", required=True, help="out.svg, out.png, out.pdf or out.dot")
    p.add_argument("--plan", action="store_true", help="draw the plan (the saved one, else one made now)")
    p.add_argument("--workers", type=int, help="with --plan: the plan for N workers (default: saved, else 2)")
    p.set_defaults(run=cmd_dot)


# -- cluster ----------------------------------------------------------------------------------------------------
def cmd_cluster_up(args) -> int:
    from scheduler.jobs import local_cluster

    state = local_cluster.up(nodes=args.nodes, cpus_per_node=args.cpus, name=args.name,
                             dashboard_port=args.dashboard_port,
                             log=None if args.quiet else (lambda m: print(m, file=sys.stderr)))
    if args.json:
        print(json.dumps(state, indent=2))
        return 0
    print(f"cluster {args.name!r}: {args.nodes} node(s) on 127.0.0.1, token authentication on\n"
          f"  dashboard / Jobs API: {state['dashboard']}\n"
          f"  GCS address:          {state['gcs']}\n"
          f"  token file:           {state['token_path']}\n"
          f"  export RAY_ADDRESS={state['dashboard']}   # for distjit submit/status/logs/result\n"
          f"  distjit cluster down" + ("" if args.name == "default" else f" --name {args.name}"))
    return 0


def cmd_cluster_down(args) -> int:
    from scheduler.jobs import local_cluster

    n = local_cluster.down(args.name)
    print(f"cluster {args.name!r}: " + (f"stopped {n} node(s)" if n else "not running"))
    return 0


def _add_cluster(sub) -> None:
    p = sub.add_parser("cluster", help="a local multi-node Ray cluster on 127.0.0.1",
                       description="Start or stop a Ray cluster of N nodes on this machine, listening on "
                                   "127.0.0.1 only, with Ray's token authentication. Its state (processes, "
                                   "addresses, token) is kept under $DISTJIT_HOME (default "
                                   "$TMPDIR/distjit-$USER), so `down` stops exactly what `up` started.")
    csub = p.add_subparsers(dest="cluster_command", metavar="up|down")
    up = csub.add_parser("up", help="start the cluster", description="Start a head and N-1 worker nodes.")
    up.add_argument("--nodes", type=int, default=2, help="nodes, the head included (default 2)")
    up.add_argument("--cpus", type=int, default=1, help="CPUs per node (default 1)")
    up.add_argument("--dashboard-port", type=int, default=8265, help="8265 unless taken (then a free port)")
    up.add_argument("--name", default="default", help="run several clusters side by side under names")
    up.add_argument("--json", action="store_true", help="print the cluster's state as JSON")
    up.add_argument("--quiet", "-q", action="store_true", help="no progress messages")
    up.set_defaults(run=cmd_cluster_up)
    down = csub.add_parser("down", help="stop the cluster", description="Stop every process `up` started.")
    down.add_argument("--name", default="default")
    down.set_defaults(run=cmd_cluster_down)
    p.set_defaults(run=lambda args: (p.print_help(), 2)[1])


# -- shared -----------------------------------------------------------------------------------------------------
def _load(path):
    import os

    import distjit

    if not os.path.exists(path):
        raise distjit.FormatError(f"model file {path} does not exist")
    return distjit.load(path)


def _write_bytes(path, data: bytes) -> None:
    import os

    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_npz(path, named: dict) -> None:
    from scheduler.jobs.result import npz_bytes

    _write_bytes(path, npz_bytes(named))


# Subcommands in the order `--help` lists them; add one by adding a function here.
COMMANDS: list[Callable] = [_add_inspect, _add_optimize, _add_run, _add_dot, _add_submit, _add_status, _add_logs,
                            _add_result, _add_list, _add_stop, _add_cluster]


def build_parser() -> argparse.ArgumentParser:
    import distjit

    parser = argparse.ArgumentParser(prog="distjit", description="NumPy programs as graphs: inspect, run, "
                                                                 "optimize and submit them.",
                                     epilog="exit status: 0 ok, 1 bad input (model file, inputs, unknown job), "
                                            "2 usage, 3 cluster unreachable or refused the token, "
                                            "4 job failed or stopped, 130 interrupted, 141 output pipe closed early")
    parser.add_argument("--version", action="version", version=f"distjit {distjit.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


# Exit statuses scripts can rely on (NOTE: [Exit status] in the module docstring).
EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_CLUSTER, EXIT_JOB_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_BROKEN_PIPE = 141      # what a Unix tool killed by SIGPIPE reports (`distjit inspect F | head`)


def _silence_stdout() -> None:
    """The reader went away: point stdout at /dev/null so the interpreter's final flush stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv=None) -> int:
    from distjit.errors import ClusterError, DistJitError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:            # argparse: --help (0) or a usage error (2)
        return int(e.code or 0)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except ClusterError as e:
        print(f"distjit: error: {e}", file=sys.stderr)
        return EXIT_CLUSTER
    except DistJitError as e:
        print(f"distjit: error: {e}", file=sys.stderr)
        return EXIT_JOB_FAILED if type(e).__name__ == "JobFailedError" else EXIT_INPUT
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as e:
        print(f"distjit: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
