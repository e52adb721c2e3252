"""Reading documents into a library from the window, without blocking it.

The slow steps (reading a document in the extraction child, computing passage vectors)
run on a background thread one at a time (`BackgroundTask`); every database step runs
here, on the GUI thread, since the conversations' database connection belongs to it. So
the run is a small state machine: begin a document, read it elsewhere, store it, next;
then vectors, a batch at a time. A cancel stops between steps and keeps what was stored.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal, Slot

from strongroom.core.audit.events import AuditUnavailable
from strongroom.core.chats.database import ConversationStoreError
from strongroom.core.documents.indexing import (
    EMBED_BATCH,
    EMBEDDING,
    READING,
    Indexer,
    IndexProgress,
    IndexReport,
    seconds_left,
    size_of,
)
from strongroom.core.documents.library import Document, Library, LibraryError
from strongroom.ui.common.background import Tasks


class IndexingRun(QObject):
    """Signals:
        progress(object): an `IndexProgress`.
        documentDone(): a document was stored, refused or found to be a duplicate.
        finished(object): the `IndexReport` (after vectors, if there is an embedder).
        failed(str): the run stopped; the message says why.
    """

    progress = Signal(object)
    documentDone = Signal()
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, indexer: Indexer, library: Library,
                 embedder_source: Callable[[], object] = lambda: None,
                 parent: QObject | None = None):
        """``embedder_source()`` gives the embedding model when the vectors are due (it may
        have finished loading meanwhile), or None: keywords only."""
        super().__init__(parent)
        self.indexer, self.library = indexer, library
        self._embedder_source = embedder_source
        self.embedder = None
        self.report = IndexReport()
        self._pending: list[tuple[Path, Document | None]] = []
        self._total = 0
        self._sizes: list[int] = []
        self._started = 0.0
        self._bytes_done = 0
        self._current: tuple[Path, Document, bool] | None = None
        self.tasks = Tasks(self)  # the step under way: reading a document, or embedding
        self._cancelled = False
        self._stopped = False
        self._embedded = 0
        self._to_embed = 0

    # -- starting --------------------------------------------------------------------------

    def add(self, paths: list[Path]) -> None:
        """Read ``paths`` (files and folders), after any document a crash interrupted."""
        try:
            pending = self.indexer.to_read(self.library, paths, self.report)
        except ConversationStoreError as error:
            return self._fail(str(error))
        self._run(pending)

    def reindex(self, documents: list[Document]) -> None:
        self._run([(Path(d.source), d) for d in documents])

    def embed_only(self) -> None:
        """Compute the vectors the library's passages lack (an embedding model came in)."""
        self._run([])

    def _run(self, pending: list[tuple[Path, Document | None]]) -> None:
        self._pending, self._total = pending, len(pending)
        self._sizes = [size_of(file) for file, _ in pending]
        self._started = time.monotonic()
        self._next_document()

    def cancel(self) -> None:
        """Stop after the step under way; what was stored stays."""
        self._cancelled = True
        self.tasks.cancel()

    @property
    def running(self) -> bool:
        return self.tasks.busy

    def stop(self) -> None:
        """Cancel and wait for the step under way, and drop what it brings (the window is
        closing or locking): a document it was reading stays "interrupted", read again
        with the next documents added."""
        self.cancel()
        self._stopped = True
        self.tasks.stop()

    # -- reading ---------------------------------------------------------------------------

    def _next_document(self) -> None:
        done = self._total - len(self._pending)
        if self._cancelled:
            return self._end()
        if not self._pending:
            return self._start_vectors()
        file, document = self._pending.pop(0)
        left = seconds_left(self._started, self._bytes_done, sum(self._sizes[done:]))
        self.progress.emit(IndexProgress(done, self._total, file.name, left, READING))
        try:
            started = self.indexer.begin(self.library, file, document)
        except (LibraryError, AuditUnavailable, ConversationStoreError) as error:
            return self._fail(str(error))
        self._current = (file, started, document is not None)
        self.tasks.call(lambda: self.indexer.read(file), self._on_read, self._fail)

    @Slot(object)
    def _on_read(self, outcome) -> None:
        if self._stopped:
            return
        file, document, again = self._current
        try:
            self.indexer.complete(self.library, document, file, outcome, self.report, again)
        except (LibraryError, AuditUnavailable, ConversationStoreError) as error:
            return self._fail(str(error))
        self._bytes_done += self._sizes[self._total - len(self._pending) - 1]
        self.documentDone.emit()
        self._next_document()

    # -- vectors ---------------------------------------------------------------------------

    def _start_vectors(self) -> None:
        self.embedder = self._embedder_source()
        if self.embedder is None:
            return self._end()
        try:
            self._to_embed = self.indexer.libraries.count_without_vectors(
                self.library, self.embedder.model_sha256)
        except ConversationStoreError as error:
            return self._fail(str(error))
        self._started = time.monotonic()
        self._next_batch()

    def _next_batch(self) -> None:
        if self._cancelled:
            return self._end()
        try:
            batch = self.indexer.libraries.chunks_without_vectors(
                self.library, self.embedder.model_sha256, EMBED_BATCH)
        except ConversationStoreError as error:
            return self._fail(str(error))
        if not batch:
            return self._end()
        left = seconds_left(self._started, self._embedded, self._to_embed - self._embedded)
        self.progress.emit(IndexProgress(self._embedded, self._to_embed, batch[0].document.name,
                                         left, EMBEDDING))
        texts = [chunk.text for chunk in batch]
        self.tasks.call(lambda: self.embedder.embed_many(texts),
                        lambda vectors: self._on_embedded(batch, vectors), self._fail)

    def _on_embedded(self, batch, vectors) -> None:
        if self._stopped:
            return
        try:
            self.indexer.libraries.store_vectors(self.embedder.model_sha256,
                                                 {chunk.id: v for chunk, v in zip(batch, vectors, strict=True)})
        except ConversationStoreError as error:
            return self._fail(str(error))
        self._embedded += len(batch)
        self._next_batch()

    # -- ending ----------------------------------------------------------------------------

    def _end(self) -> None:
        self.finished.emit(self.report)

    @Slot(str)
    def _fail(self, message: str) -> None:
        if not self._stopped:
            self.failed.emit(message)

