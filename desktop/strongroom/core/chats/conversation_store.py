"""Conversations on disk: one SQLCipher database (SQLite, every page encrypted with
AES-256 and authenticated) in WAL mode, opened with a 256-bit key the caller holds
(`chats.encryption` finds it in the secret store).

A user's message is committed when it is sent and an answer when it is finished (or
stopped), each in its own transaction with a full fsync. A process killed in the middle
of an answer therefore loses at most that partial answer; the conversation reopens with
everything before it. Deleted text is overwritten (``secure_delete``), and searching
uses a trigram full-text index inside the same encrypted file.

A conversation is a tree: regenerating an answer or editing a message keeps what it
replaces as an alternative. The ``messages`` table holds the current path only (what is
shown, searched, exported and sent to the model); each alternative is one ``branches``
row at the position where it differs, holding its messages from there on and, nested,
the alternatives that hang off those messages, so a whole subtree moves as one.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import sqlcipher3

from strongroom.core.chats.database import (
    MEMORY,
    Closed,
    ConversationStoreError,
    Guarded,
    Transaction,
    WrongKeyOrDamaged,
    connect_encrypted,
)

SCHEMA_VERSION = 3  # 3: branches (alternative answers and edits)
# Search runs on the full-text index for patterns of 3 or more characters (what a trigram
# index can answer); shorter ones scan the messages.
_INDEXED_PATTERN = 3
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
CREATE TABLE IF NOT EXISTS branches (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    first_created_at TEXT NOT NULL,
    content TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS branches_by_place ON branches(conversation_id, position);
CREATE VIRTUAL TABLE IF NOT EXISTS message_text USING fts5(
    content, content='messages', content_rowid='id', tokenize='trigram case_sensitive 0');
CREATE TRIGGER IF NOT EXISTS message_text_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_text(rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER IF NOT EXISTS message_text_delete AFTER DELETE ON messages BEGIN
    INSERT INTO message_text(message_text, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER IF NOT EXISTS message_text_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO message_text(message_text, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO message_text(rowid, content) VALUES (new.id, new.content);
END;
CREATE VIRTUAL TABLE IF NOT EXISTS title_text USING fts5(
    title, content='conversations', content_rowid='id', tokenize='trigram case_sensitive 0');
CREATE TRIGGER IF NOT EXISTS title_text_insert AFTER INSERT ON conversations BEGIN
    INSERT INTO title_text(rowid, title) VALUES (new.id, new.title);
END;
CREATE TRIGGER IF NOT EXISTS title_text_delete AFTER DELETE ON conversations BEGIN
    INSERT INTO title_text(title_text, rowid, title) VALUES ('delete', old.id, old.title);
END;
CREATE TRIGGER IF NOT EXISTS title_text_update AFTER UPDATE OF title ON conversations BEGIN
    INSERT INTO title_text(title_text, rowid, title) VALUES ('delete', old.id, old.title);
    INSERT INTO title_text(rowid, title) VALUES (new.id, new.title);
END;
"""


def _now() -> str:
    # Microseconds: alternatives at one position are ordered by when they were written,
    # and two of them can be written within the same millisecond.
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


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


