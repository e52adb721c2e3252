"""Converting a plaintext conversation database into an encrypted one, in place, so that a
crash at any moment leaves one usable database at the usual path: the old one or the new.

1. The plaintext database is checkpointed (its WAL folded in) and summarised: the number of
   conversations and messages and a SHA-256 over every row.
2. It is exported, encrypted, to ``NAME.encrypting`` beside it, which is fsynced, reopened
   with the key and summarised again; a different summary stops everything (the new file
   is removed, the old one kept).
3. The plaintext file gets a second name, ``NAME.plaintext-old`` (a hard link), then the
   encrypted file is renamed over ``NAME``: one atomic step.
4. The plaintext bytes are overwritten with zeros, fsynced and removed.

A crash before step 3 leaves the plaintext database at ``NAME`` (the next start removes the
partial export and begins again); a crash after it leaves the encrypted one at ``NAME``
(the next start finishes step 4). `finish_interrupted` is that next start.

Overwriting cannot reach copies the file system or the disk keeps on its own (journals,
snapshots, SSD remapping); full-disk encryption is what covers those.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import sqlcipher3

from strongroom.core.atomic import fsync_path
from strongroom.core.chats.database import ConversationStoreError, connect_encrypted, is_plaintext_database

ENCRYPTING = ".encrypting"
PLAINTEXT_OLD = ".plaintext-old"
_SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class Summary:
    conversations: int
    messages: int
    content_sha256: str


def summarise(db) -> Summary:
    """What must be equal before and after: counts and a digest over every row."""
    digest = hashlib.sha256()
    conversations = messages = 0
    for row in db.execute("SELECT id, title, created_at, updated_at FROM conversations ORDER BY id"):
        digest.update(repr(row).encode("utf-8"))
        conversations += 1
    for row in db.execute("SELECT id, conversation_id, position, role, content, created_at, model, "
                          "stats FROM messages ORDER BY id"):
        digest.update(repr(row).encode("utf-8"))
        messages += 1
    return Summary(conversations, messages, digest.hexdigest())


def _beside(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _remove_with_side_files(path: Path) -> None:
    for name in (path, *(_beside(path, s) for s in _SIDE_FILES)):
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass


def shred(path: Path) -> None:
    """Overwrite ``path`` with zeros, fsync it, and remove it."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(descriptor).st_size
        zeros = bytes(1 << 20)
        written = 0
        while written < size:
            written += os.write(descriptor, zeros[:min(len(zeros), size - written)])
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.unlink(path)
    fsync_path(path.parent)


def finish_interrupted(path: Path) -> None:
    """Undo or finish a conversion a crash interrupted (see the module's steps)."""
    _remove_with_side_files(_beside(path, ENCRYPTING))
    old = _beside(path, PLAINTEXT_OLD)
    if os.path.lexists(old):
        if not os.path.lexists(path):  # never after step 3: someone moved the live file away
            os.rename(old, path)
        elif is_plaintext_database(path) and os.path.samefile(old, path):
            os.unlink(old)  # step 3 had not happened: only a second name of the live file
        else:
            shred(old)


def encrypt_in_place(path: Path, key: bytes) -> Summary:
    """Encrypt the plaintext database at ``path`` with ``key`` (see the module)."""
    finish_interrupted(path)
    new, old = _beside(path, ENCRYPTING), _beside(path, PLAINTEXT_OLD)
    plain = sqlcipher3.connect(str(path), isolation_level=None)  # no key: plaintext
    encrypted = connect_encrypted(new, key)  # the new file, with the store's cipher settings
    try:
        plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = summarise(plain)
        version = plain.execute("PRAGMA user_version").fetchone()[0]
        encrypted.execute("ATTACH DATABASE ? AS plain KEY ''", (str(path),))
        encrypted.execute("SELECT sqlcipher_export('main', 'plain')")
        encrypted.execute("DETACH DATABASE plain")
        encrypted.execute(f"PRAGMA user_version = {int(version)}")
    except sqlcipher3.DatabaseError as error:
        plain.close()
        encrypted.close()
        _remove_with_side_files(new)
        raise ConversationStoreError(
            f"The conversation database {path} could not be encrypted ({error}); it was left "
            "as it was.") from None
    encrypted.close()
    fsync_path(new)
    check = connect_encrypted(new, key)
    try:
        after = summarise(check)
    finally:
        check.close()
    plain.close()  # the last connection: SQLite removes the plaintext's WAL and SHM files
    if after != before:
        _remove_with_side_files(new)
        raise ConversationStoreError(
            f"Encrypting {path} gave a different database ({after} instead of {before}); it was "
            "left as it was. Report this.")
    os.link(path, old)
    fsync_path(path.parent)
    os.replace(new, path)
    fsync_path(path.parent)
    shred(old)
    for suffix in _SIDE_FILES:  # nothing of the plaintext may remain beside it
        shred(_beside(old, suffix))
    return after
