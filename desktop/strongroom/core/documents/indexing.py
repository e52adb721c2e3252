"""Adding documents to a library, reading them again, and taking them out, with every
change in the audit log.

`Indexer.add` takes files and folders (a folder's supported documents, found recursively;
other files in it are listed as skipped). Each document is read in the extraction child
(`reading`), cut into passages (`chunking`) and stored (`library`); one document's
failure is reported with its file and reason and the rest go on. A document whose bytes
are already in the library is reported as a duplicate and not stored twice. A cancel
stops between documents: what was stored stays, nothing is half-stored.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from strongroom.core.audit.events import Auditor
from strongroom.core.documents.chunking import chunk_sections
from strongroom.core.documents.extraction import kind_of
from strongroom.core.documents.library import INDEXING, Document, Libraries, Library
from strongroom.core.documents.reading import DocumentUnreadable, ReadDocument, read_document
from strongroom.core.progress import Cancelled

READING, EMBEDDING = "Reading documents", "Computing passage vectors"
EMBED_BATCH = 16


@dataclass(frozen=True)
class IndexProgress:
    done: int  # documents finished (added, failed or duplicate), or passages embedded
    total: int
    current: str | None  # the file being read
    seconds_left: float | None  # estimated from the work done so far
    stage: str = READING

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


@dataclass
class IndexReport:
    added: list[Document] = field(default_factory=list)
    failed: list[Document] = field(default_factory=list)  # each with its `problem`
    duplicates: list[tuple[Path, Document]] = field(default_factory=list)  # (file, the copy kept)
    skipped: list[Path] = field(default_factory=list)  # in a folder, not a supported kind

    def summary(self) -> str:
        parts = [f"{len(self.added)} added"]
        if self.failed:
            parts.append(f"{len(self.failed)} could not be read")
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} already there")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped (not PDF, Word, text or Markdown)")
        return ", ".join(parts)


Reader = Callable[[Path], ReadDocument]


class Indexer:
    def __init__(self, libraries: Libraries, auditor: Auditor, read: Reader = read_document):
        self.libraries = libraries
        self.auditor = auditor
        self._read = read

    # -- libraries -------------------------------------------------------------------------

    def create_library(self, name: str) -> Library:
        library = self.libraries.create(name)
        self.auditor.document_library("library created", library.name)
        return library

    def attached_library(self, conversation_id: int) -> Library:
        """The documents attached to the conversation (a library made at the first)."""
        library = self.libraries.attached(conversation_id)
        if library is None:
            library = self.libraries.attached(conversation_id, create=True)
            self.auditor.document_library("library created", library.name,
                                          conversation=conversation_id)
        return library

    def remove_library(self, library: Library) -> list[Document]:
        documents = self.libraries.delete(library)
        self.auditor.document_library("library removed", library.name,
                                      documents=[d.sha256 for d in documents if d.sha256])
        return documents

    # -- documents -------------------------------------------------------------------------

    def add(self, library: Library, paths: Iterable[Path],
            progress: Callable[[IndexProgress], None] | None = None,
            cancel: threading.Event | None = None) -> IndexReport:
        """Read ``paths`` (files and folders) into ``library``, after any of its documents
        whose reading was interrupted (the app was killed)."""
        report = IndexReport()
        return self._index(library, self.to_read(library, paths, report), report, progress, cancel)

    def to_read(self, library: Library, paths: Iterable[Path],
                report: IndexReport) -> list[tuple[Path, Document | None]]:
        """What adding ``paths`` reads: the library's interrupted documents, then the
        documents the paths name; the files a folder holds and that are skipped go into
        ``report``."""
        pending = [(Path(d.source), d) for d in self.libraries.documents(library, INDEXING)]
        for path in paths:
            found, skipped = documents_in(Path(path))
            pending += [(file, None) for file in found]
            report.skipped += skipped
        return pending

    def reindex(self, library: Library, documents: Iterable[Document],
                progress: Callable[[IndexProgress], None] | None = None,
                cancel: threading.Event | None = None) -> IndexReport:
        """Read ``documents`` again from where they were added from."""
        pending = [(Path(d.source), d) for d in documents]
        return self._index(library, pending, IndexReport(), progress, cancel)

    def resume(self, library: Library, progress: Callable[[IndexProgress], None] | None = None,
               cancel: threading.Event | None = None) -> IndexReport:
        """Read again the documents whose reading was interrupted (the app was killed)."""
        return self.reindex(library, self.libraries.documents(library, INDEXING), progress, cancel)

    def embed_pending(self, library: Library, embedder,
                      progress: Callable[[IndexProgress], None] | None = None,
                      cancel: threading.Event | None = None) -> int:
        """Give every passage of ``library`` that has none its vector from ``embedder`` (an
        `Embedder`); returns how many were computed. Stored a batch at a time, so a cancel
        or a crash keeps what was done and the next call goes on from there."""
        total = self.libraries.count_without_vectors(library, embedder.model_sha256)
        done, started = 0, time.monotonic()
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            batch = self.libraries.chunks_without_vectors(library, embedder.model_sha256,
                                                          EMBED_BATCH)
            if not batch:
                break
            if progress is not None:
                progress(IndexProgress(done, total, batch[0].document.name,
                                       seconds_left(started, done, total - done), EMBEDDING))
            vectors = embedder.embed_many([chunk.text for chunk in batch])
            self.libraries.store_vectors(embedder.model_sha256,
                                         {chunk.id: v for chunk, v in zip(batch, vectors, strict=True)})
            done += len(batch)
        return done

    def remove(self, library: Library, document: Document) -> None:
        self.libraries.remove_document(document)
        self.auditor.document_library("document removed", library.name, sha256=document.sha256,
                                      status=document.status)

    def _index(self, library: Library, pending: list[tuple[Path, Document | None]],
               report: IndexReport, progress, cancel) -> IndexReport:
        sizes = [size_of(file) for file, _ in pending]
        started, bytes_done = time.monotonic(), 0
        for done, ((file, document), size) in enumerate(zip(pending, sizes, strict=True)):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if progress is not None:
                progress(IndexProgress(done, len(pending), file.name,
                                       seconds_left(started, bytes_done, sum(sizes[done:]))))
            self._index_one(library, file, document, report)
            bytes_done += size
        if progress is not None:
            progress(IndexProgress(len(pending), len(pending), None, 0.0))
        return report

    def _index_one(self, library: Library, file: Path, document: Document | None,
                   report: IndexReport) -> None:
        started = self.begin(library, file, document)
        self.complete(library, started, file, self.read(file), report, again=document is not None)

    # The steps of reading one document, for a caller that reads on another thread and
    # keeps the database on its own (the window): `begin` and `complete` use the
    # database, `read` does not.

    def begin(self, library: Library, file: Path, document: Document | None = None) -> Document:
        """Record that ``file`` is being read (again, for ``document``): committed at once,
        so a crash from here on leaves a document `resume` reads again."""
        if document is None:
            return self.libraries.start_document(library, file.name, str(file.absolute()))
        return self.libraries.restart_document(document)

    def read(self, file: Path) -> ReadDocument | DocumentUnreadable:
        """``file``'s text (or why it cannot be read); safe on any thread."""
        try:
            return self._read(file)
        except DocumentUnreadable as error:
            return error

    def complete(self, library: Library, document: Document, file: Path,
                 outcome: ReadDocument | DocumentUnreadable, report: IndexReport,
                 again: bool = False) -> None:
        """Store what `read` found for ``document`` (its passages, or why it failed, or
        that it duplicates another), audited; ``report`` says which."""
        if isinstance(outcome, DocumentUnreadable):
            failed = self.libraries.mark_failed(document, str(outcome))
            report.failed.append(failed)
            # The reason without the path: folder and file names can name people.
            reason = str(outcome).removeprefix(f"{file}: ")
            self.auditor.document_library("document refused", library.name, sha256=failed.sha256,
                                          reason=reason[:500])
            return
        kept = self.libraries.with_sha256(library, outcome.sha256)
        if kept is not None and kept.id != document.id:
            self.libraries.remove_document(document)
            report.duplicates.append((file, kept))
            return
        chunks = chunk_sections(outcome.sections)
        stored = self.libraries.store_chunks(document, kind=outcome.kind, sha256=outcome.sha256,
                                             size=outcome.size, pages=outcome.pages, chunks=chunks)
        report.added.append(stored)
        self.auditor.document_library("document read again" if again else "document added",
                                      library.name, sha256=outcome.sha256, size=outcome.size,
                                      kind=outcome.kind, pages=outcome.pages, passages=len(chunks))


def documents_in(path: Path) -> tuple[list[Path], list[Path]]:
    """The documents ``path`` names: itself, or a folder's supported files (recursively,
    in name order, hidden files and links left out), and the files skipped."""
    if not path.is_dir():
        return [path], []  # an unsupported or missing file is reported by reading it
    found, skipped = [], []
    for folder, subfolders, names in os.walk(path):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(names):
            file = Path(folder) / name
            if name.startswith(".") or file.is_symlink():
                continue
            (found if kind_of(name) else skipped).append(file)
    return found, skipped


def size_of(file: Path) -> int:
    """The file's size for progress estimates (0 when it cannot be read: reading says why)."""
    try:
        return file.stat().st_size
    except OSError:
        return 0


def seconds_left(started: float, done: float, left: float) -> float | None:
    """The time the work ``left`` will take at the pace ``done`` went since ``started``
    (`time.monotonic`), in any unit of work (bytes read, passages embedded); None before
    there is a pace."""
    elapsed = time.monotonic() - started
    if done <= 0 or elapsed <= 0:
        return None
    return left / (done / elapsed)
