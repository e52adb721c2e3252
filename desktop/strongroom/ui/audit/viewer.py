"""The auditor's window: browse, filter and search the audit log, and validate it.

The table shows rows of a `LineIndex` (offsets, built on a background thread, so the first
rows appear at once) and reads each entry when it is painted. The viewer watches the file:
entries written while it is open are indexed and shown, a filter's matches and the counts
follow, and a file moved aside or cut is read again from the start (`follow`). Filtering,
"was this prompt asked?" and validation run off the GUI thread; validation paints broken rows red
and can jump to the first break; its banner says what was checked (chain only, or MACs with
which key, and a checkpoint); its report can be saved as HTML or JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from strongroom.core.audit import keys as fmt_keys
from strongroom.core.audit.events import AuditUnavailable
from strongroom.core.audit.reader import EntryFilter, PromptSearch, filter_rows, last_epoch
from strongroom.core.audit.report import AuditReport
from strongroom.core.audit.verifier import read_checkpoint, verify_log
from strongroom.core.audit.words import entry_in_words
from strongroom.core.display import printable
from strongroom.ui.audit.controls import ViewerControls
from strongroom.ui.audit.follow import LogFollower
from strongroom.ui.audit.table_model import AuditTableModel
from strongroom.ui.audit.verdict import banner_for, recorded_text
from strongroom.ui.common.background import Tasks
from strongroom.ui.common.screen import fit_on_screen


class AuditViewer(QMainWindow):
    """Signals:
        indexed(int): lines indexed so far (the first arrive within milliseconds; more come
            as entries are written while the viewer is open).
        filtered(int): a filter or search finished, or entries written since matched it:
            the rows it shows now.
        validated(object): a validation finished (`AuditReport`).
    """

    indexed = Signal(int)
    filtered = Signal(int)
    validated = Signal(object)

    def __init__(self, log_path: Path, auditor=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.log_path = Path(log_path)
        self.auditor = auditor
        self.setWindowTitle(f"Audit log — {self.log_path}")
        fit_on_screen(self, 1200, 760)
        self.tasks = Tasks(self)
        self.follower = LogFollower(self.log_path, self.tasks, self)
        self.model = AuditTableModel(self.index, self)
        self.report: AuditReport | None = None
        self._filter: EntryFilter | None = None  # the filter whose rows are shown
        self._filter_run = 0  # each filter or "Show all" outdates the filters before it
        self._filtered_upto = 0  # lines the shown filter has looked at
        self._following = False  # lines written since are being filtered
        self._validation_banner: tuple[str, str] | None = None  # while the banner shows one
        self._validated_upto: int | None = None  # entries once this viewer's record was written
        self._build()
        self.tasks.progress.connect(self._on_progress)
        self.tasks.idle.connect(self.progress.hide)
        for keys in ("Esc", "Ctrl+W"):
            QShortcut(QKeySequence(keys), self, self.close)
        self.follower.grew.connect(self._on_indexed)
        self.follower.passed.connect(self._on_index_done)
        self.follower.replaced.connect(self._read_afresh)
        self.follower.failed.connect(self._on_failed)
        self.follower.start()

    @property
    def index(self):
        """The log's `LineIndex` (a new one after the file was replaced)."""
        return self.follower.index

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
        self.controls = controls = ViewerControls()
        controls.filterRequested.connect(lambda: self.apply_filter())
        controls.showAllRequested.connect(self.clear_filter)
        controls.promptRequested.connect(self.find_prompt)
        controls.keyChanged.connect(
            lambda: self._show_detail(self.table.currentIndex(), QModelIndex()))
        controls.validateRequested.connect(self.validate)
        controls.firstBreakRequested.connect(self.go_to_first_break)
        controls.exportRequested.connect(self._ask_export)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(240)
        self.progress.hide()
        self.count = QLabel()
        self.statusBar().addWidget(self.count, 1)  # always at the window's foot
        self.statusBar().addPermanentWidget(self.progress)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setSizes([520, 180])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.controls)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)

    # -- background work -------------------------------------------------------------------------

    def _run(self, job, on_done, on_failed=None) -> None:
        self.tasks.run(job, on_done, on_failed or self._on_failed)  # dropped once outdated

    @Slot(float, str)
    def _on_progress(self, fraction: float, _text: str) -> None:
        self.progress.show()
        self.progress.setValue(int(fraction * 1000))

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._show_banner(message, "bad")

    # -- following the file ----------------------------------------------------------------------

    @Slot()
    def _read_afresh(self) -> None:
        """The file was moved aside or cut: what was shown no longer describes it."""
        self._filter_run += 1
        self._filter, self._following, self._filtered_upto = None, False, 0
        self.model.read_afresh(self.index)
        self.detail.clear()
        self.report = None
        self.controls.validate_button.setEnabled(True)
        self.controls.first_break_button.setEnabled(False)
        self.controls.export_button.setEnabled(False)
        self._show_banner("The audit log file was replaced or shortened while this window was open, "
                          "so it was read again from the start. Validate it to check it.", "partial")

    @Slot(int)
    def _on_indexed(self, lines: int) -> None:
        self.model.grow(lines)
        self._show_count()
        self._note_growth()
        self.indexed.emit(lines)

    @Slot(int)
    def _on_index_done(self, lines: int) -> None:
        self.model.grow(lines)
        self._show_count()
        self._note_growth()
        self._follow_filter()

    def _show_count(self) -> None:
        total = len(self.index)
        if self._filter is not None:
            self.count.setText(f"{self.model.shown:,} matching entries of {total:,}")
        elif self.index.complete:
            self.count.setText(f"{total:,} entries")
        else:
            self.count.setText(f"{total:,} entries indexed…")

    def _note_growth(self) -> None:
        """Say, under a validation's result, how many entries it did not see."""
        if self._validation_banner is None or self.report is None:
            return
        text, state = self._validation_banner
        added = len(self.index) - (self._validated_upto or self.report.entries)
        if added > 0:
            text += (f" Since then {added:,} more {'entry was' if added == 1 else 'entries were'} "
                     "written; validate again to check them.")
        self._show_banner(text, state, validation=True)

    # -- filters and search --------------------------------------------------------------------

    def current_filter(self) -> EntryFilter:
        return self.controls.current_filter()

    def apply_filter(self, wanted: EntryFilter | None = None) -> None:
        wanted = wanted or self.current_filter()
        if wanted.empty:
            self.clear_filter()
            return
        self._filter_run += 1
        run, index, upto = self._filter_run, self.index, len(self.index)
        self._run(lambda report, cancel: filter_rows(index, wanted, lambda f: report(f, ""), cancel,
                                                     0, upto),
                  lambda rows: self._show_filtered(rows, wanted, upto, run))

    @Slot()
    def find_prompt(self) -> None:
        """"Was this prompt asked?" The text is turned into the digests the log would hold."""
        text = self.controls.prompt.text()
        if not text:
            return
        try:
            root = fmt_keys.key_from_text(self.controls.key.text()) if self.controls.key.text().strip() else None
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

    def _show_filtered(self, rows, wanted: EntryFilter, upto: int, run: int) -> None:
        if run != self._filter_run:
            return  # another filter, or "Show all", came after this one
        line = self._current_line()
        self._filter, self._filtered_upto = wanted, upto
        self.model.show_rows(rows)
        self._select_line(line)
        self._show_count()
        self.filtered.emit(len(rows))
        self._follow_filter()

    def _follow_filter(self) -> None:
        """Filter the lines indexed since the shown filter looked, and add those that match."""
        if self._filter is None or self._following or self._filtered_upto >= len(self.index):
            return
        self._following = True
        wanted, run, index = self._filter, self._filter_run, self.index
        first, last = self._filtered_upto, len(self.index)
        self._run(lambda _report, cancel: filter_rows(index, wanted, None, cancel, first, last),
                  lambda rows: self._add_matches(rows, last, run), self._on_follow_failed)

    def _add_matches(self, rows, upto: int, run: int) -> None:
        self._following = False
        if run == self._filter_run:
            self.model.add_rows(rows)
            self._filtered_upto = upto
            self._show_count()
            self.filtered.emit(self.model.shown)
        self._follow_filter()

    @Slot(str)
    def _on_follow_failed(self, message: str) -> None:
        self._following = False
        self._on_failed(message)

    @Slot()
    def clear_filter(self) -> None:
        self._filter_run += 1
        line = self._current_line()
        self._filter = None
        self.model.show_rows(None)
        self._select_line(line)
        self._show_count()

    def _current_line(self) -> int | None:
        """The 0-based line of the entry selected, if any."""
        current = self.table.currentIndex()
        return self.model.line_of(current.row()) if current.isValid() else None

    def _select_line(self, line: int | None) -> None:
        """Select ``line`` again if it is shown; otherwise no entry is selected or described."""
        row = self.model.row_of(line) if line is not None else None
        if row is None:
            self.table.setCurrentIndex(QModelIndex())
            self.detail.clear()
            return
        target = self.model.index_of(row)
        self.table.setCurrentIndex(target)
        self.table.scrollTo(target, QAbstractItemView.ScrollHint.PositionAtCenter)

    @Slot(QModelIndex, QModelIndex)
    def _show_detail(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            self.detail.clear()
            return
        entry = self.model.entry(current.row())
        raw = json.dumps(entry, indent=2, ensure_ascii=False)
        text = raw if "unreadable" in entry else \
            "\n".join(entry_in_words(entry)) + f"\n\nThe entry as recorded:\n{raw}"
        opened = recorded_text(entry, self.controls.typed_key())
        if opened:
            text += "\n\n" + "\n\n".join(f"{name} (opened with the verification key):\n{value}"
                                           for name, value in opened)
        self.detail.setPlainText(printable(text, keep_newlines=True, limit=1 << 20))


    # -- validation ------------------------------------------------------------------------------

    @Slot()
    def validate(self) -> None:
        key = self.controls.key.text().strip() or None
        try:
            checkpoint = (read_checkpoint(Path(self.controls.checkpoint_path.text().strip()))
                          if self.controls.checkpoint_path.text().strip() else None)
            if key:
                fmt_keys.key_from_text(key)
        except ValueError as error:
            self._on_failed(str(error))
            return
        local, storage = self.auditor.evidence_for(self.log_path) if self.auditor else (None, None)
        self.controls.validate_button.setEnabled(False)
        self._show_banner("Validating…", "")
        self._run(lambda report, cancel: verify_log(self.log_path, key, checkpoint, local=local,
                                                    key_storage=storage, on_progress=report,
                                                    cancel=cancel),
                  self._on_validated, self._on_validation_failed)

    @Slot(str)
    def _on_validation_failed(self, message: str) -> None:
        self.controls.validate_button.setEnabled(True)
        self._on_failed(message)

    @Slot(object)
    def _on_validated(self, report: AuditReport) -> None:
        self.report = report
        self.controls.validate_button.setEnabled(True)
        self.controls.export_button.setEnabled(True)
        self.controls.first_break_button.setEnabled(bool(report.breaks))
        self.model.mark_broken({b.line - 1 for b in report.breaks if b.line > 0},
                               {line - 1 for line, _ in report.unfinished})
        text, state = banner_for(report)
        self._validated_upto = report.entries
        if self.auditor is not None:
            try:
                self.auditor.audit_verify(self.log_path, report)
            except AuditUnavailable as error:
                text += f" This validation was not recorded in the audit log: {error}"
            else:
                own = self.auditor.evidence_for(self.log_path)[0]
                if own is not None:  # this log: its own record is not news
                    self._validated_upto = own.head.seq + 1
                    text += f" This validation is recorded as entry {own.head.seq + 1:,}."
        self._validation_banner = (text, state)
        self._show_banner(text, state, validation=True)
        self.controls.banner.setToolTip("Checked:\n" + "\n".join(f"• {item}" for item in report.checked_with))
        self.validated.emit(report)

    def _show_banner(self, text: str, state: str, validation: bool = False) -> None:
        if not validation:
            self._validation_banner = None  # the banner no longer shows the validation's result
            self.controls.banner.setToolTip("")
        self.controls.show_banner(text, state)

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
        """Save the last validation's report, as JSON for a .json name and HTML otherwise; both
        say when it was made (UTC) and which key, if any, checked the MACs."""
        text = self.report.as_json() if path.suffix.lower() == ".json" else self.report.as_html()
        path.write_text(text, encoding="utf-8")

    def closeEvent(self, event) -> None:
        self.tasks.stop()
        self.follower.stop()
        super().closeEvent(event)
