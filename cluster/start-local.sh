#!/usr/bin/env bash
# Start an N-node Ray cluster on this machine (127.0.0.1 only, token authentication on) for trying distjit.
#   cluster/start-local.sh 3          # a head and 2 worker nodes, 1 CPU each
#   cluster/start-local.sh down       # stop exactly what was started
# Extra arguments go to `distjit cluster up` (--cpus N, --name NAME, --dashboard-port P).
set -euo pipefail
DISTJIT=${DISTJIT:-distjit}           # from a checkout: DISTJIT="python -m distjit"
case "${1:-2}" in
  down) shift; exec $DISTJIT cluster down "$@" ;;
  *)    nodes=${1:-2}; shift || true; exec $DISTJIT cluster up --nodes "$nodes" "$@" ;;
esac
