"""The remote engine: answers streamed from a model on a configured inference server.

`RemoteEngine` does for the chat session what `inference.engine.Engine` does for a model
on this computer: `chat` streams an answer through ``on_text`` and returns it with its
figures, a stop takes effect within `connection.POLL_S`, and failures are `EngineError`s
in words. It speaks the OpenAI chat-completions protocol, which llama.cpp's server, vLLM
and Ollama all serve. Each answer is one connection: the certificate is checked again
every time, and the fingerprint this answer saw goes into its audit entry.

Token counts are the server's usage report when it sends one, else the streamed pieces
counted here (llama.cpp and vLLM stream one token per piece). A connection lost mid-answer
or a server gone silent keeps the text so far, marked incomplete (`AnswerStats.incomplete`).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from strongroom.core.display import printable
from strongroom.core.inference.engine import (
    Answer,
    AnswerStats,
    EngineError,
    SamplingOptions,
    tokens_per_second,
)
from strongroom.core.inference.identity import LoadedModel, ModelIdentity, remote_identity
from strongroom.core.remote.connection import Exchange, RemoteError, Stopped
from strongroom.core.remote.servers import Server
from strongroom.core.remote.tls import Certificate

_CONTEXT_WORDS = ("context", "too long", "maximum", "exceed")


@dataclass(frozen=True)
class OfferedModel:
    id: str
    context_length: int | None  # when the server says (vLLM's max_model_len, llama-server's n_ctx)


@dataclass(frozen=True)
class ServerReport:
    """What `probe` found: for `server test` and Settings → Servers."""

    server: Server
    certificate: Certificate
    models: list[OfferedModel]
    round_trip_s: float  # the model list: request sent to reply read

    def model(self, model_id: str | None) -> OfferedModel:
        if not self.models:
            raise RemoteError("missing", f"{self.server.name} offers no model.")
        if model_id is None:
            return self.models[0]
        found = next((m for m in self.models if m.id == model_id), None)
        if found is None:
            offered = ", ".join(printable(m.id, limit=80) for m in self.models[:10])
            raise RemoteError("missing", f"{self.server.name} does not offer the model "
                              f"{printable(model_id, limit=80)}; it offers {offered}.")
        return found


def probe(server: Server, api_key: str | None) -> ServerReport:
    """Connect to ``server``, check its certificate, and list its models (/v1/models)."""
    with Exchange(server, api_key) as exchange:
        sent = time.perf_counter()
        exchange.request("GET", "/models")
        listing = exchange.json()
        round_trip = time.perf_counter() - sent
        certificate = exchange.certificate
    entries = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(entries, list):
        raise RemoteError("http", f"{server.name} did not list its models the OpenAI way "
                          "(/v1/models): it may not be an OpenAI-compatible server.")
    models = [OfferedModel(entry["id"], _context_length(entry)) for entry in entries
              if isinstance(entry, dict) and isinstance(entry.get("id"), str)]
    assert certificate is not None  # `request` connected, and checked it
    return ServerReport(server, certificate, models, round_trip)


def smoke_answer(server: Server, api_key: str | None, report: ServerReport) -> Answer:
    """A short answer from the server's first model: that it really answers, and how fast."""
    engine = RemoteEngine(server, api_key, report.model(None), report.certificate, 4096)
    return engine.chat([{"role": "user", "content": "Reply with one word: ready."}],
                       SamplingOptions(temperature=0.0, max_tokens=8, seed=1),
                       threading.Event(), lambda _text: None)


def _context_length(entry: dict) -> int | None:
    for value in (entry.get("max_model_len"), (entry.get("meta") or {}).get("n_ctx")
                  if isinstance(entry.get("meta"), dict) else None):
        if isinstance(value, int) and value > 0:
            return value
    return None


