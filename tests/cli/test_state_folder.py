"""The cluster state folder (NOTE: [A state folder nobody else controls] in scheduler/cluster_state.py).

Another user who creates `$TMPDIR/distjit-$USER` first must get nothing: the folder is refused with
a ClusterError before anything in it is read, and no token is sent to the "dashboard" it names.
The attacker's folder is made for real (chown to another uid needs root, which CI and this
machine run as).
"""
import http.server
import json
import os
import stat
import tempfile
import threading

import pytest

from distjit.errors import ClusterError
from scheduler import cluster_state
from scheduler.jobs import client, local_cluster

NOBODY = 65534


@pytest.fixture
def listener():
    """A real HTTP server on 127.0.0.1 that records the headers of every request it gets."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(dict(self.headers))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def default_home(tmp_path, monkeypatch):
    """The default home, `$TMPDIR/distjit-$USER`, with TMPDIR a fresh folder."""
    monkeypatch.delenv("DISTJIT_HOME", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    monkeypatch.setenv("USER", "victim")
    monkeypatch.setenv("RAY_AUTH_TOKEN", "the-victims-secret-token")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    os.chmod(tmp_path, 0o1777)                      # a shared temp dir
    return tmp_path / "distjit-victim"


def plant(home, dashboard, owner=None, mode=0o700):
    """What an attacker leaves: a home with a cluster whose state names their dashboard and a token file."""
    sdir = home / "clusters" / "default"
    sdir.mkdir(parents=True)
    (sdir / "cluster.json").write_text(json.dumps({
        "name": "default", "dir": str(sdir), "gcs": "127.0.0.1:1", "dashboard": dashboard,
        "token_path": "/etc/hostname", "temp_dir": "/nonexistent", "nodes": [{"pid": 1, "pgid": 1, "head": True}]}))
    for p in (home, home / "clusters", sdir):
        os.chmod(p, mode)
        if owner is not None:
            os.chown(p, owner, owner)


def test_a_folder_owned_by_another_user_is_refused_and_no_token_leaves(default_home, listener, monkeypatch):
    if os.getuid() != 0:
        pytest.fail("this test makes a folder owned by another user: it runs as root (as CI does)")
    url, seen = listener
    plant(default_home, url, owner=NOBODY)
    with pytest.raises(ClusterError, match="belongs to uid 65534"):
        client.Jobs()
    monkeypatch.delenv("RAY_AUTH_TOKEN")
    with pytest.raises(ClusterError, match="belongs to uid 65534"):
        client.find_token(url)
    with pytest.raises(ClusterError, match="belongs to uid 65534"):
        local_cluster.up(nodes=2)
    assert seen == []
    assert not (default_home / "clusters" / "default" / "auth_token").exists()


@pytest.mark.parametrize("mode", [0o777, 0o755, 0o770])
def test_a_folder_others_can_enter_is_refused(default_home, listener, mode):
    url, seen = listener
    plant(default_home, url, mode=mode)
    with pytest.raises(ClusterError, match=f"has mode {mode:o}"):
        client.Jobs()
    assert seen == []


def test_a_symlinked_folder_is_refused(default_home, tmp_path, listener):
    url, seen = listener
    elsewhere = tmp_path / "elsewhere"
    plant(elsewhere, url)
    os.symlink(elsewhere, default_home)
    with pytest.raises(ClusterError, match="symbolic link"):
        client.Jobs()
    assert seen == []


def test_folders_are_made_private_and_the_token_file_is_created_0600(default_home, tmp_path):
    sdir = cluster_state.state_dir("default", create=True)
    for p in (default_home, default_home / "clusters", sdir):
        st = os.lstat(p)
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.getuid()
    outside = tmp_path / "outside"
    outside.write_text("unchanged")
    os.symlink(outside, sdir / cluster_state.TOKEN_FILE)        # planted before `up` writes the token
    path = cluster_state.write_token(sdir)
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert outside.read_text() == "unchanged"
    assert cluster_state.read_token("default") == path.read_text()


def test_the_token_comes_from_the_checked_folder_not_from_the_path_the_state_names(default_home, listener):
    url, _ = listener
    plant(default_home, url)
    sdir = cluster_state.state_dir("default")
    token = cluster_state.write_token(sdir).read_text()
    os.environ.pop("RAY_AUTH_TOKEN")
    assert client.find_token(url) == token            # not /etc/hostname, which cluster.json names


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", ""])
def test_cluster_names_stay_inside_the_state_folder(default_home, name):
    with pytest.raises(ClusterError, match="cluster name"):
        cluster_state.state_dir(name, create=True)
