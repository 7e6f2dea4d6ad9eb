"""The fetch job: print a finished job's stored result, framed, to this job's log (NOTE: [Job results]).

    python -m scheduler.jobs.fetch JOB_ID [--delete]

Exit status 0 with the frame in the log; 2 when no result is stored for JOB_ID.
`--delete` removes the stored result once it is printed.
"""
from __future__ import annotations

import sys


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    delete = "--delete" in argv
    job = [a for a in argv if a != "--delete"][0]

    import ray
    from ray.experimental import internal_kv

    from distjit.errors import DistJitError
    from scheduler.jobs import result

    try:
        result.check_job_id(job)
    except DistJitError as e:
        print(f"distjit: error: {e}", file=sys.stderr)
        return 2
    ray.init(log_to_driver=False)
    data = result.load(lambda k: internal_kv._internal_kv_get(k, namespace=result.NAMESPACE), job)
    if data is None:
        print(f"distjit: no result is stored for job {job}", file=sys.stderr)
        return 2
    sys.stdout.write(result.frame(data))
    sys.stdout.flush()
    if delete:
        internal_kv._internal_kv_del(result.manifest_key(job), namespace=result.NAMESPACE)
        internal_kv._internal_kv_del(result.manifest_key(job) + b"/", del_by_prefix=True, namespace=result.NAMESPACE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
