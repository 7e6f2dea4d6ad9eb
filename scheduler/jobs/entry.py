"""The entrypoint of a distjit job: load the saved graph, read the inputs, run the Plan, store the outputs.

    python -m scheduler.jobs.entry --job JOB_ID --model model.djit --inputs inputs.npz [--workers N]

(run through scheduler/jobs/launch.py, with the cluster's own Python, after the preflight)

`distjit submit` ships model.djit and inputs.npz in the job's working_dir and runs this on the
cluster. The Plan runs with cluster="auto": inside a job, RAY_ADDRESS names the job's own cluster.
The outputs go to the cluster's KV store (NOTE: [Job results] in result.py). Progress lines
("distjit: progress 3/10 tasks") and the run's summary go to the job's log; a failure ends the log
with "distjit: error: <message>" (the node and source line for an ExecutionError) and exit status 1,
which Ray keeps in the job's status message.
"""
from __future__ import annotations

import argparse
import sys
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m scheduler.jobs.entry")
    p.add_argument("--job", required=True, help="the submission id: the key of the result")
    p.add_argument("--model", required=True)
    p.add_argument("--inputs", required=True)
    p.add_argument("--workers", type=int, default=None)
    args = p.parse_args(argv)

    import distjit
    from distjit.errors import ClusterError, DistJitError
    from distjit.serialize import named_arrays as arrays
    from scheduler.jobs import result

    try:
        result.check_job_id(args.job)
        from scheduler.cluster import connect
        from scheduler.jobs.preflight import check_nodes

        print(f"distjit: python {sys.executable}", flush=True)
        check_nodes(connect("auto"))         # every node's workers, before any work (NOTE: [The cluster's Python])
        f, values = arrays.function_and_inputs(distjit.load(args.model), {}, args.inputs)
        print(f"distjit: running {f.name} ({f.graph.node_count()} nodes) for job {args.job}", flush=True)
        last = [0.0]

        def progress(done, total):
            now = time.monotonic()
            if done == total or now - last[0] >= 0.5:
                last[0] = now
                print(f"distjit: progress {done}/{total} tasks", flush=True)

        out, stats = f.run(*arrays.call_args(f, values), cluster="auto", workers=args.workers, stats=True,
                           progress=progress)
        data = result.npz_bytes(arrays.outputs(f, out))
        from ray.experimental import internal_kv

        result.store(lambda k, v: internal_kv._internal_kv_put(k, v, overwrite=False, namespace=result.NAMESPACE),
                     args.job, data)
        print(str(stats), flush=True)
        print(f"distjit: stored {len(data):,} bytes of outputs; fetch them with `distjit result {args.job} "
              f"--output out.npz`", flush=True)
        return 0
    except DistJitError as e:
        print(f"distjit: error: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 3 if isinstance(e, ClusterError) else 1


if __name__ == "__main__":
    sys.exit(main())
