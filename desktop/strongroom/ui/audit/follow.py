"""Following the audit log file while the viewer shows it: its lines are indexed off the
GUI thread (the first within milliseconds), entries written while it is open are indexed
as they come (the file, and its folder, are watched), and a file moved aside or cut is
indexed again from the start."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, Signal, Slot

from strongroom.core.audit.reader import LineIndex
from strongroom.ui.common.background import Tasks


class LogFollower(QObject):
    """Owns the `LineIndex` of the log at ``path`` and keeps it up to date.

    Signals:
        grew(int): lines indexed so far (during a pass, block by block).
        passed(int): a pass ended, with this many lines indexed.
        replaced(): the file was moved aside or cut; `index` is a new one, empty so far.
        failed(str): the file could not be read.
    """

    grew = Signal(int)
    passed = Signal(int)
    replaced = Signal()
    failed = Signal(str)
    _block = Signal(int)

    def __init__(self, path: Path, tasks: Tasks, parent: QObject | None = None):
        super().__init__(parent)
        self.path = path
        self.tasks = tasks
        self.index = LineIndex(path)
        self._indexing = False
        self._again = False  # the file changed while it was being indexed
        self._stopped = False
        self._block.connect(self.grew)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.addPaths([str(path), str(path.parent)])
        self.watcher.fileChanged.connect(self._changed)
        self.watcher.directoryChanged.connect(self._changed)

    @Slot(str)
    def _changed(self, _path: str) -> None:
        """The log (or its folder) changed: index what was written since."""
        if self._stopped:
            return
        if str(self.path) not in self.watcher.files() and self.path.exists():
            self.watcher.addPath(str(self.path))  # a new file where the old one was
        self.start()

    def start(self) -> None:
        """Index the lines written since the last pass (all of them the first time)."""
        if self._stopped:
            return
        if self._indexing:
            self._again = True
            return
        if self.index.replaced():
            self.tasks.stop()
            old, self.index = self.index, LineIndex(self.path)
            old.close()
            self.replaced.emit()
        self._indexing, self._again = True, False
        index = self.index
        self.tasks.run(lambda _report, cancel: index.build(self._block.emit, cancel),
                       self._done, self._failed)

    def _done(self, lines: int) -> None:
        self._indexing = False
        self.passed.emit(lines)
        if self._again:
            self.start()

    def _failed(self, message: str) -> None:
        self._indexing = False
        self.failed.emit(f"The audit log could not be read: {message}")

    def stop(self) -> None:
        """No more watching or indexing (the viewer is closing)."""
        self._stopped = True
        watched = self.watcher.files() + self.watcher.directories()
        if watched:
            self.watcher.removePaths(watched)
        self.index.close()
