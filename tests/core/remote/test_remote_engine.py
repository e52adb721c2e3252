"""The remote engine against a real `strongroom serve` (llama.cpp's server, TLS, API key) on
loopback: streamed answers, stop, audit with the server's identity, and each failure in words."""

from __future__ import annotations

import threading
import time

import pytest

from strongroom.core.chats.session import ChatSession
from strongroom.core.inference.engine import EngineError, SamplingOptions
from strongroom.core.remote.engine import RemoteEngine, probe
from tests.helpers.audit_logs import entries_of

pytestmark = pytest.mark.model

SHORT = SamplingOptions(temperature=0.0, max_tokens=24, seed=1)


def ask(engine, text="Name three colours.", sampling=SHORT, stop=None, on_text=None):
    pieces = []

    def collect(piece):
        pieces.append(piece)
        if on_text:
            on_text(piece)

    answer = engine.chat([{"role": "user", "content": text}], sampling,
                         stop or threading.Event(), collect)
    return answer, pieces


def test_the_server_is_probed_and_its_answer_streams(firm, server, workspace):
    report = probe(server, workspace.servers.api_key(server))
    assert report.certificate.fingerprint == firm.issued.fingerprint
    assert [m.id for m in report.models] == ["SmolLM2-135M-Instruct"]

    engine = RemoteEngine.connect(server, workspace.servers.api_key(server))
    answer, pieces = ask(engine)
    assert answer.text and "".join(pieces) == answer.text
    assert len(pieces) > 3  # streamed, not delivered at once
    assert answer.stats.completion_tokens == 24 and answer.stats.finish_reason == "length"
    assert answer.stats.time_to_first_token_s > 0 and answer.stats.tokens_per_second > 0
    assert answer.stats.server_certificate == firm.issued.fingerprint


def test_a_stop_ends_the_answer_within_a_moment(server, workspace):
    engine = RemoteEngine.connect(server, workspace.servers.api_key(server))
    stop = threading.Event()
    stopped_at = []

    def on_text(_piece):
        if not stop.is_set():
            stop.set()
            stopped_at.append(time.perf_counter())

    answer, pieces = ask(engine, sampling=SamplingOptions(max_tokens=400), stop=stop,
                         on_text=on_text)
    assert answer.stats.stopped and answer.stats.finish_reason == "user"
    assert time.perf_counter() - stopped_at[0] < 1.0
    assert answer.stats.completion_tokens < 400


def test_every_answer_is_audited_with_the_servers_identity(firm, server, workspace):
    engine = RemoteEngine.connect(server, workspace.servers.api_key(server))
    session = ChatSession(workspace.audit, workspace.settings)
    session.use_model(engine.loaded_model(engine.identity()))
    turn = session.prepare_send("Say hello.", sampling=SHORT)
    session.begin(turn)
    answer = engine.chat(turn.messages, turn.sampling, threading.Event(), lambda _t: None)
    session.finish(turn, answer)
    started, finished = [e for e in entries_of(workspace.paths.audit_log)
                         if e["event"] in ("inference_started", "inference")]
    for entry in (started, finished):
        identity = entry["details"]["server"]
        assert identity["name"] == "firm" and identity["url"] == firm.url
        assert identity["certificate_sha256"] == firm.issued.fingerprint
    assert started["details"]["model_id"] == "SmolLM2-135M-Instruct"
    assert finished["details"]["server"]["model_reported"]  # what the stream said it was
    assert finished["details"]["outcome"] == "answered"


def test_a_wrong_api_key_is_named(server, workspace):
    with pytest.raises(EngineError, match="refused the API key"):
        RemoteEngine.connect(server, "not-the-key")


def test_a_model_the_server_does_not_offer_is_named(server, workspace):
    with pytest.raises(EngineError, match="does not offer the model llama-70b.*"
                                          "SmolLM2-135M-Instruct"):
        RemoteEngine.connect(server, workspace.servers.api_key(server), "llama-70b")


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/openapi.json"])
def test_the_served_api_has_no_pages_readable_without_the_key(firm, page):
    """llama.cpp's server publishes its API's documentation to anyone; `strongroom serve`
    takes those pages away (every route left asks for the key)."""
    import http.client
    import ssl
    from urllib.parse import urlsplit

    address = urlsplit(firm.url)
    context = ssl.create_default_context(cafile=str(firm.ca.pem))
    connection = http.client.HTTPSConnection(address.hostname, address.port, context=context,
                                             timeout=30)
    try:
        for path, status in ((page, 404), ("/v1/models", 401)):  # the API is behind the key
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            assert (path, response.status) == (path, status)
    finally:
        connection.close()
