"""Help → Compliance: the workstation's security posture (`core.compliance`) as a table,
each item green, amber or red with its reason, and saved as a web page or JSON for a
security officer's sign-off."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from strongroom.core.atomic import write_atomic
from strongroom.core.compliance import AMBER, GREEN, RED, ComplianceReport
from strongroom.ui.common import theme


def status_colour(status: str) -> str:
    colours = theme.current()
    return {GREEN: colours.ok, AMBER: colours.warn, RED: colours.bad}[status]


class ComplianceView(QDialog):
    def __init__(self, report: ComplianceReport, auditor, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Compliance")
        self.report, self.auditor = report, auditor
        counts = report.counts
        self.summary = QLabel(f"{report.host}, checked {report.created_at} by {report.user}: "
                              f"{counts[GREEN]} green, {counts[AMBER]} amber, {counts[RED]} red.")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(len(report.checks), 3)
        self.table.setHorizontalHeaderLabels(("Status", "Item", "Why"))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        self.table.setAccessibleName("Compliance checks")
        for row, check in enumerate(report.checks):
            status = QTableWidgetItem(f"● {check.status.upper()}")
            status.setForeground(QBrush(QColor(status_colour(check.status))))
            self.table.setItem(row, 0, status)
            self.table.setItem(row, 1, QTableWidgetItem(check.title))
            self.table.setItem(row, 2, QTableWidgetItem(check.reason))
        self.table.verticalHeader().hide()
        self.table.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)  # reasons wrap, in full
        header.sectionResized.connect(lambda *_: self.table.resizeRowsToContents())
        self.table.resizeRowsToContents()
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        buttons = QHBoxLayout()
        for text, kind in (("Save as &web page…", "html"), ("Save as &JSON…", "json")):
            button = QPushButton(text)
            button.clicked.connect(lambda _checked=False, k=kind: self.ask_save(k))
            buttons.addWidget(button)
        buttons.addStretch(1)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.notice)
        layout.addLayout(buttons)
        self.resize(900, 520)

    def ask_save(self, kind: str) -> None:
        """``kind``: "html" (a web page) or "json"."""
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the compliance report", f"strongroom-compliance-{self.report.host}.{kind}",
            "Web pages (*.html)" if kind == "html" else "JSON (*.json)")
        if path:
            self.save(Path(path), kind)

    def save(self, path: Path, kind: str) -> None:
        data = self.report.as_html() if kind == "html" else self.report.as_json()
        try:
            write_atomic(path, data.encode("utf-8"), 0o600)
        except OSError as error:
            self.notice.setText(f"The report could not be saved to {path}: {error.strerror}.")
            return
        self.report.record_saved(self.auditor, path, kind)
        self.notice.setText(f"Saved to {path}.")
