"""`python -m tests`: the whole suite as two pytest processes at once, on a machine of two or more cores.

The Ray and CLI tests (tests/distributed, tests/cli) spend most of their time waiting on Ray
(cluster start, job submission) while the rest spend theirs compiling native code, so running
the two halves side by side takes about half the wall time of `python -m pytest -q`, which
runs the same tests one by one. The first half also runs two self-contained directories that
start no Ray (tests/serialize, tests/security: fuzzed files, child processes), so that the CPU
the Ray tests leave idle works through them and the two halves end closer together. Only the
first half starts Ray, so the two never share a port.
Arguments are passed to both pytest runs; the exit status is the worse of the two.
"""
import subprocess
import sys
import tempfile

RAY_TESTS = ["tests/distributed", "tests/cli"]
BESIDE_RAY = ["tests/serialize", "tests/security"]
FIRST = RAY_TESTS + BESIDE_RAY
STREAMS = [FIRST, ["tests", *(f"--ignore={path}" for path in FIRST)]]


def main(argv: list[str]) -> int:
    runs = []
    for paths in STREAMS:
        log = tempfile.TemporaryFile("w+")
        runs.append((subprocess.Popen([sys.executable, "-m", "pytest", *argv, *paths], stdout=log,
                                      stderr=subprocess.STDOUT, text=True), log))
    status = 0
    for process, log in runs:
        code = process.wait()
        log.seek(0)
        sys.stdout.write(log.read())
        sys.stdout.flush()
        status = max(status, code)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["-q"]))
