"""The encrypted database under the conversations (and the document libraries): opening
a SQLCipher file with a raw 256-bit key, and one wrapper around the connection that turns
every later failure into one clear error, refuses use while closed (the idle lock), and
nests transactions as savepoints.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlcipher3

from strongroom.core.errors import StrongroomError

KEY_BYTES = 32
MEMORY = ":memory:"


class ConversationStoreError(StrongroomError):
    """The conversation database cannot be used; the message says why and what to do."""


class WrongKeyOrDamaged(ConversationStoreError):
    """The file is an encrypted database this key does not open (or it is damaged)."""


def connect_encrypted(path: Path | str, key: bytes):
    """A connection to the SQLCipher database at ``path`` with ``key`` (raw: no passphrase
    stretching, the key is already 256 random bits). Nothing is read yet.

    Pages are encrypted with AES-256 (SQLCipher's default) and authenticated with
    HMAC-SHA256 rather than the default HMAC-SHA512: as strong here, and about twice as
    fast on CPUs with SHA instructions, which is most of the cost of reading a page."""
    if len(key) != KEY_BYTES:
        raise ValueError("a conversations key is 32 bytes")
    db = sqlcipher3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is our message, not a log line
    db.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    db.execute("PRAGMA cipher_hmac_algorithm = HMAC_SHA256")
    db.execute("PRAGMA cipher_kdf_algorithm = PBKDF2_HMAC_SHA256")
    return db


def is_plaintext_database(path: Path) -> bool:
    """Whether ``path`` is an ordinary (unencrypted) SQLite database."""
    try:
        with open(path, "rb") as handle:
            return handle.read(16) == b"SQLite format 3\x00"
    except FileNotFoundError:
        return False


_DATABASE_ERRORS = (sqlite3.DatabaseError, sqlcipher3.DatabaseError)


class DatabaseDamaged(ConversationStoreError):
    """A page read or written after the database opened failed (its check, or the disk)."""


class Guarded:
    """The connection, with every database failure after opening turned into one clear
    error: a damaged page is found when it is read, which may be long after the open."""

    def __init__(self, db, path):
        self._raw, self._path = db, path

    def _failed(self, error: Exception) -> DatabaseDamaged:
        return DatabaseDamaged(
            f"The conversation database {self._path} could not be read or written ({error}): "
            "part of it is damaged, or the disk failed. What is on screen is not lost yet; "
            "export what you need, then `strongroom chats start-fresh` keeps the damaged file "
            "aside and starts an empty history.")

    def execute(self, *args):
        try:
            return _GuardedCursor(self._raw.execute(*args), self)
        except _DATABASE_ERRORS as error:
            raise self._failed(error) from None

    def executemany(self, *args):
        try:
            return _GuardedCursor(self._raw.executemany(*args), self)
        except _DATABASE_ERRORS as error:
            raise self._failed(error) from None

    def executescript(self, script: str):
        try:
            return self._raw.executescript(script)
        except _DATABASE_ERRORS as error:
            raise self._failed(error) from None

    @property
    def in_transaction(self) -> bool:
        return self._raw.in_transaction

    def close(self) -> None:
        self._raw.close()


class ConversationsClosed(ConversationStoreError):
    """The conversations were closed (the window is locked, or the app is ending)."""


class Closed:
    """Stands in for the connection while the store is closed."""

    def __init__(self, path):
        self._path = path

    def _refuse(self, *_args):
        raise ConversationsClosed(f"The conversations in {self._path} are closed (Strongroom "
                                  "is locked); unlock it to use them.")

    execute = executemany = executescript = _refuse
    in_transaction = False

    def close(self) -> None:
        pass


class _GuardedCursor:
    def __init__(self, cursor, guard: Guarded):
        self._cursor, self._guard = cursor, guard
        self.lastrowid = cursor.lastrowid

    def fetchone(self):
        try:
            return self._cursor.fetchone()
        except _DATABASE_ERRORS as error:
            raise self._guard._failed(error) from None

    def fetchall(self):
        try:
            return self._cursor.fetchall()
        except _DATABASE_ERRORS as error:
            raise self._guard._failed(error) from None

    def __iter__(self):
        return iter(self.fetchall())


class Transaction:
    """A transaction, or inside one a savepoint: an inner block that raises is undone by
    itself, and the outer one decides about the rest."""

    def __init__(self, db):
        self._db = db
        self._nested = False

    def __enter__(self):
        self._nested = self._db.in_transaction
        self._db.execute("SAVEPOINT inner_block" if self._nested else "BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_):
        if not self._nested:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
            return
        if exc_type:
            self._db.execute("ROLLBACK TO inner_block")
        self._db.execute("RELEASE inner_block")

