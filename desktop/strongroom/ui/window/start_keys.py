"""The keys a person must take away, shown when the window starts, one after the other.

1. The conversations' recovery key, at every start until it is confirmed stored.
2. The audit verification key, once, where nobody has seen it yet (the window or a command
   run from a script started the log): when the person confirms it is stored, Strongroom
   no longer keeps it, and the log records that it was shown in the window.
3. Otherwise, once: where the key was shown to someone else (a terminal, say), with its
   fingerprint and what to do if it was lost.

Each dialog opens when the one before it has closed, never stacked on it.
"""

from __future__ import annotations

import logging
from typing import Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from strongroom.core.audit.events import AuditUnavailable
from strongroom.core.audit.keys import show_fingerprint
from strongroom.core.workspace import Workspace
from strongroom.ui.common.key_dialog import AuditKeyDialog, RecoveryKeyDialog

log = logging.getLogger(__name__)

LOST_KEY_ADVICE = ("If it was lost, the security officer can start a new audit log with a new "
                   "key: <code>strongroom audit new-log --reason \"verification key lost\"</code> "
                   "(both logs record it).")


class KeysAtStart(QObject):
    """Shows the dialogs in turn over ``parent``.

    Signals:
        shown(object): a dialog was opened (the `QDialog`).
        done(): the last one closed (or there was none).
    """

    shown = Signal(object)
    done = Signal()

    def __init__(self, workspace: Workspace, parent: QWidget | None = None):
        super().__init__(parent)
        self.workspace = workspace
        self.parent_widget = parent
        self.current: QDialog | None = None
        self._steps: list[Callable[[], QDialog | None]] = [self._recovery_key, self._audit_key]

    def start(self) -> None:
        self._next()

    @Slot()
    def _next(self) -> None:
        self.current = None
        while self._steps:
            dialog = self._steps.pop(0)()
            if dialog is not None:
                self.current = dialog
                dialog.finished.connect(self._next)
                dialog.open()
                self.shown.emit(dialog)
                return
        self.done.emit()

    def _local_folders(self):
        return (self.workspace.paths.data_dir, self.workspace.paths.config_dir)

    def _recovery_key(self) -> QDialog | None:
        text = self.workspace.chats_recovery_text
        if not text:
            return None
        dialog = RecoveryKeyDialog(text, self.workspace.secrets.description,
                                   self._local_folders(), self.parent_widget)
        dialog.accepted.connect(self._recovery_key_stored)
        return dialog

    @Slot()
    def _recovery_key_stored(self) -> None:
        try:
            self.workspace.confirm_recovery_key_stored()
        except AuditUnavailable as error:  # confirmed all the same; the window shows the log's state
            log.error("%s", error)

    def _audit_key(self) -> QDialog | None:
        audit = self.workspace.audit
        if not audit.available:
            return None
        pending = audit.pending_key()
        if pending:
            dialog = AuditKeyDialog(pending, audit.log.fingerprint, audit.log.key_storage,
                                    self._local_folders(), self.parent_widget)
            dialog.accepted.connect(self._audit_key_stored)
            return dialog
        shown = audit.log.key_display()
        if shown is None or shown.told_in_window:
            return None
        box = QMessageBox(QMessageBox.Icon.Information, "Audit verification key",
                          f"<b>This computer's audit log has a verification key.</b><br>It was "
                          f"shown {shown.describe()}, with the fingerprint "
                          f"<b>{show_fingerprint(audit.log.fingerprint)}</b>, and Strongroom no "
                          "longer keeps it. It should now be with your security officer or "
                          f"auditor, off this computer.<br><br>{LOST_KEY_ADVICE}",
                          QMessageBox.StandardButton.Ok, self.parent_widget)
        box.setObjectName("auditKeyShownElsewhere")
        box.finished.connect(lambda _result: audit.log.mark_told_in_window())  # said once
        return box

    @Slot()
    def _audit_key_stored(self) -> None:
        try:
            self.workspace.audit.key_shown("window")
        except AuditUnavailable as error:
            log.error("that the audit key was shown could not be recorded: %s", error)
