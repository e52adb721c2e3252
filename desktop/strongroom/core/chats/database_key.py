"""The key the conversations are encrypted with: where it is kept, how it is recovered.

The key is 256 random bits, kept in the secret store (the OS keyring where there is a real
one, else a file readable only by this user). It is shown to the user once, as a
*recovery key* (``SRCK-XXXX-…``), when it is made: with it, `strongroom chats recover`
restores access on a new keyring or a new computer. Losing both the keyring entry and the
recovery key is losing the conversations; nobody, Strongroom included, can read them then.

Until the user confirms the recovery key is stored away from the computer, the store keeps
a marker, and the window shows the key again at every start; a command shows it in full
once, on a terminal, and then reminds in one line.

A key's *id* (a digest that names it without revealing it) is written beside the
database, so that a key that does not match is told apart from a damaged database.
"""

from __future__ import annotations

import hashlib
import secrets as random_secrets
from pathlib import Path

from strongroom.core import key_text
from strongroom.core.errors import StrongroomError
from strongroom.core.secrets import SecretStore

KEY_RECORD = "conversations-key"
UNCONFIRMED_RECORD = "conversations-recovery-key-unconfirmed"
SHOWN_RECORD = "conversations-recovery-key-shown"  # shown in full on a terminal once
PREFIX = "SRCK"
KEY_BYTES = 32
KEY_ID_SUFFIX = ".key-id"


def recovery_text(key: bytes) -> str:
    return key_text.to_text(PREFIX, key)


def key_from_recovery_text(text: str) -> bytes:
    return key_text.from_text(PREFIX, text, KEY_BYTES, "a conversations recovery key")


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"strongroom conversations key id\0" + key).hexdigest()[:32]


def key_id_path(database: Path) -> Path:
    return database.with_name(database.name + KEY_ID_SUFFIX)


class KeyRecordDamaged(StrongroomError):
    pass


class DatabaseKeys:
    def __init__(self, secrets: SecretStore):
        self.secrets = secrets

    @property
    def where(self) -> str:
        return self.secrets.description

    def current(self) -> bytes | None:
        text = self.secrets.get(KEY_RECORD)
        if text is None:
            return None
        try:
            key = bytes.fromhex(text.strip())
        except ValueError:
            key = b""
        if len(key) != KEY_BYTES:
            raise KeyRecordDamaged(f"The conversations' key kept in {self.where} is damaged.")
        return key

    def create(self) -> bytes:
        """A new key, kept, with its recovery key marked as not yet confirmed."""
        key = random_secrets.token_bytes(KEY_BYTES)
        self.secrets.delete(SHOWN_RECORD)
        self.secrets.set(UNCONFIRMED_RECORD, "1")
        self.secrets.set(KEY_RECORD, key.hex())
        return key

    def unconfirmed_recovery_text(self) -> str | None:
        """The recovery key, while the user has not confirmed storing it."""
        if self.secrets.get(UNCONFIRMED_RECORD) is None:
            return None
        key = self.current()
        return recovery_text(key) if key is not None else None

    def confirm_stored(self) -> None:
        self.secrets.delete(UNCONFIRMED_RECORD)
        self.secrets.delete(SHOWN_RECORD)

    def shown_in_full(self) -> bool:
        """Whether a command has shown the unconfirmed recovery key in full already (it
        then reminds in one line; the window shows it in full until it is confirmed)."""
        return self.secrets.get(SHOWN_RECORD) is not None

    def mark_shown_in_full(self) -> None:
        self.secrets.set(SHOWN_RECORD, "1")

    def restore(self, key: bytes) -> None:
        """Keep ``key`` (recovered: the user typed it, so it is stored somewhere already)."""
        self.secrets.set(KEY_RECORD, key.hex())
        self.secrets.delete(UNCONFIRMED_RECORD)