class RemoteEngine:
    """A model on a configured server. Create with `connect`; `close` has nothing to free."""

    def __init__(self, server: Server, api_key: str | None, model: OfferedModel,
                 certificate: Certificate, n_ctx: int):
        self.server = server
        self._api_key = api_key
        self.model_id = model.id
        self.certificate = certificate
        self.n_ctx = n_ctx

    @classmethod
    def connect(cls, server: Server, api_key: str | None, model_id: str | None = None,
                context_length: int = 4096) -> "RemoteEngine":
        """Check the server (certificate, key, that it offers ``model_id``; None takes its
        first model). ``context_length`` stands in when the server does not say its own."""
        report = probe(server, api_key)
        model = report.model(model_id)
        return cls(server, api_key, model, report.certificate, model.context_length or context_length)

    def identity(self) -> ModelIdentity:
        return remote_identity(self.server.name, self.model_id)

    def loaded_model(self, identity: ModelIdentity) -> LoadedModel:
        server = {**self.server.audit_fields(), "certificate_sha256": self.certificate.fingerprint}
        return LoadedModel(identity, f"server {self.server.name}", self.n_ctx, None, False, None,
                           server=server)

    def close(self) -> None:
        pass

    def chat(self, messages: Sequence[dict[str, str]], sampling: SamplingOptions,
             stop_event: threading.Event, on_text: Callable[[str], None],
             on_prompt_ready: Callable[[int, int], None] | None = None, *,
             continue_text: str | None = None,
             shrink: Callable[[], Sequence[dict[str, str]] | None] | None = None,
             on_reading: Callable[[int, int], None] | None = None) -> Answer:
        """Stream an answer (see `inference.engine.Engine.chat`). A prompt the server finds
        too long for its context is offered to ``shrink`` (fewer passages) and sent again.
        ``on_prompt_ready`` and ``on_reading`` are not called: the prompt's size is not
        known here, and reading it on the server can be stopped."""
        if continue_text:
            raise EngineError("A stopped answer can only be continued with a model on this "
                              "computer. Regenerate the answer instead, or choose a local model.")
        started = time.perf_counter()
        while True:
            try:
                return self._stream(list(messages), sampling, stop_event, on_text,
                                    on_prompt_ready, started)
            except RemoteError as error:
                if error.kind != "http" or not any(w in str(error).lower() for w in _CONTEXT_WORDS):
                    raise
                shorter = shrink() if shrink is not None else None
                if shorter is None:
                    raise EngineError(f"The conversation is too long for {self.model_id} on "
                                      f"{self.server.name}. Start a new conversation, or lower "
                                      f"the longest answer. ({error})") from None
                messages = shorter

    def _stream(self, messages: list[dict[str, str]], sampling: SamplingOptions,
                stop_event: threading.Event, on_text: Callable[[str], None],
                on_prompt_ready, started: float) -> Answer:
        body = {"model": self.model_id, "messages": messages, "stream": True,
                "stream_options": {"include_usage": True}, "max_tokens": sampling.max_tokens,
                "temperature": sampling.temperature, "top_p": sampling.top_p,
                "top_k": sampling.top_k, "min_p": sampling.min_p,
                "repeat_penalty": sampling.repeat_penalty}
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        reading = _Reading(on_text)
        with Exchange(self.server, self._api_key, stop_event) as exchange:
            if stop_event.is_set():
                return reading.answer(started, "user", exchange.certificate)
            try:
                exchange.request("POST", "/chat/completions", body)
                for line in exchange.lines():
                    if reading.take(line, self.server.name):
                        break
                    if reading.counted >= sampling.max_tokens:  # a server that ignores the limit
                        reading.finish_reason = "length"
                        break
            except Stopped:
                return reading.answer(started, "user", exchange.certificate)
            except RemoteError as error:
                if error.kind not in ("dropped", "timeout") or not reading.pieces:
                    raise
                return reading.answer(started, "incomplete", exchange.certificate,
                                      f"{error} What came of the answer is kept, marked incomplete.")
            if reading.finish_reason is None:  # the stream ended without saying how
                if not reading.pieces:
                    raise RemoteError("dropped", f"The connection to {self.server.name} ended "
                                      "before any answer came.")
                return reading.answer(started, "incomplete", exchange.certificate,
                                      f"The connection to {self.server.name} ended before the "
                                      "answer was complete. What came of the answer is kept, marked incomplete.")
            return reading.answer(started, reading.finish_reason, exchange.certificate)


class _Reading:
    """The streamed events of one answer, taken one line at a time."""

    def __init__(self, on_text: Callable[[str], None]):
        self.on_text = on_text
        self.pieces: list[str] = []
        self.counted = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.finish_reason: str | None = None
        self.usage: dict = {}
        self.model: str | None = None

    def take(self, line: bytes, server_name: str) -> bool:
        """Take one line of the stream; True at its end."""
        if not line.startswith(b"data:"):
            return False  # blank lines, comments, event names
        data = line[5:].strip()
        if data == b"[DONE]":
            return True
        try:
            event = json.loads(data)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
            raise RemoteError("http", f"{server_name} sent a streamed event that is not JSON.") from None
        if not isinstance(event, dict):
            return False
        if isinstance(event.get("error"), (dict, str)):
            error = event["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise RemoteError("http", f"{server_name} stopped with an error: "
                              f"{printable(str(message), limit=300)}")
        if isinstance(event.get("model"), str):
            self.model = event["model"]
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]
        choices = event.get("choices") or []
        if not isinstance(choices, list):
            raise RemoteError("http", f"{server_name} sent a malformed streamed event (its "
                              "choices are not a list): it may not be an OpenAI-compatible server.")
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or {}
            text = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(text, str) and text:
                now = time.perf_counter()
                if self.first_at is None:
                    self.first_at = now
                    text = text.lstrip(" ")
                self.last_at = now
                self.counted += 1
                if text:
                    self.pieces.append(text)
                    self.on_text(text)
            if choice.get("finish_reason"):
                self.finish_reason = "length" if choice["finish_reason"] == "length" else "stop"
        return False

    def answer(self, started: float, finish_reason: str, certificate: Certificate | None,
               incomplete: str | None = None) -> Answer:
        tokens = self.usage.get("completion_tokens")
        generated = tokens if isinstance(tokens, int) else self.counted
        prompt_tokens = self.usage.get("prompt_tokens")
        stats = AnswerStats(
            prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else None,
            completion_tokens=generated,
            time_to_first_token_s=None if self.first_at is None else self.first_at - started,
            tokens_per_second=tokens_per_second(self.counted, self.first_at, self.last_at),
            total_s=time.perf_counter() - started,
            stopped=finish_reason == "user", finish_reason=finish_reason, dropped_messages=0,
            incomplete=incomplete, server_model=self.model,
            server_certificate=certificate.fingerprint if certificate else None)
        return Answer("".join(self.pieces), stats)
