import json
import sqlite3

import pytest

from strongroom.core.chats import export
from strongroom.core.chats.conversation_store import DEFAULT_TITLE, ConversationStore, title_from
from strongroom.core.chats.database import ConversationStoreError, WrongKeyOrDamaged
from tests.helpers.conversations import KEY


@pytest.fixture
def store(tmp_path):
    chats = ConversationStore(tmp_path / "c.sqlite3", KEY)
    yield chats
    chats.close()


def test_conversation_lifecycle(store):
    conversation = store.create_conversation()
    assert conversation.title == DEFAULT_TITLE
    store.add_message(conversation.id, "user", "What is **privilege**?")
    store.add_message(conversation.id, "assistant", "It protects…", model="m",
                      stats={"completion_tokens": 3})
    messages = store.messages(conversation.id)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert [m.position for m in messages] == [0, 1]
    assert messages[1].stats == {"completion_tokens": 3}
    assert store.conversation(conversation.id).title == "What is **privilege**?"
    store.rename(conversation.id, "  Privilege   notes ")
    assert store.conversation(conversation.id).title == "Privilege notes"
    with pytest.raises(ValueError, match="needs a name"):
        store.rename(conversation.id, "   ")
    store.delete(conversation.id)
    assert store.conversations() == []
    assert store.messages(conversation.id) == []


def test_search_by_title_and_text(store):
    first = store.create_conversation("Merger timeline")
    second = store.create_conversation("Patient notes")
    store.add_message(second.id, "user", "dosage of 50% strength")
    assert [c.id for c in store.conversations("merger")] == [first.id]
    assert [c.id for c in store.conversations("DOSAGE")] == [second.id]
    assert [c.id for c in store.conversations("50%")] == [second.id]
    assert store.conversations("5_%") == []  # LIKE wildcards are taken literally
    assert {c.id for c in store.conversations("")} == {first.id, second.id}


def test_truncate_for_regenerate(store):
    conversation = store.create_conversation()
    for role in ("user", "assistant", "user", "assistant"):
        store.add_message(conversation.id, role, role)
    store.truncate(conversation.id, 3)
    assert [m.position for m in store.messages(conversation.id)] == [0, 1, 2]
    assert store.add_message(conversation.id, "assistant", "again").position == 3


def test_title_from_long_text():
    title = title_from("word " * 40)
    assert len(title) <= 61 and title.endswith("…")
    assert title_from("  ") == DEFAULT_TITLE


def test_encrypted_wal_secure_delete_and_a_private_file(tmp_path):
    path = tmp_path / "c.sqlite3"
    store = ConversationStore(path, KEY)
    conversation = store.create_conversation("Privileged")
    store.add_message(conversation.id, "user", "the marker 7c1f9e2a")
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA secure_delete").fetchone()[0] == 1
    store.close()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    data = path.read_bytes()
    assert not data.startswith(b"SQLite format 3") and b"7c1f9e2a" not in data
    with pytest.raises(sqlite3.DatabaseError):  # plain SQLite cannot read it
        sqlite3.connect(path).execute("SELECT * FROM messages").fetchall()


def test_a_database_another_key_does_not_open_is_left_alone(tmp_path):
    path = tmp_path / "c.sqlite3"
    ConversationStore(path, KEY).close()
    before = path.read_bytes()
    with pytest.raises(WrongKeyOrDamaged, match="does not open with this computer's key"):
        ConversationStore(path, bytes(32))
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_database_is_left_alone(tmp_path):
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(ConversationStoreError):
        ConversationStore(path, KEY)
    assert path.read_bytes() == before


def test_search_finds_substrings_through_the_index(store):
    first = store.create_conversation()
    store.add_message(first.id, "user", "Le contrat de fusion est signé.")
    second = store.create_conversation()
    store.add_message(second.id, "user", "The patient's dosage was halved.")
    assert [c.id for c in store.conversations("fusion")] == [first.id]
    assert [c.id for c in store.conversations("SIGNÉ")] == [first.id]  # Unicode case folded
    assert [c.id for c in store.conversations("t's dos")] == [second.id]
    assert [c.id for c in store.conversations('"quoted"')] == []
    assert [c.id for c in store.conversations("ha")] == [second.id]  # short: a scan
    store.truncate(second.id, 0)
    store.rename(second.id, "Notes")
    assert store.conversations("dosage") == []  # deleted text leaves the index too


def test_exports(store):
    conversation = store.create_conversation("Contract review")
    store.add_message(conversation.id, "user", "Summarise clause 4.")
    store.add_message(conversation.id, "assistant", "Clause 4 limits liability.", model="demo")
    conversation = store.conversation(conversation.id)
    messages = store.messages(conversation.id)
    markdown = export.to_markdown(conversation, messages)
    assert markdown.startswith("# Contract review\n")
    assert "## You\n\nSummarise clause 4." in markdown
    assert "## Assistant (demo)\n\nClause 4 limits liability." in markdown
    document = json.loads(export.to_json(conversation, messages))
    assert document["format"] == "strongroom.conversation"
    assert [m["role"] for m in document["messages"]] == ["user", "assistant"]
    assert document["messages"][1]["model"] == "demo"
