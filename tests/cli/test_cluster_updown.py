"""`distjit cluster up --nodes 2` / `down`: a two-node Ray on 127.0.0.1, and down stops exactly what up started."""
import json

from tests.cli.conftest import run_cli


def test_cluster_up_down(tmp_path_factory):
    import tempfile

    home = tempfile.mkdtemp(prefix="djh-")
    env = {"DISTJIT_HOME": home}
    code, out, err = run_cli("cluster", "up", "--nodes", "2", "--name", "ud", "--dashboard-port", "0", "--json",
                             env=env)
    try:
        assert code == 0, err
        state = json.loads(out)
        assert len(state["nodes"]) == 2 and state["dashboard"].startswith("http://127.0.0.1:")
        code, _, err = run_cli("cluster", "up", "--nodes", "1", "--name", "ud", env=env)
        assert code == 3 and "already up" in err
        code, out, err = run_cli("list", "--json", env=env)       # the address and token come from the state file
        assert code == 0 and json.loads(out) == []
    finally:
        code, out, _ = run_cli("cluster", "down", "--name", "ud", env=env)
    assert code == 0 and "stopped 2 node(s)" in out
    from scheduler.jobs.local_cluster import session_members

    assert session_members({n["pgid"] for n in state["nodes"]}) == []
    code, out, _ = run_cli("cluster", "down", "--name", "ud", env=env)
    assert code == 0 and "not running" in out
