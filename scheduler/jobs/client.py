"""The client side of distjit jobs: Ray's Jobs API (`ray.job_submission.JobSubmissionClient`) with token auth.

Addresses (NOTE: [Cluster addresses] in scheduler/cluster.py): `--address`, else
DISTJIT_JOBS_ADDRESS, else Ray's RAY_API_SERVER_ADDRESS, else RAY_ADDRESS when it is an http(s)
URL (as in Ray's job docs), else the dashboard of the one cluster `distjit cluster up` has running,
else http://127.0.0.1:8265. Before any request the address is probed with a short TCP connect, so
an unreachable cluster fails in seconds, not after Ray's long retry loop.

Token (NOTE: [Token authentication] in local_cluster.py): RAY_AUTH_TOKEN, else the file
RAY_AUTH_TOKEN_PATH names, else the token of the `distjit cluster up` cluster at that address,
else ~/.ray/auth_token, the order Ray itself uses (plus distjit's own clusters). It is sent as
`Authorization: Bearer <token>`; JobSubmissionClient then adds no header of its own.

What travels with a job (NOTE: [Job transport]): the model file and the inputs (one .npz) go in the
job's runtime_env working_dir, which Ray zips and uploads to the cluster's GCS through the
dashboard; the dashboard accepts at most DASHBOARD_CLIENT_MAX_SIZE (100 MiB in Ray 2.60) per
upload, so `submit` refuses model + inputs beyond it before contacting the cluster. distjit's own
code travels as py_modules (content-addressed: uploaded once per version), so the job runs the
client's distjit whatever the cluster has installed; `--no-ship-code` uses the cluster's.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

from distjit.errors import ClusterError, DistJitError

DEFAULT_ADDRESS = "http://127.0.0.1:8265"
UPLOAD_LIMIT_FALLBACK = 100 << 20
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


class JobNotFoundError(DistJitError):
    """No job with that id on the cluster (`distjit list` shows the ids)."""


class JobFailedError(DistJitError):
    """The job failed or was stopped; the message carries the distjit error from its log."""


# -- the cluster ------------------------------------------------------------------------------------------------
JOBS_ADDRESS_ENV = ("DISTJIT_JOBS_ADDRESS", "RAY_API_SERVER_ADDRESS")


def resolve_address(address: str | None) -> str:
    for name in JOBS_ADDRESS_ENV:
        address = address or os.environ.get(name, "").strip()
    if not address:
        env = os.environ.get("RAY_ADDRESS", "")
        if env.startswith(("http://", "https://")):
            address = env
    if not address:
        from scheduler import cluster_state
        from scheduler.jobs import local_cluster

        running = [s for s in cluster_state.all_states()
                   if local_cluster.session_members({n["pgid"] for n in s["nodes"][:1]})]
        if len(running) == 1:
            address = running[0]["dashboard"]
    address = address or DEFAULT_ADDRESS
    if "://" not in address:
        address = "http://" + address
    if not address.startswith(("http://", "https://")):
        raise ClusterError(f"jobs address {address!r} (--address or DISTJIT_JOBS_ADDRESS): the Jobs API needs the "
                           f"dashboard's http://HOST:PORT (port 8265 by default), not a "
                           f"{address.split('://')[0]}:// address")
    return address.rstrip("/")


def probe(url: str, timeout: float = 3.0) -> None:
    """Fail fast (ClusterError) when nothing listens at `url`'s host and port."""
    parsed = urlparse(url)
    host, port = parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise ClusterError(f"cannot reach a Ray dashboard at {url} ({reason}). Is the cluster up? Start one with "
                           f"`distjit cluster up`, or give its dashboard with --address / DISTJIT_JOBS_ADDRESS") from None


def find_token(url: str) -> str | None:
    if os.environ.get("RAY_AUTH_TOKEN"):
        return os.environ["RAY_AUTH_TOKEN"].strip()
    from scheduler import cluster_state

    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        token = _read(Path(os.environ["RAY_AUTH_TOKEN_PATH"]))
        if token:
            return token
    for state in cluster_state.all_states():    # checked folders; the token is read from there, not from a named path
        if state.get("dashboard") == url:
            token = cluster_state.read_token(state["name"])
            if token:
                return token
    return _read(Path.home() / ".ray" / "auth_token")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


