"""Each way a firm's inference server can fail the workstation, against real servers on
loopback: the real `strongroom serve` (wrong key, missing model, killed mid-answer), and
small TLS servers of the test's own that misbehave on purpose and record every byte they
are sent (tests/helpers/hostile_servers.py). Every failure must be an EngineError that
says what happened in words; a refused certificate must mean that nothing was sent; and
the egress guard must let through the configured servers and nothing else."""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from strongroom.core.chats.session import ChatSession
from strongroom.core.inference.engine import EngineError, SamplingOptions
from strongroom.core.offline import BlockedAttempt, EgressGuard
from strongroom.core.remote import connection
from strongroom.core.remote.engine import RemoteEngine, probe
from strongroom.core.remote.servers import read_ca_file
from tests.conftest import replicate_tree
from tests.helpers.audit_logs import entries_of
from tests.helpers.hostile_servers import (
    HostileServer,
    ThenSilent,
    chunked_reply,
    event,
    json_reply,
    models_reply,
    reply,
    routes,
    text_event,
)
from tests.helpers.serving import free_port, start_serve
from tests.helpers.tls import make_ca

KEY = "hostile-test-key-0123456789"
SERVE_KEY = "serve-test-key-0123456789abcdef"  # the server killed mid-answer
MODEL = "hostile-model"
SHORT = SamplingOptions(temperature=0.0, max_tokens=24, seed=1)
MESSAGES = [{"role": "user", "content": "The merger memo, privileged and confidential."}]


@pytest.fixture
def ca(tmp_path):
    return make_ca(tmp_path / "ca")


def configure(workspace, url, *, ca=None, pin=None, timeout_s=10.0, name="firm",
              api_key=KEY):
    """A server configured on the workstation the way an officer would."""
    return workspace.servers.add(name, url, ca_pem=read_ca_file(ca.pem) if ca else None,
                                 pin=pin, api_key=api_key, timeout_s=timeout_s)


def failure(call, *args, **kwargs) -> tuple[EngineError, float]:
    """The EngineError ``call`` raises, and how long it took to raise it."""
    started = time.perf_counter()
    with pytest.raises(EngineError) as raised:
        call(*args, **kwargs)
    return raised.value, time.perf_counter() - started


def chat(engine, stop=None, on_text=None, sampling=SHORT):
    pieces = []

    def collect(piece):
        pieces.append(piece)
        if on_text:
            on_text(piece)

    answer = engine.chat(MESSAGES, sampling, stop or threading.Event(), collect)
    return answer, pieces


def nothing_sent(server: HostileServer, handshake: str = "done") -> None:
    """The hostile server's one connection ended without a single application byte."""
    (seen,) = server.wait_ended(1)
    assert seen.handshake.startswith(handshake), seen
    assert seen.received == b"" and seen.request is None, seen


# -- 1. unreachable ---------------------------------------------------------------------------

def test_a_server_where_nothing_listens_cannot_be_reached(workspace):
    server = configure(workspace, f"https://127.0.0.1:{free_port()}", pin="0" * 64)
    error, took = failure(RemoteEngine.connect, server, KEY)
    assert error.kind == "unreachable"
    assert "cannot be reached: nothing is listening at that address and port" in str(error)
    assert server.url in str(error)
    assert took < 2


# -- 2. the wrong certificate -----------------------------------------------------------------

def test_a_certificate_another_ca_signed_is_refused(ca, tmp_path, workspace):
    impostor = make_ca(tmp_path / "impostor-ca", "Impostor CA").issue(tmp_path / "impostor")
    with HostileServer(impostor, routes(models=models_reply(MODEL))) as hostile:
        server = configure(workspace, hostile.url, ca=ca)
        error, _ = failure(probe, server, KEY)
        nothing_sent(hostile, handshake="failed")
    assert error.kind == "trust"
    assert "did not sign" in str(error) and "Nothing was sent" in str(error)


