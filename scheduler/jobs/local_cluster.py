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

NOTE: [A state folder nobody else controls]
The default state folder lives in the shared temp dir, where anyone could create
`distjit-<user>` first and plant a cluster.json (whose dashboard and token file they choose),
a token, or a `distjit/` package in the nodes' working directory. So every folder on the way
(home, clusters/, clusters/<name>) is created mode 0700 and checked with lstat before use: a
real directory (not a symlink), owned by this user, that no one else can write (the home and
the cluster folders: no access for anyone else at all). Anything else is a ClusterError, and
nothing in the folder is read. The token file is created with O_EXCL | O_NOFOLLOW and mode
0600, and read back only from the checked folder, never from a path cluster.json names.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from distjit.errors import ClusterError

STATE_FILE = "cluster.json"
TOKEN_FILE = "auth_token"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")


def home() -> Path:
    base = os.environ.get("DISTJIT_HOME")
    if base:
        return Path(base)
    user = os.environ.get("USER") or str(os.getuid())
    return Path(tempfile.gettempdir()) / f"distjit-{user}"


def state_dir(name: str = "default", create: bool = False) -> Path | None:
    """The checked state folder of cluster `name` (NOTE: [A state folder nobody else controls]).

    With `create=False` a folder that does not exist is None; one that exists but fails the
    check is a ClusterError either way.
    """
    if not _NAME.match(name):
        raise ClusterError(f"cluster name {name!r}: use letters, digits, '_', '.' and '-' (at most 64)")
    root = home()
    user_given = bool(os.environ.get("DISTJIT_HOME"))
    for path, strict in ((root, not user_given), (root / "clusters", True), (root / "clusters" / name, True)):
        if not private_dir(path, create, strict):
            return None
    return root / "clusters" / name


def private_dir(path: Path, create: bool, strict: bool = True) -> bool:
    """Whether `path` is a directory only this user controls (creating it mode 0700 if asked); ClusterError if not.

    `strict`: no access at all for group and others; else only no write access (a DISTJIT_HOME
    the user chose, such as a home directory of mode 0755).
    """
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as e:
            raise ClusterError(f"cannot create the distjit state folder {path}: {e.strerror}") from None
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise ClusterError(f"cannot check the distjit state folder {path}: {e.strerror}") from None
    problem = None
    if not stat.S_ISDIR(st.st_mode):
        problem = "is a symbolic link" if stat.S_ISLNK(st.st_mode) else "is not a directory"
    elif st.st_uid != os.getuid():
        problem = f"belongs to uid {st.st_uid}, not to you (uid {os.getuid()})"
    elif st.st_mode & (0o077 if strict else 0o022):
        problem = f"has mode {stat.S_IMODE(st.st_mode):o}; it must be {'0700' if strict else 'writable only by you'}"
    if problem:
        raise ClusterError(f"the distjit state folder {path} {problem}: someone else may control it, so distjit "
                           f"will not use it. Remove it if it is yours, or set DISTJIT_HOME to a folder of your own")
    return True


def write_token(sdir: Path) -> Path:
    """A fresh random token in `sdir`, created 0600 with O_EXCL | O_NOFOLLOW (never through a planted link)."""
    path = sdir / TOKEN_FILE
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    return path


def read_token(name: str) -> str | None:
    """The token of cluster `name`, read only from its checked folder, and only from a 0600 file of this user."""
    sdir = state_dir(name)
    if sdir is None:
        return None
    try:
        fd = os.open(sdir / TOKEN_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd) as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            return None
        return fh.read(4096).strip() or None


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


def read_state(name: str = "default") -> dict | None:
    sdir = state_dir(name)
    if sdir is None:
        return None
    path = sdir / STATE_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise ClusterError(f"{path} is unreadable ({e}); remove it once the cluster's processes are gone") from None


def all_states() -> list[dict]:
    """The states of this user's clusters, each from a checked folder (ClusterError when one fails its check)."""
    root = home()
    if not (private_dir(root, False, not os.environ.get("DISTJIT_HOME")) and private_dir(root / "clusters", False)):
        return []
    states = []
    for entry in sorted(os.listdir(root / "clusters")):
        if not _NAME.match(entry):
            continue
        if state_dir(entry) is None:       # raises when the folder fails its check
            continue
        try:
            state = read_state(entry)
        except ClusterError:
            continue        # one unreadable cluster.json hides only that cluster
        if isinstance(state, dict) and isinstance(state.get("nodes"), list):
            state["name"] = entry
            states.append(state)
    return states


def _write_state(sdir: Path, state: dict) -> None:
    tmp = sdir / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, sdir / STATE_FILE)


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
