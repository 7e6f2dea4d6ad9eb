"""Which executor a `cluster=` argument means, and how distjit gets (and keeps) a Ray cluster.

  "local"              LocalExecutor: a thread pool in this process
  "auto"               the Ray cluster this process is connected to; else the one RAY_ADDRESS
                       names; else a local Ray that distjit starts itself, bound to 127.0.0.1
  "ray://host:10001"   a remote cluster through the Ray Client
  "host:6379"          a cluster's GCS address (the process must be able to reach every node)

NOTE: [Cluster addresses]
Each variable means one thing. RAY_ADDRESS is the cluster itself, as Ray defines it (a GCS
`host:port`, `ray://host:port`, or Ray's own `auto`). The Jobs API (the dashboard, http://) is
DISTJIT_JOBS_ADDRESS, falling back to Ray's RAY_API_SERVER_ADDRESS (scheduler/jobs/client.py).
An http:// RAY_ADDRESS, which Ray's job docs also use, is understood rather than refused:
`cluster="auto"` finds the GCS behind that dashboard (the `distjit cluster up` cluster serving it,
else the dashboard's host at Ray's default GCS port 6379) and, once connected, checks that the
cluster it reached serves that very dashboard.

`cluster=` names exactly the cluster used: an address other than the one this process is
connected to reconnects when distjit made that connection, and raises ClusterError when the user
did (their `ray.init`, whose actors a reconnect would kill); it never runs silently elsewhere.
Before `ray.init`, the address is probed (a TCP connect and the HTTP/2 handshake every gRPC server
answers) within DISTJIT_CONNECT_TIMEOUT seconds (default 20), and Ray's own wait for the GCS gets
the same budget, so an unreachable address is a ClusterError in bounded time, and Ctrl-C, which
Python sees between socket waits, works throughout.

Token: when connecting to an address, Ray sends its auth token only with RAY_AUTH_MODE=token.
distjit sets it (and RAY_AUTH_TOKEN_PATH) for a `distjit cluster up` cluster it recognises by
address, and sets the mode when RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH is given: the token is then
found the way the command line finds it (NOTE: [Token authentication] in jobs/local_cluster.py).

An executor is created once per cluster string and reused, so subgraphs and parameters are put
into a cluster's object store once; a reconnect makes the executors drop what they put
(`generation()` changes).
"""
from __future__ import annotations

import functools
import os
import socket
import threading
from urllib.parse import urlparse

from distjit.errors import ClusterError

CONNECT_TIMEOUT_ENV = "DISTJIT_CONNECT_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT = 20.0
DEFAULT_GCS_PORT = 6379

_executors: dict = {}
_lock = threading.Lock()
# What distjit itself connected this process to: the address ("local" for the embedded default) and a
# counter that changes with every new connection, so executors know their object refs are gone.
_connection = {"address": None, "generation": 0}
_settings = {"quiet": False}
_GCS_WAIT = "RAY_gcs_server_port_wait_time_s"     # Ray's budget for reaching the GCS, about 20 s by default
_GCS_WAIT_PRESET = _GCS_WAIT in os.environ       # the user's own budget wins


def set_quiet(quiet: bool = True) -> None:
    """Ray logs only errors (no INFO lines, no warnings) when distjit connects: the command line's -q."""
    _settings["quiet"] = quiet


def executor_for(cluster):
    """The executor for `cluster` (a string above, or an executor object, returned as is)."""
    if cluster is None:
        cluster = "auto"
    if not isinstance(cluster, str):
        if hasattr(cluster, "run"):
            return cluster
        raise ClusterError(f"cluster must be 'local', 'auto', 'ray://host:port' or 'host:port', not {cluster!r}")
    with _lock:
        if cluster not in _executors:
            if cluster == "local":
                from scheduler.local import LocalExecutor

                _executors[cluster] = LocalExecutor()
            else:
                _check_address(cluster)
                from scheduler.ray_executor import RayExecutor

                _executors[cluster] = RayExecutor(cluster)
        return _executors[cluster]


