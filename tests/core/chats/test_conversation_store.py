import json
import sqlite3

import pytest
from strongroom.core.chats import export
from strongroom.core.chats.conversation_store import (
    DEFAULT_TITLE,
    ConversationStore,
    ConversationStoreError,
    title_from,
)


@pytest.fixture
def store(tmp_path):
    chats = ConversationStore(tmp_path / "c.sqlite3")
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


def test_wal_mode_and_private_file(tmp_path):
    path = tmp_path / "c.sqlite3"
    ConversationStore(path).close()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_damaged_database_is_reported_and_left_alone(tmp_path):
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(ConversationStoreError, match="cannot be opened.*Move it aside"):
        ConversationStore(path)
    assert path.read_bytes() == before


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
