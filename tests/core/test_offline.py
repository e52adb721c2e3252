import socket
import subprocess
import sys

import pytest

from strongroom.core.offline import (
    OFFLINE_ENVIRONMENT,
    EgressGuard,
    apply_offline_environment,
)


@pytest.fixture
def guard():
    guard = EgressGuard.install()
    seen = []
    guard.add_listener(seen.append)
    guard.seen = seen
    yield guard
    guard.remove_listener(seen.append)
    guard.enabled = False


def test_outbound_connect_is_blocked_and_reported(guard):
    with socket.socket() as sock, pytest.raises(PermissionError, match="works offline"):
        sock.connect(("93.184.216.34", 443))
    assert guard.seen[-1].event == "socket.connect"
    assert guard.seen[-1].destination == "93.184.216.34:443"


def test_name_lookup_and_udp_are_blocked(guard):
    with pytest.raises(PermissionError):
        socket.getaddrinfo("huggingface.co", 443)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(PermissionError):
        sock.sendto(b"x", ("8.8.8.8", 53))
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock, pytest.raises(PermissionError):
        sock.connect(("2606:4700::1111", 443))
    assert [a.event for a in guard.seen[-3:]] == ["socket.getaddrinfo", "socket.sendto",
                                                   "socket.connect"]


def test_loopback_and_local_sockets_are_allowed(guard, tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
    assert socket.getaddrinfo("localhost", 80)
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen()
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)
    assert guard.seen == []


def test_disabled_guard_blocks_nothing(guard):
    guard.enabled = False
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        # A non-loopback destination would be refused by the sandbox anyway; what matters is
        # that the guard no longer raises PermissionError for a check it no longer makes.
        guard._audit("socket.connect", (server, ("10.1.2.3", 80)))
    assert guard.seen == []


def test_offline_environment_is_set_before_hugging_face_loads():
    script = ("import os; from strongroom.core.offline import apply_offline_environment;"
              "apply_offline_environment(); import huggingface_hub.constants as c;"
              "print(c.HF_HUB_OFFLINE, c.HF_HUB_DISABLE_TELEMETRY)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.split() == ["True", "True"], result.stderr


def test_refuses_when_hugging_face_was_imported_first():
    script = ("import huggingface_hub; from strongroom.core.offline import "
              "apply_offline_environment; apply_offline_environment()")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert "was imported before the offline switches were set" in result.stderr


def test_environment_values():
    environ = {}
    apply_offline_environment(environ)
    assert environ == OFFLINE_ENVIRONMENT
    assert environ["HF_HUB_OFFLINE"] == "1" and environ["HF_HUB_DISABLE_TELEMETRY"] == "1"
