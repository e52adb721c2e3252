"""Documents…: the document libraries — make and remove libraries, add files or folders,
read documents again, remove them — with each document's state and, while documents are
read, progress with the time left. The work is `IndexingRun`'s; this window shows it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from strongroom.core.audit.events import AuditUnavailable
from strongroom.core.display import printable
from strongroom.core.documents.indexing import IndexProgress, IndexReport
from strongroom.core.documents.library import Document, Library, LibraryError
from strongroom.ui.documents.indexing_run import IndexingRun

COLUMNS = ("Document", "Kind", "Pages", "Passages", "State")
DOCUMENT_FILTER = "Documents (*.pdf *.docx *.txt *.text *.md *.markdown)"


def state_in_words(document: Document) -> str:
    if document.status == "indexed":
        return "Ready"
    if document.status == "indexing":
        return "Interrupted: it is read again with the next documents added"
    return f"Could not be read: {document.problem}"


class DocumentsDialog(QDialog):
    """Signals:
        librariesChanged(): a library was made or removed (the window's picker refreshes).
        runFinished(object): documents were read (`IndexReport`).
    """

    librariesChanged = Signal()
    runFinished = Signal(object)

    def __init__(self, workspace, embedder_source, parent: QWidget | None = None):
        """``embedder_source()`` gives the loaded embedding model, or None (keywords only)."""
        super().__init__(parent)
        self.setWindowTitle("Documents")
        self.setObjectName("documentsDialog")
        self.workspace = workspace
        self.indexer = workspace.indexer()
        self.libraries = workspace.libraries
        self._embedder_source = embedder_source
        self.run: IndexingRun | None = None
        self.documents: list[Document] = []

        self.library_box = QComboBox()
        self.library_box.setAccessibleName("Library")
        self.library_box.currentIndexChanged.connect(self._show_documents)
        self.new_button = QPushButton("&New library…")
        self.new_button.clicked.connect(self.ask_new_library)
        self.remove_library_button = QPushButton("Remove library…")
        self.remove_library_button.clicked.connect(self.ask_remove_library)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAccessibleName("Documents in the library")
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.add_files_button = QPushButton("Add &files…")
        self.add_files_button.clicked.connect(self.ask_files)
        self.add_folder_button = QPushButton("Add f&older…")
        self.add_folder_button.clicked.connect(self.ask_folder)
        self.reindex_button = QPushButton("&Read again")
        self.reindex_button.setToolTip("Read the chosen documents again from where they were added from")
        self.reindex_button.clicked.connect(self.reindex_selected)
        self.remove_button = QPushButton("&Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        for label in (self.progress_label, self.summary):  # file names are never markup
            label.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QPushButton("Close")
        close.clicked.connect(self.close)

        top = QHBoxLayout()
        top.addWidget(QLabel("Library:"))
        top.addWidget(self.library_box, 1)
        top.addWidget(self.new_button)
        top.addWidget(self.remove_library_button)
        buttons = QHBoxLayout()
        for button in (self.add_files_button, self.add_folder_button, self.reindex_button,
                       self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        running = QHBoxLayout()
        running.addWidget(self.progress, 1)
        running.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(running)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.summary)
        layout.addLayout(buttons)
        self.resize(820, 480)
        self.show_libraries()

    # -- libraries ---------------------------------------------------------------------------

    @property
    def library(self) -> Library | None:
        return self.library_box.currentData()

    def show_libraries(self, selected: str | None = None) -> None:
        current = selected or (self.library.name if self.library else None)
        self.library_box.blockSignals(True)
        self.library_box.clear()
        for library in self.libraries.all():
            self.library_box.addItem(printable(library.name), library)
            if library.name == current:
                self.library_box.setCurrentIndex(self.library_box.count() - 1)
        self.library_box.blockSignals(False)
        self._show_documents()

    @Slot()
    def ask_new_library(self) -> None:
        name, ok = QInputDialog.getText(self, "New library", "Name of the new library:")
        if ok:
            self.new_library(name)

    def new_library(self, name: str) -> Library | None:
        try:
            library = self.indexer.create_library(name)
        except (LibraryError, AuditUnavailable) as error:
            self._say(str(error))
            return None
        self.show_libraries(library.name)
        self.librariesChanged.emit()
        return library

    @Slot()
    def ask_remove_library(self) -> None:
        library = self.library
        if library is None:
            return
        answer = QMessageBox.question(
            self, "Remove library", f"Remove the library “{printable(library.name)}” and its "
            f"{len(self.documents)} document(s) from Strongroom? The files themselves stay where "
            "they are.")
        if answer == QMessageBox.StandardButton.Yes:
            self.remove_library(library)

    def remove_library(self, library: Library) -> None:
        try:
            self.indexer.remove_library(library)
        except (LibraryError, AuditUnavailable) as error:
            return self._say(str(error))
        self.show_libraries()
        self.librariesChanged.emit()

    # -- documents -------------------------------------------------------------------------

    @Slot()
    def _show_documents(self) -> None:
        library = self.library
        self.documents = self.libraries.documents(library) if library else []
        self.table.setRowCount(len(self.documents))
        for row, document in enumerate(self.documents):
            cells = (document.name, document.kind or "", str(document.pages or ""),
                     str(document.chunk_count) if document.status == "indexed" else "",
                     state_in_words(document))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(printable(text))
                item.setToolTip(printable(f"{document.source}\nsha256 {document.sha256 or '—'}"))
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        if library is None:
            self.summary.setText("Make a library (New library…), then add documents to it. "
                                 "Strongroom reads PDF, Word (.docx), text and Markdown files.")
        self._update_buttons()

    def selected_documents(self) -> list[Document]:
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        return [self.documents[row] for row in rows]

    @Slot()
    def _update_buttons(self) -> None:
        idle, chosen = self.run is None, bool(self.selected_documents())
        has_library = self.library is not None
        for button in (self.add_files_button, self.add_folder_button):
            button.setEnabled(idle and has_library)
        self.reindex_button.setEnabled(idle and chosen)
        self.remove_button.setEnabled(idle and chosen)
        self.remove_library_button.setEnabled(idle and has_library)
        self.new_button.setEnabled(idle)
        self.library_box.setEnabled(idle)
        self.cancel_button.setVisible(not idle)
        self.progress.setVisible(not idle)

    @Slot()
    def ask_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add documents", str(Path.home()),
                                                DOCUMENT_FILTER)
        if files:
            self.add([Path(f) for f in files])

    @Slot()
    def ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of documents", str(Path.home()))
        if folder:
            self.add([Path(folder)])

    def add(self, paths: list[Path]) -> None:
        if self.library is not None and self.run is None:
            self._start().add(paths)

    @Slot()
    def reindex_selected(self) -> None:
        documents = self.selected_documents()
        if documents and self.run is None:
            self._start().reindex(documents)

    @Slot()
    def remove_selected(self) -> None:
        try:
            for document in self.selected_documents():
                self.indexer.remove(self.library, document)
        except (LibraryError, AuditUnavailable) as error:
            self._say(str(error))
        self._show_documents()

    # -- a run -----------------------------------------------------------------------------

    def _start(self) -> IndexingRun:
        self.summary.clear()
        self.run = run = IndexingRun(self.indexer, self.library, self._embedder_source, self)
        run.progress.connect(self._on_progress)
        run.documentDone.connect(self._show_documents)
        run.finished.connect(self._on_finished)
        run.failed.connect(self._on_failed)
        self.progress.setRange(0, 0)
        self._update_buttons()
        return run

    @Slot(object)
    def _on_progress(self, update: IndexProgress) -> None:
        self.progress.setRange(0, max(update.total, 1))
        self.progress.setValue(update.done)
        left = f" — about {_duration(update.seconds_left)} left" if update.seconds_left else ""
        self.progress_label.setText(printable(f"{update.stage}: {update.done + 1} of {update.total}, "
                                              f"{update.current}{left}"))

    @Slot(object)
    def _on_finished(self, report: IndexReport) -> None:
        self.run = None
        self.progress_label.clear()
        lines = [report.summary() + "."]
        lines += [f"Could not read {d.problem}" for d in report.failed]
        lines += [f"Already in the library: {path.name} (the same bytes as {kept.name})"
                  for path, kept in report.duplicates]
        self.summary.setText(printable("\n".join(lines), keep_newlines=True))
        self._show_documents()
        self.runFinished.emit(report)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.run = None
        self.progress_label.clear()
        self._say(message)
        self._show_documents()

    @Slot()
    def cancel(self) -> None:
        if self.run is not None:
            self.run.cancel()
            self.progress_label.setText("Stopping after the document being read…")

    def _say(self, message: str) -> None:
        self.summary.setText(printable(message))

    def closeEvent(self, event) -> None:
        if self.run is not None:
            self.run.stop()
        super().closeEvent(event)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    return f"{seconds / 60:.0f} min"