def test_a_certificate_that_is_not_the_pinned_one_is_refused_before_anything_is_sent(
        ca, tmp_path, workspace):
    shown = ca.issue(tmp_path / "shown", name="shown")
    pinned = ca.issue(tmp_path / "pinned", name="pinned")  # same CA, same names: only the pin differs
    with HostileServer(shown, routes(models=models_reply(MODEL))) as hostile:
        wrong = configure(workspace, hostile.url, pin=pinned.fingerprint)
        error, _ = failure(probe, wrong, KEY)
        nothing_sent(hostile)  # the TLS session was up: a request would have been recorded
        # The same server with the right pin: the recorder does see what a client sends.
        right = configure(workspace, hostile.url, pin=shown.fingerprint, name="firm-right")
        assert [m.id for m in probe(right, KEY).models] == [MODEL]
        _, seen = hostile.wait_ended(2)
    assert error.kind == "trust"
    assert shown.fingerprint in str(error) and pinned.fingerprint in str(error)
    assert "Nothing was sent" in str(error)
    assert KEY not in str(error)
    assert seen.received.startswith(b"GET /v1/models HTTP/1.1\r\n")
    assert f"Authorization: Bearer {KEY}".encode() in seen.received


def test_an_impostor_on_the_servers_port_after_connecting_is_sent_no_prompt(
        ca, tmp_path, workspace):
    """The certificate is checked for every answer, not only when the model is chosen."""
    genuine = ca.issue(tmp_path / "genuine", name="genuine")
    impostor = make_ca(tmp_path / "impostor-ca", "Impostor CA").issue(tmp_path / "impostor")
    with HostileServer(genuine, routes(models=models_reply(MODEL))) as real:
        server = configure(workspace, real.url, pin=genuine.fingerprint)
        engine = RemoteEngine.connect(server, KEY)
        port = real.port
    with HostileServer(impostor, routes(completions=chunked_reply(text_event("hi"))),
                       port=port) as hostile:
        error, _ = failure(chat, engine)
        nothing_sent(hostile)
    assert error.kind == "trust" and impostor.fingerprint in str(error)
    assert "Nothing was sent" in str(error)


# -- 3. an expired certificate ----------------------------------------------------------------

def _out_of_date(ca, tmp_path, when: str):
    now = datetime.now(timezone.utc)
    if when == "expired":
        return ca.issue(tmp_path / "old", valid_from=now - timedelta(days=60),
                        valid_until=now - timedelta(days=1), name="old")
    return ca.issue(tmp_path / "early", valid_from=now + timedelta(days=2),
                    valid_until=now + timedelta(days=60), name="early")


@pytest.mark.parametrize("trust", ["ca", "pin"])
def test_an_expired_certificate_is_refused_and_nothing_is_sent(trust, ca, tmp_path, workspace):
    expired = _out_of_date(ca, tmp_path, "expired")
    with HostileServer(expired, routes(models=models_reply(MODEL))) as hostile:
        server = configure(workspace, hostile.url, ca=ca if trust == "ca" else None,
                           pin=expired.fingerprint if trust == "pin" else None)
        error, _ = failure(RemoteEngine.connect, server, KEY)
        # Under the CA OpenSSL refuses it in the handshake; under a pin, right after it.
        nothing_sent(hostile, handshake="failed" if trust == "ca" else "done")
    assert error.kind == "trust"
    assert "expired" in str(error) and "Nothing was sent" in str(error)


def test_a_pinned_certificate_not_valid_yet_is_refused(ca, tmp_path, workspace):
    early = _out_of_date(ca, tmp_path, "early")
    with HostileServer(early, routes(models=models_reply(MODEL))) as hostile:
        server = configure(workspace, hostile.url, pin=early.fingerprint)
        error, _ = failure(probe, server, KEY)
        nothing_sent(hostile)
    assert error.kind == "trust" and "is not valid before" in str(error)
    assert "clock" in str(error)


# -- 4. a certificate for another name --------------------------------------------------------

