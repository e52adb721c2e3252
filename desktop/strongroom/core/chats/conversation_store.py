"""Conversations on disk: one SQLite database in WAL mode.

A user's message is committed when it is sent and an answer when it is finished (or
stopped), each in its own transaction with a full fsync. A process killed in the middle
of an answer therefore loses at most that partial answer; the conversation reopens with
everything before it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SCHEMA_VERSION = 1
DEFAULT_TITLE = "New conversation"
TITLE_LENGTH = 60

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT NOT NULL,
    created_at TEXT NOT NULL,
    model TEXT,
    stats TEXT,
    UNIQUE (conversation_id, position)
);
CREATE INDEX IF NOT EXISTS conversations_by_update ON conversations(updated_at DESC);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: int
    position: int
    role: str
    content: str
    created_at: str
    model: str | None = None
    stats: dict | None = None

    def as_prompt(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


class ConversationStoreError(Exception):
    """The conversation database cannot be used; the message says why and what to do."""


MEMORY = ":memory:"


class ConversationStore:
    """The conversations of this installation (or, at ``MEMORY``, of one command, kept nowhere)."""

    def __init__(self, path: Path | str):
        self.path = path
        if path != MEMORY:
            Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as error:
            raise ConversationStoreError(
                f"The conversation database {path} cannot be opened ({error}). "
                "Move it aside to start with an empty history; the file itself is left untouched."
            ) from None
        if path != MEMORY:
            Path(path).chmod(0o600)

    @classmethod
    def in_memory(cls) -> "ConversationStore":
        return cls(MEMORY)

    def close(self) -> None:
        self._db.close()

    # -- conversations ---------------------------------------------------------------------

    def create_conversation(self, title: str = DEFAULT_TITLE) -> Conversation:
        now = _now()
        cursor = self._db.execute(
            "INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?)",
            (title, now, now),
        )
        return Conversation(cursor.lastrowid, title, now, now)

    def conversation(self, conversation_id: int) -> Conversation:
        row = self._db.execute(
            "SELECT id, title, created_at, updated_at FROM conversations WHERE id = ?",
            (conversation_id,),
        ).fetchone()
        if row is None:
            raise KeyError(conversation_id)
        return Conversation(*row)

    def conversations(self, search: str = "") -> list[Conversation]:
        """Newest first; with ``search``, those whose title or any message contains it."""
        if not search.strip():
            rows = self._db.execute(
                "SELECT id, title, created_at, updated_at FROM conversations "
                "ORDER BY updated_at DESC, id DESC"
            )
        else:
            pattern = "%" + search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            rows = self._db.execute(
                "SELECT id, title, created_at, updated_at FROM conversations c "
                "WHERE title LIKE ?1 ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m WHERE "
                "m.conversation_id = c.id AND m.content LIKE ?1 ESCAPE '\\') "
                "ORDER BY updated_at DESC, id DESC",
                (pattern,),
            )
        return [Conversation(*row) for row in rows]

    def reset_title(self, conversation_id: int) -> None:
        """Back to the default title (its first message was taken back)."""
        self._db.execute("UPDATE conversations SET title = ? WHERE id = ?",
                         (DEFAULT_TITLE, conversation_id))

    def rename(self, conversation_id: int, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            raise ValueError("A conversation needs a name.")
        self._db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))

    def delete(self, conversation_id: int) -> None:
        self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # -- messages --------------------------------------------------------------------------

    def messages(self, conversation_id: int) -> list[Message]:
        rows = self._db.execute(
            "SELECT id, conversation_id, position, role, content, created_at, model, stats "
            "FROM messages WHERE conversation_id = ? ORDER BY position",
            (conversation_id,),
        )
        return [Message(*row[:7], json.loads(row[7]) if row[7] else None) for row in rows]

    def add_message(self, conversation_id: int, role: str, content: str,
                    model: str | None = None, stats: dict | None = None) -> Message:
        now = _now()
        with self._transaction():
            (position,) = self._db.execute(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM messages WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()
            cursor = self._db.execute(
                "INSERT INTO messages (conversation_id, position, role, content, created_at, "
                "model, stats) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, position, role, content, now, model,
                 json.dumps(stats) if stats is not None else None),
            )
            self._db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?",
                             (now, conversation_id))
            if role == "user" and position == 0:
                self._db.execute(
                    "UPDATE conversations SET title = ? WHERE id = ? AND title = ?",
                    (title_from(content), conversation_id, DEFAULT_TITLE),
                )
        return Message(cursor.lastrowid, conversation_id, position, role, content, now, model, stats)

    def truncate(self, conversation_id: int, keep: int) -> None:
        """Delete every message from position ``keep`` on (regenerate, edit and resend)."""
        self._db.execute("DELETE FROM messages WHERE conversation_id = ? AND position >= ?",
                         (conversation_id, keep))

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self):
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_):
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def title_from(text: str) -> str:
    """A conversation title from its first message: the first words, on one line."""
    words = " ".join(text.split())
    if len(words) <= TITLE_LENGTH:
        return words or DEFAULT_TITLE
    return words[:TITLE_LENGTH].rsplit(" ", 1)[0] + "…"
