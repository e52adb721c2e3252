"""Opening a test home's encrypted conversations the way the app does."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from strongroom.core.chats.conversation_store import ConversationStore
from strongroom.core.chats.open_conversations import open_conversations
from strongroom.core.inference.engine import Answer, AnswerStats
from strongroom.core.secrets import open_secret_store

KEY = bytes(range(32))  # for a store a test makes by itself


def an_answer(text: str, stopped: bool = False) -> Answer:
    """An answer as the engine reports one (for the turns that need no real model)."""
    return Answer(text, AnswerStats(prompt_tokens=12, completion_tokens=len(text.split()),
                                    time_to_first_token_s=0.05, tokens_per_second=40.0,
                                    total_s=0.5, stopped=stopped,
                                    finish_reason="user" if stopped else "stop", dropped_messages=0))


def open_home_conversations(home) -> ConversationStore:
    """The conversations of ``home`` (an AppPaths), with the key its secret store keeps."""
    return open_conversations(home.conversations_db, open_secret_store(home.config_dir)).store


# The schema Strongroom wrote before its conversations were encrypted.
PLAINTEXT_SCHEMA = """
    CREATE TABLE conversations (id INTEGER PRIMARY KEY, title TEXT NOT NULL,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE messages (id INTEGER PRIMARY KEY, conversation_id INTEGER NOT NULL
        REFERENCES conversations(id) ON DELETE CASCADE, position INTEGER NOT NULL,
        role TEXT NOT NULL, content TEXT NOT NULL, created_at TEXT NOT NULL, model TEXT,
        stats TEXT, UNIQUE (conversation_id, position));
    PRAGMA user_version=1;"""


def plaintext_connection(path: Path) -> sqlite3.Connection:
    """A new database as Strongroom wrote it before encryption: plain SQLite, schema 1."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(PLAINTEXT_SCHEMA)
    return db


def plaintext_database(path: Path, conversations: int = 3, marker: str = "PRIVILEGED-4f1c2d") -> None:
    """Such a database with ``conversations`` conversations of one message each."""
    db = plaintext_connection(path)
    for index in range(conversations):
        db.execute("INSERT INTO conversations VALUES (?, ?, '2026-01-01', '2026-01-01')",
                   (index + 1, f"Case {index}"))
        db.execute("INSERT INTO messages VALUES (NULL, ?, 0, 'user', ?, '2026-01-01', NULL, NULL)",
                   (index + 1, f"{marker} question {index}"))
    db.close()
