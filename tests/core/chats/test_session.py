"""The chat session both front ends drive: what the model is asked, what is stored, what is
recorded, and how a failed turn is taken back. No Qt."""

import threading

import pytest

from strongroom.core.chats.conversation_store import DEFAULT_TITLE
from strongroom.core.chats.session import ChatSession, TurnRefused
from strongroom.core.inference.engine import Engine, LoadOptions
from strongroom.core.inference.identity import identify_file
from tests.helpers.audit_logs import entries_of
from tests.helpers.conversations import an_answer


@pytest.fixture
def session(session, workspace):
    """The session of conftest.py, with a short system prompt."""
    workspace.settings.update({"system_prompt": "Be brief."})
    return session


def test_a_turn_asks_with_the_system_prompt_and_is_stored_and_recorded(session, workspace):
    turn = session.prepare_send("What is a tort?")
    assert turn.conversation_id is None  # nothing is written before begin
    assert workspace.chats.conversations() == []
    assert turn.messages == [{"role": "system", "content": "Be brief."},
                             {"role": "user", "content": "What is a tort?"}]
    session.begin(turn)
    finished = session.finish(turn, an_answer("A civil wrong."))
    assert finished.audit_problem is None and finished.message.model == "Demo"
    stored = workspace.chats.messages(turn.conversation_id)
    assert [(m.role, m.content) for m in stored] == [("user", "What is a tort?"),
                                                    ("assistant", "A civil wrong.")]
    assert workspace.chats.conversation(turn.conversation_id).title == "What is a tort?"
    load, started, finished = [e for e in entries_of(workspace.paths.audit_log)
                               if e["event"] in ("model_load", "inference_started", "inference")]
    assert load["model_id"] == "org/demo" and load["details"]["model_sha256"] == "ab" * 32
    assert started["model_id"] == "org/demo" and started["details"]["model"] == "Demo"
    assert started["details"]["model_sha256"] == "ab" * 32
    assert started["details"]["conversation"] == turn.conversation_id
    assert finished["started_seq"] == started["seq"] and finished["details"]["outcome"] == "answered"
    assert finished["prompt_hash"] == started["prompt_hash"]
    assert finished["details"]["started_hash"] == started["entry_hash"]


def test_the_next_turn_carries_the_conversation(session):
    first = session.prepare_send("One")
    session.begin(first)
    session.finish(first, an_answer("Uno"))
    second = session.prepare_send("Two")
    assert [m["content"] for m in second.messages] == ["Be brief.", "One", "Uno", "Two"]


def test_a_failed_first_turn_leaves_no_message_and_no_title(session, workspace):
    turn = session.prepare_send("privileged words about a client")
    session.begin(turn)
    assert workspace.chats.conversation(turn.conversation_id).title.startswith("privileged")
    session.fail(turn)
    assert workspace.chats.conversations() == []  # the conversation it started is gone too
    assert session.conversation_id is None


def test_a_failed_turn_in_an_existing_conversation_keeps_it_untitled(session, workspace):
    session.new_conversation()
    turn = session.prepare_send("privileged words about a client")
    session.begin(turn)
    session.fail(turn)
    (conversation,) = workspace.chats.conversations()
    assert conversation.title == DEFAULT_TITLE and workspace.chats.messages(conversation.id) == []


def test_a_failed_regenerate_gives_the_old_answer_back(session, workspace):
    turn = session.prepare_send("Hello")
    session.begin(turn)
    session.finish(turn, an_answer("Hi there"))
    again = session.prepare_regenerate()
    assert [m["content"] for m in again.messages] == ["Be brief.", "Hello"]
    session.begin(again)
    assert [m.content for m in session.messages()] == ["Hello"]
    session.fail(again)
    assert [(m.role, m.content) for m in session.messages()] == [("user", "Hello"),
                                                                ("assistant", "Hi there")]


def test_resend_replaces_a_message_and_what_followed(session):
    for text in ("First", "Second"):
        turn = session.prepare_send(text)
        session.begin(turn)
        session.finish(turn, an_answer(f"Answer to {text}"))
    second = [m for m in session.messages() if m.content == "Second"][0]
    edited = session.prepare_resend(second, "Second, edited")
    assert [m["content"] for m in edited.messages][-2:] == ["Answer to First", "Second, edited"]
    session.begin(edited)
    session.finish(edited, an_answer("New answer"))
    assert [m.content for m in session.messages()] == [
        "First", "Answer to First", "Second, edited", "New answer"]


