"""Asking where to export a conversation, saying first that the export leaves the
encrypted store, and offering a removable drive before anything on this computer."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from strongroom.core.media import removable_folders

WARNING = ("The exported file is <b>not encrypted</b>: anyone who can read it can read this "
           "conversation. Save it only where it is protected as the conversation must be (a "
           "removable drive you keep safe, say). Export anyway?")


def ask_export_path(parent: QWidget, title: str, kind: str) -> Path | None:
    """Where to write the export of the conversation ``title``, or None when not wanted."""
    leave = QMessageBox.question(parent, "Export leaves the encrypted store", WARNING)
    if leave != QMessageBox.StandardButton.Yes:
        return None
    suggested = "".join(c if c.isalnum() or c in " -_" else "_" for c in title).strip() or "conversation"
    filters = "Markdown (*.md)" if kind == "md" else "JSON (*.json)"
    drives = removable_folders()  # offered first: the file should not stay on this computer
    where = drives[0] if drives else Path.home()
    path, _ = QFileDialog.getSaveFileName(parent, "Export conversation (not encrypted)",
                                          str(where / f"{suggested}.{kind}"), filters)
    return Path(path) if path else None