def test_a_certificate_for_another_host_name_is_refused(ca, tmp_path, workspace):
    elsewhere = ca.issue(tmp_path / "elsewhere", hosts=("inference.other.example",))
    with HostileServer(elsewhere, routes(models=models_reply(MODEL))) as hostile:
        server = configure(workspace, f"https://localhost:{hostile.port}", ca=ca)
        error, _ = failure(probe, server, KEY)
        nothing_sent(hostile, handshake="failed")
    assert error.kind == "trust"
    assert "issued for another name than the one configured" in str(error)
    assert "Nothing was sent" in str(error)


def test_a_certificate_for_another_ip_address_is_refused_in_the_same_words(
        ca, tmp_path, workspace):
    elsewhere = ca.issue(tmp_path / "elsewhere", hosts=("10.0.0.5",))
    with HostileServer(elsewhere, routes(models=models_reply(MODEL))) as hostile:
        server = configure(workspace, hostile.url, ca=ca)  # https://127.0.0.1:port
        error, _ = failure(probe, server, KEY)
        nothing_sent(hostile, handshake="failed")
    assert error.kind == "trust" and "Nothing was sent" in str(error)
    assert "issued for another name than the one configured" in str(error)


# -- 5. and 6. the real server: a wrong key, a missing model ------------------------------------

@pytest.mark.model
@pytest.mark.parametrize("key", ["not-the-key-at-all-0000", None])
def test_the_real_server_refuses_a_wrong_or_missing_api_key(key, firm, server):
    error, _ = failure(RemoteEngine.connect, server, key)
    assert error.kind == "key"
    assert "refused the API key (HTTP 401)" in str(error)
    assert firm.api_key not in str(error) and (key is None or key not in str(error))


@pytest.mark.model
def test_the_real_server_names_the_missing_model_and_what_it_offers(server, workspace):
    error, _ = failure(RemoteEngine.connect, server, workspace.servers.api_key(server),
                       "llama-3-70b-instruct")
    assert error.kind == "missing"
    assert "does not offer the model llama-3-70b-instruct" in str(error)
    assert "it offers SmolLM2-135M-Instruct" in str(error)


# -- 7. the connection lost mid-answer ----------------------------------------------------------

@pytest.mark.model
def test_a_server_killed_mid_answer_leaves_the_partial_answer_marked_incomplete(
        tmp_path, demo_store_template, workspace):
    ca = make_ca(tmp_path / "ca")
    issued = ca.issue(tmp_path / "tls")
    replicate_tree(demo_store_template, tmp_path / "serve-home" / "data" / "store")
    key_file = tmp_path / "api-key"
    key_file.write_text(SERVE_KEY + "\n")
    served = start_serve(tmp_path / "serve-home", "SmolLM2-135M-Instruct", "127.0.0.1",
                         free_port(), issued.cert, issued.key, key_file)
    try:
        child = served.child_pid
        server = configure(workspace, served.url, ca=ca, api_key=SERVE_KEY, timeout_s=30)
        engine = RemoteEngine.connect(server, workspace.servers.api_key(server))
        session = ChatSession(workspace.audit, workspace.settings)
        session.use_model(engine.loaded_model(engine.identity()))
        turn = session.prepare_send(
            "Write a long story about a lighthouse keeper and the sea, in many chapters.",
            sampling=SamplingOptions(temperature=0.0, max_tokens=500, seed=1))
        session.begin(turn)
        pieces, killed = [], []

        def on_text(piece):
            pieces.append(piece)
            if len(pieces) == 3:
                os.kill(child, signal.SIGKILL)
                killed.append(len(pieces))

        answer = engine.chat(turn.messages, turn.sampling, threading.Event(), on_text)
        finished = session.finish(turn, answer)
        assert served.process.wait(30) != 0  # `strongroom serve` ends when its server dies
    finally:
        served.stop()

    assert killed == [3]
    assert answer.text == "".join(pieces) and len(pieces) >= 3
    assert 3 <= answer.stats.completion_tokens < 500
    assert answer.stats.finish_reason == "incomplete" and not answer.stats.stopped
    assert "was lost before the reply was complete" in answer.stats.incomplete
    assert "What came of the answer is kept, marked incomplete" in answer.stats.incomplete
    assert answer.stats.server_certificate == issued.fingerprint

    assert finished.message is not None and finished.message.content == answer.text
    stored = session.messages()
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[-1].content == answer.text
    assert stored[-1].stats["incomplete"] == answer.stats.incomplete
    ended = [e for e in entries_of(workspace.paths.audit_log) if e["event"] == "inference"]
    assert len(ended) == 1
    assert ended[0]["details"]["outcome"] == "incomplete"
    assert ended[0]["details"]["reason"] == answer.stats.incomplete
    assert ended[0]["details"]["server"]["certificate_sha256"] == issued.fingerprint


