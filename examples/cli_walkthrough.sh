#!/usr/bin/env bash
# The distjit command line, end to end: save a traced model, look at it, run it here, then submit it
# as a job to a Ray cluster and fetch the result.
#
#   distjit cluster up --nodes 2              # a local cluster on 127.0.0.1 (or use your own)
#   DISTJIT_JOBS_ADDRESS=http://127.0.0.1:8265 bash examples/cli_walkthrough.sh
#   distjit cluster down
#
# DISTJIT is the command (default `distjit`; from a checkout: DISTJIT="python -m distjit").
# The test suite runs this script against its own Ray head (tests/cli/test_jobs.py).
set -euo pipefail
DISTJIT=${DISTJIT:-distjit}
PYTHON=${PYTHON:-python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# 1. Trace a NumPy function and save it with example inputs.
$PYTHON - <<'PY'
import numpy as np, distjit

def scores(x, w):
    h = np.tanh(x @ w)
    return h.sum(axis=0), (x * 2.0).mean(axis=1)

rng = np.random.default_rng(0)
x, w = rng.standard_normal((8000, 32)), rng.standard_normal((32, 8))
distjit.save(distjit.trace(scores, (x, w)), "scores.djit")
np.save("x.npy", x); np.save("w.npy", w)
np.savez("expected.npz", *scores(x, w))
PY

# 2. What is in the file: inputs, outputs, parameters, graph.
$DISTJIT inspect scores.djit

# 3. Run it here (threads), with a summary of tasks, bytes moved and time per stage.
$DISTJIT run scores.djit --input x=x.npy --input w=w.npy --output local.npz --workers 2 --stats

# 4. Draw its partition plan (.svg needs Graphviz; .dot is plain text).
$DISTJIT dot scores.djit --plan --workers 2 -o plan.dot

# 5. Submit it to the cluster as a job; --wait returns when it is done (exit 4 if it failed).
job=$($DISTJIT submit scores.djit --input x=x.npy --input w=w.npy --workers 2 --wait)
echo "job: $job"
$DISTJIT status "$job"
$DISTJIT logs "$job" | grep '^distjit:'

# 6. Fetch its outputs and compare them with NumPy's.
$DISTJIT result "$job" --output remote.npz
$PYTHON - <<'PY'
import numpy as np
expected, local, remote = np.load("expected.npz"), np.load("local.npz"), np.load("remote.npz")
for i, name in enumerate(["output[0]", "output[1]"]):
    np.testing.assert_allclose(local[name], expected[f"arr_{i}"], rtol=1e-9)
    np.testing.assert_allclose(remote[name], expected[f"arr_{i}"], rtol=1e-9)
print("local and cluster results match NumPy")
PY