def _check_address(cluster: str) -> None:
    if cluster == "auto" or cluster.startswith("ray://"):
        return
    if cluster.startswith(("http://", "https://")):
        raise ClusterError(f"cluster={cluster!r} is a Ray dashboard (the Jobs API, for `distjit submit`); "
                           f"cluster= takes the cluster itself: its GCS 'host:6379' or 'ray://host:10001'")
    host, sep, port = cluster.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ClusterError(f"cluster={cluster!r} is not understood: use 'local', 'auto', 'ray://host:port' "
                           f"or 'host:port' (a Ray cluster's GCS address)")


def connect_timeout() -> float:
    raw = os.environ.get(CONNECT_TIMEOUT_ENV)
    if not raw:
        return DEFAULT_CONNECT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise ClusterError(f"{CONNECT_TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise ClusterError(f"{CONNECT_TIMEOUT_ENV} must be positive, not {raw!r}")
    return value


def generation() -> int:
    """Changes whenever distjit connects this process to a cluster anew."""
    return _connection["generation"]


def connect(cluster: str):
    """Connect this process to the Ray cluster `cluster` names (see the module docstring); returns ray."""
    try:
        import ray
    except ImportError as e:   # pragma: no cover - ray is a dependency
        raise ClusterError(f"cluster={cluster!r} needs Ray: pip install 'ray[default]' ({e})") from None
    target, dashboard = _target(cluster)
    if ray.is_initialized():
        current = _current_address(ray)
        if target in (None, "auto") or (current is not None and _same(target, current)):
            return ray
        _probe(target)            # an unreachable address is that error, whoever made the connection we have
        if _connection["address"] is None:
            raise ClusterError(f"cluster={cluster!r} names {target}, but this process is connected to the Ray "
                               f"cluster at {current or 'another address'} (by ray.init outside distjit). Call "
                               f"ray.shutdown() first, or pass cluster='auto' to use the connected cluster")
        ray.shutdown()
        _connection["address"] = None
    elif target is not None and target != "auto":
        _probe(target)
    _init(ray, cluster, target, dashboard)
    return ray


def disconnect() -> None:
    """Leave the cluster distjit connected this process to (the next run connects again)."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
    _connection["address"] = None
    _connection["generation"] += 1


def _target(cluster: str) -> tuple[str | None, str | None]:
    """(the address to connect to, or None for "the connected cluster, else a local one";
    the dashboard the cluster must serve, for an http:// RAY_ADDRESS)."""
    if cluster != "auto":
        return cluster, None
    env = os.environ.get("RAY_ADDRESS", "").strip()
    if not env:
        return None, None
    if env.startswith(("http://", "https://")):
        return _gcs_behind(env), env
    return env, None


def _gcs_behind(dashboard: str) -> str:
    """The GCS address of the cluster that serves `dashboard`."""
    url = dashboard.rstrip("/")
    for state in _cluster_states():
        if state.get("dashboard") == url:
            return state["gcs"]
    return f"{urlparse(url).hostname}:{DEFAULT_GCS_PORT}"


def _cluster_states() -> list[dict]:
    from scheduler import cluster_state as local_cluster

    return local_cluster.all_states()


def _current_address(ray) -> str | None:
    if _connection["address"] is not None:
        return _connection["address"]
    try:
        return ray.get_runtime_context().gcs_address
    except Exception:
        return None


def _same(a: str, b: str) -> bool:
    return _normal(a) == _normal(b)


@functools.lru_cache(maxsize=64)
def _normal(address: str) -> str:
    scheme, sep, rest = address.rpartition("://")
    host, _, port = rest.rstrip("/").rpartition(":")
    try:
        host = socket.gethostbyname(host)
    except OSError:
        pass
    return f"{scheme}{sep}{host}:{port}"


def _host_port(address: str) -> tuple[str, int]:
    rest = address.split("://", 1)[-1].rstrip("/")
    host, _, port = rest.rpartition(":")
    return host, int(port)


_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])   # + empty SETTINGS
_SETTINGS = 4


