"""Where a job's outputs live, and how they travel back to `distjit result`.

NOTE: [Job results]
A job (scheduler.jobs.entry) writes its outputs, as the bytes of an .npz file, into the cluster's
GCS key-value store (namespace "distjit"): chunks of at most CHUNK bytes under
`result/<job>/<k>`, then a manifest under `result/<job>` (size, sha256, chunk count). The manifest
is written last, so a result is either complete or absent: that is the atomic write.

The Jobs API (the dashboard's HTTP server, the one port a remote user usually reaches) has no
endpoint that downloads data, only job logs. So `distjit result JOB` submits a short fetch job
(scheduler.jobs.fetch, no CPUs) that reads the KV and prints the .npz, base64-encoded and framed by
BEGIN/END lines with its size and sha256, to its own log; the client reads that log, checks the
digest, writes the file atomically and deletes the fetch job. The computing job's log stays
clean, and a result can be fetched again until the cluster stops (it lives in the GCS's memory;
`distjit result JOB --delete` frees it).

Limits: MAX_RESULT_BYTES (256 MiB) of .npz per job: the result sits in GCS memory, and the
fetch job's log is read in one HTTP response (~1.33x in base64). Past it the job fails with a
message saying so; write bigger outputs to storage both sides can read instead.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json

import numpy as np

from distjit.errors import DistJitError

NAMESPACE = "distjit"
CHUNK = 32 << 20
MAX_RESULT_BYTES = 256 << 20
BEGIN, END = "=====DISTJIT-RESULT-BEGIN", "=====DISTJIT-RESULT-END"
LINE = 1 << 16


def npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def manifest_key(job: str) -> bytes:
    return f"result/{job}".encode()


def chunk_key(job: str, k: int) -> bytes:
    return f"result/{job}/{k}".encode()


def store(kv_put, job: str, data: bytes) -> None:
    """Write `data` with `kv_put(key, value)`: the chunks, then the manifest (the commit)."""
    if len(data) > MAX_RESULT_BYTES:
        raise DistJitError(f"the outputs are {len(data) / 2**20:.1f} MiB as .npz, more than the "
                           f"{MAX_RESULT_BYTES >> 20} MiB a distjit job can return through the cluster; "
                           f"write them to storage the cluster and you can both read")
    n = max(1, -(-len(data) // CHUNK))
    for k in range(n):
        kv_put(chunk_key(job, k), data[k * CHUNK:(k + 1) * CHUNK])
    meta = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "chunks": n}
    kv_put(manifest_key(job), json.dumps(meta).encode())


def load(kv_get, job: str) -> bytes | None:
    raw = kv_get(manifest_key(job))
    if raw is None:
        return None
    meta = json.loads(raw)
    data = b"".join(kv_get(chunk_key(job, k)) or b"" for k in range(meta["chunks"]))
    if len(data) != meta["bytes"] or hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise DistJitError(f"the stored result of job {job} is damaged (size or sha256 differ)")
    return data


def frame(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    body = "\n".join(text[i:i + LINE] for i in range(0, len(text), LINE))
    return f"{BEGIN} {len(data)} {hashlib.sha256(data).hexdigest()}\n{body}\n{END}\n"


def unframe(log: str) -> bytes | None:
    """The bytes framed in `log`, checked against their size and digest; None when there is no frame."""
    start = log.rfind(BEGIN)
    if start < 0:
        return None
    header, _, rest = log[start:].partition("\n")
    body, sep, _ = rest.partition(END)
    if not sep:
        raise DistJitError("the result in the fetch job's log is truncated")
    _, size, digest = header.split()
    data = base64.b64decode("".join(body.split()))
    if len(data) != int(size) or hashlib.sha256(data).hexdigest() != digest:
        raise DistJitError("the result in the fetch job's log is damaged (size or sha256 differ)")
    return data