class ConversationStore:
    """The conversations of this installation, encrypted with ``key`` (or, at ``MEMORY``,
    of one command, kept nowhere)."""

    def __init__(self, path: Path | str, key: bytes | None = None):
        self.path = path
        self._db = self._connect(key)

    def _connect(self, key: bytes | None) -> "Guarded":
        path = self.path
        if path == MEMORY:
            db = sqlite3.connect(MEMORY, isolation_level=None)
        else:
            if key is None:
                raise ValueError("the conversations on disk are always encrypted: give the key")
            Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            db = connect_encrypted(path, key)
        errors = (sqlite3.DatabaseError, sqlcipher3.DatabaseError)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except errors:
            db.close()
            raise WrongKeyOrDamaged(f"The conversation database {path} does not open with this "
                                    "computer's key for it.") from None
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA secure_delete=ON")
            db.execute("PRAGMA cache_size=-32000")  # 32 MB of decrypted pages
            version = db.execute("PRAGMA user_version").fetchone()[0]
            db.executescript(_SCHEMA)
            if version < 2:  # a database from before the full-text indexes
                db.execute("INSERT INTO message_text(message_text) VALUES ('rebuild')")
                db.execute("INSERT INTO title_text(title_text) VALUES ('rebuild')")
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except errors as error:
            db.close()
            raise ConversationStoreError(
                f"The conversation database {path} is damaged ({error}). Nothing was changed; "
                "`strongroom chats start-fresh` keeps it aside and starts an empty one.") from None
        if path != MEMORY:
            Path(path).chmod(0o600)
        return Guarded(db, path)

    @classmethod
    def in_memory(cls) -> "ConversationStore":
        return cls(MEMORY)

    def close(self) -> None:
        """Close the database: its decrypted pages leave memory, and every use until
        `reopen` raises `ConversationsClosed`."""
        self._db.close()
        self._db = Closed(self.path)

    @property
    def closed(self) -> bool:
        return isinstance(self._db, Closed)

    def reopen(self, key: bytes) -> None:
        """Open the closed database again with ``key`` (`WrongKeyOrDamaged` when it is not
        the database's key; the store stays closed then)."""
        if not self.closed:
            return
        self._db = self._connect(key)

    # -- conversations ---------------------------------------------------------------------

    def create_conversation(self, title: str = DEFAULT_TITLE) -> Conversation:
        now = _now()
        cursor = self._db.execute(
            "INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?)",
            (title, now, now),
        )
        return Conversation(cursor.lastrowid, title, now, now)

    def unused_conversation(self) -> Conversation | None:
        """The newest conversation nobody has written in or named yet, if there is one."""
        row = self._db.execute(
            "SELECT id, title, created_at, updated_at FROM conversations c WHERE title = ? AND "
            "NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id) "
            "ORDER BY id DESC LIMIT 1", (DEFAULT_TITLE,)).fetchone()
        return Conversation(*row) if row else None

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
            text = search.strip()
            if len(text) >= _INDEXED_PATTERN:  # the trigram indexes find any substring of 3+
                where = ("id IN (SELECT rowid FROM title_text WHERE title_text MATCH ?1) OR id IN "
                         "(SELECT m.conversation_id FROM message_text JOIN messages m "
                         "ON m.id = message_text.rowid WHERE message_text MATCH ?1)")
                parameters = ('"' + text.replace('"', '""') + '"',)
            else:
                pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                where = ("title LIKE ?1 ESCAPE '\\' OR id IN (SELECT conversation_id FROM messages "
                         "WHERE content LIKE ?1 ESCAPE '\\')")
                parameters = (pattern,)
            rows = self._db.execute(
                f"SELECT id, title, created_at, updated_at FROM conversations WHERE {where} "
                "ORDER BY updated_at DESC, id DESC",
                parameters,
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
        with self.transaction():
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

    def update_message(self, message: Message, content: str, stats: dict | None,
                       model: str | None) -> Message | None:
        """Rewrite the stored ``message`` (an answer continued after it was stopped); it keeps
        its place and creation time. None when it is no longer in the conversation."""
        now = _now()
        with self.transaction():
            cursor = self._db.execute(
                "UPDATE messages SET content = ?, stats = ?, model = ? "
                "WHERE id = ? AND conversation_id = ? AND position = ? AND created_at = ? "
                "RETURNING id",
                (content, json.dumps(stats) if stats is not None else None, model, message.id,
                 message.conversation_id, message.position, message.created_at))
            if cursor.fetchone() is None:
                return None
            self._db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?",
                             (now, message.conversation_id))
        return Message(message.id, message.conversation_id, message.position, message.role,
                       content, message.created_at, model, stats)

    def truncate(self, conversation_id: int, keep: int) -> None:
        """Delete every message from position ``keep`` on, for good (a sent message taken
        back). To replace messages and keep them as an alternative, use `set_aside`."""
        self._db.execute("DELETE FROM messages WHERE conversation_id = ? AND position >= ?",
                         (conversation_id, keep))

    # -- alternatives (branches) -----------------------------------------------------------

    def set_aside(self, conversation_id: int, position: int) -> int | None:
        """Move the messages from ``position`` on, with the alternatives that hang off them
        (branches at later positions), into one new branch at ``position``, and return its
        id; the current path then ends before ``position``. Alternatives at ``position``
        itself stay where they are: they are this branch's siblings. None, and nothing
        changes, when there is no message at ``position`` or after."""
        with self.transaction():
            rows = self._db.execute(
                "SELECT role, content, created_at, model, stats FROM messages "
                "WHERE conversation_id = ? AND position >= ? ORDER BY position",
                (conversation_id, position)).fetchall()
            if not rows:
                return None
            nested = self._db.execute(
                "SELECT position, first_created_at, content FROM branches "
                "WHERE conversation_id = ? AND position > ? ORDER BY position, id",
                (conversation_id, position)).fetchall()
            content = {
                "messages": [{"role": role, "content": text, "created_at": created_at,
                              "model": model, "stats": json.loads(stats) if stats else None}
                             for role, text, created_at, model, stats in rows],
                "branches": [{"position": place, "first_created_at": first,
                              "content": json.loads(inner)} for place, first, inner in nested],
            }
            self._db.execute("DELETE FROM messages WHERE conversation_id = ? AND position >= ?",
                             (conversation_id, position))
            self._db.execute("DELETE FROM branches WHERE conversation_id = ? AND position > ?",
                             (conversation_id, position))
            cursor = self._db.execute(
                "INSERT INTO branches (conversation_id, position, first_created_at, content) "
                "VALUES (?, ?, ?, ?)",
                (conversation_id, position, rows[0][2], json.dumps(content)))
            return cursor.lastrowid

    def restore_branch(self, branch_id: int) -> bool:
        """Make branch ``branch_id`` the current path from its position on: the messages
        there now, and the alternatives hanging off them, are deleted (`set_aside` them
        first to keep them), the branch's messages and nested alternatives take their place,
        and the branch row goes. False, and nothing changes, when there is no such branch
        (it was restored already)."""
        with self.transaction():
            row = self._db.execute(
                "SELECT conversation_id, position, content FROM branches WHERE id = ?",
                (branch_id,)).fetchone()
            if row is None:
                return False
            conversation_id, position, content = row
            content = json.loads(content)
            self._db.execute("DELETE FROM messages WHERE conversation_id = ? AND position >= ?",
                             (conversation_id, position))
            self._db.execute("DELETE FROM branches WHERE conversation_id = ? AND position > ?",
                             (conversation_id, position))
            self._db.execute("DELETE FROM branches WHERE id = ?", (branch_id,))
            self._db.executemany(
                "INSERT INTO messages (conversation_id, position, role, content, created_at, "
                "model, stats) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(conversation_id, position + offset, m["role"], m["content"], m["created_at"],
                  m["model"], json.dumps(m["stats"]) if m["stats"] is not None else None)
                 for offset, m in enumerate(content["messages"])])
            self._db.executemany(
                "INSERT INTO branches (conversation_id, position, first_created_at, content) "
                "VALUES (?, ?, ?, ?)",
                [(conversation_id, b["position"], b["first_created_at"], json.dumps(b["content"]))
                 for b in content["branches"]])
        return True

    def alternatives(self, conversation_id: int) -> dict[int, tuple[int, int]]:
        """For each position of the current path that has alternatives: (which of them the
        current message is, counting from 0, how many there are), oldest first — what the
        window shows as ‹ 2/3 ›."""
        places: dict[int, list[tuple[str, int | None]]] = {}
        for position, first, branch_id, current in self._db.execute(
                "SELECT b.position, b.first_created_at, b.id, m.created_at FROM branches b "
                "JOIN messages m ON m.conversation_id = b.conversation_id "
                "AND m.position = b.position WHERE b.conversation_id = ?", (conversation_id,)):
            places.setdefault(position, [(current, None)]).append((first, branch_id))
        result = {}
        for position, entries in sorted(places.items()):
            ordered = _in_order(entries)
            result[position] = (ordered.index(None), len(ordered))
        return result

    def switch_alternative(self, conversation_id: int, position: int, step: int) -> bool:
        """Show the alternative ``step`` places after (negative: before) the current one at
        ``position``, stopping at the first and the last; the current one is kept as an
        alternative. All in one transaction. Returns whether anything changed."""
        with self.transaction():
            current = self._db.execute(
                "SELECT created_at FROM messages WHERE conversation_id = ? AND position = ?",
                (conversation_id, position)).fetchone()
            if current is None:
                return False
            branches = self._db.execute(
                "SELECT first_created_at, id FROM branches WHERE conversation_id = ? "
                "AND position = ?", (conversation_id, position)).fetchall()
            ordered = _in_order([(current[0], None)] + [tuple(b) for b in branches])
            here = ordered.index(None)
            there = min(max(here + step, 0), len(ordered) - 1)
            if there == here:
                return False
            self.set_aside(conversation_id, position)
            self.restore_branch(ordered[there])
        return True

    def restore_interrupted(self, conversation_id: int) -> bool:
        """Put back an answer that a regenerate set aside and never replaced (the program
        ended while the new answer was being written): an alternative just past the end of
        the current path. Returns whether one was put back. Call only when no answer is
        being written in this conversation."""
        restored = False
        while True:
            with self.transaction():
                (length,) = self._db.execute(
                    "SELECT COALESCE(MAX(position), -1) + 1 FROM messages WHERE conversation_id = ?",
                    (conversation_id,)).fetchone()
                row = self._db.execute(
                    "SELECT id FROM branches WHERE conversation_id = ? AND position = ? "
                    "ORDER BY first_created_at DESC, id DESC LIMIT 1",
                    (conversation_id, length)).fetchone()
                if row is None:
                    return restored
                self.restore_branch(row[0])
                restored = True

    def transaction(self):
        """A block whose changes are all kept or, if it raises, none; blocks nest."""
        return Transaction(self._db)

    @property
    def database(self):
        """The open connection, for the tables other parts keep in this same encrypted file
        (the document libraries); raises `ConversationsClosed` on use while closed."""
        return self._db


def _in_order(entries: list[tuple[str, int | None]]) -> list[int | None]:
    """The alternatives at one position, oldest first, as branch ids (None: the current
    message), from (creation time, branch id) pairs."""
    return [branch_id for _created, branch_id in
            sorted(entries, key=lambda entry: (entry[0], -1 if entry[1] is None else entry[1]))]


def title_from(text: str) -> str:
    """A conversation title from its first message: the first words, on one line."""
    words = " ".join(text.split())
    if len(words) <= TITLE_LENGTH:
        return words or DEFAULT_TITLE
    return words[:TITLE_LENGTH].rsplit(" ", 1)[0] + "…"