# -- 8. a server that does not answer ---------------------------------------------------------

def test_a_silent_server_is_given_up_on_after_its_timeout(ca, tmp_path, workspace):
    issued = ca.issue(tmp_path / "tls")
    with HostileServer(issued, routes(models=models_reply(MODEL), completions=None)) as hostile:
        server = configure(workspace, hostile.url, pin=issued.fingerprint, timeout_s=1)
        engine = RemoteEngine.connect(server, KEY)
        error, took = failure(chat, engine)
        hostile.wait_ended(2)
    assert error.kind == "timeout"
    assert "did not answer for 1 seconds" in str(error)
    assert 1 <= took < 3
    assert b"merger memo" in hostile.connections[1].received  # it did get the request


def test_a_server_silent_mid_answer_leaves_the_partial_answer_marked_incomplete(
        ca, tmp_path, workspace):
    issued = ca.issue(tmp_path / "tls")
    partial = ThenSilent(chunked_reply(text_event("Once"), text_event(" upon"), end=False))
    with HostileServer(issued, routes(models=models_reply(MODEL),
                                      completions=partial)) as hostile:
        server = configure(workspace, hostile.url, pin=issued.fingerprint, timeout_s=1)
        engine = RemoteEngine.connect(server, KEY)
        started = time.perf_counter()
        answer, pieces = chat(engine)
        took = time.perf_counter() - started
        hostile.wait_ended(2)
    assert answer.text == "Once upon" and pieces == ["Once", " upon"]
    assert answer.stats.finish_reason == "incomplete"
    assert "did not answer for 1 seconds" in answer.stats.incomplete
    assert answer.stats.server_model == MODEL
    assert took < 3


def test_a_stop_while_the_server_is_silent_ends_the_answer_at_once(ca, tmp_path, workspace):
    issued = ca.issue(tmp_path / "tls")
    stop, stopped_at = threading.Event(), []

    def never_answer(_request):  # on the server's thread, once the whole request is in
        stopped_at.append(time.perf_counter())
        stop.set()
        return None

    with HostileServer(issued, routes(models=models_reply(MODEL),
                                      completions=never_answer)) as hostile:
        server = configure(workspace, hostile.url, pin=issued.fingerprint, timeout_s=30)
        engine = RemoteEngine.connect(server, KEY)
        answer, pieces = chat(engine, stop=stop)
        returned_at = time.perf_counter()
        hostile.wait_ended(2)
    assert stopped_at, "the request never reached the server"
    assert returned_at - stopped_at[0] < 1.0
    assert answer.stats.stopped and answer.stats.finish_reason == "user"
    assert answer.text == "" and pieces == []


# -- 9. the egress guard ----------------------------------------------------------------------

TEST_NET = "192.0.2.1"  # RFC 5737: never routed


@pytest.fixture
def guard():
    guard = EgressGuard.install()
    guard.allow_servers([])
    try:
        yield guard
    finally:  # the audit hook stays for the process: switch it off
        guard.enabled = False
        guard.allow_servers([])


