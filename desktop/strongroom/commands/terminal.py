"""Progress and questions on the terminal, for the headless commands."""

from __future__ import annotations

import sys
import time

from strongroom.core.progress import Progress


class ProgressLine:
    """Redraws one status line on standard error (only when it is a terminal)."""

    def __init__(self, verb: str):
        self.verb = verb
        self.enabled = sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, progress: Progress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.2 and progress.done < progress.total:
            return
        self._last = now
        line = f"{self.verb} {progress.describe()}  {progress.current}"
        sys.stderr.write("\r" + line[:118].ljust(118))
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 118 + "\r")
            sys.stderr.flush()


def confirm(question: str) -> bool:
    """Ask a yes/no question on the terminal; anything but yes is no."""
    if not sys.stdin.isatty():
        return False
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")
