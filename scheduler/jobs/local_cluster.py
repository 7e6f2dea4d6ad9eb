"""A multi-node Ray cluster on this machine, bound to 127.0.0.1, with token authentication on.

`distjit cluster up --nodes N` runs `ray start --head --block` and N-1 `ray start --address ... --block`,
each in its own process group, all sharing one temp dir under the cluster's state directory
(`$DISTJIT_HOME/clusters/<name>/`, default `$TMPDIR/distjit-<user>/clusters/default/`). `cluster.json`
there records the process group of every node, the addresses and the token file, so
`distjit cluster down` stops exactly what `up` started (never a machine-wide `ray stop`).

NOTE: [Token authentication]
Ray 2.60's dashboard (and so the Jobs API) and its gRPC servers check a bearer token when
`RAY_AUTH_MODE=token`. Ray's servers and clients find the token in `RAY_AUTH_TOKEN` (the token
itself), else the file `RAY_AUTH_TOKEN_PATH` names, else `~/.ray/auth_token`. A head started by
`ray start` turns token mode on by itself only when a token already exists and RAY_AUTH_MODE is
unset; we set both explicitly: a fresh random token per cluster in `<state>/auth_token` (mode
0600), `RAY_AUTH_MODE=token` and `RAY_AUTH_TOKEN_PATH=<state>/auth_token` in the environment of
every node. Processes the nodes start (workers, job drivers) inherit that environment, so a job's
`ray.init()` authenticates without help. HTTP clients send `Authorization: Bearer <token>`;
`scheduler.jobs.client` finds the token for an address (see `find_token`).

The state folder itself (checked, private) is scheduler/cluster_state.py's job: NOTE: [A state
folder nobody else controls] there.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from distjit.errors import ClusterError
from scheduler.cluster_state import STATE_FILE, _write_state, read_state, state_dir, write_token

def free_port(preferred: int | None = None) -> int:
    """`preferred` when it is free on 127.0.0.1, else a port the OS picks."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise ClusterError("no free port on 127.0.0.1")


def node_env(token_path: Path) -> dict:
    env = dict(os.environ)
    env.update(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",    # Ray binds to 127.0.0.1 only
               RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token_path))
    # job entrypoints run `python`: make it this interpreter (a virtualenv's python need not be on PATH)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    root = str(Path(__file__).resolve().parents[2])       # so `python -m scheduler.jobs.node` imports this distjit
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.pop("RAY_AUTH_TOKEN", None)                      # it would win over the cluster's own token file
    env.pop("RAY_ADDRESS", None)
    return env


def _ray_bin() -> str:
    candidate = Path(sys.executable).with_name("ray")
    return str(candidate) if candidate.exists() else "ray"


