"""The auditor's window: browse, filter and search the audit log, and validate it.

The table shows rows of a `LineIndex` (offsets, built on a background thread, so the first
rows appear at once) and reads each entry when it is painted. The viewer watches the file:
entries written while it is open are indexed and shown, a filter's matches and the counts
follow, and a file moved aside or cut is read again from the start. Filtering, "was this
prompt asked?" and validation run as `BackgroundTask`s; validation paints broken rows red
and can jump to the first break; its banner says what was checked (chain only, or MACs with
which key, and a checkpoint); its report can be saved as HTML or JSON.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QFileSystemWatcher,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QKeySequence, QShortcut
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
from strongroom.core.audit.words import entry_in_words, event_in_words
from strongroom.ui.common.background import BackgroundTask

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

    def row_of(self, line: int) -> int | None:
        """The row showing 0-based ``line``, or None when it is not shown."""
        if self.rows is None:
            return line if line < self.shown else None
        row = bisect_left(self.rows, line, 0, self.shown)
        return row if row < self.shown and self.rows[row] == line else None

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
            entry.get("user_id", ""), event_in_words(entry.get("event", "inference")),
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

    def add_rows(self, rows) -> None:
        """Lines written since the filter ran that match it: show them after the others."""
        if self.rows is not None and len(rows):
            self.beginInsertRows(QModelIndex(), self.shown, self.shown + len(rows) - 1)
            self.rows.extend(rows)
            self.shown = len(self.rows)
            self.endInsertRows()

    def read_afresh(self, lines: LineIndex) -> None:
        """The file was indexed again from the start: forget every row and mark."""
        self.beginResetModel()
        self.lines, self.rows, self.shown = lines, None, 0
        self.broken, self.unfinished = set(), set()
        self._cache.clear()
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
        indexed(int): lines indexed so far (the first arrive within milliseconds; more come
            as entries are written while the viewer is open).
        filtered(int): a filter or search finished, or entries written since matched it:
            the rows it shows now.
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
        self._fit_screen()
        self.index = LineIndex(self.log_path)
        self.model = AuditTableModel(self.index, self)
        self.report: AuditReport | None = None
        self._tasks: list[BackgroundTask] = []
        self._closed = False
        self._reads = 0  # times the file was read afresh: work for an earlier read is dropped
        self._indexing = False
        self._index_again = False  # the file changed while it was being indexed
        self._filter: EntryFilter | None = None  # the filter whose rows are shown
        self._filter_run = 0  # each filter or "Show all" outdates the filters before it
        self._filtered_upto = 0  # lines the shown filter has looked at
        self._following = False  # lines written since are being filtered
        self._validation_banner: tuple[str, str] | None = None  # while the banner shows one
        self._validated_upto: int | None = None  # entries once this viewer's record was written
        self._build()
        for keys in ("Esc", "Ctrl+W"):
            QShortcut(QKeySequence(keys), self, self.close)
        self._indexed_block.connect(self._on_indexed)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.addPaths([str(self.log_path), str(self.log_path.parent)])
        self.watcher.fileChanged.connect(self._log_changed)
        self.watcher.directoryChanged.connect(self._log_changed)
        self._index()

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
        self.event_filter.setAccessibleName("Event")
        self.event_filter.addItem("All events", "")
        for event, words in fmt.EVENTS.items():
            self.event_filter.addItem(words, event)
            self.event_filter.setItemData(self.event_filter.count() - 1, event,
                                          Qt.ItemDataRole.ToolTipRole)  # the recorded name
        self.event_filter.currentIndexChanged.connect(lambda _index: self.apply_filter())  # at once
        self.user_filter = QLineEdit()
        self.user_filter.setPlaceholderText("user")
        self.model_filter = QLineEdit()
        self.model_filter.setPlaceholderText("model")
        for field in (self.user_filter, self.model_filter):
            field.returnPressed.connect(lambda: self.apply_filter())  # Enter filters
        self.use_dates = QCheckBox("From")
        self.since = QDateEdit(QDate.currentDate().addDays(-30))
        self.until = QDateEdit(QDate.currentDate())
        for edit in (self.since, self.until):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        apply = QPushButton("Filter")
        apply.clicked.connect(lambda: self.apply_filter())
        clear = QPushButton("Show all")
        clear.clicked.connect(self.clear_filter)
        filters = QHBoxLayout()
        for widget in (self.event_filter, self.user_filter, self.model_filter, self.use_dates,
                       self.since, QLabel("to"), self.until, apply, clear):
            filters.addWidget(widget)

        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("Was this prompt asked? Paste its exact text and press Enter; "
                                       "it is hashed here and never stored")
        ask = QPushButton("Find")
        ask.clicked.connect(self.find_prompt)
        self.prompt.returnPressed.connect(self.find_prompt)
        search = QHBoxLayout()
        search.addWidget(self.prompt, 1)
        search.addWidget(ask)

        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setAccessibleName("Audit verification key")
        self.key.setPlaceholderText("audit verification key (optional; opens recorded text)")
        self.key.textChanged.connect(
            lambda _text: self._show_detail(self.table.currentIndex(), QModelIndex()))
        self.key.returnPressed.connect(self.validate)  # Enter validates
        self.show_key = QCheckBox("Sho&w")
        self.show_key.setToolTip("Show the key as typed, to check it against the printed one")
        self.show_key.toggled.connect(lambda shown: self.key.setEchoMode(
            QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password))
        self.checkpoint_path = QLineEdit()
        self.checkpoint_path.setPlaceholderText("checkpoint file (optional)")
        self.checkpoint_path.returnPressed.connect(self.validate)
        choose = QPushButton("…")
        choose.clicked.connect(self._choose_checkpoint)
        self.validate_button = QPushButton("Validate")
        self.validate_button.clicked.connect(self.validate)
        self.first_break_button = QPushButton("Go to first break")
        self.first_break_button.clicked.connect(self.go_to_first_break)
        self.first_break_button.setEnabled(False)
        self.export_button = QPushButton("Export report…")
        self.export_button.clicked.connect(self._ask_export)
        self.export_button.setEnabled(False)
        validation = QHBoxLayout()
        for widget in (self.key, self.show_key, self.checkpoint_path, choose,
                       self.validate_button, self.first_break_button, self.export_button):
            validation.addWidget(widget)

        self.banner = QLabel("Not validated yet.")
        self.banner.setObjectName("auditBanner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
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
        form = QFormLayout()
        for text, row, buddy in (("&Filter:", filters, self.event_filter),
                                 ("&Search:", search, self.prompt),
                                 ("&Validate:", validation, self.key)):
            label = QLabel(text)
            label.setBuddy(buddy)  # Alt+F, Alt+S, Alt+V reach the row's first field
            form.addRow(label, row)
        layout.addLayout(form)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)

    def _fit_screen(self) -> None:
        """1200×760, or less where the screen is smaller (1366×768 keeps its foot in view)."""
        screen = QGuiApplication.primaryScreen()
        area = screen.availableGeometry() if screen is not None else None
        width, height = 1200, 760
        if area is not None:
            width, height = min(width, area.width() - 40), min(height, area.height() - 60)
        self.resize(width, height)

    # -- background work -------------------------------------------------------------------------

    def _run(self, job, on_done, on_failed=None) -> BackgroundTask:
        """Run ``job`` off the GUI thread; its outcome is dropped if the window closed or the
        file was read afresh meanwhile."""
        task = BackgroundTask(job, self)
        reads = self._reads

        def current() -> bool:
            return not self._closed and reads == self._reads

        task.progress.connect(self._on_progress)
        task.finished.connect(lambda result: on_done(result) if current() else None)
        task.finished.connect(lambda _=None, t=task: self._forget(t))
        task.failed.connect(lambda message: (on_failed or self._on_failed)(message) if current() else None)
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

    # -- following the file ----------------------------------------------------------------------

    @Slot(str)
    def _log_changed(self, _path: str) -> None:
        """The log (or its folder) changed: index what was written since."""
        if self._closed:
            return
        if str(self.log_path) not in self.watcher.files() and self.log_path.exists():
            self.watcher.addPath(str(self.log_path))  # a new file where the old one was
        self._index()

    def _index(self) -> None:
        """Index the lines written since the last pass (all of them the first time)."""
        if self._closed:
            return
        if self._indexing:
            self._index_again = True
            return
        if self.index.replaced():
            self._read_afresh()
        self._indexing, self._index_again = True, False
        index = self.index
        self._run(lambda report, cancel: index.build(self._indexed_block.emit, cancel),
                  self._on_index_done, self._on_index_failed)

    def _read_afresh(self) -> None:
        """The file was moved aside or cut: what was shown no longer describes it."""
        for task in list(self._tasks):
            task.stop()
        self._reads += 1
        self._filter_run += 1
        self._filter, self._following, self._filtered_upto = None, False, 0
        old, self.index = self.index, LineIndex(self.log_path)
        old.close()
        self.model.read_afresh(self.index)
        self.detail.clear()
        self.report = None
        self.validate_button.setEnabled(True)
        self.first_break_button.setEnabled(False)
        self.export_button.setEnabled(False)
        self._show_banner("The audit log file was replaced or shortened while this window was open, "
                          "so it was read again from the start. Validate it to check it.", "partial")

    @Slot(int)
    def _on_indexed(self, lines: int) -> None:
        self.model.grow(lines)
        self._show_count()
        self._note_growth()
        self.indexed.emit(lines)

    @Slot(object)
    def _on_index_done(self, lines: int) -> None:
        self._indexing = False
        self.model.grow(lines)
        self._show_count()
        self._note_growth()
        self._follow_filter()
        if self._index_again:
            self._index()

    @Slot(str)
    def _on_index_failed(self, message: str) -> None:
        self._indexing = False
        self._show_banner(f"The audit log could not be read: {message}", "bad")

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
        dates = self.use_dates.isChecked()
        return EntryFilter(
            event=self.event_filter.currentData() or "",
            user=self.user_filter.text().strip(),
            model=self.model_filter.text().strip(),
            since=self.since.date().toPython() if dates else None,
            until=self.until.date().toPython() if dates else None,
        )

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
                  self._on_validated, self._on_validation_failed)

    @Slot(str)
    def _on_validation_failed(self, message: str) -> None:
        self.validate_button.setEnabled(True)
        self._on_failed(message)

    @Slot(object)
    def _on_validated(self, report: AuditReport) -> None:
        self.report = report
        self.validate_button.setEnabled(True)
        self.export_button.setEnabled(True)
        self.first_break_button.setEnabled(bool(report.breaks))
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
        self.banner.setToolTip("Checked:\n" + "\n".join(f"• {item}" for item in report.checked_with))
        self.validated.emit(report)

    def _show_banner(self, text: str, state: str, validation: bool = False) -> None:
        if not validation:
            self._validation_banner = None  # the banner no longer shows the validation's result
            self.banner.setToolTip("")
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
        """Save the last validation's report, as JSON for a .json name and HTML otherwise; both
        say when it was made (UTC) and which key, if any, checked the MACs."""
        text = self.report.as_json() if path.suffix.lower() == ".json" else self.report.as_html()
        path.write_text(text, encoding="utf-8")

    @staticmethod
    def _repolish(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)

    def closeEvent(self, event) -> None:
        self._closed = True
        watched = self.watcher.files() + self.watcher.directories()
        if watched:
            self.watcher.removePaths(watched)
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


def banner_for(report: AuditReport) -> tuple[str, str]:
    """The banner after a validation, and its state. It starts by saying what was checked
    ("chain only", "chain + MACs with key <fingerprint>", "+ checkpoint"). "ok" (green) only
    when the MACs were checked with the verification key; "partial" (amber) when the log holds
    for what could be checked without it; "bad" (red) when anything is broken, or the key
    was not this log's."""
    checked = f"Checked: {report.scope}."
    if report.breaks:
        first = report.first_break
        text = (f"BROKEN at line {first.line}: {first.kind.value}: {first.message} "
                f"({len(report.breaks) + report.more_breaks} problem(s) in all). {checked}")
        state = "bad"
    elif report.keyed:
        text = f"{checked} The log holds: {report.entries:,} entries, each as it was written."
        state = "ok"
    else:
        text = (f"{checked} The chain holds for what could be checked without the audit verification "
                f"key: {report.entries:,} entries.")
        if report.notes and not report.key_problem:
            text += " " + report.notes[0]
        state = "partial"
    if report.key_problem:
        text, state = f"{report.key_problem} {text}", "bad"
    if report.checkpoint_checked and not report.breaks:
        text += " The checkpoint matches."
    if report.crashes:
        text += f" Crash damage, not tampering: {len(report.crashes)}."
    if report.unfinished:
        text += (f" {len(report.unfinished)} answer(s) started and never finished (shown in amber; "
                 "the app stopped while answering — not tampering).")
    return text, state
