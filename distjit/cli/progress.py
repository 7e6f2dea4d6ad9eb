"""A one-line progress bar of finished tasks, drawn only on a terminal (no dependency)."""
from __future__ import annotations

import sys
import time


class Bar:
    """`bar(done, total)` redraws `label [#####.....] done/total tasks  1.2 s` in place; `close()` ends the line.

    Disabled (every call a no-op) unless `enabled`; the CLI enables it when stdout is a terminal
    and --quiet is not given, and draws on stderr so stdout stays machine-readable.
    """

    def __init__(self, label: str = "", enabled: bool | None = None, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.enabled = sys.stdout.isatty() if enabled is None else enabled
        self.label = label
        self.width = width
        self.start = time.monotonic()
        self._drawn = False
        self._last = (-1, -1)

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or (done, total) == self._last:
            return
        self._last = (done, total)
        filled = self.width * done // total if total else self.width
        line = (f"\r{self.label}[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} tasks  "
                f"{time.monotonic() - self.start:.1f} s")
        self.stream.write(line)
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
