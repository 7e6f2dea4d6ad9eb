"""The per-user state folder of the clusters `distjit cluster up` starts, checked before anything in it is read.

It sits below both `scheduler.cluster` (which finds a local cluster's token from Python) and
`scheduler.jobs` (which starts the clusters and talks to their dashboards).

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
import stat
import tempfile
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
