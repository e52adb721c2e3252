"""A long prompt is read in slices: how far the model has read is reported, Stop is seen
between slices (an answer stopped there has no text and says so), and what was read stays
in the model's cache, so asking again reads only the rest."""

from __future__ import annotations

import threading

import pytest

from strongroom.core.inference.engine import STOPPED_READING, SamplingOptions

pytestmark = pytest.mark.model

LONG = " ".join(f"Clause {i}: the tenant pays the rent on day {i % 28 + 1}." for i in range(60))
MESSAGES = [{"role": "user", "content": LONG + "\nWhich day is the rent due under clause 7?"}]
ONE_TOKEN = SamplingOptions(max_tokens=1, temperature=0.0)


def test_reading_is_reported_and_a_stop_between_slices_ends_the_answer(engine):
    engine._llm.reset()
    stop = threading.Event()
    read: list[tuple[int, int]] = []

    def reading(done: int, total: int) -> None:
        read.append((done, total))
        stop.set()  # after the first slice

    answer = engine.chat(MESSAGES, ONE_TOKEN, stop, lambda _text: None, on_reading=reading)
    total = answer.stats.prompt_tokens
    assert answer.text == "" and answer.stats.stopped
    assert answer.stats.finish_reason == STOPPED_READING and answer.stats.completion_tokens == 0
    assert read == [(read[0][0], total)] and read[0][0] < total - 1  # stopped after one slice

    again: list[tuple[int, int]] = []
    resumed = engine.chat(MESSAGES, ONE_TOKEN, threading.Event(), lambda _text: None,
                          on_reading=lambda done, of: again.append((done, of)))
    assert resumed.stats.finish_reason in ("length", "stop")
    if again:  # what the first one read is not read again
        assert again[0][0] > read[0][0]
    assert [done for done, _ in again] == sorted(done for done, _ in again)


def test_a_short_prompt_is_read_at_once(engine):
    read = []
    answer = engine.chat([{"role": "user", "content": "Say OK."}], ONE_TOKEN, threading.Event(),
                         lambda _text: None, on_reading=lambda *progress: read.append(progress))
    assert read == [] and answer.stats.completion_tokens == 1
