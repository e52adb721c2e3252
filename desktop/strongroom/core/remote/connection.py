"""One HTTPS exchange with a configured server, that a stop or a silent server ends.

A small HTTP/1.1 client on a socket of our own rather than a general one, for three
reasons: the connection goes only to the addresses the egress guard resolved for the
server; the certificate is checked (pin and dates) after the handshake and before any byte
of the request; and reading polls, so a stop from another thread ends a streamed answer
within `POLL_S`, and a server silent for the configured timeout ends it with words.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
from typing import Iterator

from strongroom import __version__
from strongroom.core.display import printable
from strongroom.core.inference.engine import EngineError
from strongroom.core.offline import EgressGuard
from strongroom.core.remote.servers import Server
from strongroom.core.remote.tls import (
    Certificate,
    TrustError,
    check_certificate,
    client_context,
    handshake_failure,
)
from strongroom.core.units import human_size

POLL_S = 0.05
CONNECT_TIMEOUT_S = 10.0
_MAX_HEADER_BYTES = 64 * 1024
_MAX_ERROR_BYTES = 64 * 1024
_MAX_LINE_BYTES = 1024 * 1024
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")
_MAX_BODY_BYTES = 16 * 1024 * 1024


class RemoteError(EngineError):
    """The exchange failed; the message says what happened and what to do. ``kind``:
    unreachable, blocked, trust, key, missing, http, dropped, timeout."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class Stopped(Exception):
    """The stop event was set while waiting for the server."""


def resolve(server: Server) -> list[tuple]:
    """The server's addresses, through the egress guard when one is on (which then allows
    connecting to them and nothing else)."""
    guard = EgressGuard.current()
    try:
        if guard is not None and guard.enabled:
            return guard.resolve(server.host, server.port)
        return socket.getaddrinfo(server.host, server.port, type=socket.SOCK_STREAM)
    except PermissionError:
        raise RemoteError("blocked", f"The connection to {server.host}:{server.port} was "
                          f"blocked: {server.name} is not among this workstation's configured "
                          "servers any more (Settings → Servers).") from None
    except socket.gaierror as error:
        raise RemoteError("unreachable", f"The server {server.name} cannot be found: the name "
                          f"{server.host} does not resolve ({error.strerror}). Check the "
                          "address, or ask your administrator.") from None


