"""Continuing an answer the user stopped: the engine goes on from the stopped text (the real
demo model), and the session stores the whole answer in its place and records it."""

import threading

import pytest

from strongroom.core.audit.keys import key_from_text
from strongroom.core.audit.sealed_text import unseal
from strongroom.core.chats.session import TurnRefused
from strongroom.core.inference.engine import SamplingOptions
from tests.helpers.audit_logs import entries_of
from tests.helpers.conversations import an_answer

GREEDY = SamplingOptions(temperature=0.0, max_tokens=40, seed=1)
QUESTION = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Name three colours of the rainbow."}]


def stop_after(pieces: int):
    """A stop event and an on_text that sets it once ``pieces`` pieces have arrived (the
    engine checks it after every token, so the answer stops right there)."""
    stop, seen = threading.Event(), []

    def on_text(text):
        seen.append(text)
        if len(seen) >= pieces:
            stop.set()
    return stop, on_text


# -- the engine -------------------------------------------------------------------------------

@pytest.mark.model
def test_the_engine_goes_on_from_the_stopped_text(engine):
    partial = "The three colours"
    streamed = []
    answer = engine.chat(QUESTION, GREEDY, threading.Event(), streamed.append,
                         continue_text=partial)
    assert answer.text and "".join(streamed) == answer.text
    # the space before the next word is kept (a new answer's first piece loses it)
    assert answer.text.startswith(" ") and answer.text[1].isalnum(), answer.text
    assert partial not in answer.text  # it goes on, it does not start over
    fresh = engine.fit(QUESTION, GREEDY.max_tokens)
    assert answer.stats.prompt_tokens > len(fresh.tokens)


@pytest.mark.model
def test_greedy_continuing_picks_up_the_word_an_uninterrupted_answer_had_next(engine):
    whole = engine.chat(QUESTION, GREEDY, threading.Event(), lambda _t: None).text
    words = whole.split(" ")
    partial = " ".join(words[:4])
    answer = engine.chat(QUESTION, GREEDY, threading.Event(), lambda _t: None,
                         continue_text=partial)
    assert answer.text.split(" ")[1] == words[4], (whole, partial, answer.text)


@pytest.mark.model
def test_a_continued_answer_is_fitted_with_its_stopped_text(engine):
    history = [{"role": "system", "content": "You are terse."}]
    for i in range(40):
        history.append({"role": "user", "content": f"Tell me fact number {i} about the sea. " * 3})
        history.append({"role": "assistant", "content": f"Fact {i}: the sea is large. " * 3})
    history.append({"role": "user", "content": "What colour is the sky?"})
    partial = "The sky is usually " + "very, " * 40
    fitted = engine.fit(history, 64, continue_text=partial)
    plain = engine.fit(history, 64)
    assert fitted.dropped_messages > plain.dropped_messages > 0  # the stopped text takes room
    assert fitted.messages[-1] == history[-1] and len(fitted.tokens) <= engine.n_ctx - 64
    assert engine._llm.detokenize(fitted.tokens).decode("utf-8").endswith(partial)


# -- the session, with the real model -----------------------------------------------------------

@pytest.mark.model
def test_continue_after_stop_with_the_real_model(session, workspace, engine, loaded):
    workspace.settings.update({"audit_log_text": True})
    turn = session.prepare_send("Name three colours of the rainbow.")
    session.begin(turn)
    stop, on_text = stop_after(4)
    stopped = engine.chat(turn.messages, GREEDY, stop, on_text)
    assert stopped.stats.stopped
    partial = session.finish(turn, stopped).message
    assert partial.stats["stopped"]

    more = session.prepare_continue(sampling=GREEDY)
    assert more.continue_text == partial.content
    assert more.messages == turn.messages  # the conversation before the stopped answer
    session.begin(more)
    answer = engine.chat(more.messages, more.sampling, threading.Event(), lambda _t: None,
                         continue_text=more.continue_text)
    finished = session.finish(more, answer)

    whole = finished.message
    assert whole.content == partial.content + answer.text
    assert whole.content.startswith(partial.content) and len(whole.content) > len(partial.content)
    assert (whole.id, whole.position, whole.created_at) == (partial.id, partial.position,
                                                            partial.created_at)
    (stored,) = session.messages()[1:]
    assert stored == whole and not stored.stats["stopped"]
    assert stored.stats["completion_tokens"] == (partial.stats["completion_tokens"]
                                                 + answer.stats.completion_tokens)
    assert stored.stats["continued"] == 1

    started, ended = entries_of(workspace.paths.audit_log)[-2:]
    assert started["event"] == "inference_started" and ended["started_seq"] == started["seq"]
    assert ended["details"]["outcome"] == "answered"
    assert ended["response_tokens"] == answer.stats.completion_tokens
    root = key_from_text(workspace.audit.log.created_key_text)
    assert unseal(root, ended["details"]["response_sealed"]) == whole.content

    with pytest.raises(TurnRefused, match="was not stopped"):
        session.prepare_continue()


# -- the session's rules (no model needed) ------------------------------------------------------

def test_continue_is_refused_unless_the_last_answer_was_stopped(session):
    with pytest.raises(TurnRefused, match="was not stopped"):
        session.prepare_continue()  # nothing yet
    turn = session.prepare_send("Hello")
    session.begin(turn)
    session.finish(turn, an_answer("Hi there"))
    with pytest.raises(TurnRefused, match="was not stopped") as refusal:
        session.prepare_continue()
    assert refusal.value.level == "info"
    turn = session.prepare_send("Tell me more")
    session.begin(turn)
    session.finish(turn, an_answer(""))  # the model wrote nothing: the question is last
    with pytest.raises(TurnRefused, match="was not stopped"):
        session.prepare_continue()


def test_a_failed_continue_leaves_the_stopped_answer_as_it_was(session):
    turn = session.prepare_send("Hello")
    session.begin(turn)
    session.finish(turn, an_answer("Hi there, I", stopped=True))
    before = session.messages()
    more = session.prepare_continue()
    session.begin(more)
    session.fail(more, "the model stopped working")
    assert session.messages() == before
    session.begin(again := session.prepare_continue())
    finished = session.finish(again, an_answer("", stopped=True))  # stopped again at once
    assert finished.message == before[-1] and session.messages() == before
    assert session.prepare_continue().continue_text == "Hi there, I"  # still continuable


def test_a_continued_answer_keeps_its_alternatives(session):
    turn = session.prepare_send("Hello")
    session.begin(turn)
    session.finish(turn, an_answer("Hi"))
    again = session.prepare_regenerate()
    session.begin(again)
    session.finish(again, an_answer("Good day, how", stopped=True))
    more = session.prepare_continue()
    session.begin(more)
    session.finish(more, an_answer(" can I help?"))
    assert [m.content for m in session.messages()] == ["Hello", "Good day, how can I help?"]
    assert session.alternatives() == {1: (1, 2)}  # still the newer of the two
    assert session.switch_alternative(1, -1)[1].content == "Hi"
