"""Small real TLS servers on loopback that misbehave on purpose, for the remote engine's
failure tests: they complete the handshake with a certificate the test chose, record every
byte a client sends after it, and answer each request with whatever bytes the test scripted
(or never answer at all).

One thread per server serves its connections one after the other. It never sleeps: it waits
in ``select`` on the socket and on a wake-up pipe, so `close` ends it at once; `close` also
joins it, and a server is a context manager so that a test cannot leave it running.
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Callable

from tests.helpers.tls import Issued

HANDSHAKE_TIMEOUT_S = 5.0
IDLE_LIMIT_S = 30.0  # a client silent this long is given up on (a safety net, never reached)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


class ThenSilent(bytes):
    """A reply after which the server says nothing more, yet keeps the connection open (until
    the client closes it): what the client does next depends on what it read alone."""


# What the server sends back to a request: bytes (then it closes the connection), ThenSilent
# bytes, or None to send nothing and keep the connection open until the client closes it.
Respond = Callable[[Request], "bytes | None"]


@dataclass
class Connection:
    """One client connection, as the server saw it."""

    handshake: str = "pending"  # "done", or why it failed
    received: bytes = b""  # every application byte the client sent after the handshake
    request: Request | None = None
    ended_by: str = ""  # "client closed", "reply sent", "server closing", ...
    notes: list[str] = field(default_factory=list)


class HostileServer:
    """A TLS server on 127.0.0.1 showing ``issued``'s certificate, on ``port`` (0: a free
    one)."""

    def __init__(self, issued: Issued, respond: Respond | None = None, port: int = 0):
        self.issued = issued
        self.respond = respond or (lambda _request: None)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(issued.cert, issued.key)
        context.num_tickets = 0  # nothing written after the handshake but what the test scripts
        self._context = context
        self.connections: list[Connection] = []
        self._changed = threading.Condition()
        self._wake_read, self._wake_write = socket.socketpair()
        self._closing = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name=f"hostile-server-{self.port}",
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def received(self) -> bytes:
        """Every application byte all clients sent, in order."""
        with self._changed:
            return b"".join(c.received for c in self.connections)

    def __enter__(self) -> "HostileServer":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()
        try:
            self._wake_write.send(b"x")
        except OSError:
            pass
        self._thread.join(timeout=10)
        alive = self._thread.is_alive()
        self._listener.close()
        self._wake_read.close()
        self._wake_write.close()
        assert not alive, "the hostile server's thread did not end"

    def wait_ended(self, count: int = 1, timeout: float = 5.0) -> list[Connection]:
        """The connections, once ``count`` of them have ended (the client gone or the reply
        sent); fails if that takes longer than ``timeout``."""
        with self._changed:
            done = self._changed.wait_for(
                lambda: sum(1 for c in self.connections if c.ended_by) >= count, timeout)
            assert done, f"{count} connection(s) did not end within {timeout} s: {self.connections}"
            return list(self.connections)

    # -- the server's thread --------------------------------------------------------------

    def _serve(self) -> None:
        while self._wait_readable(self._listener, None):
            try:
                raw, _address = self._listener.accept()
            except OSError:
                continue
            connection = Connection()
            with self._changed:
                self.connections.append(connection)
            try:
                self._handle(raw, connection)
            finally:
                with self._changed:
                    connection.ended_by = connection.ended_by or "ended"
                    self._changed.notify_all()

    def _wait_readable(self, sock: socket.socket, timeout: float | None) -> bool:
        """Whether ``sock`` has something to read; False when the server is closing or the
        wait timed out."""
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        if self._closing.is_set():
            return False
        readable, _, _ = select.select([sock, self._wake_read], [], [], timeout)
        return sock in readable and not self._closing.is_set()

    def _handle(self, raw: socket.socket, connection: Connection) -> None:
        raw.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            conn = self._context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as error:
            raw.close()
            connection.handshake = f"failed: {error}"
            connection.ended_by = "handshake failed"
            return
        connection.handshake = "done"
        try:
            conn.setblocking(False)
            request = self._read_request(conn, connection)
            if request is None:
                return
            with self._changed:
                connection.request = request
                self._changed.notify_all()
            reply = self.respond(request)
            if reply is None:  # never answer: read until the client gives up
                while self._read_some(conn, connection) is not None:
                    pass
                return
            conn.settimeout(HANDSHAKE_TIMEOUT_S)
            try:
                conn.sendall(reply)
            except OSError as error:  # the client may go before reading it all
                connection.notes.append(f"sending: {error}")
            if isinstance(reply, ThenSilent):
                conn.setblocking(False)
                while self._read_some(conn, connection) is not None:
                    pass
                return
            connection.ended_by = "reply sent"
        finally:
            conn.close()

    def _read_some(self, conn: ssl.SSLSocket, connection: Connection) -> bytes | None:
        """The next bytes from the client, recorded; None at its end (or the server's)."""
        while True:
            if not self._wait_readable(conn, IDLE_LIMIT_S):
                connection.ended_by = "server closing" if self._closing.is_set() else "idle"
                return None
            try:
                data = conn.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue
            except (ssl.SSLError, OSError) as error:  # an abrupt close counts as the end
                connection.notes.append(f"reading: {error}")
                data = b""
            if not data:
                connection.ended_by = "client closed"
                return None
            with self._changed:
                connection.received += data
            return data

    def _read_request(self, conn: ssl.SSLSocket, connection: Connection) -> Request | None:
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            data = self._read_some(conn, connection)
            if data is None:
                return None
            buffer += data
        head, _, body = buffer.partition(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(body) < length:
            data = self._read_some(conn, connection)
            if data is None:
                return None
            body += data
        method, path, *_ = request_line.split(" ") + ["", ""]
        return Request(method, path, headers, body)


# -- replies ----------------------------------------------------------------------------------

def reply(status: str = "200 OK", headers: dict[str, str] | None = None,
          body: bytes = b"") -> bytes:
    """An HTTP/1.1 response with a Content-Length."""
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in (headers or {}).items()),
             f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def json_reply(data: object, status: str = "200 OK") -> bytes:
    return reply(status, {"Content-Type": "application/json"}, json.dumps(data).encode())


def models_reply(*ids: str) -> bytes:
    """/v1/models listing ``ids``, the OpenAI way."""
    return json_reply({"object": "list", "data": [{"id": i, "object": "model"} for i in ids]})


def chunked_reply(*pieces: bytes, content_type: str = "text/event-stream",
                  end: bool = True) -> bytes:
    """A chunked response, one chunk per piece (and the last chunk when ``end``)."""
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p)
    head = ("HTTP/1.1 200 OK\r\nContent-Type: " + content_type +
            "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode("latin-1")
    return head + body + (b"0\r\n\r\n" if end else b"")


def event(data: object) -> bytes:
    """One server-sent event carrying ``data`` as JSON."""
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def text_event(text: str, model: str = "hostile-model") -> bytes:
    return event({"model": model, "choices": [{"index": 0, "delta": {"content": text},
                                               "finish_reason": None}]})


def routes(**by_route: "bytes | Respond | None") -> Respond:
    """A ``respond`` that answers by the request's last path segment (``models``,
    ``completions``); a route not listed is never answered."""
    def respond(request: Request) -> bytes | None:
        answer = by_route.get(request.path.rstrip("/").rsplit("/", 1)[-1])
        return answer(request) if callable(answer) else answer

    return respond
