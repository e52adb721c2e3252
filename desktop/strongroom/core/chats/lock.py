"""Locking the conversations while nobody is at the computer, and opening them again.

Locking closes the encrypted database, so its decrypted pages leave memory, and what is
on screen is cleared by the window. Opening again needs the person's own login password
(checked by the operating system, see `core.os_login`; the key then comes from the
secret store as at start) or the conversations' recovery key, which opens the database
by itself. Each lock, unlock and refused attempt is an audit entry.

The lock keeps out a passer-by at an unattended, logged-in desktop. It does not keep out
a program running as the same user, which can read the secret store as Strongroom does.
"""

from __future__ import annotations

import logging

from strongroom.core.audit.events import Auditor, AuditUnavailable
from strongroom.core.chats.conversation_store import ConversationStore
from strongroom.core.chats.database import WrongKeyOrDamaged
from strongroom.core.chats.database_key import DatabaseKeys, KeyRecordDamaged, key_from_recovery_text
from strongroom.core.errors import StrongroomError
from strongroom.core.secrets import SecretStore

log = logging.getLogger(__name__)

BY_PASSWORD = "login password"
BY_RECOVERY_KEY = "recovery key"


class UnlockRefused(StrongroomError):
    """The conversations stay locked; the message says why, in the user's words."""


class ConversationsLock:
    def __init__(self, store: ConversationStore, secrets: SecretStore, auditor: Auditor):
        self.store, self.secrets, self.auditor = store, secrets, auditor

    @property
    def locked(self) -> bool:
        return self.store.closed

    def lock(self, reason: str) -> None:
        if self.locked:
            return
        self.store.close()
        self._record("locked", reason=reason)

    def unlock_after_login(self) -> None:
        """The operating system accepted the user's password: open with the stored key."""
        try:
            key = DatabaseKeys(self.secrets).current()
        except KeyRecordDamaged as error:
            key, problem = None, str(error)
        else:
            problem = f"The conversations' key is no longer in {self.secrets.description}."
        if key is None:
            self.refused(BY_PASSWORD, "key missing")
            raise UnlockRefused(f"Your password is right, but {problem[0].lower()}{problem[1:]} "
                                "Unlock with the conversations' recovery key (SRCK-…).")
        self._open(key, BY_PASSWORD)

    def unlock_with_recovery_key(self, text: str) -> None:
        try:
            key = key_from_recovery_text(text)
        except ValueError as error:
            self.refused(BY_RECOVERY_KEY, "not a recovery key")
            raise UnlockRefused(str(error)) from None
        self._open(key, BY_RECOVERY_KEY)

    def refused(self, method: str, reason: str) -> None:
        self._record("unlock refused", method=method, reason=reason)

    def _open(self, key: bytes, method: str) -> None:
        try:
            self.store.reopen(key)
        except WrongKeyOrDamaged:
            self.refused(method, "key does not open the conversations")
            raise UnlockRefused("This key does not open these conversations: it belongs to "
                                "other conversations, or was mistyped.") from None
        self._record("unlocked", method=method)

    def _record(self, action: str, **details: str) -> None:
        # Locking must never wait on the log, and the conversations were readable at start
        # with the log unavailable too; the window shows the log's problem on its own.
        try:
            self.auditor.conversations_lock(action, **details)
        except AuditUnavailable as error:
            log.error("the %s could not be recorded: %s", action, error)
