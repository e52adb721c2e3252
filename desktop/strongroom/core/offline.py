"""Offline by construction: the environment switches and the in-process egress guard.

`apply_offline_environment` must run before any Hugging Face library is imported (they read
their variables at import time); the command line calls it first thing for every
workstation-side command.

`EgressGuard` is a Python audit hook (PEP 578): every socket connect, sendto and name lookup
made from Python passes through it, and anything that is not loopback or a local (Unix)
socket is refused with PermissionError, logged, and reported to listeners (the status bar,
the audit log). Audit hooks cannot be removed, so the guard has an on/off switch instead.

The one exception is the firm's own inference servers (`allow_servers`): their host names
may be looked up, and connections go through only to the addresses those lookups gave (by
`resolve`), on each server's own port. Nothing else opens, not another port of the same
host, not another name for the same address.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Callable, Iterable

log = logging.getLogger(__name__)

OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "DO_NOT_TRACK": "1",
}

_HF_MODULES = ("huggingface_hub", "transformers", "datasets")


def apply_offline_environment(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Set the offline switches; refuse if a Hugging Face library was already imported."""
    already = [name for name in _HF_MODULES if name in sys.modules]
    if already and environ is os.environ:
        raise RuntimeError(
            f"{', '.join(already)} was imported before the offline switches were set; "
            "its network settings can no longer be changed"
        )
    environ.update(OFFLINE_ENVIRONMENT)


@dataclass(frozen=True)
class BlockedAttempt:
    event: str  # socket.connect, socket.sendto, socket.getaddrinfo, ...
    destination: str


def _is_local_host(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host in ("", "localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _address_text(host: str) -> str:
    """An IP address in one spelling (IPv6 compressed, no zone), for comparing."""
    try:
        return str(ipaddress.ip_address(host.split("%")[0]))
    except ValueError:
        return host.lower()


def _destination(address: object) -> tuple[str, bool]:
    """(printable destination, whether it stays on this machine)."""
    if isinstance(address, (str, bytes)):  # AF_UNIX path or abstract name
        return (repr(address), True)
    if isinstance(address, tuple) and address:
        host = address[0]
        port = address[1] if len(address) > 1 else ""
        return (f"{host}:{port}", _is_local_host(host))
    return (repr(address), False)


class EgressGuard:
    """Refuses non-local network use from Python code in this process.

    Listeners are called (on the offending thread) with a `BlockedAttempt`.
    """

    _installed: "EgressGuard | None" = None

    def __init__(self) -> None:
        self.enabled = False
        self.blocked: list[BlockedAttempt] = []
        self._listeners: list[Callable[[BlockedAttempt], None]] = []
        self._lock = threading.Lock()
        self._servers: frozenset[tuple[str, int]] = frozenset()  # (host as configured, port)
        self._addresses: dict[tuple[str, int], frozenset[str]] = {}  # what `resolve` found

    def allow_servers(self, servers: "Iterable[tuple[str, int]]") -> None:
        """Allow exactly these (host, port) pairs (the configured inference servers) from
        now on, replacing the previous list; addresses resolved for servers no longer
        listed are forgotten."""
        allowed = frozenset((host.lower(), int(port)) for host, port in servers)
        with self._lock:
            self._servers = allowed
            self._addresses = {key: found for key, found in self._addresses.items()
                               if key in allowed}

    @property
    def allowed_servers(self) -> frozenset[tuple[str, int]]:
        return self._servers

    def resolve(self, host: str, port: int) -> list[tuple]:
        """The addresses of an allowed server (what ``socket.getaddrinfo`` gives for TCP); a
        connection to them on ``port`` is allowed from now on. Raises PermissionError
        (recorded like any blocked attempt) when (host, port) is not an allowed server."""
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)  # the hook checks it
        addresses = frozenset(_address_text(str(sockaddr[0])) for *_rest, sockaddr in found)
        key = (host.lower(), int(port))
        with self._lock:
            if key in self._servers:
                self._addresses[key] = self._addresses.get(key, frozenset()) | addresses
        return found

    def _allowed(self, event: str, host: object, port: object) -> bool:
        """Whether ``host``:``port`` belongs to an allowed server: a lookup of its
        configured name, or a connection to an address a lookup gave."""
        try:
            port = int(port)  # type: ignore[call-overload]  # whatever the audit hook saw
        except (TypeError, ValueError):
            return False
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        if not isinstance(host, str):
            return False
        if event == "socket.getaddrinfo":
            return (host.lower(), port) in self._servers
        address = _address_text(host)
        return any(port == allowed_port and address in found
                   for (_, allowed_port), found in self._addresses.items())

    @classmethod
    def install(cls) -> "EgressGuard":
        """The process-wide guard, enabled (its audit hook is added on first use)."""
        if cls._installed is None:
            guard = cls()
            sys.addaudithook(guard._audit)
            cls._installed = guard
        cls._installed.enabled = True
        return cls._installed

    @classmethod
    def current(cls) -> "EgressGuard | None":
        """The process-wide guard, if one was installed."""
        return cls._installed

    def add_listener(self, listener: Callable[[BlockedAttempt], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[BlockedAttempt], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _audit(self, event: str, args: tuple) -> None:
        if not self.enabled or not event.startswith("socket."):
            return
        if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
            sock, address = args[0], args[-1]
            if event == "socket.sendmsg" and address is None:
                return
            if getattr(sock, "family", None) == getattr(socket, "AF_UNIX", None):
                return
            destination, local = _destination(address)
            if not local and event == "socket.connect" and isinstance(address, tuple) \
                    and getattr(sock, "type", None) == socket.SOCK_STREAM \
                    and len(address) > 1:  # TCP to a server; never a datagram
                local = self._allowed(event, address[0], address[1])
        elif event == "socket.getaddrinfo":
            host, port = args[0], args[1]
            destination, local = (f"{host}:{port}", _is_local_host(host)
                                  or self._allowed(event, host, port))
        elif event == "socket.gethostbyname" or event == "socket.gethostbyname_ex":
            destination, local = (str(args[0]), _is_local_host(args[0]))
        else:
            return
        if local:
            return
        attempt = BlockedAttempt(event, destination)
        with self._lock:
            self.blocked.append(attempt)
            listeners = list(self._listeners)
        log.warning("Blocked a network connection attempt: %s to %s", event, destination)
        for listener in listeners:
            try:
                listener(attempt)
            except Exception:  # a broken listener must not reopen the door
                log.exception("egress listener failed")
        raise PermissionError(
            f"Strongroom works offline: the connection to {destination} was blocked"
        )
