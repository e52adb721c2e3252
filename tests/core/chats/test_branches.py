"""Alternatives kept when an answer is regenerated or a message edited: the store's branches
(the current path in `messages`, each alternative a branch row holding its subtree) and the
session's turns that make and take them back. Real SQLCipher stores on disk; no model."""

import json

import pytest

from strongroom.core.chats.conversation_store import SCHEMA_VERSION, ConversationStore
from strongroom.core.chats.database import connect_encrypted
from strongroom.core.chats.session import ChatSession, TurnRefused
from tests.helpers.conversations import KEY, an_answer


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "chats.sqlite3"


@pytest.fixture
def store(store_path):
    chats = ConversationStore(store_path, KEY)
    yield chats
    chats.close()


def texts(messages):
    return [m.content for m in messages]


def send(session, text, answer):
    turn = session.prepare_send(text)
    session.begin(turn)
    return session.finish(turn, an_answer(answer))


def regenerate(session, answer):
    turn = session.prepare_regenerate()
    session.begin(turn)
    return session.finish(turn, an_answer(answer))


def edit(session, position, text, answer):
    message = next(m for m in session.messages() if m.position == position)
    turn = session.prepare_resend(message, text)
    session.begin(turn)
    return session.finish(turn, an_answer(answer))


def snapshot(store, conversation_id):
    """Everything the user could ever see of a conversation: its current messages (with
    their times and figures), where it has alternatives, and what each alternative holds."""
    messages = [(m.position, m.role, m.content, m.created_at, m.model, m.stats)
                for m in store.messages(conversation_id)]
    branches = sorted(store._db.execute(
        "SELECT position, first_created_at, content FROM branches WHERE conversation_id = ?",
        (conversation_id,)).fetchall())
    return messages, store.alternatives(conversation_id), branches


# -- regenerate -------------------------------------------------------------------------------

def test_three_regenerates_keep_every_answer_and_switching_shows_each_in_order(session):
    send(session, "Name a colour.", "Red.")
    regenerate(session, "Blue.")
    regenerate(session, "Green.")
    assert texts(session.messages()) == ["Name a colour.", "Green."]
    assert session.alternatives() == {1: (2, 3)}

    assert texts(session.switch_alternative(1, -1)) == ["Name a colour.", "Blue."]
    assert session.alternatives() == {1: (1, 3)}
    assert texts(session.switch_alternative(1, -1)) == ["Name a colour.", "Red."]
    assert session.alternatives() == {1: (0, 3)}
    assert texts(session.switch_alternative(1, -1)) == ["Name a colour.", "Red."]  # the first
    assert not session.conversations.switch_alternative(session.conversation_id, 1, -1)
    assert texts(session.switch_alternative(1, 1)) == ["Name a colour.", "Blue."]
    assert texts(session.switch_alternative(1, 1)) == ["Name a colour.", "Green."]
    assert not session.conversations.switch_alternative(session.conversation_id, 1, 1)
    assert session.alternatives() == {1: (2, 3)}


def test_later_messages_follow_the_alternative_they_were_written_after(session):
    send(session, "Name a colour.", "Red.")
    regenerate(session, "Blue.")
    send(session, "Why that one?", "Because the sky is blue.")
    assert session.alternatives() == {1: (1, 2)}

    assert texts(session.switch_alternative(1, -1)) == ["Name a colour.", "Red."]
    assert session.alternatives() == {1: (0, 2)}
    send(session, "And another?", "Yellow.")  # goes on from the alternative shown
    assert texts(session.switch_alternative(1, 1)) == [
        "Name a colour.", "Blue.", "Why that one?", "Because the sky is blue."]
    assert texts(session.switch_alternative(1, -1)) == [
        "Name a colour.", "Red.", "And another?", "Yellow."]


def test_a_regenerate_that_comes_back_empty_puts_the_old_answer_back(session):
    send(session, "Name a colour.", "Red.")
    regenerate(session, "Blue.")
    before = snapshot(session.conversations, session.conversation_id)
    turn = session.prepare_regenerate()
    session.begin(turn)
    assert [m.content for m in turn.removed] == ["Blue."]
    assert texts(session.messages()) == ["Name a colour."]  # set aside while it is written
    finished = session.finish(turn, an_answer("", stopped=True))  # stopped before a token
    assert finished.message is None
    assert texts(finished.restored) == ["Blue."] and finished.restored[0].position == 1
    assert snapshot(session.conversations, session.conversation_id) == before
    assert session.alternatives() == {1: (1, 2)}