def _connect(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        sock.connect((host, port))


def _blocked(guard, call, *args) -> list[BlockedAttempt]:
    """What the guard recorded while refusing ``call``."""
    before = len(guard.blocked)
    with pytest.raises(PermissionError, match="Strongroom works offline"):
        call(*args)
    return guard.blocked[before:]


def _let_through(guard, call, *args) -> OSError | None:
    """The network's own answer to ``call`` (refused, unreachable, timed out, or none),
    which the guard did not block."""
    before = len(guard.blocked)
    try:
        call(*args)
        outcome = None
    except PermissionError as error:
        raise AssertionError(f"the guard blocked it: {error}") from None
    except OSError as error:
        outcome = error
    assert guard.blocked[before:] == []
    return outcome


def test_the_guard_blocks_an_address_that_is_not_a_configured_server(guard):
    assert _blocked(guard, _connect, TEST_NET, 8443) == [
        BlockedAttempt("socket.connect", f"{TEST_NET}:8443")]


def test_the_guard_lets_through_only_the_resolved_address_and_port_of_a_server(guard):
    guard.allow_servers([(TEST_NET, 8443)])
    assert _blocked(guard, _connect, TEST_NET, 8443)  # not before `resolve`
    assert guard.resolve(TEST_NET, 8443)[0][4] == (TEST_NET, 8443)
    _let_through(guard, _connect, TEST_NET, 8443)
    assert _blocked(guard, _connect, TEST_NET, 8444) == [
        BlockedAttempt("socket.connect", f"{TEST_NET}:8444")]
    assert _blocked(guard, socket.getaddrinfo, TEST_NET, 8444)[0].event == "socket.getaddrinfo"

    def send_datagram(host, port):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"prompt", (host, port))

    def connect_datagram(host, port):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.connect((host, port))

    assert _blocked(guard, send_datagram, TEST_NET, 8443) == [
        BlockedAttempt("socket.sendto", f"{TEST_NET}:8443")]
    assert _blocked(guard, connect_datagram, TEST_NET, 8443)[0].event == "socket.connect"

    guard.allow_servers([])  # the server removed: closed again, even the address resolved
    assert _blocked(guard, _connect, TEST_NET, 8443)
    with pytest.raises(PermissionError):
        guard.resolve(TEST_NET, 8443)


def test_the_guard_refuses_to_look_up_a_name_that_is_not_configured(guard):
    guard.allow_servers([("inference.firm.invalid", 8443)])
    assert _blocked(guard, socket.getaddrinfo, "intranet.firm.invalid", 8443) == [
        BlockedAttempt("socket.getaddrinfo", "intranet.firm.invalid:8443")]
    assert _blocked(guard, socket.getaddrinfo, "inference.firm.invalid", 443)
    assert _blocked(guard, socket.gethostbyname, "inference.firm.invalid")
    # The configured name and port may be looked up (it does not exist, so DNS says so).
    assert isinstance(_let_through(guard, socket.getaddrinfo, "inference.firm.invalid", 8443),
                      socket.gaierror)


def test_the_engine_through_the_guard_is_blocked_unless_the_server_is_configured(
        guard, workspace, monkeypatch):
    monkeypatch.setattr(connection, "CONNECT_TIMEOUT_S", 0.5)
    server = configure(workspace, f"https://{TEST_NET}:8443", pin="0" * 64)
    before = len(guard.blocked)
    error, _ = failure(probe, server, KEY)
    assert error.kind == "blocked" and "not among this workstation's configured servers" in str(error)
    assert len(guard.blocked) > before
    guard.allow_servers([(server.host, server.port)])
    before = len(guard.blocked)
    error, _ = failure(probe, server, KEY)
    assert error.kind == "unreachable" and "cannot be reached" in str(error)  # the network's word
    assert guard.blocked[before:] == []


# -- 10. replies no server should send --------------------------------------------------------