def _probe(target: str) -> None:
    """ClusterError within the connect timeout unless a gRPC server (a GCS, a Ray Client server) answers
    at `target`. A TCP connect alone is not enough: a port that accepts but never speaks gRPC (the
    dashboard's, a stuck process) keeps `ray.init` retrying for minutes; a gRPC server answers the
    HTTP/2 preface with its SETTINGS frame at once, before any authentication."""
    if target == "auto":
        return
    host, port = _host_port(target)
    timeout = connect_timeout()
    hint = (f"cluster= and RAY_ADDRESS take the cluster's GCS 'host:6379' or 'ray://host:10001' (the dashboard's "
            f"http:// address is for the jobs commands); {CONNECT_TIMEOUT_ENV} sets the wait")
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(_HTTP2_PREFACE)
            head = b""
            while len(head) < 9:
                chunk = sock.recv(9 - len(head))
                if not chunk:
                    break
                head += chunk
    except OSError as e:
        reason = f"no answer within {timeout:g} s" if isinstance(e, socket.timeout) else (e.strerror or type(e).__name__)
        raise ClusterError(f"cannot reach a Ray cluster at {target} ({reason}). Is the cluster up (`ray status` "
                           f"on its head)? {hint}") from None
    if len(head) < 9 or head[3] != _SETTINGS:
        raise ClusterError(f"something listens at {host}:{port}, but it is not a Ray cluster's GCS or Ray Client "
                           f"server (it does not speak gRPC). {hint}")


_auth_set: dict = {}      # the RAY_AUTH_* variables distjit set (for the cluster it connected to last)