def test_an_answer_left_unfinished_by_a_crash_is_back_when_the_conversation_opens(
        workspace, session, loaded):
    send(session, "Name a colour.", "Red.")
    turn = session.prepare_regenerate()
    session.begin(turn)  # ... and the program ends here, the new answer unwritten
    conversation_id = turn.conversation_id
    assert session.open(conversation_id) and texts(session.messages()) == ["Name a colour."], \
        "while its own turn is still being written, the old answer stays aside"

    restarted = ChatSession(workspace.audit, workspace.settings, workspace.chats)
    assert texts(restarted.open(conversation_id)) == ["Name a colour.", "Red."]
    assert restarted.alternatives() == {}

    # the first program's turn, finishing after all, keeps the old answer as an alternative
    session.finish(turn, an_answer("Blue."))
    assert texts(workspace.chats.messages(conversation_id)) == ["Name a colour.", "Blue."]
    assert workspace.chats.alternatives(conversation_id) == {1: (1, 2)}


# -- editing ----------------------------------------------------------------------------------

def test_editing_a_middle_message_branches_and_the_old_continuation_comes_back(session):
    send(session, "First question", "First answer")
    send(session, "Second question", "Second answer")
    send(session, "Third question", "Third answer")
    edit(session, 2, "Second question, edited", "Answer to the edit")
    assert texts(session.messages()) == [
        "First question", "First answer", "Second question, edited", "Answer to the edit"]
    assert session.alternatives() == {2: (1, 2)}

    assert texts(session.switch_alternative(2, -1)) == [
        "First question", "First answer", "Second question", "Second answer",
        "Third question", "Third answer"]
    assert session.alternatives() == {2: (0, 2)}
    assert texts(session.switch_alternative(2, 1))[2:] == ["Second question, edited",
                                                           "Answer to the edit"]


def test_the_first_message_and_an_unanswered_last_message_can_be_edited(session):
    send(session, "Hello", "Hi")
    edit(session, 0, "Good morning", "Morning!")
    assert texts(session.messages()) == ["Good morning", "Morning!"]
    assert session.alternatives() == {0: (1, 2)}
    assert texts(session.switch_alternative(0, -1)) == ["Hello", "Hi"]

    session.conversations.add_message(session.conversation_id, "user", "Unanswered")
    edit(session, 2, "Answered now?", "Yes.")
    assert texts(session.messages())[2:] == ["Answered now?", "Yes."]
    assert session.alternatives() == {0: (0, 2), 2: (1, 2)}


def test_an_edit_whose_answer_comes_back_empty_keeps_the_old_continuation_as_an_alternative(session):
    send(session, "Hello", "Hi")
    finished = edit(session, 0, "Good morning", "")
    assert finished.message is None and finished.restored == []
    assert texts(session.messages()) == ["Good morning"]  # as a sent message with no answer
    assert texts(session.switch_alternative(0, -1)) == ["Hello", "Hi"]


def test_only_a_user_message_still_shown_can_be_edited(session):
    send(session, "Hello", "Hi")
    answer = session.messages()[1]
    with pytest.raises(TurnRefused, match="no longer shown"):
        session.prepare_resend(answer, "Not a question")
    first = session.messages()[0]
    edit(session, 0, "Good morning", "Morning!")
    stale = session.switch_alternative(0, -1)[0]
    session.switch_alternative(0, 1)
    with pytest.raises(TurnRefused, match="no longer shown"):
        session.prepare_resend(stale, "Edited from an old screen")
    assert first.content == "Hello"


def test_nested_alternatives_survive_a_switch_out_and_back(session):
    send(session, "Name a colour.", "Red.")
    regenerate(session, "Blue.")  # alternatives at 1
    send(session, "Another?", "Green.")
    regenerate(session, "Yellow.")  # alternatives at 3, hanging off "Blue."
    edit(session, 0, "Name a fruit.", "Apple.")  # the whole tree above is one alternative at 0
    assert texts(session.messages()) == ["Name a fruit.", "Apple."]
    assert session.alternatives() == {0: (1, 2)}

    assert texts(session.switch_alternative(0, -1)) == ["Name a colour.", "Blue.", "Another?",
                                                        "Yellow."]
    assert session.alternatives() == {0: (0, 2), 1: (1, 2), 3: (1, 2)}
    assert texts(session.switch_alternative(3, -1))[3] == "Green."
    assert texts(session.switch_alternative(1, -1)) == ["Name a colour.", "Red."]
    assert session.alternatives() == {0: (0, 2), 1: (0, 2)}
    assert texts(session.switch_alternative(1, 1)) == ["Name a colour.", "Blue.", "Another?",
                                                       "Green."]
    assert texts(session.switch_alternative(0, 1)) == ["Name a fruit.", "Apple."]
    assert texts(session.switch_alternative(0, -1))[3] == "Green."  # as it was left


