"""The entrypoint of every distjit job: run it with the cluster's own Python (NOTE: [The cluster's Python]).

`entrypoint("entry", [...])` is a POSIX shell command for Ray's Jobs API. The job supervisor (a Ray
worker) runs it with `/bin/sh -c`; the shell walks up from its parent to the raylet and reads the
interpreter from the raylet's `--python_worker_command` (the first word of the command Ray starts
every worker with; quoted when it has spaces). Without /proc (not Linux), or when no raylet is
found, it falls back to `python3`, then `python`, on PATH. It then runs a Python bootstrap with
that interpreter: distjit's package must be findable (shipped as py_modules, or installed), the
preflight (scheduler/jobs/preflight.py) must pass, and only then does `scheduler.jobs.<module>`
run. Every refusal is one `distjit: error: ClusterError: ...` line and exit status 3.
"""
from __future__ import annotations

import shlex

_FIND_PYTHON = (
    'py=; p=$PPID; '
    'while [ -z "$py" ] && [ "${p:-0}" -gt 1 ] 2>/dev/null; do '
    'c=$(tr "\\000" "\\n" < /proc/$p/cmdline 2>/dev/null | sed -n "s/^--python_worker_command=//p"); '
    'if [ -n "$c" ]; then py=$(printf "%s\\n" "$c" | sed -e "s/^\\"\\([^\\"]*\\)\\".*/\\1/" -e t -e "s/ .*//"); fi; '
    'p=$(sed -n "s/^PPid:[[:space:]]*//p" /proc/$p/status 2>/dev/null); '
    'done; '
    '[ -n "$py" ] && [ -x "$py" ] || py=$(command -v python3 || command -v python); '
)

# Runs with the cluster's interpreter; only the standard library until the preflight has passed.
_BOOTSTRAP = """
import importlib.util, os, runpy, sys
spec = importlib.util.find_spec("scheduler")
if spec is None or not spec.submodule_search_locations:
    print("distjit: error: ClusterError: distjit is not installed for " + sys.executable + ", the Python of the "
          "cluster's Ray workers: install it there, or submit without --no-ship-code (the job then ships it)",
          file=sys.stderr, flush=True)
    sys.exit(3)
check = runpy.run_path(os.path.join(list(spec.submodule_search_locations)[0], "jobs", "preflight.py"))
if not check["run"]():
    sys.exit(3)
module = "scheduler.jobs." + sys.argv[1]
sys.argv = [module] + sys.argv[2:]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def entrypoint(module: str, args: list[str]) -> str:
    """The shell command that runs `python -m scheduler.jobs.<module> ARGS` with the cluster's Python."""
    words = " ".join(shlex.quote(a) for a in [module, *args])
    return _FIND_PYTHON + f'exec "$py" -c {shlex.quote(_BOOTSTRAP)} {words}'
