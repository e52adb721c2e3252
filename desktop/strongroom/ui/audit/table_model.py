"""The audit viewer's table: rows are line numbers of the log (all, or a filter's result),
and each entry is read when its row is shown (a few thousand are kept), so a log of a
million lines costs an index of offsets, not a million rows."""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from strongroom.core.audit import format as fmt
from strongroom.core.audit.reader import LineIndex
from strongroom.core.audit.words import event_in_words
from strongroom.core.display import printable

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
