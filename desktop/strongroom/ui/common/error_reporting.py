"""The last resort for errors nothing else handled, while a window is open.

An exception that escapes a slot (Python's `sys.excepthook`), a background thread
(`threading.excepthook`), or a critical message from Qt itself is written to the app log,
with its traceback, and said in the window in plain words: what happened, that what the
person was doing may not have finished, and where the details are. Never only a line on a
standard error nobody reads. A `StrongroomError` (explained in its own message) is shown
as it is; any other exception is a fault in Strongroom, named as one.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QtMsgType, Signal, Slot, qInstallMessageHandler

from strongroom.core.errors import StrongroomError

log = logging.getLogger(__name__)

QT_LEVELS = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
             QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
             QtMsgType.QtFatalMsg: logging.CRITICAL}


def fault_text(error: BaseException, app_log: Path | None) -> str:
    """What a person reads about an error nothing else handled."""
    if isinstance(error, StrongroomError):
        return str(error)
    where = f" in the app log ({app_log})" if app_log is not None else " in the app log"
    summary = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return (f"Something went wrong inside Strongroom ({summary}). What you were doing may not "
            f"have finished: check it, and try again. The details are{where}; if this happens "
            "again, give that file to whoever looks after this computer.")


class ErrorReporting(QObject):
    """Installs the three last-resort hooks while a window is open; `uninstall` puts the
    previous ones back. ``show(text)`` says an error in the window (called on the GUI
    thread, whichever thread the error came from); the same text is shown once."""

    _reported = Signal(str)

    def __init__(self, show: Callable[[str], None], app_log: Path | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self._show = show
        self.app_log = app_log
        self._shown: set[str] = set()
        self._previous: tuple | None = None
        # Queued: a thread's error is shown by the GUI thread, where this object lives.
        self._reported.connect(self._say)

    def install(self) -> None:
        previous_qt = qInstallMessageHandler(self._qt_message)
        self._previous = (sys.excepthook, threading.excepthook, previous_qt)
        sys.excepthook = self._uncaught
        threading.excepthook = self._uncaught_in_thread

    def uninstall(self) -> None:
        if self._previous is None:
            return
        sys.excepthook, threading.excepthook, previous_qt = self._previous
        qInstallMessageHandler(previous_qt)
        self._previous = None

    def _uncaught(self, kind, error, trace) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, trace)
            return
        log.error("an error nothing handled", exc_info=(kind, error, trace))
        self._reported.emit(fault_text(error, self.app_log))

    def _uncaught_in_thread(self, args: threading.ExceptHookArgs) -> None:
        if issubclass(args.exc_type, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "a background thread"
        log.error("an error nothing handled, in %s", name,
                  exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
        error = args.exc_value if args.exc_value is not None else args.exc_type()
        self._reported.emit(fault_text(error, self.app_log))

    def _qt_message(self, kind: QtMsgType, context, message: str) -> None:
        log.log(QT_LEVELS.get(kind, logging.WARNING), "Qt: %s", message)
        if self._previous is not None and self._previous[2] is not None:
            self._previous[2](kind, context, message)  # e.g. the test harness's own handler
        if kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
            self._reported.emit(fault_text(RuntimeError(message), self.app_log))

    @Slot(str)
    def _say(self, text: str) -> None:
        if text not in self._shown:
            self._shown.add(text)
            self._show(text)
