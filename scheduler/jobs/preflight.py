"""The preflight: does this Python (the cluster's) have what distjit needs, at the versions it needs?

NOTE: [The cluster's Python]
A Ray job's entrypoint is a shell command run on the head, under the PATH `ray start` had: the
first `python` there need not be the interpreter Ray runs, which is often a virtualenv's that is not
on PATH (`<venv>/bin/ray start --head` without activating it). So a distjit job does not run
`python`: its entrypoint (scheduler/jobs/launch.py) asks the raylet which interpreter it starts
workers with, runs this check with it before any work, and only then runs the job. The check reads
package metadata only (stdlib), so it runs, and reports, where numpy or protobuf are missing; it is
run from its file (runpy), not as `scheduler.jobs.preflight`, because importing the `scheduler`
package imports distjit and so protobuf. Once the job's driver is connected, `check_nodes` runs the
same check in a worker on every node, since other nodes may have other Pythons.

A failure is one line, `distjit: error: ClusterError: <what is missing, how to fix it>`, and exit
status 3; `distjit submit --wait` turns that into a ClusterError (exit 3) on the client.
"""
from __future__ import annotations

import sys

# distjit's runtime dependencies and their lowest versions: pyproject.toml's, which a test compares with these.
REQUIREMENTS = {"numpy": "2.0", "protobuf": "7.35.1", "cloudpickle": "3.0", "isal": "1.6", "numba": "0.60"}
MODULES = {"numpy": "numpy", "protobuf": "google.protobuf", "cloudpickle": "cloudpickle", "isal": "isal", "numba": "numba"}
EXIT_CLUSTER = 3


def _version_tuple(text: str) -> tuple:
    parts = []
    for piece in text.split("."):
        digits = "".join(c for c in piece if c.isdigit()) if piece[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def problems(requirements: dict | None = None) -> list[str]:
    """What this interpreter lacks: "numpy is missing", "protobuf 4.25.3 is older than 7.35.1"."""
    import importlib.metadata
    import importlib.util

    found = []
    for dist, lowest in (requirements or REQUIREMENTS).items():
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = None
        try:
            importable = importlib.util.find_spec(MODULES.get(dist, dist)) is not None
        except (ImportError, ValueError):
            importable = False
        if version is None or not importable:
            found.append(f"{dist} is missing")
        elif _version_tuple(version) < _version_tuple(lowest):
            found.append(f"{dist} {version} is older than {lowest}")
    return found


def fix(python: str, found: list[str]) -> str:
    wanted = " ".join(f"'{d}>={REQUIREMENTS[d]}'" for d in REQUIREMENTS if any(p.startswith(d + " ") for p in found))
    return f"{python} -m pip install {wanted}"


def message(python: str, found: list[str], where: str = "the Python that runs the cluster's Ray workers") -> str:
    return (f"{where} ({python}) cannot run distjit: {'; '.join(found)}. Install them into it: `{fix(python, found)}` "
            f"on every node (or start Ray with a Python that has them)")


def run() -> bool:
    """Check this interpreter; print the error line and return False when it falls short."""
    found = problems()
    if found:
        print(f"distjit: error: ClusterError: {message(sys.executable, found)}", file=sys.stderr, flush=True)
        return False
    return True


def _node_check(requirements: dict):
    import socket

    return socket.gethostname(), sys.executable, problems(requirements)


def check_nodes(ray, timeout: float = 120.0) -> None:
    """Run the check in a worker on every alive node; ClusterError naming each node that falls short."""
    from distjit.errors import ClusterError
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    remote = ray.remote(num_cpus=0, max_retries=1)(_node_check)
    refs = {n["NodeManagerAddress"] + " " + n["NodeID"][:8]: remote.options(
        scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(REQUIREMENTS)
        for n in nodes}
    bad = []
    for node, ref in refs.items():
        try:
            host, python, found = ray.get(ref, timeout=timeout)
        except Exception as e:
            text = str(e).strip().splitlines()
            cause = next((ln for ln in reversed(text) if "Error" in ln), text[-1] if text else type(e).__name__)
            bad.append(f"the workers on node {node} cannot load distjit's code ({cause.strip()}): install distjit "
                       f"there, or let distjit ship it (jobs do unless --no-ship-code; from Python, "
                       f"ray.init(address, runtime_env={{'py_modules': [distjit, scheduler]}}))")
            continue
        if found:
            bad.append(message(python, found, f"the workers' Python on node {node} ({host})"))
    if bad:
        raise ClusterError("the cluster cannot run distjit: " + " | ".join(bad))


if __name__ == "__main__":
    sys.exit(0 if run() else EXIT_CLUSTER)
