"""Opening the encrypted conversations: the key made and kept, the recovery key shown until
confirmed, a plaintext database from an earlier version encrypted in place, and every way
it can fail, each with a way forward and nothing reset."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.core.chats.conversation_store import ConversationStore
from strongroom.core.chats.database import ConversationStoreError
from strongroom.core.chats.database_key import KEY_RECORD, DatabaseKeys, key_id_path
from strongroom.core.chats.encrypt_in_place import ENCRYPTING, PLAINTEXT_OLD
from strongroom.core.chats.open_conversations import (
    KeyDoesNotOpen,
    open_conversations,
    recover,
    start_fresh,
)
from strongroom.core.secrets import SecretStore
from tests.helpers.conversations import plaintext_database

MARKER = "PRIVILEGED-4f1c2d"


@pytest.fixture
def secrets(tmp_path) -> SecretStore:
    return SecretStore("file", "test files", tmp_path / "secrets")


@pytest.fixture
def path(tmp_path) -> Path:
    return tmp_path / "data" / "conversations.sqlite3"


def fill(store: ConversationStore, conversations: int = 3) -> None:
    for index in range(conversations):
        conversation = store.create_conversation()
        store.add_message(conversation.id, "user", f"{MARKER} question {index}")
        store.add_message(conversation.id, "assistant", f"answer {index}", model="m",
                          stats={"completion_tokens": 2})


def files_holding(folder: Path, text: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def test_the_first_open_makes_and_keeps_a_key(path, secrets):
    opened = open_conversations(path, secrets)
    assert opened.created_key and opened.recovery_text.startswith("SRCK-")
    fill(opened.store)
    opened.store.close()
    again = open_conversations(path, secrets)
    assert not again.created_key and len(again.store.conversations()) == 3
    assert again.recovery_text == opened.recovery_text  # until confirmed
    again.store.close()
    DatabaseKeys(secrets).confirm_stored()
    third = open_conversations(path, secrets)
    assert third.recovery_text is None
    third.store.close()
    assert key_id_path(path).is_file()
    assert files_holding(path.parent, MARKER) == []


def test_a_plaintext_database_is_encrypted_in_place(path, secrets):
    plaintext_database(path, conversations=50)
    opened = open_conversations(path, secrets)
    assert opened.migrated.conversations == 50 and opened.migrated.messages == 50
    store = opened.store
    assert [c.id for c in store.conversations(f"{MARKER} question 7")] == [8]  # index rebuilt
    assert store.messages(8)[0].content == f"{MARKER} question 7"
    store.close()
    assert not path.read_bytes().startswith(b"SQLite format 3")
    leftovers = [p.name for p in path.parent.iterdir() if ENCRYPTING in p.name or PLAINTEXT_OLD in p.name]
    assert leftovers == []
    assert files_holding(path.parent, MARKER) == []


def test_a_missing_key_is_never_replaced_silently(path, secrets):
    opened = open_conversations(path, secrets)
    fill(opened.store)
    opened.store.close()
    before = path.read_bytes()
    recovery_text = opened.recovery_text
    secrets.delete(KEY_RECORD)  # a new keyring, or a new user account
    with pytest.raises(KeyDoesNotOpen) as refused:
        open_conversations(path, secrets)
    assert "strongroom chats recover" in str(refused.value)
    assert "start-fresh" in str(refused.value) and "nobody" in str(refused.value)
    assert path.read_bytes() == before and secrets.get(KEY_RECORD) is None

    with pytest.raises(ValueError, match="not a conversations recovery key: it is the audit"):
        recover(path, secrets, "SRAK-" + recovery_text[5:])
    wrong = DatabaseKeys(SecretStore("file", "other", path.parent / "other")).create()
    from strongroom.core.chats.database_key import recovery_text as text_of

    with pytest.raises(KeyDoesNotOpen, match="does not open"):
        recover(path, secrets, text_of(wrong))
    recover(path, secrets, recovery_text.lower().replace("-", " "))  # as typed, loosely
    reopened = open_conversations(path, secrets)
    assert len(reopened.store.conversations()) == 3 and reopened.recovery_text is None
    reopened.store.close()


def test_another_installations_database_is_told_apart(path, secrets, tmp_path):
    other_secrets = SecretStore("file", "other", tmp_path / "other-secrets")
    other = open_conversations(path, other_secrets)
    fill(other.store)
    other.store.close()
    DatabaseKeys(secrets).create()  # this installation already has its own key
    with pytest.raises(KeyDoesNotOpen, match="encrypted with another key"):
        open_conversations(path, secrets)


def test_a_damaged_database_is_reported_and_left_alone(path, secrets):
    opened = open_conversations(path, secrets)
    fill(opened.store)
    opened.store.close()
    with open(path, "r+b") as handle:
        handle.truncate(1000)
    before = path.read_bytes()
    with pytest.raises(ConversationStoreError, match="is damaged.*start-fresh"):
        open_conversations(path, secrets)
    assert path.read_bytes() == before


def test_starting_fresh_keeps_the_old_file_aside(path, secrets):
    opened = open_conversations(path, secrets)
    fill(opened.store)
    opened.store.close()
    old = path.read_bytes()
    secrets.delete(KEY_RECORD)
    aside = start_fresh(path, secrets)
    assert aside.read_bytes() == old and not path.exists()
    fresh = open_conversations(path, secrets)
    assert fresh.store.conversations() == [] and fresh.recovery_text
    fresh.store.close()


def test_a_damaged_key_record_is_not_taken_for_no_key(path, secrets):
    open_conversations(path, secrets).store.close()
    secrets.set(KEY_RECORD, "not hex")
    with pytest.raises(KeyDoesNotOpen, match="key kept in test files is damaged"):
        open_conversations(path, secrets)


def test_a_page_damaged_after_opening_gives_a_clear_error(path, secrets):
    """A damaged page is found when it is read, which may be long after the open."""
    from strongroom.core.chats.database import DatabaseDamaged

    opened = open_conversations(path, secrets)
    filler = "words " * 2000
    for index in range(40):
        conversation = opened.store.create_conversation(f"Case {index}")
        opened.store.add_message(conversation.id, "user", f"{index} {filler}")
    opened.store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    opened.store.close()
    with open(path, "r+b") as handle:  # damage every third page after the first
        size = handle.seek(0, 2)
        for page in range(2, size // 4096, 3):
            handle.seek(page * 4096 + 100)
            handle.write(b"\xff" * 64)
    store = open_conversations(path, secrets).store
    with pytest.raises(DatabaseDamaged, match="part of it is damaged.*start-fresh"):
        for conversation in store.conversations():
            store.messages(conversation.id)
    store.close()
