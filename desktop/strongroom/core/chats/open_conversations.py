"""Opening this installation's conversations: finding their key, encrypting a plaintext
database from an earlier version, and every way that can fail, each with a way forward.

Nothing here ever resets the conversations silently. A database the key does not open is
left exactly as it is; the user either recovers access with the recovery key or starts a
fresh history, which keeps the unreadable file aside under a new name.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from strongroom.core.atomic import write_atomic
from strongroom.core.chats.conversation_store import ConversationStore
from strongroom.core.chats.database import ConversationStoreError, WrongKeyOrDamaged, is_plaintext_database
from strongroom.core.chats.database_key import (
    KEY_RECORD,
    DatabaseKeys,
    KeyRecordDamaged,
    key_from_recovery_text,
    key_id,
    key_id_path,
)
from strongroom.core.chats.encrypt_in_place import Summary, encrypt_in_place, finish_interrupted
from strongroom.core.secrets import SecretStore

WAYS_FORWARD = (
    "If you have the conversations' recovery key (SRCK-…), run `strongroom chats recover`. "
    "Otherwise `strongroom chats start-fresh` keeps this file aside, unread, and starts an "
    "empty history; without the recovery key nobody, Strongroom included, can read these "
    "conversations.")


class KeyDoesNotOpen(ConversationStoreError):
    """The conversations exist but this computer's key does not open them."""


@dataclass
class OpenedConversations:
    store: ConversationStore
    recovery_text: str | None  # the recovery key, while the user has not confirmed storing it
    created_key: bool = False
    migrated: Summary | None = None


def open_conversations(path: Path, secrets: SecretStore) -> OpenedConversations:
    keys = DatabaseKeys(secrets)
    try:
        key = keys.current()
    except KeyRecordDamaged as error:
        raise KeyDoesNotOpen(f"{error} {WAYS_FORWARD}") from None
    with _only_one_opener(path):  # the window and a command starting together
        finish_interrupted(path)
        present = path.is_file() and path.stat().st_size > 0
        created = False
        if key is None:
            key = keys.current()  # another process may have just made it
        if key is None:
            if present and not is_plaintext_database(path):
                raise KeyDoesNotOpen(
                    f"The conversations in {path} are encrypted, and their key is not in "
                    f"{keys.where} (a new keyring or user account, or another computer's "
                    f"database). {WAYS_FORWARD}")
            key, created = keys.create(), True
        migrated = encrypt_in_place(path, key) if present and is_plaintext_database(path) else None
    recorded = _recorded_key_id(path)
    if present and recorded is not None and recorded != key_id(key):
        raise KeyDoesNotOpen(
            f"The conversations in {path} were encrypted with another key than the one in "
            f"{keys.where} (another installation's database, or a replaced keyring). "
            f"{WAYS_FORWARD}")
    try:
        store = ConversationStore(path, key)
    except WrongKeyOrDamaged:
        if recorded == key_id(key):
            raise ConversationStoreError(
                f"The conversation database {path} is damaged: it no longer opens with its own "
                f"key. Nothing was changed. `strongroom chats start-fresh` keeps it aside and "
                "starts an empty history.") from None
        raise KeyDoesNotOpen(f"The conversations in {path} do not open with the key in "
                                  f"{keys.where}. {WAYS_FORWARD}") from None
    if recorded is None:
        _record_key_id(path, key)
    return OpenedConversations(store, keys.unconfirmed_recovery_text(), created, migrated)


def existing_conversations(path: Path, secrets: SecretStore) -> bool:
    """Whether there are conversations to open, or a key for them (without making either)."""
    try:
        present = path.stat().st_size > 0
    except OSError:
        present = False
    return present or secrets.get(KEY_RECORD) is not None


def recover(path: Path, secrets: SecretStore, text: str) -> None:
    """Restore access with the recovery key ``text``: it must open the database."""
    key = key_from_recovery_text(text)  # ValueError says what a recovery key looks like
    try:
        ConversationStore(path, key).close()
    except WrongKeyOrDamaged:
        raise KeyDoesNotOpen(f"This recovery key does not open {path}: it belongs to other "
                                  "conversations, or was mistyped. Nothing was changed.") from None
    DatabaseKeys(secrets).restore(key)
    _record_key_id(path, key)


def start_fresh(path: Path, secrets: SecretStore) -> Path | None:
    """Keep the current database aside, unread and unchanged, and make a new key for an
    empty one. Returns where the old file went (None when there was none)."""
    aside = None
    if os.path.lexists(path):
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        aside = path.with_name(f"{path.stem}-set-aside-{stamp}{path.suffix}")
        for suffix in ("", "-wal", "-shm"):
            source = path.with_name(path.name + suffix)
            if os.path.lexists(source):
                os.rename(source, aside.with_name(aside.name + suffix))
        identity = key_id_path(path)
        if os.path.lexists(identity):
            os.rename(identity, key_id_path(aside))
    DatabaseKeys(secrets).create()
    return aside


@contextmanager
def _only_one_opener(path: Path):
    """Holds a lock beside the database while a key is made or a plaintext database is
    encrypted, so two Strongroom processes starting at once never do it twice."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                         0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _recorded_key_id(path: Path) -> str | None:
    try:
        return key_id_path(path).read_text(encoding="ascii").strip() or None
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def _record_key_id(path: Path, key: bytes) -> None:
    write_atomic(key_id_path(path), (key_id(key) + "\n").encode("ascii"), 0o600)
