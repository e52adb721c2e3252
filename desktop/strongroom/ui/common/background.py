"""Running work (hashing, copying, validating, a password check) off the GUI thread.

A job is a function ``job(report, cancel) -> result``, where ``report(fraction, text)``
shows progress (`from_progress` adapts the core's `Progress` callbacks). `BackgroundTask`
runs it on its own thread and reports through signals, which Qt delivers on the GUI
thread; `cancel` sets the job's event, which the core checks between chunks, so a cancel
leaves nothing half-done. `Tasks` is how a window or pane uses them: it keeps its jobs,
delivers their outcomes, and drops those that come after it closed.
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


class Tasks(QObject):
    """The one way a window or pane runs work off the GUI thread (after Anki's `QueryOp`):
    `run` starts a job and, on the GUI thread, hands its result to ``done`` or its failure
    (in words) to ``failed`` — unless the owner `stop`ped or `outdate`d its jobs meanwhile,
    when the outcome is dropped. It keeps each job until it ends, so its owner keeps no
    bookkeeping of its own.

    Signals:
        progress(float, str): a job's progress (fraction done, a line of words).
        idle(): the last job running ended.
    """

    progress = Signal(float, str)
    idle = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._running: list[BackgroundTask] = []
        self._generation = 0  # bumped by `outdate` and `stop`: earlier outcomes are dropped

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def run(self, job: Job, done: Callable[[Any], None] | None = None,
            failed: Callable[[str], None] | None = None,
            cancelled: Callable[[], None] | None = None) -> BackgroundTask:
        """Run ``job(report, cancel)``; see `BackgroundTask`."""
        task = BackgroundTask(job, self)
        generation = self._generation

        def deliver(callback, *outcome) -> None:
            self._forget(task)
            if callback is not None and generation == self._generation:
                callback(*outcome)

        task.progress.connect(self.progress)
        task.finished.connect(lambda result: deliver(done, result))
        task.failed.connect(lambda message: deliver(failed, message))
        task.cancelled.connect(lambda: deliver(cancelled))
        self._running.append(task)
        task.start()
        return task

    def call(self, function: Callable[[], Any], done: Callable[[Any], None] | None = None,
             failed: Callable[[str], None] | None = None) -> BackgroundTask:
        """Run ``function()`` (no progress, no cancel) and hand on its outcome."""
        return self.run(lambda _report, _cancel: function(), done, failed)

    def cancel(self) -> None:
        """Ask every job to stop (each ends with its ``cancelled``)."""
        for task in self._running:
            task.cancel()

    def outdate(self) -> None:
        """What the jobs running now were for is gone: drop their outcomes."""
        self._generation += 1

    def stop(self, timeout_s: float = 60) -> None:
        """Cancel every job, drop its outcome, and wait for its thread (the owner closes)."""
        self._generation += 1
        for task in list(self._running):
            task.stop(timeout_s)
        self._running.clear()

    def _forget(self, task: BackgroundTask) -> None:
        if task in self._running:
            self._running.remove(task)
            if not self._running:
                self.idle.emit()