class Jobs:
    """JobSubmissionClient for one address, with distjit's errors instead of Ray's."""

    def __init__(self, address: str | None = None):
        self.address = resolve_address(address)
        probe(self.address)
        token = find_token(self.address)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with _errors(self.address):
            import logging

            from ray.job_submission import JobSubmissionClient

            logging.getLogger("ray").setLevel(logging.WARNING)   # not Ray's "Uploading package ..." lines

            self.client = JobSubmissionClient(self.address, headers=headers)

    # -- submitting ------------------------------------------------------------------------------------------------
    def submit(self, model_path: str, f, values: dict, workers: int | None = None, ship_code: bool = True) -> str:
        import numpy as np

        job = f"distjit-{re.sub(r'[^A-Za-z0-9_]+', '_', f.name)[:40]}-{uuid.uuid4().hex[:8]}"
        tmp = tempfile.mkdtemp(prefix="distjit-job-")
        try:
            shutil.copyfile(model_path, os.path.join(tmp, "model.djit"))
            np.savez(os.path.join(tmp, "inputs.npz"), **{k: np.asarray(v) for k, v in values.items()})
            size = sum(os.path.getsize(os.path.join(tmp, n)) for n in os.listdir(tmp))
            limit = upload_limit()
            if size > limit:
                raise JobSizeError(f"the model and inputs are {size / 2**20:.1f} MiB; a job's working_dir is uploaded "
                                   f"through the Ray dashboard, which accepts at most {limit / 2**20:.0f} MiB. Put "
                                   f"large data on storage the cluster can read and load it in your own job")
            runtime_env = {"working_dir": tmp, "excludes": ["__pycache__", "*.pyc"]}
            if ship_code:
                runtime_env["py_modules"] = code_dirs()
            from scheduler.jobs.launch import entrypoint

            entry = entrypoint("entry", ["--job", job, "--model", "model.djit", "--inputs", "inputs.npz"]
                               + (["--workers", str(int(workers))] if workers else []))
            with _errors(self.address):
                return self.client.submit_job(entrypoint=entry, submission_id=job, runtime_env=runtime_env,
                                              metadata={"distjit": "job", "model": f.name,
                                                        "file": os.path.basename(model_path)})
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # -- asking --------------------------------------------------------------------------------------------------
    def info(self, job: str):
        with _errors(self.address, job):
            return self.client.get_job_info(job)

    def logs(self, job: str) -> str:
        with _errors(self.address, job):
            return self.client.get_job_logs(job)

    def list(self, everything: bool = False) -> list:
        with _errors(self.address):
            jobs = self.client.list_jobs()
        if not everything:
            jobs = [j for j in jobs if (j.metadata or {}).get("distjit") == "job"]
        return sorted(jobs, key=lambda j: j.start_time or 0)

    def stop(self, job: str) -> bool:
        self.info(job)
        with _errors(self.address, job):
            return self.client.stop_job(job)

    def wait(self, job: str, progress=None, timeout: float | None = None, poll: float = 0.5):
        """Poll until the job ends; `progress(done, total)` hears of the job's "progress" log lines."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self.info(job)
            if progress is not None:
                found = re.findall(r"distjit: progress (\d+)/(\d+) tasks", self.logs(job))
                if found:
                    progress(int(found[-1][0]), int(found[-1][1]))
            if status_of(info) in TERMINAL:
                return info
            if deadline is not None and time.monotonic() > deadline:
                raise ClusterError(f"job {job} did not finish within {timeout:.0f} s (it is {info.status})")
            time.sleep(poll)

    def error_of(self, job: str, info=None) -> str:
        """The distjit error a failed job logged, else Ray's message."""
        info = info or self.info(job)
        text = (info.message or "") + "\n" + (self.logs(job) if status_of(info) == "FAILED" else "")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("distjit: error:")]
        if lines:
            return lines[-1][len("distjit: error: "):]
        return info.message or status_of(info)

    def failure(self, job: str, info=None) -> DistJitError:
        """The error for a job that did not succeed: ClusterError when the cluster could not run it at all
        (the preflight's verdict, NOTE: [The cluster's Python]), else JobFailedError."""
        info = info or self.info(job)
        why = self.error_of(job, info)
        if why.startswith("ClusterError: "):
            return ClusterError(f"job {job} could not run: {why[len('ClusterError: '):]}")
        return JobFailedError(f"job {job} {status_of(info).lower()}: {why}")

    # -- results -------------------------------------------------------------------------------------------------
    def fetch(self, job: str, ship_code: bool = True, delete: bool = False, timeout: float = 300.0) -> bytes:
        """The .npz bytes job `job` stored (NOTE: [Job results] in result.py)."""
        from scheduler.jobs import result

        result.check_job_id(job)
        info = self.info(job)
        status = status_of(info)
        if status in ("FAILED", "STOPPED"):
            raise JobFailedError(f"job {job} {status.lower()}, it has no result: {self.error_of(job, info)}")
        if status != "SUCCEEDED":
            raise JobNotFinishedError(f"job {job} is {status}; wait for it (`distjit result {job} --wait ...`)")
        fetch_id = f"{job}-fetch-{uuid.uuid4().hex[:6]}"
        runtime_env = {"py_modules": code_dirs(), "excludes": ["__pycache__", "*.pyc"]} if ship_code else None
        with _errors(self.address):
            from scheduler.jobs.launch import entrypoint

            entry = entrypoint("fetch", [job] + (["--delete"] if delete else []))     # each argument quoted
            self.client.submit_job(entrypoint=entry, submission_id=fetch_id, runtime_env=runtime_env,
                                   metadata={"distjit": "fetch", "of": job})
        try:
            done = self.wait(fetch_id, timeout=timeout, poll=0.2)
            log = self.logs(fetch_id)
            data = result.unframe(log)
            if data is None:
                why = "no result is stored for it" if "no result is stored" in log else (done.message or "")
                raise JobFailedError(f"could not fetch the result of job {job}: {why}")
            return data
        finally:
            try:
                with _errors(self.address):
                    self.client.delete_job(fetch_id)
            except DistJitError:
                pass


