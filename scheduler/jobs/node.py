"""A Ray worker node on 127.0.0.1 that joins a head on this machine; runs until SIGTERM.

    python -m scheduler.jobs.node --address 127.0.0.1:PORT --num-cpus 1 --temp-dir DIR

NOTE: [Why not `ray start --address`]
With RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (Ray binds to loopback), `ray start --address` refuses to
join a cluster ("multi-node clusters are not supported"); with it set to 1, Ray rewrites the
127.0.0.1 head address to the machine's network address and leaves loopback. So a local worker
node is started the way `ray.cluster_utils.Cluster.add_node` starts one: `ray._private.node.Node`
with the loopback address given explicitly. Ray's own processes inherit our environment, so
token authentication (RAY_AUTH_MODE, RAY_AUTH_TOKEN_PATH) applies to them as to the head.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m scheduler.jobs.node", description=__doc__.splitlines()[0])
    p.add_argument("--address", required=True, help="the head's GCS address, 127.0.0.1:PORT")
    p.add_argument("--num-cpus", type=int, default=1)
    p.add_argument("--object-store-memory", type=int, default=200 << 20)
    p.add_argument("--temp-dir", required=True)
    args = p.parse_args(argv)

    import ray
    from ray._private.node import Node
    from ray._private.parameter import RayParams

    params = RayParams(node_ip_address="127.0.0.1", gcs_address=args.address, num_cpus=args.num_cpus,
                       num_gpus=0, object_store_memory=args.object_store_memory, temp_dir=args.temp_dir,
                       min_worker_port=0, max_worker_port=0, node_manager_port=0, include_log_monitor=False)
    params.dashboard_agent_listen_port = None          # a free port, not the head's default
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    node = Node(params, head=False, shutdown_at_exit=False, spawn_reaper=True)
    print(f"distjit: worker node {node.node_id} joined {args.address}", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        node.kill_all_processes(check_alive=False, allow_graceful=True)
        del ray
    return 0


if __name__ == "__main__":
    sys.exit(main())
