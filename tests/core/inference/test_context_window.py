import pytest

from strongroom.core.inference.context_window import (
    ContextOverflowError,
    fit_conversation,
)


def count_words(messages):
    """A stand-in tokenizer: one token per word, plus two per message for its frame."""
    tokens = []
    for message in messages:
        tokens += [0, 0] + message["content"].split()
    return tokens


def conversation(turns, system="be brief"):
    messages = [{"role": "system", "content": system}] if system else []
    for i in range(turns):
        messages.append({"role": "user", "content": f"question {i} " + "w " * 8})
        messages.append({"role": "assistant", "content": f"answer {i} " + "w " * 8})
    messages.append({"role": "user", "content": "newest question"})
    return messages


def test_everything_kept_when_it_fits():
    messages = conversation(2)
    fitted = fit_conversation(messages, count_words, budget=1000)
    assert fitted.messages == messages and fitted.dropped_messages == 0


def test_oldest_turns_dropped_system_and_newest_kept():
    messages = conversation(10)
    fitted = fit_conversation(messages, count_words, budget=60)
    assert fitted.messages[0] == messages[0]
    assert fitted.messages[-1] == messages[-1]
    assert len(fitted.tokens) <= 60
    assert fitted.dropped_messages > 0
    assert fitted.messages[1]["role"] == "user"  # turns stay whole
    # the longest suffix that fits: one more turn would not have fitted
    kept_turns = (len(fitted.messages) - 2) // 2
    longer = [messages[0]] + messages[len(messages) - 1 - 2 * (kept_turns + 1):]
    assert len(count_words(longer)) > 60
    assert fitted.messages == [messages[0]] + messages[1 + fitted.dropped_messages:]


def test_without_system_prompt():
    messages = conversation(5, system=None)
    fitted = fit_conversation(messages, count_words, budget=30)
    assert fitted.messages[-1] == messages[-1]
    assert fitted.messages[0]["role"] == "user"


def test_only_newest_left_when_history_too_long():
    messages = conversation(3)
    fitted = fit_conversation(messages, count_words, budget=10)
    assert fitted.messages == [messages[0], messages[-1]]
    assert fitted.dropped_messages == 6


def test_newest_message_alone_too_long():
    messages = [{"role": "system", "content": "be brief"},
                {"role": "user", "content": "word " * 500}]
    with pytest.raises(ContextOverflowError) as caught:
        fit_conversation(messages, count_words, budget=100)
    assert caught.value.needed == 506 and caught.value.available == 100
    assert "too long" in str(caught.value) and "context length" in str(caught.value)
