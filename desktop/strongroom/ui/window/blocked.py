"""Connections the egress guard blocked, as the window shows them: counted in the status
bar and recorded in the audit log, whichever thread tried them (a report is carried to the
GUI thread by a signal), including those blocked before the window opened."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from strongroom.core.audit.events import AuditUnavailable
from strongroom.core.offline import BlockedAttempt, EgressGuard


class BlockedConnections(QObject):
    """Listens to ``guard`` (if there is one) for ``window``.

    Signals:
        blocked(str, str): the call that was refused, and where it would have gone.
    """

    blocked = Signal(str, str)

    def __init__(self, window, guard: EgressGuard | None) -> None:
        super().__init__(window)
        self.window_ = window
        self.guard = guard
        self.blocked.connect(self._on_blocked)
        if guard is not None:
            guard.add_listener(self)
            for attempt in guard.blocked:
                self._on_blocked(attempt.event, attempt.destination)

    def __call__(self, attempt: BlockedAttempt) -> None:  # on whichever thread tried it
        self.blocked.emit(attempt.event, attempt.destination)

    @Slot(str, str)
    def _on_blocked(self, call: str, destination: str) -> None:
        self.window_.status.record_blocked(destination)
        try:
            self.window_.audit.egress_blocked(call, destination)
        except AuditUnavailable as error:
            self.window_.show_notice(str(error))

    def stop(self) -> None:
        if self.guard is not None:
            self.guard.remove_listener(self)