HOSTILE = {
    "not HTTP": (
        "models", ThenSilent(b"SSH-2.0-OpenSSH_9.6\r\n"), "did not answer in HTTP"),
    "endless headers": (
        "models", ThenSilent(b"HTTP/1.1 200 OK\r\n" + b"".join(
            b"X-Padding-%d: %s\r\n" % (n, b"a" * 1000) for n in range(100))),
        "sent headers longer than 64 KB"),
    "one endless line": (
        "models", ThenSilent(b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 100_000),
        "sent a line longer than 64 KB"),
    "bad chunk size": (
        "models", ThenSilent(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n"),
        r"sent a malformed reply \(a bad chunk size\)"),
    "negative chunk size": (  # int("-1", 16) would take it and swallow the next line
        "completions", ThenSilent(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  b"-1\r\n" + event({"choices": []}) + b"\r\n"),
        r"sent a malformed reply \(a bad chunk size\)"),
    "models not JSON": (
        "models", ThenSilent(reply(body=b"<html>Welcome to nginx!</html>")),
        "answered with something that is not JSON"),
    "models not listed": (
        "models", ThenSilent(json_reply({"models": ["a"]})),
        "did not list its models the OpenAI way"),
    "event not JSON": (
        "completions", ThenSilent(chunked_reply(b"data: {'choices': oops\n\n", end=False)),
        "sent a streamed event that is not JSON"),
    "error event": (
        "completions",
        ThenSilent(chunked_reply(event({"error": {"message": "\x1b[31mred\x1b[0m boom"}}),
                                 end=False)),
        r"stopped with an error: \\x1b\[31mred\\x1b\[0m boom"),
    "refusal with escapes": (
        "completions",
        json_reply({"error": {"message": "\x1b]0;owned\x07 overloaded"}},
                   "503 Service Unavailable"),
        r"refused the request \(HTTP 503\)\. It said: \\x1b\]0;owned\\x07 overloaded"),
}


DEEP = b"[" * 60_000  # valid JSON's start, nested past Python's recursion limit (< 64 KB)

HOSTILE["event never ends"] = (
    "completions", ThenSilent(chunked_reply(b"data: " + b"a" * 1_200_000, end=False)),
    "sent a streamed event longer than 1 MB")

# JSON nested deeper than Python parses raises RecursionError, not ValueError.
HOSTILE["models nested too deep"] = (
    "models", ThenSilent(reply(body=DEEP)), "answered with something that is not JSON")
HOSTILE["event nested too deep"] = (
    "completions", ThenSilent(chunked_reply(b"data: " + DEEP + b"\n\n", end=False)),
    "sent a streamed event that is not JSON")
HOSTILE["refusal nested too deep"] = (
    "completions", ThenSilent(reply("500 Internal Server Error", body=DEEP)),
    r"refused the request \(HTTP 500\)")
HOSTILE["choices not a list"] = (
    "completions", ThenSilent(chunked_reply(event({"choices": 1}), end=False)),
    "choices are not a list")


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_reply_is_refused_in_words_without_waiting(case, ca, tmp_path, workspace):
    route, bad, words = HOSTILE[case]
    issued = ca.issue(tmp_path / "tls")
    answers = {"models": models_reply(MODEL), "completions": None, route: bad}
    with HostileServer(issued, routes(**answers)) as hostile:
        server = configure(workspace, hostile.url, pin=issued.fingerprint, timeout_s=10)
        if route == "models":
            error, took = failure(RemoteEngine.connect, server, KEY)
        else:
            error, took = failure(chat, RemoteEngine.connect(server, KEY))
        hostile.wait_ended(1 if route == "models" else 2)
    assert type(error) is connection.RemoteError and error.kind == "http"
    assert re.search(words, str(error)), str(error)
    assert "\x1b" not in str(error) and "\x07" not in str(error)
    assert took < 5  # it was what the server sent, not the timeout, that ended it


def test_a_server_that_ignores_the_longest_answer_is_cut_off_at_it(ca, tmp_path, workspace):
    issued = ca.issue(tmp_path / "tls")
    endless = ThenSilent(chunked_reply(*(text_event(f" w{n}") for n in range(60)), end=False))
    with HostileServer(issued, routes(models=models_reply(MODEL),
                                      completions=endless)) as hostile:
        server = configure(workspace, hostile.url, pin=issued.fingerprint, timeout_s=10)
        started = time.perf_counter()
        answer, pieces = chat(RemoteEngine.connect(server, KEY))
        took = time.perf_counter() - started
        hostile.wait_ended(2)
    assert len(pieces) == SHORT.max_tokens and answer.stats.completion_tokens == SHORT.max_tokens
    assert answer.stats.finish_reason == "length" and not answer.stats.incomplete
    assert answer.text == "".join(pieces) and answer.text.startswith("w0 w1")
    assert took < 5
