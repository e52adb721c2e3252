"""The engine on the real llama.cpp and the real demo model."""

import logging
import os
import threading
import time

import pytest

from strongroom.core.inference import engine as engine_module
from strongroom.core.inference.engine import (
    Engine,
    EngineError,
    LoadOptions,
    SamplingOptions,
)
from tests.helpers.gguf_files import write_small_gguf

pytestmark = pytest.mark.model
GREEDY = SamplingOptions(temperature=0.0, max_tokens=48, seed=1)
QUESTION = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Name three colours of the rainbow."}]


def test_load_reports_progress_and_metadata(demo_model):
    stages = []
    loaded = Engine.load(demo_model, LoadOptions(context_length=512),
                         progress=lambda stage, fraction: stages.append((stage, fraction)))
    try:
        assert loaded.n_ctx == 512
        assert loaded.device_label == "CPU"
        assert loaded.fallback_reason is None
        assert loaded.info.quantization == "Q4_1"
    finally:
        loaded.close()
    fractions = [f for s, f in stages if s == "Loading and checking the model file"]
    assert fractions and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert "Starting llama.cpp" in [s for s, _ in stages]  # while the file is checked


def test_context_is_capped_at_the_trained_length(tmp_path, demo_model):
    loaded = Engine.load(demo_model, LoadOptions(context_length=100_000))
    try:
        assert loaded.n_ctx == 8192
    finally:
        loaded.close()


def test_streams_an_answer_with_figures(engine):
    pieces = []
    answer = engine.chat(QUESTION, GREEDY, threading.Event(), pieces.append)
    assert answer.text.strip() and "".join(pieces) == answer.text
    assert len(pieces) > 3  # streamed, not delivered at once
    stats = answer.stats
    assert stats.prompt_tokens > 10
    assert 0 < stats.completion_tokens <= 48
    assert 0 < stats.time_to_first_token_s < stats.total_s
    assert stats.tokens_per_second > 0  # how fast is a benchmark's question, not a test's
    assert stats.finish_reason in ("stop", "length") and not stats.stopped


def test_greedy_answers_repeat(engine):
    first = engine.chat(QUESTION, GREEDY, threading.Event(), lambda t: None)
    second = engine.chat(QUESTION, GREEDY, threading.Event(), lambda t: None)
    assert first.text == second.text


def test_stop_takes_effect_at_the_next_token(engine):
    """Stop pressed while the model writes ends the answer before the next token is shown,
    however busy the machine. (How soon in milliseconds: bench/bench_stop.py.)"""
    stop = threading.Event()
    pieces = []

    def on_text(text):
        pieces.append(text)
        if len(pieces) == 5:
            stop.set()  # pressed while the fifth token is on screen

    answer = engine.chat(QUESTION, SamplingOptions(max_tokens=2000, temperature=0.8, seed=3),
                         stop, on_text)
    assert answer.stats.stopped and answer.stats.finish_reason == "user"
    assert len(pieces) == 5 and answer.stats.completion_tokens == 5


def test_stop_from_another_thread_ends_the_answer(engine):
    stop = threading.Event()
    writing = threading.Event()
    stopper = threading.Thread(target=lambda: writing.wait(60) and stop.set())
    stopper.start()
    answer = engine.chat(QUESTION, SamplingOptions(max_tokens=2000, temperature=0.8, seed=4),
                         stop, lambda _text: writing.set())
    stopper.join()
    assert answer.stats.stopped and answer.stats.finish_reason == "user"
    assert answer.stats.completion_tokens < 2000


def test_old_turns_are_dropped_to_fit(engine):
    history = [{"role": "system", "content": "You are terse."}]
    for i in range(40):
        history.append({"role": "user", "content": f"Tell me fact number {i} about the sea. " * 3})
        history.append({"role": "assistant", "content": f"Fact {i}: the sea is large. " * 3})
    history.append({"role": "user", "content": "What colour is the sky?"})
    fitted = engine.fit(history, max_tokens=64)
    assert fitted.dropped_messages > 0
    assert fitted.messages[0] == history[0] and fitted.messages[-1] == history[-1]
    assert len(fitted.tokens) <= engine.n_ctx - 64
    answer = engine.chat(history, SamplingOptions(max_tokens=16, temperature=0), threading.Event(),
                         lambda t: None)
    assert answer.stats.dropped_messages == fitted.dropped_messages


def test_a_message_longer_than_the_context_is_refused(engine):
    huge = [{"role": "user", "content": "lorem ipsum dolor " * 6000}]  # ~100,000 characters
    with pytest.raises(EngineError, match="too long for this model.*context length"):
        engine.chat(huge, GREEDY, threading.Event(), lambda t: None)
    # and the engine is still usable
    assert engine.chat(QUESTION, GREEDY, threading.Event(), lambda t: None).text


def test_not_a_gguf_file(tmp_path):
    path = tmp_path / "notes.gguf"
    path.write_text("meeting notes, not a model")
    with pytest.raises(EngineError, match="cannot be used as a model.*not a GGUF model file"):
        Engine.load(path)


