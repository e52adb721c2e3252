"""Offline by construction: the environment switches and the in-process egress guard.

`apply_offline_environment` must run before any Hugging Face library is imported (they read
their variables at import time); the command line calls it first thing for every
workstation-side command.

`EgressGuard` is a Python audit hook (PEP 578): every socket connect, sendto and name lookup
made from Python passes through it, and anything that is not loopback or a local (Unix)
socket is refused with PermissionError, logged, and reported to listeners (the status bar,
the audit log). Audit hooks cannot be removed, so the guard has an on/off switch instead.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Callable

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
        elif event == "socket.getaddrinfo":
            host, port = args[0], args[1]
            destination, local = (f"{host}:{port}", _is_local_host(host))
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
