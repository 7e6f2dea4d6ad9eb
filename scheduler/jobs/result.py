"""Where a job's outputs live, and how they travel back to `distjit result`.

NOTE: [Job results]
A job (scheduler.jobs.entry) writes its outputs, as the bytes of an .npz file, into the cluster's
GCS key-value store (namespace "distjit"): chunks of at most CHUNK bytes under
`result/<job>/<nonce>/<k>`, then a manifest under `result/<job>` (size, sha256, chunk count, the
nonce). The manifest is written last, so a result is either complete or absent: that is the
atomic write. Nothing is written over: the manifest is put with overwrite=False, and the chunks
under a fresh random nonce, so no job can replace or damage the stored result of another (or of
itself). Job ids are checked against JOB_ID wherever they arrive (they go into keys and into
the fetch job's command line).

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
import binascii
import hashlib
import io
import json
import re
import secrets

import numpy as np

from distjit.errors import ClusterError, DistJitError

NAMESPACE = "distjit"
CHUNK = 32 << 20
MAX_RESULT_BYTES = 256 << 20
BEGIN, END = "=====DISTJIT-RESULT-BEGIN", "=====DISTJIT-RESULT-END"
LINE = 1 << 16
JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")


def check_job_id(job: str) -> str:
    """`job`, when it is a job id distjit makes or accepts (letters, digits, '_', '.', '-'); else DistJitError."""
    if not isinstance(job, str) or not JOB_ID.match(job):
        raise DistJitError(f"{job!r} is not a job id (letters, digits, '_', '.' and '-'; `distjit list` shows them)")
    return job


def npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def manifest_key(job: str) -> bytes:
    return f"result/{check_job_id(job)}".encode()


def chunk_key(job: str, nonce: str, k: int) -> bytes:
    return f"result/{check_job_id(job)}/{nonce}/{k}".encode()


def store(kv_put, job: str, data: bytes) -> None:
    """Write `data` with `kv_put(key, value)`, which never overwrites and returns whether the key existed
    (Ray's `_internal_kv_put(..., overwrite=False)`): the chunks, then the manifest (the commit)."""
    check_job_id(job)
    if len(data) > MAX_RESULT_BYTES:
        raise DistJitError(f"the outputs are {len(data) / 2**20:.1f} MiB as .npz, more than the "
                           f"{MAX_RESULT_BYTES >> 20} MiB a distjit job can return through the cluster; "
                           f"write them to storage the cluster and you can both read")
    n = max(1, -(-len(data) // CHUNK))
    nonce = secrets.token_hex(8)
    for k in range(n):
        if kv_put(chunk_key(job, nonce, k), data[k * CHUNK:(k + 1) * CHUNK]):
            raise DistJitError(f"job {job}: a result chunk is already stored under its fresh key")
    meta = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "chunks": n, "nonce": nonce}
    if kv_put(manifest_key(job), json.dumps(meta).encode()):
        raise DistJitError(f"a result is already stored for job {job}; it is never overwritten")


def load(kv_get, job: str) -> bytes | None:
    raw = kv_get(manifest_key(check_job_id(job)))
    if raw is None:
        return None
    try:
        meta = json.loads(raw)
        chunks, nonce = int(meta["chunks"]), str(meta["nonce"])
        if not (0 < chunks <= MAX_RESULT_BYTES // CHUNK + 1 and re.fullmatch(r"[0-9a-f]{16}", nonce)):
            raise ValueError(meta)
    except (ValueError, TypeError, KeyError):
        raise DistJitError(f"the stored result of job {job} has a malformed manifest") from None
    data = b"".join(kv_get(chunk_key(job, nonce, k)) or b"" for k in range(chunks))
    if len(data) != meta["bytes"] or hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise DistJitError(f"the stored result of job {job} is damaged (size or sha256 differ)")
    return data


def frame(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    body = "\n".join(text[i:i + LINE] for i in range(0, len(text), LINE))
    return f"{BEGIN} {len(data)} {hashlib.sha256(data).hexdigest()}\n{body}\n{END}\n"


def unframe(log: str) -> bytes | None:
    """The bytes framed in `log`, checked against their size and digest; None when there is no frame.

    The log comes from the cluster: any frame that does not parse is a ClusterError, never a traceback."""
    start = log.rfind(BEGIN)
    if start < 0:
        return None
    header, _, rest = log[start:].partition("\n")
    body, sep, _ = rest.partition(END)
    if not sep:
        raise ClusterError("the result in the fetch job's log is truncated")
    fields = header.split()
    if len(fields) != 3 or not fields[1].isdecimal() or not re.fullmatch(r"[0-9a-f]{64}", fields[2]) \
            or int(fields[1]) > MAX_RESULT_BYTES:
        raise ClusterError(f"the result frame in the fetch job's log is malformed: {header[:120]!r}")
    try:
        data = base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ClusterError("the result in the fetch job's log is not valid base64") from None
    if len(data) != int(fields[1]) or hashlib.sha256(data).hexdigest() != fields[2]:
        raise ClusterError("the result in the fetch job's log is damaged (size or sha256 differ)")
    return data