def status_of(info) -> str:
    """"SUCCEEDED", "FAILED", ... (Ray's JobStatus is a str enum)."""
    return getattr(info.status, "value", str(info.status))


class JobSizeError(DistJitError):
    """The model and inputs are too big to travel with the job."""


class JobNotFinishedError(DistJitError):
    """The job has not finished yet."""


def upload_limit() -> int:
    try:
        from ray._private.ray_constants import DASHBOARD_CLIENT_MAX_SIZE

        return int(DASHBOARD_CLIENT_MAX_SIZE)
    except Exception:      # pragma: no cover - older or newer Ray
        return UPLOAD_LIMIT_FALLBACK


def code_dirs() -> list[str]:
    """distjit's packages (distjit and scheduler) as py_modules, so the job runs this very code."""
    import distjit
    import scheduler

    return [os.path.dirname(distjit.__file__), os.path.dirname(scheduler.__file__)]


class _errors:
    """Turn Ray's client errors into distjit's: auth and connection problems -> ClusterError, 404 -> JobNotFound."""

    def __init__(self, address: str, job: str | None = None):
        self.address, self.job = address, job

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        if e is None or isinstance(e, (DistJitError, KeyboardInterrupt)):
            return False
        text = str(e)
        if type(e).__name__ == "AuthenticationError" or "Authentication" in text.split("\n")[0]:
            raise ClusterError(f"the cluster at {self.address} refused distjit's token "
                               f"({text.splitlines()[0]}). Give the cluster's token in RAY_AUTH_TOKEN or a file "
                               f"named by RAY_AUTH_TOKEN_PATH (`ray get-auth-token` on the head prints it)") from None
        if self.job and ("404" in text or "does not exist" in text):
            raise JobNotFoundError(f"no job {self.job!r} on the cluster at {self.address} "
                                   f"(`distjit list` shows the jobs)") from None
        if isinstance(e, (ConnectionError, OSError)) or "Failed to connect" in text:
            raise ClusterError(f"the Ray dashboard at {self.address} did not answer: {text.splitlines()[0]}") from None
        if isinstance(e, (RuntimeError, ValueError)):
            raise ClusterError(f"the Ray Jobs API at {self.address} said: {text.strip()[:2000]}") from None
        return False