def test_a_failed_regenerate_or_edit_puts_everything_back_exactly(session):
    send(session, "Name a colour.", "Red.")
    regenerate(session, "Blue.")
    send(session, "Another?", "Green.")
    store, conversation_id = session.conversations, session.conversation_id
    before = snapshot(store, conversation_id)

    again = session.prepare_regenerate()
    session.begin(again)
    assert again.set_aside_branch is not None and texts(again.removed) == ["Green."]
    session.fail(again, "the model stopped working")
    assert snapshot(store, conversation_id) == before

    edited = session.prepare_resend(session.messages()[0], "Name a fruit.")
    session.begin(edited)
    assert texts(edited.removed) == ["Name a colour.", "Blue.", "Another?", "Green."]
    assert texts(session.messages()) == ["Name a fruit."]
    session.fail(edited, "the model stopped working")
    assert snapshot(store, conversation_id) == before
    assert texts(session.switch_alternative(1, -1)) == ["Name a colour.", "Red."]


def test_no_switching_while_an_answer_is_written(session):
    send(session, "Name a colour.", "Red.")
    regenerate(session, "Blue.")
    send(session, "Another?", "Green.")
    turn = session.prepare_send("And one more?")
    session.begin(turn)
    with pytest.raises(TurnRefused, match="answer is being written"):
        session.switch_alternative(1, -1)
    session.finish(turn, an_answer("Yellow."))
    assert texts(session.switch_alternative(1, -1)) == ["Name a colour.", "Red."]


# -- the store ----------------------------------------------------------------------------------

def test_set_aside_and_restore_keep_every_field(store):
    conversation = store.create_conversation()
    store.add_message(conversation.id, "user", "Question")
    figures = {"completion_tokens": 7, "tokens_per_second": 41.5, "stopped": False,
               "nested": {"list": [1, 2.5, None], "text": "é ✓"}}
    answer = store.add_message(conversation.id, "assistant", "Answer", model="Demo", stats=figures)
    assert store.set_aside(conversation.id, 5) is None  # nothing there: nothing changes
    branch = store.set_aside(conversation.id, 1)
    assert texts(store.messages(conversation.id)) == ["Question"]
    assert store.restore_branch(branch)
    (restored,) = store.messages(conversation.id)[1:]
    assert (restored.role, restored.content, restored.created_at, restored.model,
            restored.stats) == ("assistant", "Answer", answer.created_at, "Demo", figures)
    assert not store.restore_branch(branch)  # restored once; it is gone
    assert texts(store.messages(conversation.id)) == ["Question", "Answer"]


def test_set_aside_inside_a_transaction_that_fails_changes_nothing(store):
    conversation = store.create_conversation()
    store.add_message(conversation.id, "user", "Question")
    store.add_message(conversation.id, "assistant", "Answer")
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.set_aside(conversation.id, 1)
            store.add_message(conversation.id, "assistant", "Another answer")
            raise RuntimeError("something went wrong half-way")
    assert texts(store.messages(conversation.id)) == ["Question", "Answer"]
    assert store.alternatives(conversation.id) == {}
    assert store._db.execute("SELECT count(*) FROM branches").fetchone() == (0,)


def test_deleting_a_conversation_deletes_its_alternatives(store, store_path):
    conversation = store.create_conversation()
    kept = store.create_conversation("Kept")
    for chat in (conversation, kept):
        store.add_message(chat.id, "user", "Question")
        store.add_message(chat.id, "assistant", "The marker 5d1e7a in an old answer")
        store.set_aside(chat.id, 1)
        store.add_message(chat.id, "assistant", "A newer answer")
    store.delete(conversation.id)
    store.close()
    raw = connect_encrypted(store_path, KEY)
    try:
        assert raw.execute("SELECT conversation_id FROM branches").fetchall() == [(kept.id,)]
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        raw.close()


