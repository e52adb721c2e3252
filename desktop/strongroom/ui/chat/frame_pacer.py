"""Pacing the frames of a streamed answer: at most 60 a second, and fewer when showing
one costs more, so the GUI thread keeps to a small share of a core (the model's threads
need the rest)."""

from __future__ import annotations

import time


class FramePacer:
    """Spaces frames so the GUI thread uses at most `BUDGET` of one CPU core for them."""

    BUDGET = 0.025
    FASTEST = 1 / 60
    SLOWEST = 0.25

    def __init__(self) -> None:
        self.interval = self.FASTEST
        self._last_wall: float | None = None
        self._last_cpu = 0.0

    def wait_ms(self) -> int:
        """How long to wait before the next frame may be shown."""
        if self._last_wall is None:
            return 0
        return max(0, int((self._last_wall + self.interval - time.monotonic()) * 1000))

    def frame_shown(self, other_work: float = 0.0) -> None:
        """Call when a frame is shown, with the CPU seconds this thread spent since the last
        frame on work that is not showing frames; the rest is what the last frame cost
        (mostly layout and paint, which Qt does after the frame's slot returns)."""
        wall, cpu = time.monotonic(), time.thread_time()
        if self._last_wall is not None:
            cost = max(cpu - self._last_cpu - other_work, 0.0)
            self.interval = min(max(cost / self.BUDGET, self.FASTEST), self.SLOWEST)
        self._last_wall, self._last_cpu = wall, cpu
