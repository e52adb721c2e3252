"""Running one long job (hashing, copying, validating) off the GUI thread, with progress.

A job is a function ``job(report, cancel) -> result``, where ``report(fraction, text)``
shows progress (`from_progress` adapts the core's `Progress` callbacks). `BackgroundTask`
runs it on its own thread and reports through signals, which Qt delivers on the GUI
thread; `cancel` sets the job's event, which the core checks between chunks, so a cancel
leaves nothing half-done.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal, Slot

from strongroom.core.progress import Cancelled, Progress

log = logging.getLogger(__name__)

ReportProgress = Callable[[float, str], None]
Job = Callable[[ReportProgress, threading.Event], Any]


def from_progress(report: ReportProgress) -> Callable[[Progress], None]:
    """A core `Progress` callback that reports through ``report``."""
    return lambda progress: report(progress.fraction, f"{progress.describe()}  {progress.current}")


class BackgroundTask(QObject):
    """Signals (the outcome ones arrive after the job's thread has ended):
        progress(float, str): fraction done and a line such as '1.2 GB of 4 GB, 900 MB/s…'.
        finished(object): the job's result.
        failed(str): the job raised; the message.
        cancelled(): the job stopped because `cancel` was called.
    """

    progress = Signal(float, str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    _ended = Signal(str, object)

    def __init__(self, job: Job, parent: QObject | None = None):
        super().__init__(parent)
        self._job = job
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="strongroom-task", daemon=True)
        self._ended.connect(self._announce)

    def _run(self) -> None:
        try:
            outcome = ("finished", self._job(self.progress.emit, self._cancel))
        except Cancelled:
            outcome = ("cancelled", None)
        except Exception as error:  # shown to the user; the details go to the log
            log.exception("background job failed")
            outcome = ("failed", str(error))
        self._ended.emit(*outcome)

    @Slot(str, object)
    def _announce(self, kind: str, payload: Any) -> None:
        self._thread.join()
        if kind == "finished":
            self.finished.emit(payload)
        elif kind == "cancelled":
            self.cancelled.emit()
        else:
            self.failed.emit(payload)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout_s: float = 60) -> bool:
        """Cancel and wait for the job's thread to end (a window closing)."""
        self.cancel()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        return not self._thread.is_alive()
