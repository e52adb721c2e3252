"""Showing the audit verification key once, when the audit log is created.

The dialog cannot be closed until the person confirms the key is stored safely, offers only
places off this computer (a removable drive, or the printer), and shows the key's
fingerprint, which the log records, so an auditor can later check they hold the right key.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QCloseEvent, QFont, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox, QDialog, QDialogButtonBox, QFileDialog, QLabel, QLineEdit, QMessageBox, QPushButton,
    QVBoxLayout, QWidget,
)

from strongroom.core.audit.keys import show_fingerprint
from strongroom.core.media import is_off_this_computer, print_text, printer_command, removable_folders


class AuditKeyDialog(QDialog):
    def __init__(self, key_text: str, fingerprint: str, key_storage: str,
                 local_folders: tuple[Path, ...] = (), parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Audit verification key")
        self.key_text = key_text
        self.fingerprint = fingerprint
        self.local_folders = (Path.home(), *local_folders)
        intro = QLabel(
            "<b>Strongroom has started a tamper-evident audit log.</b><br>"
            "This key proves that no entry in it was forged or rewritten. It is shown "
            "<b>only now</b>: Strongroom does not keep it. Give it to your security officer or "
            "auditor: print it, or save it to a removable drive, and keep it away from this "
            "computer.")
        intro.setWordWrap(True)
        self.key = QLineEdit(key_text)
        self.key.setReadOnly(True)
        self.key.setFont(QFont("monospace"))
        self.key.setAccessibleName("Audit verification key")
        self.fingerprint_label = QLabel(f"Key fingerprint: <b>{show_fingerprint(fingerprint)}</b> "
                                        "(the log records it; it names the key without revealing it)")
        self.fingerprint_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        storage = QLabel(f"Day to day, the log is signed with a key that changes every day, kept in "
                         f"{key_storage}.")
        storage.setWordWrap(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.confirmed = QCheckBox("I have stored the key safely, away from this computer")
        self.confirmed.toggled.connect(self._update)

        copy = QPushButton("Copy")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.key_text))
        self.print_button = QPushButton("Print…")
        self.print_button.clicked.connect(self.print_key)
        if printer_command() is None:
            self.print_button.setEnabled(False)
            self.print_button.setToolTip("There is no printing system (lp) on this computer.")
        self.save_button = QPushButton("Save to a removable drive…")
        self.save_button.clicked.connect(self._ask_where_to_save)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        for button in (copy, self.print_button, self.save_button):
            self.buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        for widget in (intro, self.key, self.fingerprint_label, storage, self.status, self.confirmed,
                       self.buttons):
            layout.addWidget(widget)
        self.resize(680, 300)
        self._update()

    @Slot()
    def _update(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(self.confirmed.isChecked())

    # -- the dialog closes only once the key is stored ----------------------------------------

    def reject(self) -> None:
        if self.confirmed.isChecked():
            super().reject()
        else:
            self.status.setText("<b>Store the key first.</b> Without it, nobody can prove the log "
                                "was not rewritten. Tick the box once it is safe.")

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.confirmed.isChecked():
            super().closeEvent(event)
        else:
            event.ignore()
            self.reject()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and not self.confirmed.isChecked():
            self.reject()
            return
        super().keyPressEvent(event)

    # -- getting it off this computer ---------------------------------------------------------

    def page_text(self) -> str:
        return (f"Strongroom audit verification key\n\n{self.key_text}\n\n"
                f"Fingerprint: {show_fingerprint(self.fingerprint)}\n"
                "Keep this away from the workstation. With it, an auditor can show that no entry "
                "of its audit log was forged or rewritten.\n")

    @Slot()
    def print_key(self) -> None:
        problem = print_text(self.page_text())
        self.status.setText(problem or "Sent to the printer.")

    def _ask_where_to_save(self) -> None:
        drives = removable_folders()
        if not drives:
            self.status.setText("No removable drive is mounted. Insert one, then try again, or "
                                "print the key.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the audit verification key",
                                              str(drives[0] / "strongroom-audit-key.txt"))
        if path:
            self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        if not is_off_this_computer(path, *self.local_folders):
            QMessageBox.warning(self, "Not a removable drive",
                                f"{path.parent} is on this computer. The key must be kept off it: "
                                "choose a removable drive.")
            return False
        try:
            path.write_text(self.page_text(), encoding="utf-8")
        except OSError as error:
            self.status.setText(f"The key could not be saved to {path}: {error.strerror}.")
            return False
        self.status.setText(f"Saved to {path}.")
        return True