def test_refusals_say_what_to_do(workspace, loaded):
    session = ChatSession(workspace.audit, workspace.settings, workspace.chats)
    with pytest.raises(TurnRefused, match="Choose a model first") as no_model:
        session.prepare_send("Hello")
    assert no_model.value.level == "info"
    session.use_model(loaded)
    with pytest.raises(TurnRefused, match="Type a message first"):
        session.prepare_send("   ")
    with pytest.raises(TurnRefused, match="nothing to answer yet"):
        session.prepare_regenerate()


def test_no_turn_when_the_audit_log_cannot_be_written(session, workspace):
    turn = session.prepare_send("Answer me anyway")
    workspace.audit.mark_broken("The audit log cannot be written (simulated disk failure).")
    with pytest.raises(TurnRefused, match="simulated disk failure"):
        session.begin(turn)
    assert workspace.chats.conversations() == []
    with pytest.raises(TurnRefused, match="simulated disk failure"):
        session.prepare_send("And now?")


def test_a_one_off_session_keeps_nothing_on_disk(workspace, loaded):
    session = ChatSession(workspace.audit, workspace.settings)  # as `strongroom chat` runs it
    session.use_model(loaded)
    turn = session.prepare_send("Just once")
    session.begin(turn)
    session.finish(turn, an_answer("Done"))
    assert workspace.chats.conversations() == []
    assert entries_of(workspace.paths.audit_log)[-2]["details"]["conversation"] is None


@pytest.mark.model
def test_a_real_answer_through_the_session(workspace, demo_model):
    workspace.settings.update({"max_tokens": 16, "temperature": 0.0})
    session = ChatSession(workspace.audit, workspace.settings, workspace.chats)
    identity = identify_file(demo_model)
    engine = Engine.load(identity.path, LoadOptions(context_length=512))
    try:
        session.use_model(engine.loaded_model(identity))
        turn = session.prepare_send("Name a colour.")
        session.begin(turn)
        answer = engine.chat(turn.messages, turn.sampling, threading.Event(), lambda _text: None)
    finally:
        engine.close()
    finished = session.finish(turn, answer)
    assert finished.message.content == answer.text and answer.text.strip()
    started, recorded = entries_of(workspace.paths.audit_log)[-2:]
    assert recorded["response_tokens"] == answer.stats.completion_tokens
    assert started["details"]["model_sha256"] == engine.model_sha256


def test_the_start_is_recorded_before_any_token_and_every_end_after(session, workspace):
    turn = session.prepare_send("Is the merger confidential?")
    before = len(entries_of(workspace.paths.audit_log))
    session.begin(turn)
    started = entries_of(workspace.paths.audit_log)[-1]
    assert len(entries_of(workspace.paths.audit_log)) == before + 1 and started["event"] == "inference_started"
    assert turn.started["seq"] == started["seq"]
    session.fail(turn, "the model could not be loaded")
    failed = entries_of(workspace.paths.audit_log)[-1]
    assert failed["details"]["outcome"] == "failed" and failed["started_seq"] == started["seq"]
    assert failed["details"]["reason"] == "the model could not be loaded"
    again = session.prepare_send("Still confidential?")
    session.begin(again)
    session.interrupt(again, "Yes, it")
    assert entries_of(workspace.paths.audit_log)[-1]["details"]["outcome"] == "interrupted"


def test_digests_not_text_unless_the_setting_says_so(session, workspace):
    turn = session.prepare_send("Patient X has condition Y")
    session.begin(turn)
    session.finish(turn, an_answer("Noted."))
    text = workspace.paths.audit_log.read_text()
    assert "Patient X" not in text and "Noted." not in text
    import hashlib

    assert hashlib.sha256(b"Patient X has condition Y").hexdigest() not in text  # keyed digests
    workspace.settings.update({"audit_log_text": True})
    turn = session.prepare_send("Record this one")
    session.begin(turn)
    session.finish(turn, an_answer("Recorded."))
    started, finished = entries_of(workspace.paths.audit_log)[-2:]
    from strongroom.core.audit.keys import key_from_text
    from strongroom.core.audit.sealed_text import unseal

    root = key_from_text(workspace.audit.log.created_key_text)
    assert unseal(root, started["details"]["prompt_sealed"]) == "Record this one"
    assert unseal(root, finished["details"]["response_sealed"]) == "Recorded."
    assert "Record this one" not in workspace.paths.audit_log.read_text()
    with pytest.raises(ValueError, match="does not open with this key"):
        unseal(bytes(32), started["details"]["prompt_sealed"])


def test_no_answer_starts_without_room_to_record_its_end(session, workspace):
    import resource

    turn = session.prepare_send("A question")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    size = workspace.paths.audit_log.stat().st_size
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 1000, hard))
        with pytest.raises(TurnRefused, match="No space left|almost full"):
            session.begin(turn)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert workspace.chats.conversations() == []
    session.begin(turn)  # with room again, the same turn begins
