"""The document libraries' tables, kept in the conversations' encrypted database.

A library is a named set of documents, or the documents attached to one conversation
(`attached`), which are searched whenever that conversation is asked and deleted with it. A document row is written ("indexing") before its
text is read and becomes "indexed" in the same transaction that stores its passages, so
a process killed in between leaves a row that says the document was interrupted, and
no passages: `Indexer.resume` reads it again. A document that could not be read stays
"failed" with the reason, for the Documents pane to show. Removing a document removes its
passages and their vectors (foreign keys, and the full-text index follows by trigger).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import ContextManager, Protocol

import numpy as np

from strongroom.core.documents.chunking import Chunk
from strongroom.core.errors import StrongroomError

INDEXING, INDEXED, FAILED = "indexing", "indexed", "failed"
NAME_LENGTH = 80

_SCHEMA = """
CREATE TABLE IF NOT EXISTS libraries (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    -- set for the documents attached to one conversation (they go when it goes)
    conversation_id INTEGER UNIQUE REFERENCES conversations(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX IF NOT EXISTS libraries_by_name ON libraries(name)
    WHERE conversation_id IS NULL;
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    library_id INTEGER NOT NULL REFERENCES libraries(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT,
    sha256 TEXT,
    size INTEGER,
    pages INTEGER,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('indexing', 'indexed', 'failed')),
    problem TEXT,
    added_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_by_library ON documents(library_id);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    page INTEGER,
    heading TEXT,
    paragraph INTEGER,
    text TEXT NOT NULL,
    UNIQUE (document_id, ordinal)
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_text USING fts5(
    text, content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
CREATE TRIGGER IF NOT EXISTS chunk_text_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunk_text(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunk_text_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunk_text(chunk_text, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TABLE IF NOT EXISTS chunk_vectors (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    model_sha256 TEXT NOT NULL,
    vector BLOB NOT NULL
);
"""


class LibraryError(StrongroomError):
    """A library or document that does not exist, or a name that cannot be used."""


ATTACHED_LABEL = "this conversation's documents"


@dataclass(frozen=True)
class Library:
    id: int
    name: str
    created_at: str
    conversation_id: int | None = None  # the conversation its documents are attached to

    @property
    def label(self) -> str:
        """How people are told of it: its name, or "this conversation's documents"."""
        return ATTACHED_LABEL if self.conversation_id is not None else self.name


@dataclass(frozen=True)
class Document:
    id: int
    library_id: int
    name: str
    source: str
    kind: str | None
    sha256: str | None
    size: int | None
    pages: int | None
    chunk_count: int
    status: str
    problem: str | None
    added_at: str

    def place_label(self) -> str:
        return f"{self.name} ({self.pages} pages)" if self.pages else self.name


@dataclass(frozen=True)
class StoredChunk:
    id: int
    document: Document
    ordinal: int
    page: int | None
    heading: str | None
    paragraph: int | None
    text: str

    @property
    def key(self) -> str:
        """The passage's id in audit entries and citations: stable while the document's
        bytes are (its SHA-256's first 16 digits and its place), whatever the database."""
        return f"{(self.document.sha256 or '')[:16]}:{self.ordinal}"

    @property
    def place(self) -> str:
        """Where in the document it is, in words: "page 3", "Liability, paragraph 12"."""
        if self.page is not None:
            return f"page {self.page}"
        where = f"paragraph {self.paragraph}" if self.paragraph is not None else ""
        return f"{self.heading}, {where}" if self.heading and where else (self.heading or where)


_LIBRARY_COLUMNS = "id, name, created_at, conversation_id"
_DOCUMENT_COLUMNS = ("d.id, d.library_id, d.name, d.source, d.kind, d.sha256, d.size, d.pages, "
                     "d.chunk_count, d.status, d.problem, d.added_at")
_CHUNK_COLUMNS = "c.id, c.ordinal, c.page, c.heading, c.paragraph, c.text"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Database(Protocol):
    """Where the libraries are kept: the conversations' store (`ConversationStore`)."""

    @property
    def database(self): ...

    def transaction(self) -> ContextManager: ...


class Libraries:
    """The libraries kept in ``conversations``' database."""

    def __init__(self, conversations: Database):
        self.conversations = conversations
        self._db.executescript(_SCHEMA)
        self._vectors: dict[tuple[int, str], tuple[list[int], np.ndarray]] = {}

    @property
    def _db(self):
        return self.conversations.database

    def transaction(self):
        return self.conversations.transaction()

    # -- libraries -------------------------------------------------------------------------

    def create(self, name: str) -> Library:
        name = " ".join(name.split())
        if not name:
            raise LibraryError("A library needs a name.")
        if len(name) > NAME_LENGTH:
            raise LibraryError(f"A library's name has at most {NAME_LENGTH} characters.")
        if self.find(name) is not None:
            raise LibraryError(f"There is already a library called “{name}”.")
        now = _now()
        cursor = self._db.execute("INSERT INTO libraries (name, created_at) VALUES (?, ?)",
                                  (name, now))
        return Library(cursor.lastrowid, name, now)

    def find(self, name: str) -> Library | None:
        row = self._db.execute(f"SELECT {_LIBRARY_COLUMNS} FROM libraries WHERE name = ? "
                               "AND conversation_id IS NULL", (" ".join(name.split()),)).fetchone()
        return Library(*row) if row else None

    def attached(self, conversation_id: int, create: bool = False) -> Library | None:
        """The documents attached to the conversation (made if ``create``), or None."""
        row = self._db.execute(f"SELECT {_LIBRARY_COLUMNS} FROM libraries WHERE conversation_id = ?",
                               (conversation_id,)).fetchone()
        if row is not None or not create:
            return Library(*row) if row else None
        now = _now()
        cursor = self._db.execute(
            "INSERT INTO libraries (name, created_at, conversation_id) VALUES (?, ?, ?)",
            (f"conversation {conversation_id}", now, conversation_id))
        return Library(cursor.lastrowid, f"conversation {conversation_id}", now, conversation_id)

    def get(self, name: str) -> Library:
        library = self.find(name)
        if library is None:
            known = ", ".join(f"“{lib.name}”" for lib in self.all()) or "none yet"
            raise LibraryError(f"There is no library called “{name}” (libraries: {known}).")
        return library

    def all(self, with_attached: bool = False) -> list[Library]:
        """The named libraries (and, ``with_attached``, the documents attached to
        conversations)."""
        where = "" if with_attached else "WHERE conversation_id IS NULL "
        rows = self._db.execute(f"SELECT {_LIBRARY_COLUMNS} FROM libraries {where}ORDER BY name")
        return [Library(*row) for row in rows]

    def delete(self, library: Library) -> list[Document]:
        """Remove ``library`` with its documents and passages; returns the documents."""
        self._vectors.clear()
        with self.transaction():
            documents = self.documents(library)
            self._db.execute("DELETE FROM libraries WHERE id = ?", (library.id,))
        return documents

    # -- documents -------------------------------------------------------------------------

    def documents(self, library: Library, status: str | None = None) -> list[Document]:
        query = f"SELECT {_DOCUMENT_COLUMNS} FROM documents d WHERE d.library_id = ?"
        args: tuple = (library.id,)
        if status is not None:
            query, args = query + " AND d.status = ?", (*args, status)
        return [Document(*row) for row in self._db.execute(query + " ORDER BY d.name, d.id", args)]

    def document(self, document_id: int) -> Document | None:
        row = self._db.execute(f"SELECT {_DOCUMENT_COLUMNS} FROM documents d WHERE d.id = ?",
                               (document_id,)).fetchone()
        return Document(*row) if row else None

    def find_documents(self, library: Library, name_or_sha256: str) -> list[Document]:
        """The documents of ``library`` with that name, or whose SHA-256 starts with it."""
        wanted = name_or_sha256.strip()
        return [d for d in self.documents(library)
                if d.name == wanted or (len(wanted) >= 8 and (d.sha256 or "").startswith(wanted.lower()))]

    def with_sha256(self, library: Library, sha256: str) -> Document | None:
        row = self._db.execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents d WHERE d.library_id = ? AND d.sha256 = ? "
            "AND d.status = 'indexed'", (library.id, sha256)).fetchone()
        return Document(*row) if row else None

    def start_document(self, library: Library, name: str, source: str) -> Document:
        """Record that ``source`` is being read into ``library`` (committed at once)."""
        now = _now()
        cursor = self._db.execute(
            "INSERT INTO documents (library_id, name, source, status, added_at) "
            "VALUES (?, ?, ?, 'indexing', ?)", (library.id, name, source, now))
        return self.document(cursor.lastrowid)

    def restart_document(self, document: Document) -> Document:
        """Mark ``document`` as being read again (its old passages stay until replaced)."""
        self._db.execute("UPDATE documents SET status = 'indexing', problem = NULL WHERE id = ?",
                         (document.id,))
        return self.document(document.id)

    def store_chunks(self, document: Document, *, kind: str, sha256: str, size: int,
                     pages: int | None, chunks: list[Chunk]) -> Document:
        """Replace the document's passages by ``chunks`` and mark it indexed, in one
        transaction."""
        self._vectors.clear()
        with self.transaction():
            self._db.execute("DELETE FROM chunks WHERE document_id = ?", (document.id,))
            self._db.executemany(
                "INSERT INTO chunks (document_id, ordinal, page, heading, paragraph, text) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(document.id, c.ordinal, c.page, c.heading, c.paragraph, c.text) for c in chunks])
            self._db.execute(
                "UPDATE documents SET kind = ?, sha256 = ?, size = ?, pages = ?, chunk_count = ?, "
                "status = 'indexed', problem = NULL WHERE id = ?",
                (kind, sha256, size, pages, len(chunks), document.id))
        return self.document(document.id)

    def mark_failed(self, document: Document, problem: str, *, kind: str | None = None,
                    sha256: str | None = None, size: int | None = None) -> Document:
        with self.transaction():
            self._db.execute("DELETE FROM chunks WHERE document_id = ?", (document.id,))
            self._db.execute(
                "UPDATE documents SET status = 'failed', problem = ?, chunk_count = 0, "
                "kind = COALESCE(?, kind), sha256 = COALESCE(?, sha256), size = COALESCE(?, size) "
                "WHERE id = ?", (problem, kind, sha256, size, document.id))
        return self.document(document.id)

    def remove_document(self, document: Document) -> None:
        self._vectors.clear()
        self._db.execute("DELETE FROM documents WHERE id = ?", (document.id,))

    # -- passages --------------------------------------------------------------------------

    def chunks(self, chunk_ids: list[int]) -> list[StoredChunk]:
        """The passages with these ids, in that order (ids no longer stored are left out)."""
        if not chunk_ids:
            return []
        marks = ",".join("?" * len(chunk_ids))
        rows = self._db.execute(
            f"SELECT {_CHUNK_COLUMNS}, {_DOCUMENT_COLUMNS} FROM chunks c "
            f"JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})", chunk_ids)
        found = {row[0]: StoredChunk(row[0], Document(*row[6:]), *row[1:6]) for row in rows}
        return [found[i] for i in chunk_ids if i in found]

    def in_libraries(self, chunk_ids: list[int], libraries: list[Library]) -> set[int]:
        """Those of ``chunk_ids`` that belong to an indexed document of ``libraries``."""
        if not chunk_ids or not libraries:
            return set()
        rows = self._db.execute(
            f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "
            f"WHERE c.id IN ({','.join('?' * len(chunk_ids))}) "
            f"AND d.library_id IN ({','.join('?' * len(libraries))}) AND d.status = 'indexed'",
            (*chunk_ids, *[library.id for library in libraries]))
        return {row[0] for row in rows}

    def neighbours(self, document: Document, ordinal: int, around: int = 1) -> list[StoredChunk]:
        """The passage at ``ordinal`` with up to ``around`` passages each side of it."""
        rows = self._db.execute(
            f"SELECT {_CHUNK_COLUMNS} FROM chunks c WHERE c.document_id = ? "
            "AND c.ordinal BETWEEN ? AND ? ORDER BY c.ordinal",
            (document.id, ordinal - around, ordinal + around))
        return [StoredChunk(row[0], document, *row[1:]) for row in rows]

    def chunk_by_key(self, sha256_prefix: str, ordinal: int) -> StoredChunk | None:
        row = self._db.execute(
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE substr(d.sha256, 1, 16) = ? AND c.ordinal = ? LIMIT 1",
            (sha256_prefix, ordinal)).fetchone()
        return self.chunks([row[0]])[0] if row else None

    # -- vectors (when an embedding model is in use) --------------------------------------

    def chunks_without_vectors(self, library: Library, model_sha256: str,
                               limit: int = 256) -> list[StoredChunk]:
        rows = self._db.execute(
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "
            "LEFT JOIN chunk_vectors v ON v.chunk_id = c.id AND v.model_sha256 = ? "
            "WHERE d.library_id = ? AND d.status = 'indexed' AND v.chunk_id IS NULL "
            "ORDER BY c.id LIMIT ?", (model_sha256, library.id, limit))
        return self.chunks([row[0] for row in rows])

    def count_without_vectors(self, library: Library, model_sha256: str) -> int:
        return self._db.execute(
            "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id "
            "LEFT JOIN chunk_vectors v ON v.chunk_id = c.id AND v.model_sha256 = ? "
            "WHERE d.library_id = ? AND d.status = 'indexed' AND v.chunk_id IS NULL",
            (model_sha256, library.id)).fetchone()[0]

    def store_vectors(self, model_sha256: str, vectors: dict[int, np.ndarray]) -> None:
        """Keep each passage's vector (unit length, float32) from ``model_sha256``."""
        with self.transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO chunk_vectors (chunk_id, model_sha256, vector) "
                "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM chunks WHERE id = ?)",
                [(chunk_id, model_sha256, _unit(vector).tobytes(), chunk_id)
                 for chunk_id, vector in vectors.items()])
        self._vectors.clear()

    def vectors(self, library: Library, model_sha256: str) -> tuple[list[int], np.ndarray]:
        """The ids and vectors (one row each) of ``library``'s passages from that model;
        kept in memory until a passage or vector changes."""
        cached = self._vectors.get((library.id, model_sha256))
        if cached is None:
            rows = self._db.execute(
                "SELECT v.chunk_id, v.vector FROM chunk_vectors v JOIN chunks c ON c.id = v.chunk_id "
                "JOIN documents d ON d.id = c.document_id WHERE d.library_id = ? AND "
                "d.status = 'indexed' AND v.model_sha256 = ? ORDER BY v.chunk_id",
                (library.id, model_sha256)).fetchall()
            sizes = {len(blob) for _id, blob in rows}
            if len(sizes) > 1:  # not one model's vectors after all: use none of them
                rows = []
            matrix = (np.frombuffer(b"".join(blob for _id, blob in rows), dtype=np.float32)
                      .reshape(len(rows), -1) if rows else np.zeros((0, 0), np.float32))
            cached = ([row[0] for row in rows], matrix)
            self._vectors[(library.id, model_sha256)] = cached
        return cached

    def counts(self, library: Library) -> tuple[int, int]:
        """(indexed documents, passages) in ``library``."""
        row = self._db.execute(
            "SELECT count(*), COALESCE(sum(chunk_count), 0) FROM documents "
            "WHERE library_id = ? AND status = 'indexed'", (library.id,)).fetchone()
        return row[0], row[1]



def _unit(vector) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float32)
    return array / max(float(np.linalg.norm(array)), 1e-12)