def _use_token_for(target: str) -> None:
    """Let Ray present the auth token a `distjit cluster up` cluster (or the user) provides."""
    for name, value in list(_auth_set.items()):      # what we set for another cluster does not apply here
        if os.environ.get(name) == value:
            del os.environ[name]
        del _auth_set[name]
    if os.environ.get("RAY_AUTH_MODE"):
        reload_ray_auth()
        return
    if not (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")):
        found = [s for s in _cluster_states() if any(s.get(k) and _same(target, s[k]) for k in ("gcs", "client"))]
        if not found:
            reload_ray_auth()
            return
        from scheduler import cluster_state as local_cluster

        # the token file of the checked state folder, never a path cluster.json names
        token_path = str(local_cluster.state_dir(found[0]["name"]) / local_cluster.TOKEN_FILE)
        _auth_set["RAY_AUTH_TOKEN_PATH"] = os.environ["RAY_AUTH_TOKEN_PATH"] = token_path
    _auth_set["RAY_AUTH_MODE"] = os.environ["RAY_AUTH_MODE"] = "token"
    reload_ray_auth()


def reload_ray_auth() -> None:
    """Ray caches its configuration and the token it read: make it read both from the environment again."""
    try:
        from ray._raylet import AuthenticationTokenLoader, Config

        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()
    except (ImportError, AttributeError):   # pragma: no cover - another Ray version
        pass


def _init(ray, cluster: str, target: str | None, dashboard: str | None) -> None:
    import logging

    level = logging.ERROR if _settings["quiet"] else logging.INFO
    try:
        if target is None:
            start_local(ray, logging_level=level)
            _connection["address"] = "local"
        else:
            if target != "auto":
                _use_token_for(target)
            if not _GCS_WAIT_PRESET:
                os.environ[_GCS_WAIT] = str(max(1, round(connect_timeout())))
            if target.startswith("ray://"):   # the client passes the logging level on
                context = start_client_session(lambda: ray.init(address=target, log_to_driver=False),
                                               ray.shutdown, target)
            else:
                context = ray.init(address=target, log_to_driver=False, logging_level=level)
            _connection["address"] = target
            if dashboard is not None:
                _check_dashboard(ray, context, dashboard, target)
    except ClusterError:
        raise
    except Exception as e:
        try:          # a failed ray.init can leave Ray half set up (the client mode hook, the KV): undo it
            ray.shutdown()
        except Exception:
            pass
        raise ClusterError(_why(cluster, target, e)) from None
    _connection["generation"] += 1


# NOTE: [Ray Client session start]
# A Ray Client server answers a new client by starting a server process of its own for it, which joins
# the cluster with ray.init; on a loaded machine that start can fail ("Initialization failure from
# server"), and the next attempt usually succeeds. The failure is the server's and says nothing about the
# address or the token, which the probe and the handshake have checked by then, so the session start is
# retried a bounded number of times, waiting longer each time; what still fails is a ClusterError that
# says how often it was tried. Any other error (an auth refusal included) is not retried.
CLIENT_START_ATTEMPTS = 3
CLIENT_START_BACKOFF_S = 2.0
_CLIENT_START_FAILURE = "Initialization failure from server"


def start_client_session(init, shutdown, target: str, attempts: int = CLIENT_START_ATTEMPTS,
                         backoff_s: float = CLIENT_START_BACKOFF_S):
    """`init()` (a Ray Client ray.init), again after `shutdown()` while the server fails to start the session:
    NOTE: [Ray Client session start]."""
    import time

    for attempt in range(1, attempts + 1):
        try:
            return init()
        except ConnectionError as e:
            message = str(e)
            if _CLIENT_START_FAILURE not in message or "auth" in message.lower():
                raise
            try:
                shutdown()
            except Exception:
                pass
            if attempt == attempts:
                detail = message.strip().splitlines()[-1] if message.strip() else type(e).__name__
                raise ClusterError(f"the Ray Client server at {target} failed to start a session for this process "
                                   f"{attempts} times ({detail}); the cluster may be overloaded or its head "
                                   f"unhealthy: check `ray status` on the head, then try again") from None
            time.sleep(backoff_s * attempt)


def _check_dashboard(ray, context, dashboard: str, target: str) -> None:
    """The cluster reached through an http:// RAY_ADDRESS must serve that dashboard."""
    served = getattr(context, "dashboard_url", "") or ""
    want = urlparse(dashboard)
    if served and _same(served, f"{want.hostname}:{want.port or 80}"):
        return
    ray.shutdown()
    _connection["address"] = None
    raise ClusterError(f"RAY_ADDRESS={dashboard} is a Ray dashboard; the cluster at {target} (the GCS distjit "
                       f"derived from it) serves the dashboard {served or 'none'}, not that one. Set RAY_ADDRESS "
                       f"to the cluster's GCS 'host:port' (or 'ray://host:10001') and DISTJIT_JOBS_ADDRESS="
                       f"{dashboard} for the jobs commands")


def _why(cluster: str, target: str | None, e: Exception) -> str:
    text = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    where = target or cluster
    if "auth" in str(e).lower() or "UNAUTHENTICATED" in str(e):
        return (f"the Ray cluster at {where} refused to connect without its auth token ({text}). Give it in "
                f"RAY_AUTH_TOKEN or a file named by RAY_AUTH_TOKEN_PATH (`ray get-auth-token` on the head prints it)")
    return (f"could not connect to the Ray cluster at {where!r}: {text}. Check the address (`ray status` on the "
            f"head node), or use cluster='local'")


def start_local(ray, num_cpus: int | None = None, **kwargs) -> None:
    """Start the embedded default: a one-node Ray listening on 127.0.0.1 only.

    address="local": without an address, ray.init joins the cluster a `ray start --head` anywhere on
    this machine recorded in /tmp/ray/ray_current_cluster, which would run silently elsewhere."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"   # Ray then binds its servers to loopback
    try:
        ray.init(address="local", num_cpus=num_cpus, _node_ip_address="127.0.0.1", include_dashboard=None,
                 log_to_driver=False, **kwargs)
    except Exception as e:
        raise ClusterError(f"could not start a local Ray: {type(e).__name__}: {e}") from None