def test_truncated_model(tmp_path, demo_model):
    path = tmp_path / "half.gguf"
    with open(demo_model, "rb") as source:
        path.write_bytes(source.read(demo_model.stat().st_size // 2))
    with pytest.raises(EngineError, match="truncated"):
        Engine.load(path)


def test_model_too_large_for_memory(tmp_path, demo_model):
    # A sparse copy that claims to be larger than the free memory.
    path = tmp_path / "huge.gguf"
    with open(demo_model, "rb") as source, open(path, "wb") as target:
        target.write(source.read())
        target.truncate(64 * 1024**3)
    with pytest.raises(EngineError, match=r"needs about .* GB of memory.*only .* GB is free"):
        Engine.load(path, memory_available=lambda: 8 * 1024**3)


def test_a_file_llama_cpp_cannot_load(tmp_path):
    """Structurally valid GGUF that is not a usable model: llama.cpp's own reason is shown."""
    path = write_small_gguf(tmp_path / "not-a-model.gguf")
    with pytest.raises(EngineError, match="llama.cpp could not load not-a-model.gguf: .+"):
        Engine.load(path)


def test_llama_cpp_logs_go_to_logging_not_the_terminal(demo_model, capfd, caplog):
    caplog.set_level(logging.INFO, logger="strongroom.llama_cpp")
    loaded = Engine.load(demo_model, LoadOptions(context_length=256))
    try:
        os.write(2, b"the app's own stderr line\n")
    finally:
        loaded.close()
    captured = capfd.readouterr()
    assert "llama" not in captured.err.lower() and "llama" not in captured.out.lower()
    assert "the app's own stderr line" in captured.err  # fd 2 was never redirected
    assert any("n_ctx" in r.getMessage() or "llama" in r.getMessage() for r in caplog.records)


def test_gpu_failure_falls_back_to_cpu(monkeypatch, demo_model):
    """Fault injection: this machine has no GPU build, so a GPU load failure is simulated."""
    llama_cpp = engine_module.llama_runtime.llama_module()
    real_create = engine_module._create_llama

    def create(path, options, n_ctx, gpu_layers):
        if gpu_layers != 0:
            raise ValueError("Failed to load model from file")
        return real_create(path, options, n_ctx, gpu_layers)

    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: True)
    monkeypatch.setattr(engine_module, "_create_llama", create)
    loaded = Engine.load(demo_model, LoadOptions(context_length=256))
    try:
        assert loaded.device_label == "CPU"
        assert "GPU could not load this model" in loaded.fallback_reason
    finally:
        loaded.close()


DEMO_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def test_the_loaded_bytes_are_hashed_and_a_changed_file_is_refused(demo_model, tmp_path):
    loaded = Engine.load(demo_model, LoadOptions(context_length=256), expected_sha256=DEMO_SHA256)
    try:
        assert loaded.model_sha256 == DEMO_SHA256
    finally:
        loaded.close()
    changed = tmp_path / "changed.gguf"
    data = bytearray(demo_model.read_bytes())
    data[-1] ^= 0xFF  # one weight, in the last tensor
    changed.write_bytes(data)
    with pytest.raises(EngineError, match="is not the file that was imported") as refused:
        Engine.load(changed, LoadOptions(context_length=256), expected_sha256=DEMO_SHA256)
    assert DEMO_SHA256 in str(refused.value)


LOOPING_TEMPLATE = ("{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}"
                    "{% endfor %}{% endfor %}")


@pytest.fixture(scope="module")
def looping_model(demo_model, tmp_path_factory):
    """The demo model with a chat template that loops for hours."""
    from tests.helpers.gguf_files import with_chat_template

    return with_chat_template(demo_model, tmp_path_factory.mktemp("looping") / "looping.gguf",
                              LOOPING_TEMPLATE)


def test_a_looping_template_is_stopped_with_a_message(looping_model, monkeypatch):
    from strongroom.core.inference import template_sandbox

    monkeypatch.setattr(template_sandbox, "RENDER_TIMEOUT_S", 1.0)
    loaded = Engine.load(looping_model, LoadOptions(context_length=512))
    try:
        started = time.monotonic()
        with pytest.raises(EngineError, match="cannot hold a conversation: the model's chat "
                                              "template took longer than 1 s"):
            loaded.chat(QUESTION, GREEDY, threading.Event(), lambda text: None)
        # The loop runs for hours: ending at all is the time limit at work.
        assert time.monotonic() - started < 300
    finally:
        loaded.close()


def test_stop_works_while_the_template_renders(looping_model):
    loaded = Engine.load(looping_model, LoadOptions(context_length=512))
    stop = threading.Event()
    pressed = threading.Timer(0.5, stop.set)  # the user presses Stop half a second in
    try:
        pressed.start()
        answer = loaded.chat(QUESTION, GREEDY, stop, lambda text: None)
        # Stopped, not timed out (that raises): the stop came first.
        assert answer.stats.stopped and answer.stats.finish_reason == "user"
        assert answer.text == "" and answer.stats.prompt_tokens == 0
    finally:
        pressed.join()
        loaded.close()


def test_closing_the_engine_ends_the_template_process(demo_model):
    loaded = Engine.load(demo_model, LoadOptions(context_length=512))
    renderer = loaded._template._process
    assert renderer is not None and renderer.poll() is None
    loaded.close()
    assert renderer.poll() is not None