def test_alternatives_are_kept_when_the_store_is_opened_again(store, store_path):
    conversation = store.create_conversation()
    store.add_message(conversation.id, "user", "Question")
    for answer in ("One", "Two", "Three"):
        store.set_aside(conversation.id, 1)
        store.add_message(conversation.id, "assistant", answer)
    assert store.alternatives(conversation.id) == {1: (2, 3)}
    store.close()
    again = ConversationStore(store_path, KEY)
    try:
        assert again.alternatives(conversation.id) == {1: (2, 3)}
        assert again.switch_alternative(conversation.id, 1, -2)
        assert texts(again.messages(conversation.id)) == ["Question", "One"]
    finally:
        again.close()


def test_an_alternative_is_searched_and_exported_only_while_it_is_shown(store):
    conversation = store.create_conversation()
    store.add_message(conversation.id, "user", "Question")
    store.add_message(conversation.id, "assistant", "The old answer names Zanzibar")
    store.set_aside(conversation.id, 1)
    store.add_message(conversation.id, "assistant", "The new answer names Timbuktu")
    assert store.conversations("Zanzibar") == []
    assert [c.id for c in store.conversations("Timbuktu")] == [conversation.id]
    store.switch_alternative(conversation.id, 1, -1)
    assert [c.id for c in store.conversations("Zanzibar")] == [conversation.id]
    assert store.conversations("Timbuktu") == []


# The schema Strongroom wrote before alternatives were kept (version 2).
SCHEMA_2 = """
CREATE TABLE conversations (id INTEGER PRIMARY KEY, title TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE messages (id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL, role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT NOT NULL, created_at TEXT NOT NULL, model TEXT, stats TEXT,
    UNIQUE (conversation_id, position));
CREATE INDEX conversations_by_update ON conversations(updated_at DESC);
CREATE VIRTUAL TABLE message_text USING fts5(
    content, content='messages', content_rowid='id', tokenize='trigram case_sensitive 0');
CREATE TRIGGER message_text_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_text(rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER message_text_delete AFTER DELETE ON messages BEGIN
    INSERT INTO message_text(message_text, rowid, content) VALUES ('delete', old.id, old.content);
END;
CREATE TRIGGER message_text_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO message_text(message_text, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO message_text(rowid, content) VALUES (new.id, new.content);
END;
CREATE VIRTUAL TABLE title_text USING fts5(
    title, content='conversations', content_rowid='id', tokenize='trigram case_sensitive 0');
CREATE TRIGGER title_text_insert AFTER INSERT ON conversations BEGIN
    INSERT INTO title_text(rowid, title) VALUES (new.id, new.title);
END;
CREATE TRIGGER title_text_delete AFTER DELETE ON conversations BEGIN
    INSERT INTO title_text(title_text, rowid, title) VALUES ('delete', old.id, old.title);
END;
CREATE TRIGGER title_text_update AFTER UPDATE OF title ON conversations BEGIN
    INSERT INTO title_text(title_text, rowid, title) VALUES ('delete', old.id, old.title);
    INSERT INTO title_text(rowid, title) VALUES (new.id, new.title);
END;
PRAGMA user_version=2;
"""


def test_a_version_2_database_opens_and_keeps_alternatives(store_path):
    old = connect_encrypted(store_path, KEY)
    old.execute("PRAGMA journal_mode=WAL")
    old.executescript(SCHEMA_2)
    old.execute("INSERT INTO conversations VALUES (1, 'Case notes', '2026-01-01T10:00:00.000+00:00', "
                "'2026-01-01T10:00:00.000+00:00')")
    old.execute("INSERT INTO messages VALUES (NULL, 1, 0, 'user', 'What is estoppel?', "
                "'2026-01-01T10:00:00.000+00:00', NULL, NULL)")
    old.execute("INSERT INTO messages VALUES (NULL, 1, 1, 'assistant', 'A bar on going back.', "
                "'2026-01-01T10:00:01.000+00:00', 'Demo', ?)",
                (json.dumps({"completion_tokens": 5}),))
    old.close()

    store = ConversationStore(store_path, KEY)
    try:
        assert store._db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (3,)
        assert store.set_aside(1, 1) is not None
        store.add_message(1, "assistant", "A rule that stops a party going back on its word.")
        assert store.alternatives(1) == {1: (1, 2)}  # an old time sorts before a new one
        assert store.switch_alternative(1, 1, -1)
        assert store.messages(1)[1].content == "A bar on going back."
        assert store.messages(1)[1].stats == {"completion_tokens": 5}
        assert [c.id for c in store.conversations("estoppel")] == [1]
    finally:
        store.close()
