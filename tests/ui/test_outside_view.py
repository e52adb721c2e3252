"""The app watched from outside: system calls under strace, and a SIGKILL mid-answer."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

from tests.helpers import REPO
from tests.helpers.conversations import open_home_conversations

pytestmark = pytest.mark.model
CONNECT = re.compile(r"(connect|sendto|sendmsg)\(\d+, \{sa_family=(AF_INET6?),(.*?)\}")
ADDRESS = re.compile(r'inet_(?:addr|pton)\((?:AF_INET6?, )?"([^"]+)"\)')


def outbound(trace: str) -> list[str]:
    """Every IPv4/IPv6 connect or send in an strace log that is not to loopback."""
    found = []
    for call, _family, details in CONNECT.findall(trace):
        address = ADDRESS.search(details)
        host = address.group(1) if address else details
        if host not in ("127.0.0.1", "::1", "::ffff:127.0.0.1") and not host.startswith("127."):
            found.append(f"{call} {host}")
    return found


def run_traced(home, scenario, tmp_path):
    if shutil.which("strace") is None:
        pytest.fail("strace is needed for this test; scripts/run_tests.sh installs it")
    trace = tmp_path / f"{scenario}.strace"
    env = {**os.environ, "STRONGROOM_HOME": str(home.data_dir.parent), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace),
         sys.executable, "-m", "tests.helpers.app_driver", scenario],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), trace.read_text()


def test_a_whole_session_makes_no_outbound_connection_attempt(home, stored_model, tmp_path):
    summary, trace = run_traced(home, "session", tmp_path)
    assert summary["answers"][0].strip() and summary["second_stopped"]
    assert summary["blocked_by_guard"] == []  # nothing even tried, at the Python level
    assert outbound(trace) == []  # and nothing at the system-call level


def test_the_watcher_sees_an_outbound_attempt_when_there_is_one(home, stored_model, tmp_path):
    summary, trace = run_traced(home, "control", tmp_path)
    assert outbound(trace) == ["connect 192.0.2.1"]


def test_sigkill_mid_answer_loses_only_the_partial_answer(home, stored_model):
    env = {**os.environ, "STRONGROOM_HOME": str(home.data_dir.parent), "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.Popen([sys.executable, "-m", "tests.helpers.app_driver", "stream"], cwd=REPO,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()  # blocks until the answer is streaming
        assert line.strip() == "STREAMING", child.stderr.read()[-3000:]
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    store = open_home_conversations(home)
    try:
        conversations = store.conversations()
        assert len(conversations) == 1
        messages = store.messages(conversations[0].id)
        assert [(m.role, m.content) for m in messages] == [
            ("user", "Write a very long story about the sea.")]
        assert store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        store.close()