class Exchange:
    """A connection to ``server`` for one request. Use as a context manager."""

    def __init__(self, server: Server, api_key: str | None,
                 stop_event: threading.Event | None = None):
        self.server = server
        self._api_key = api_key
        self._stop = stop_event
        self._sock: ssl.SSLSocket | None = None
        self._buffer = b""
        self.certificate: Certificate | None = None

    def __enter__(self) -> "Exchange":
        self.open()
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def open(self) -> Certificate:
        server = self.server
        last_error: OSError | None = None
        for family, kind, protocol, _name, address in resolve(server):
            raw = socket.socket(family, kind, protocol)
            raw.settimeout(CONNECT_TIMEOUT_S)
            try:
                raw.connect(address)
                break
            except PermissionError:
                raw.close()
                raise RemoteError("blocked", f"The egress guard blocked the connection to "
                                  f"{address[0]}:{address[1]} for {server.name}.") from None
            except OSError as error:
                raw.close()
                last_error = error
        else:
            raise RemoteError("unreachable", _unreachable(server, last_error))
        try:
            self._sock = client_context(server).wrap_socket(raw, server_hostname=server.host)
        except ssl.SSLError as error:  # a certificate refused, or no TLS spoken there
            raw.close()
            raise RemoteError("trust", handshake_failure(server, error)) from None
        except OSError as error:
            raw.close()
            raise RemoteError("unreachable", _unreachable(server, error)) from None
        try:
            self.certificate = check_certificate(server, self._sock.getpeercert(binary_form=True))
        except TrustError as error:
            self.close()
            raise RemoteError("trust", str(error)) from None
        return self.certificate

    @property
    def _socket(self) -> ssl.SSLSocket:
        """The open connection (`connect` first)."""
        if self._sock is None:
            raise RemoteError("dropped", f"There is no connection to {self.server.name}.")
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    # -- the request --------------------------------------------------------------------

    def request(self, method: str, route: str, body: dict | None = None) -> int:
        """Send ``method`` ``route`` (under the server's /v1) and read the status line and
        headers; returns the status. A refusal (401, 403, 404 and the rest) is raised as a
        RemoteError with the server's own reason."""
        payload = b"" if body is None else json.dumps(body).encode("utf-8")
        host = self.server.host
        host = f"[{host}]" if ":" in host else host
        lines = [f"{method} {self.server.api_base}{route} HTTP/1.1", f"Host: {host}:{self.server.port}",
                 f"User-Agent: Strongroom/{__version__}", "Accept: application/json, text/event-stream",
                 "Connection: close"]
        if self._api_key:
            lines.append(f"Authorization: Bearer {self._api_key}")
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        self._socket.settimeout(POLL_S)
        self._send(("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + payload)
        status, headers = self._read_head()
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._length = int(headers["content-length"]) if headers.get("content-length", "").isdigit() else None
        if status >= 400:
            raise self._refusal(status, route)
        return status

    def json(self) -> object:
        """The response body as JSON."""
        data = b"".join(self.body(_MAX_BODY_BYTES))
        try:
            return json.loads(data)
        except (ValueError, RecursionError):  # nested deeper than Python parses
            raise RemoteError("http", f"{self.server.name} answered with something that is not "
                              "JSON: it may not be an OpenAI-compatible server.") from None

    def lines(self) -> Iterator[bytes]:
        """The response body line by line (server-sent events), as it arrives."""
        pending = b""
        for piece in self.body():
            pending += piece
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield line.rstrip(b"\r")
            if len(pending) > _MAX_LINE_BYTES:  # an event never ends: a broken or hostile server
                raise RemoteError("http", f"{self.server.name} sent a streamed event longer "
                                  "than 1 MB; the answer was abandoned.")
        if pending:
            yield pending

    def body(self, limit: int | None = None) -> Iterator[bytes]:
        """The response body as it arrives, chunked or not. A body that ends early (the
        connection lost) raises RemoteError("dropped")."""
        total = 0
        pieces = self._chunks() if self._chunked else self._plain()
        for piece in pieces:
            total += len(piece)
            if limit is not None and total > limit:
                raise RemoteError("http", f"{self.server.name} sent more than "
                                  f"{human_size(limit)} where a short reply was expected.")
            yield piece

    def _plain(self) -> Iterator[bytes]:
        left = self._length
        while left is None or left > 0:
            data = self._take_buffer() or self._recv()
            if not data:
                if left is None:
                    return  # the body ends with the connection
                raise self._dropped()
            if left is not None:
                data, self._buffer = data[:left], data[left:]
                left -= len(data)
            yield data

    def _chunks(self) -> Iterator[bytes]:
        while True:
            size_text = self._read_line().split(b";")[0].strip()
            if not _CHUNK_SIZE.fullmatch(size_text):  # int(…, 16) would take -1 or 0x10
                raise RemoteError("http", f"{self.server.name} sent a malformed reply "
                                  "(a bad chunk size).")
            size = int(size_text, 16)
            if size == 0:
                while self._read_line():  # trailers, then the blank line
                    pass
                return
            while size > 0:
                data = self._take_buffer() or self._recv()
                if not data:
                    raise self._dropped()
                data, self._buffer = data[:size], data[size:] + self._buffer
                size -= len(data)
                yield data
            self._read_line()  # the CRLF after the chunk

    def _send(self, data: bytes) -> None:
        """Write ``data``, polling like `_recv`: a stop, or a server that stops reading for
        its timeout, ends the wait."""
        view, sent = memoryview(data), 0
        waited_since = time.monotonic()
        while sent < len(data):
            self._keep_waiting(waited_since, "stopped reading the request")
            try:
                sent += self._socket.send(view[sent:sent + 65536])
                waited_since = time.monotonic()
            except (socket.timeout, ssl.SSLWantWriteError):
                continue
            except OSError as error:
                raise RemoteError("dropped", f"The connection to {self.server.name} was lost while "
                                  f"sending the request ({error}).") from None

    def _keep_waiting(self, since: float, silent: str) -> None:
        """Raise Stopped when the stop event is set, or RemoteError("timeout") once the
        server has been ``silent`` (what it did not do) for its timeout since ``since``."""
        if self._stop is not None and self._stop.is_set():
            raise Stopped
        if time.monotonic() - since > self.server.timeout_s:
            raise RemoteError("timeout", f"{self.server.name} {silent} for "
                              f"{self.server.timeout_s:.0f} seconds, so Strongroom gave up "
                              "waiting. The server may be overloaded: try again later, or ask "
                              "your administrator.")

    # -- reading --------------------------------------------------------------------------

    def _take_buffer(self) -> bytes:
        data, self._buffer = self._buffer, b""
        return data

    def _recv(self) -> bytes:
        """The next bytes from the server (b"" at its end); waits at most the server's
        timeout in silence, and returns early (Stopped) when the stop event is set."""
        waited_since = time.monotonic()
        while True:
            self._keep_waiting(waited_since, "did not answer")
            try:
                return self._socket.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except (ssl.SSLError, OSError):
                raise self._dropped() from None

    def _read_line(self) -> bytes:
        while b"\n" not in self._buffer:
            if len(self._buffer) > _MAX_HEADER_BYTES:
                raise RemoteError("http", f"{self.server.name} sent a line longer than 64 KB.")
            data = self._recv()
            if not data:
                raise self._dropped()
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.rstrip(b"\r")

    def _read_head(self) -> tuple[int, dict[str, str]]:
        status_line = self._read_line()
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise RemoteError("http", f"{self.server.name} did not answer in HTTP: it may not be "
                              "an OpenAI-compatible server, or not on that port.")
        headers: dict[str, str] = {}
        size = 0
        while line := self._read_line():
            size += len(line)
            if size > _MAX_HEADER_BYTES:
                raise RemoteError("http", f"{self.server.name} sent headers longer than 64 KB.")
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers

    def _dropped(self) -> RemoteError:
        return RemoteError("dropped", f"The connection to {self.server.name} was lost before "
                           "the reply was complete. The server may have stopped or restarted.")

    def _refusal(self, status: int, route: str) -> RemoteError:
        try:
            reason = _error_text(b"".join(self.body(_MAX_ERROR_BYTES)))
        except RemoteError:
            reason = ""
        said = f" It said: {printable(reason, limit=300)}" if reason else ""
        if status in (401, 403):
            return RemoteError("key", f"{self.server.name} refused the API key (HTTP {status}). "
                               "Ask your administrator for the current key, and give it again "
                               f"in Settings → Servers.{said}")
        if status == 404:
            return RemoteError("missing", f"{self.server.name} has nothing at {route} (HTTP 404): "
                               f"the model may not be served there.{said}")
        return RemoteError("http", f"{self.server.name} refused the request (HTTP {status}).{said}")


def _error_text(body: bytes) -> str:
    """The reason an OpenAI-compatible server gives: error.message, detail, or the text."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return body.decode("utf-8", "replace").strip()
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        for key in ("detail", "message", "error"):
            if isinstance(data.get(key), str):
                return data[key]
    return json.dumps(data)[:300]


def _unreachable(server: Server, error: OSError | None) -> str:
    if isinstance(error, ConnectionRefusedError):
        why = "nothing is listening at that address and port"
    elif isinstance(error, (socket.timeout, TimeoutError)):
        why = f"it did not answer within {CONNECT_TIMEOUT_S:.0f} seconds"
    else:
        why = getattr(error, "strerror", None) or str(error or "no address")
    return (f"The server {server.name} ({server.url}) cannot be reached: {why}. Check that it "
            "is running and that this computer is on its network. Models on this computer "
            "still work.")
