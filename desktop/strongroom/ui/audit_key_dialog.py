"""Showing the audit verification key once, when the audit log is created."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class AuditKeyDialog(QDialog):
    def __init__(self, key_text: str, key_storage: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Audit verification key")
        self.key_text = key_text
        intro = QLabel(
            "<b>Strongroom has started a tamper-evident audit log.</b><br>"
            "This key proves that no entry in it was forged or rewritten. It is shown "
            "<b>only now</b>: Strongroom does not keep it. Give it to your security officer or "
            "auditor, or print it and keep it safe, away from this computer.")
        intro.setWordWrap(True)
        self.key = QLineEdit(key_text)
        self.key.setReadOnly(True)
        self.key.setFont(QFont("monospace"))
        self.key.setAccessibleName("Audit verification key")
        storage = QLabel(f"Day to day, the log is signed with a key that changes every day, kept in "
                         f"{key_storage}.")
        storage.setWordWrap(True)
        copy = QPushButton("Copy")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.key_text))
        save = QPushButton("Save as a text file…")
        save.clicked.connect(self._save)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(save, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.key)
        layout.addWidget(storage)
        layout.addWidget(buttons)
        self.resize(640, 220)

    def _save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the audit verification key",
                                              str(Path.home() / "strongroom-audit-key.txt"))
        if path:
            Path(path).write_text(f"Strongroom audit verification key\n{self.key_text}\n",
                                  encoding="utf-8")
