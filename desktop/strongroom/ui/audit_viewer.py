"""The auditor's window: browse, filter and search the audit log, and validate it.

The table shows rows of a `LineIndex` (offsets, built on a background thread, so the first
rows appear at once) and reads each entry when it is painted. Filtering, "was this prompt
asked?" and validation run as `BackgroundTask`s; validation paints broken rows red and can
jump to the first break; its report can be saved as HTML or JSON.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from strongroom.core.audit import format as fmt
from strongroom.core.audit.events import AuditUnavailable
from strongroom.core.display import printable
from strongroom.core.audit import keys as fmt_keys
from strongroom.core.audit.reader import EntryFilter, LineIndex, PromptSearch, filter_rows, last_epoch
from strongroom.core.audit.report import AuditReport
from strongroom.core.audit.sealed_text import unseal
from strongroom.core.audit.verifier import read_checkpoint, verify_log
from strongroom.ui.background import BackgroundTask

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Line", "Seq", "Time (UTC)", "User", "Event", "Model", "Tokens", "Latency ms",
           "Prompt hash", "Entry hash")


class AuditTableModel(QAbstractTableModel):
    """Rows are line numbers of the log (all of them, or a filter's result); entries are
    read when shown and a few thousand are kept."""

    def __init__(self, lines: LineIndex, parent=None):
        super().__init__(parent)
        self.lines = lines
        self.rows = None  # None: every line; else the filtered line numbers
        self.shown = 0  # rows announced to views so far
        self.broken: set[int] = set()  # 0-based lines a validation found broken
        self.unfinished: set[int] = set()  # 0-based lines of answers that never finished
        self._cache: OrderedDict[int, dict] = OrderedDict()

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else self.shown

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def line_of(self, row: int) -> int:
        return row if self.rows is None else self.rows[row]

    def entry(self, row: int) -> dict:
        line = self.line_of(row)
        if line in self._cache:
            self._cache.move_to_end(line)
            return self._cache[line]
        entry = self.lines.entry(line)
        self._cache[line] = entry
        if len(self._cache) > 5000:
            self._cache.popitem(last=False)
        return entry

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        line = self.line_of(index.row())
        if role == Qt.ItemDataRole.BackgroundRole:
            if line in self.broken:
                return QBrush(QColor("#f8d7d4"))
            return QBrush(QColor("#fbefd5")) if line in self.unfinished else None
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 4:
            return printable(str(self.entry(index.row()).get("event", "inference")))  # the raw name
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        entry = self.entry(index.row())
        if "unreadable" in entry:
            return f"{line + 1}" if index.column() == 0 else ("(not a readable entry)" if index.column() == 4 else "")
        details = entry.get("details") if isinstance(entry.get("details"), dict) else {}
        column = index.column()
        values = (
            line + 1, entry.get("seq", ""), str(entry.get("timestamp", ""))[:19].replace("T", " "),
            entry.get("user_id", ""), _event_in_words(entry.get("event", "inference")),
            entry.get("model_id") or details.get("model", ""),
            entry.get("response_tokens", details.get("completion_tokens", "")),
            entry.get("latency_ms", ""), str(entry.get("prompt_hash", ""))[:16],
            str(entry.get(fmt.HASH_FIELD, ""))[:16],
        )
        value = values[column]
        return "" if value is None else printable(str(value))  # the log's text is anyone's

    def grow(self, lines: int) -> None:
        """More lines were indexed: show them (unfiltered view only)."""
        if self.rows is None and lines > self.shown:
            self.beginInsertRows(QModelIndex(), self.shown, lines - 1)
            self.shown = lines
            self.endInsertRows()

    def show_rows(self, rows) -> None:
        self.beginResetModel()
        self.rows = rows
        self.shown = len(self.lines) if rows is None else len(rows)
        self.endResetModel()

    def mark_broken(self, lines: set[int], unfinished: set[int] = frozenset()) -> None:
        """Paint broken lines red, and answers that started and never finished amber."""
        self.broken = lines
        self.unfinished = unfinished
        if self.shown:
            self.dataChanged.emit(self.index_of(0), self.index_of(self.shown - 1))

    def index_of(self, row: int, column: int = 0) -> QModelIndex:
        return self.createIndex(row, column)


class AuditViewer(QMainWindow):
    """Signals:
        indexed(int): lines indexed so far (the first arrive within milliseconds).
        filtered(int): a filter or search finished with this many rows.
        validated(object): a validation finished (`AuditReport`).
    """

    indexed = Signal(int)
    filtered = Signal(int)
    validated = Signal(object)
    _indexed_block = Signal(int)

    def __init__(self, log_path: Path, auditor=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.log_path = Path(log_path)
        self.auditor = auditor
        self.setWindowTitle(f"Audit log — {self.log_path}")
        self.resize(1200, 760)
        self.index = LineIndex(self.log_path)
        self.model = AuditTableModel(self.index, self)
        self.report: AuditReport | None = None
        self._tasks: list[BackgroundTask] = []
        self._build()
        self._indexed_block.connect(self._on_indexed)
        self._run(lambda report, cancel: self.index.build(self._indexed_block.emit, cancel),
                  self._on_index_done)

    # -- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setStretchLastSection(True)
        for column, width in enumerate((70, 70, 150, 90, 110, 170, 70, 90, 130)):
            self.table.setColumnWidth(column, width)
        self.table.selectionModel().currentRowChanged.connect(self._show_detail)
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setAccessibleName("Entry")

        self.event_filter = QComboBox()
        self.event_filter.addItem("All events", "")
        for event in fmt.EVENTS:
            self.event_filter.addItem(event, event)
        self.user_filter = QLineEdit()
        self.user_filter.setPlaceholderText("user")
        self.model_filter = QLineEdit()
        self.model_filter.setPlaceholderText("model")
        self.use_dates = QCheckBox("From")
        self.since = QDateEdit(QDate.currentDate().addDays(-30))
        self.until = QDateEdit(QDate.currentDate())
        for edit in (self.since, self.until):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        apply = QPushButton("Filter")
        apply.clicked.connect(self.apply_filter)
        clear = QPushButton("Show all")
        clear.clicked.connect(self.clear_filter)
        filters = QHBoxLayout()
        for widget in (self.event_filter, self.user_filter, self.model_filter, self.use_dates,
                       self.since, QLabel("to"), self.until, apply, clear):
            filters.addWidget(widget)

        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("Was this prompt asked? Paste its exact text; it is hashed "
                                       "here and never stored")
        ask = QPushButton("Find")
        ask.clicked.connect(self.find_prompt)
        self.prompt.returnPressed.connect(self.find_prompt)
        search = QHBoxLayout()
        search.addWidget(self.prompt, 1)
        search.addWidget(ask)

        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("audit verification key (optional; opens recorded text)")
        self.key.textChanged.connect(
            lambda _text: self._show_detail(self.table.currentIndex(), QModelIndex()))
        self.checkpoint_path = QLineEdit()
        self.checkpoint_path.setPlaceholderText("checkpoint file (optional)")
        choose = QPushButton("…")
        choose.clicked.connect(self._choose_checkpoint)
        self.validate_button = QPushButton("Validate chain")
        self.validate_button.clicked.connect(self.validate)
        self.first_break_button = QPushButton("Go to first break")
        self.first_break_button.clicked.connect(self.go_to_first_break)
        self.first_break_button.setEnabled(False)
        self.export_button = QPushButton("Export report…")
        self.export_button.clicked.connect(self._ask_export)
        self.export_button.setEnabled(False)
        validation = QHBoxLayout()
        for widget in (self.key, self.checkpoint_path, choose, self.validate_button,
                       self.first_break_button, self.export_button):
            validation.addWidget(widget)

        self.banner = QLabel("Not validated yet.")
        self.banner.setObjectName("auditBanner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.count = QLabel()

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setSizes([520, 180])
        central = QWidget()
        layout = QVBoxLayout(central)
        form = QFormLayout()
        form.addRow("Filter:", filters)
        form.addRow("Search:", search)
        form.addRow("Validate:", validation)
        layout.addLayout(form)
        layout.addWidget(self.banner)
        layout.addWidget(self.progress)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.count)
        self.setCentralWidget(central)

    # -- background work -------------------------------------------------------------------------

    def _run(self, job, on_done, on_failed=None) -> BackgroundTask:
        task = BackgroundTask(job, self)
        task.progress.connect(self._on_progress)
        task.finished.connect(on_done)
        task.finished.connect(lambda _=None, t=task: self._forget(t))
        task.failed.connect(on_failed or self._on_failed)
        task.failed.connect(lambda _=None, t=task: self._forget(t))
        task.cancelled.connect(lambda t=task: self._forget(t))
        self._tasks.append(task)
        task.start()
        return task

    def _forget(self, task: BackgroundTask) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
        self.progress.hide()

    @Slot(float, str)
    def _on_progress(self, fraction: float, _text: str) -> None:
        self.progress.show()
        self.progress.setValue(int(fraction * 1000))

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._show_banner(message, "bad")

    @Slot(int)
    def _on_indexed(self, lines: int) -> None:
        self.model.grow(lines)
        self.count.setText(f"{lines:,} entries indexed…")
        self.indexed.emit(lines)

    @Slot(object)
    def _on_index_done(self, lines: int) -> None:
        self.model.grow(lines)
        self.count.setText(f"{lines:,} entries")

    # -- filters and search --------------------------------------------------------------------

    def current_filter(self) -> EntryFilter:
        dates = self.use_dates.isChecked()
        return EntryFilter(
            event=self.event_filter.currentData() or "",
            user=self.user_filter.text().strip(),
            model=self.model_filter.text().strip(),
            since=self.since.date().toPython() if dates else None,
            until=self.until.date().toPython() if dates else None,
        )

    @Slot()
    def apply_filter(self, wanted: EntryFilter | None = None) -> None:
        wanted = wanted or self.current_filter()
        if wanted.empty:
            self.clear_filter()
            return
        self._run(lambda report, cancel: filter_rows(self.index, wanted, lambda f: report(f, ""),
                                                     cancel),
                  self._show_filtered)

    @Slot()
    def find_prompt(self) -> None:
        """"Was this prompt asked?" The text is turned into the digests the log would hold."""
        text = self.prompt.text()
        if not text:
            return
        try:
            root = fmt_keys.key_from_text(self.key.text()) if self.key.text().strip() else None
        except ValueError as error:
            self._on_failed(str(error))
            return
        search = PromptSearch(text, root, last_epoch(self.index))
        if root is None and self._keyed_digests():
            self._show_banner("This log keeps keyed digests of prompts: a copy of it alone cannot "
                              "confirm a guess. Enter the audit verification key above to search it.",
                              "partial")
        self.apply_filter(EntryFilter(prompt=search))

    def _keyed_digests(self) -> bool:
        first = self.index.entry(0) if len(self.index) else {}
        details = first.get("details") if isinstance(first.get("details"), dict) else {}
        return details.get("format_version", 1) >= 2

    @Slot(object)
    def _show_filtered(self, rows) -> None:
        self.detail.clear()  # the entry it showed may not be among the rows shown now
        self.model.show_rows(rows)
        self.count.setText(f"{len(rows):,} matching entries of {len(self.index):,}")
        self.filtered.emit(len(rows))

    @Slot()
    def clear_filter(self) -> None:
        self.model.show_rows(None)
        self.count.setText(f"{len(self.index):,} entries")

    @Slot(QModelIndex, QModelIndex)
    def _show_detail(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            entry = self.model.entry(current.row())
            text = json.dumps(entry, indent=2, ensure_ascii=False)
            opened = recorded_text(entry, self._typed_key())
            if opened:
                text += "\n\n" + "\n\n".join(f"{name} (opened with the verification key):\n{value}"
                                               for name, value in opened)
            self.detail.setPlainText(printable(text, keep_newlines=True, limit=1 << 20))

    def _typed_key(self) -> bytes | None:
        try:
            return fmt_keys.key_from_text(self.key.text()) if self.key.text().strip() else None
        except ValueError:
            return None

    # -- validation ------------------------------------------------------------------------------

    def _choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a checkpoint", str(Path.home()),
                                              "Checkpoints (*.json);;All files (*)")
        if path:
            self.checkpoint_path.setText(path)

    @Slot()
    def validate(self) -> None:
        key = self.key.text().strip() or None
        try:
            checkpoint = (read_checkpoint(Path(self.checkpoint_path.text().strip()))
                          if self.checkpoint_path.text().strip() else None)
            if key:
                fmt_keys.key_from_text(key)
        except ValueError as error:
            self._on_failed(str(error))
            return
        local, storage = self.auditor.evidence_for(self.log_path) if self.auditor else (None, None)
        self.validate_button.setEnabled(False)
        self._show_banner("Validating…", "")
        self._run(lambda report, cancel: verify_log(self.log_path, key, checkpoint, local=local,
                                                    key_storage=storage, on_progress=report,
                                                    cancel=cancel),
                  self._on_validated)

    @Slot(object)
    def _on_validated(self, report: AuditReport) -> None:
        self.report = report
        self.validate_button.setEnabled(True)
        self.export_button.setEnabled(True)
        self.first_break_button.setEnabled(bool(report.breaks))
        self.model.mark_broken({b.line - 1 for b in report.breaks if b.line > 0},
                               {line - 1 for line, _ in report.unfinished})
        text, state = banner_for(report)
        if self.auditor is not None:
            try:
                self.auditor.audit_verify(self.log_path, report)
            except AuditUnavailable as error:
                text += f" This validation was not recorded in the audit log: {error}"
        self._show_banner(text, state)
        self.validated.emit(report)

    def _show_banner(self, text: str, state: str) -> None:
        self.banner.setText(text)
        self.banner.setProperty("state", state)
        self._repolish(self.banner)

    @Slot()
    def go_to_first_break(self) -> None:
        if self.report is None or self.report.ok:
            return
        line = self.report.first_break.line - 1
        self.clear_filter()
        self.model.grow(len(self.index))
        target = self.model.index_of(min(line, max(self.model.shown - 1, 0)))
        self.table.setCurrentIndex(target)
        self.table.scrollTo(target, QAbstractItemView.ScrollHint.PositionAtCenter)

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the verification report",
                                              str(Path.home() / "audit-verification.html"),
                                              "HTML (*.html);;JSON (*.json)")
        if path:
            self.export_report(Path(path))

    def export_report(self, path: Path) -> None:
        text = self.report.as_json() if path.suffix.lower() == ".json" else self.report.as_html()
        path.write_text(text, encoding="utf-8")

    @staticmethod
    def _repolish(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)

    def closeEvent(self, event) -> None:
        for task in list(self._tasks):
            task.stop()
        self.index.close()
        super().closeEvent(event)


def recorded_text(entry: dict, root: bytes | None) -> list[tuple[str, str]]:
    """The prompt and answer text sealed in ``entry``, opened with the verification key
    ``root`` (each field says so when the key does not open it)."""
    details = entry.get("details") if isinstance(entry.get("details"), dict) else {}
    opened = []
    for field, name in (("prompt_sealed", "Prompt"), ("response_sealed", "Answer")):
        sealed = details.get(field)
        if root is None or not isinstance(sealed, str) or not sealed.startswith("sealed-"):
            continue
        try:
            opened.append((name, unseal(root, sealed)))
        except ValueError as error:
            opened.append((name, f"({error})"))
    return opened


def _event_in_words(event: object) -> str:
    """'answer finished' rather than 'inference'; an unknown name as it is."""
    return fmt.EVENTS.get(event, str(event)) if isinstance(event, str) else str(event)


def banner_for(report: AuditReport) -> tuple[str, str]:
    """The banner after a validation, and its state: "ok" (green) only when the MACs were
    checked with the verification key; "partial" (amber) when the log holds for what could be
    checked without it; "bad" (red) when anything is broken, or the key was not this log's."""
    if report.key_problem:
        return report.key_problem, "bad"
    if report.breaks:
        first = report.first_break
        text = (f"BROKEN at line {first.line}: {first.kind.value}: {first.message} "
                f"({len(report.breaks) + report.more_breaks} problem(s) in all).")
        state = "bad"
    elif report.keyed:
        text = f"The log holds: {report.entries:,} entries. Checked: " + "; ".join(report.checked_with) + "."
        state = "ok"
    else:
        text = (f"The chain holds for what could be checked without the audit verification key: "
                f"{report.entries:,} entries. Checked: " + "; ".join(report.checked_with) + ". "
                + (report.notes[0] if report.notes else ""))
        state = "partial"
    if report.checkpoint_checked and not report.breaks:
        text += " The checkpoint matches."
    if report.crashes:
        text += f" Crash damage, not tampering: {len(report.crashes)}."
    if report.unfinished:
        text += (f" {len(report.unfinished)} answer(s) started and never finished (shown in amber; "
                 "the app stopped while answering — not tampering).")
    return text, state
