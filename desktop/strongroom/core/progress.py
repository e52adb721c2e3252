"""Progress of long file work (hashing, copying, verifying), shared by worker threads, and
the `Cancelled` exception that ends such work when the user cancels."""

from __future__ import annotations

import threading
import time
from typing import Callable

from strongroom.core.units import human_size


class Cancelled(Exception):
    """The user cancelled; nothing was changed."""


class Progress:
    """Bytes done out of a total, shared by worker threads; rate and ETA for display.

    ``on_change`` is called (from whichever thread did the work) at most every
    ``interval`` seconds, and once more by `finish`.
    """

    def __init__(self, total_bytes: int, on_change: Callable[["Progress"], None] | None = None,
                 cancel: threading.Event | None = None, interval: float = 0.1):
        self.total = total_bytes
        self.done = 0
        self.current = ""
        self.cancel = cancel or threading.Event()
        self._on_change = on_change
        self._interval = interval
        self._started = time.monotonic()
        self._last_report = 0.0
        self._lock = threading.Lock()

    def add(self, n: int, current: str | None = None) -> None:
        if self.cancel.is_set():
            raise Cancelled()
        with self._lock:
            self.done += n
            if current is not None:
                self.current = current
            now = time.monotonic()
            due = now - self._last_report >= self._interval
            if due:
                self._last_report = now
        if due and self._on_change is not None:
            self._on_change(self)

    def finish(self) -> None:
        if self._on_change is not None:
            self._on_change(self)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    @property
    def rate(self) -> float:
        """Bytes per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 and self.total >= self.done else None

    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total else 1.0

    def describe(self) -> str:
        """e.g. '1.2 GB of 4.0 GB, 850 MB/s, about 3 s left'"""
        text = f"{human_size(self.done)} of {human_size(self.total)}, {human_size(int(self.rate))}/s"
        eta = self.eta
        if eta is not None and self.done < self.total:
            text += f", about {eta:.0f} s left" if eta < 120 else f", about {eta / 60:.0f} min left"
        return text
