"""Showing a key the user must keep off this computer: the audit verification key (once)
and the conversations' recovery key (until it is confirmed).

The dialog cannot be closed until the person confirms the key is stored safely, and offers
only places off this computer (a removable drive, or the printer). From the keyboard: Space
ticks the box, then Return closes the dialog, even where the desktop (GNOME's theme, say)
would have Return tick a focused box again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Slot
from PySide6.QtGui import QCloseEvent, QFont, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from strongroom.core.audit.keys import show_fingerprint
from strongroom.core.media import is_off_this_computer, print_text, printer_command, removable_folders


@dataclass(frozen=True)
class KeySheet:
    """What one kind of key says about itself."""

    title: str  # "Audit verification key"
    intro: str  # rich text above the key
    details: tuple[str, ...]  # rich text lines below it
    page: str  # the printed or saved page, the key included
    file_name: str  # suggested on a removable drive
    unstored: str  # said when the person tries to close without storing it


class KeyDialog(QDialog):
    def __init__(self, key_text: str, sheet: KeySheet, local_folders: tuple[Path, ...] = (),
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(sheet.title)
        self.key_text = key_text
        self.sheet = sheet
        self.local_folders = (Path.home(), *local_folders)
        intro = QLabel(sheet.intro)
        intro.setWordWrap(True)
        self.key = QLineEdit(key_text)
        self.key.setReadOnly(True)
        self.key.setFont(QFont("monospace"))
        self.key.setAccessibleName(sheet.title)
        self.detail_labels = []
        for text in sheet.details:
            label = QLabel(text)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.detail_labels.append(label)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.confirmed = QCheckBox("I have &stored the key safely, away from this computer")
        self.confirmed.toggled.connect(self._update)
        self.confirmed.installEventFilter(self)

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
            button.setAutoDefault(False)  # Return is for OK, never for Copy or Print
            self.buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setDefault(True)
        self.buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        for widget in (intro, self.key, *self.detail_labels, self.status, self.confirmed,
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
            self.status.setText(f"<b>Store the key first.</b> {self.sheet.unstored} Tick the box "
                                "once it is safe.")

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

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Return on the box closes the dialog once the box is ticked; it never ticks or
        unticks it (GNOME's Qt theme makes Return press a focused button or box)."""
        if (watched is self.confirmed and event.type() == QEvent.Type.KeyPress
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)):
            if self.confirmed.isChecked():
                self.accept()
            else:
                self.status.setText("Tick the box (Space) once the key is stored away from this "
                                    "computer; then Return closes this window.")
            return True
        return super().eventFilter(watched, event)

    # -- getting it off this computer ---------------------------------------------------------

    def page_text(self) -> str:
        return self.sheet.page

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
        path, _ = QFileDialog.getSaveFileName(self, f"Save the {self.sheet.title.lower()}",
                                              str(drives[0] / self.sheet.file_name))
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


class AuditKeyDialog(KeyDialog):
    def __init__(self, key_text: str, fingerprint: str, key_storage: str,
                 local_folders: tuple[Path, ...] = (), parent: QWidget | None = None):
        shown = show_fingerprint(fingerprint)
        sheet = KeySheet(
            title="Audit verification key",
            intro="<b>Strongroom keeps a tamper-evident audit log.</b><br>"
                  "This key proves that no entry in it was forged or rewritten. It is shown "
                  "<b>only now</b>: once you confirm it is stored, Strongroom no longer keeps it. "
                  "Give it to your security officer or auditor: print it, or save it to a "
                  "removable drive, and keep it away from this computer.",
            details=(f"Key fingerprint: <b>{shown}</b> (the log records it; it names the key "
                     "without revealing it)",
                     f"Day to day, the log is signed with a key that changes every day, kept in "
                     f"{key_storage}."),
            page=(f"Strongroom audit verification key\n\n{key_text}\n\nFingerprint: {shown}\n"
                  "Keep this away from the workstation. With it, an auditor can show that no "
                  "entry of its audit log was forged or rewritten.\n"),
            file_name="strongroom-audit-key.txt",
            unstored="Without it, nobody can prove the log was not rewritten.")
        super().__init__(key_text, sheet, local_folders, parent)
        self.fingerprint = fingerprint
        self.fingerprint_label = self.detail_labels[0]


class RecoveryKeyDialog(KeyDialog):
    """The conversations' recovery key; shown at every start until confirmed stored."""

    def __init__(self, key_text: str, key_storage: str, local_folders: tuple[Path, ...] = (),
                 parent: QWidget | None = None):
        sheet = KeySheet(
            title="Conversations recovery key",
            intro="<b>Your conversations are encrypted on this computer.</b><br>"
                  "Their key is kept on this computer. If it is lost (a new keyring, a new "
                  "computer), this <b>recovery key</b> brings the conversations back. Print it or "
                  "save it to a removable drive, and keep it away from this computer.",
            details=(f"The key is kept in {key_storage}.",
                     "If both that key and this recovery key are lost, <b>nobody can read the "
                     "conversations again</b>, Strongroom included."),
            page=(f"Strongroom conversations recovery key\n\n{key_text}\n\n"
                  "Keep this away from the workstation. On it, `strongroom chats recover` "
                  "restores access to the encrypted conversations with it.\n"),
            file_name="strongroom-recovery-key.txt",
            unstored="Without it, a lost keyring means lost conversations.")
        super().__init__(key_text, sheet, local_folders, parent)