def up(nodes: int = 1, cpus_per_node: int = 1, name: str = "default", dashboard_port: int = 8265,
       object_store_mib: int = 200, timeout: float = 60.0, log=None) -> dict:
    """Start a head and `nodes - 1` worker nodes; returns the state (what `cluster.json` holds)."""
    existing = read_state(name)
    if existing and session_members({p["pgid"] for p in existing["nodes"]}):
        raise ClusterError(f"cluster {name!r} is already up (dashboard {existing['dashboard']}); "
                           f"`distjit cluster down{'' if name == 'default' else ' --name ' + name}` first")
    if nodes < 1:
        raise ClusterError("--nodes must be at least 1")
    sdir = state_dir(name, create=True)
    token_path = write_token(sdir)
    # Ray's temp dir holds its sockets, whose paths may not exceed 107 bytes: keep it short (and not named
    # "ray": the nodes run in sdir, where a ./ray folder would shadow `import ray`). `down` removes it.
    temp_dir = Path(tempfile.mkdtemp(prefix="djray-", dir="/tmp" if os.path.isdir("/tmp") else None))
    gcs_port, dash_port, client_port = free_port(), free_port(dashboard_port), free_port()
    env = node_env(token_path)
    state = {"name": name, "dir": str(sdir), "gcs": f"127.0.0.1:{gcs_port}", "client": f"ray://127.0.0.1:{client_port}",
             "dashboard": f"http://127.0.0.1:{dash_port}", "token_path": str(token_path), "temp_dir": str(temp_dir),
             "nodes": []}
    try:
        for i in range(nodes):
            if i == 0:
                cmd = [_ray_bin(), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={gcs_port}",
                       "--dashboard-host=127.0.0.1", f"--dashboard-port={dash_port}",
                       f"--ray-client-server-port={client_port}", f"--dashboard-agent-listen-port={free_port()}",
                       f"--metrics-export-port={free_port()}", f"--num-cpus={cpus_per_node}",
                       f"--temp-dir={temp_dir}", f"--object-store-memory={object_store_mib << 20}",
                       "--disable-usage-stats", "--block"]
            else:   # NOTE: [Why not `ray start --address`] in scheduler/jobs/node.py
                cmd = [sys.executable, "-m", "scheduler.jobs.node", f"--address={state['gcs']}",
                       f"--num-cpus={cpus_per_node}", f"--temp-dir={temp_dir}",
                       f"--object-store-memory={object_store_mib << 20}"]
            out = open(sdir / f"node{i}.log", "ab")
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=str(sdir))
            out.close()
            state["nodes"].append({"pid": proc.pid, "pgid": proc.pid, "head": i == 0, "log": str(out.name)})
            _write_state(sdir, state)
            if i == 0:
                _wait_port(gcs_port, timeout, proc, sdir / "node0.log")
                _wait_port(dash_port, timeout, proc, sdir / "node0.log")
            if log:
                log(f"node {i} started (pid {proc.pid})")
        _wait_nodes(state, nodes, timeout)
    except BaseException:
        down(name)
        raise
    return state


def down(name: str = "default", grace: float = 5.0) -> int:
    """Stop every process `up` started; returns how many nodes there were.

    Each node was started in a session of its own (start_new_session), and Ray's processes stay in it
    even where they make process groups of their own (workers do), so "what `up` started" is exactly
    the processes of those sessions: SIGTERM to them all, SIGKILL to what is left after `grace` s.
    """
    state = read_state(name)
    if not state:
        return 0
    sessions = {n["pgid"] for n in state["nodes"]}
    for pid in session_members(sessions):
        _kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and session_members(sessions):
        _reap(sessions)
        time.sleep(0.2)
    for pid in session_members(sessions):
        _kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and session_members(sessions):
        _reap(sessions)
        time.sleep(0.1)
    if os.path.basename(state.get("temp_dir", "")).startswith("djray-"):
        shutil.rmtree(state["temp_dir"], ignore_errors=True)
    (state_dir(name) / STATE_FILE).unlink(missing_ok=True)
    return len(sessions)


def session_members(sessions: set[int]) -> list[int]:
    """Live (not zombie) processes whose session id is in `sessions`, read from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) in sessions:
            members.append(int(entry))
    return members


def _kill(pid: int, sig) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(pids) -> None:
    """Collect the nodes' leaders if they are our own children (when `up` and `down` run in one process)."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _wait_port(port: int, timeout: float, proc, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise ClusterError(f"`ray start` exited with status {proc.returncode}:\n{tail}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise ClusterError(f"the Ray head did not open port {port} within {timeout:.0f} s (see {log_path})")


def _wait_nodes(state: dict, nodes: int, timeout: float) -> None:
    """Wait until the dashboard reports `nodes` alive nodes (the dashboard answers only with the token)."""
    import urllib.request

    token = Path(state["token_path"]).read_text().strip()
    req = urllib.request.Request(state["dashboard"] + "/nodes?view=summary",
                                 headers={"Authorization": f"Bearer {token}"})
    deadline = time.monotonic() + timeout
    alive = 0
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                summary = json.loads(r.read())["data"]["summary"]
            alive = sum(1 for n in summary if n.get("raylet", {}).get("state") == "ALIVE")
            if alive >= nodes:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise ClusterError(f"only {alive} of {nodes} nodes joined within {timeout:.0f} s (logs in {state['dir']})")
