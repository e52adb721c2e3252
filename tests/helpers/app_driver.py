"""Runs the real app offscreen through a scripted session, for tests that watch it from outside.

    python -m tests.helpers.app_driver SCENARIO      (STRONGROOM_HOME must be set)

Scenarios:
    session   load the model, send two messages, stop the second mid-stream, quit;
              prints a JSON summary on the last line of stdout.
    control   like session, then makes one raw outbound connect with the guard switched
              off, to prove the watcher would have seen one.
    stream    send a long request and print STREAMING once text arrives; runs until killed.

Startup mirrors `strongroom.cli.main`: offline switches and egress guard first.
"""

from __future__ import annotations

import json
import os
import socket
import sys

from strongroom.core.offline import EgressGuard, apply_offline_environment

apply_offline_environment()
GUARD = EgressGuard.install()

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402

from strongroom.core.app_log import configure_file_logging  # noqa: E402
from strongroom.core.paths import app_paths  # noqa: E402
from strongroom.core.workspace import Workspace  # noqa: E402
from strongroom.ui.app import create_application  # noqa: E402
from strongroom.ui.window.main_window import MainWindow  # noqa: E402

TIMEOUT_MS = 120_000


def wait_for(signal, timeout_ms: int = TIMEOUT_MS) -> list:
    loop = QEventLoop()
    received: list = []

    def on_signal(*args):
        received.append(args)
        loop.quit()

    signal.connect(on_signal)
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(timeout_ms)
    loop.exec()
    timer.stop()
    signal.disconnect(on_signal)
    if not received:
        raise SystemExit(f"timed out waiting for {signal}")
    return list(received[0])


def send(window: MainWindow, text: str) -> None:
    window.input.setPlainText(text)
    window.send()


def main(scenario: str) -> int:
    app = create_application([sys.argv[0]])
    configure_file_logging(app_paths().app_log)
    workspace = Workspace.open()
    workspace.settings.update({"context_length": 1024, "max_tokens": 40, "temperature": 0.0})
    window = MainWindow(workspace, GUARD)
    window.show()
    wait_for(window.modelReady)

    if scenario == "stream":
        workspace.settings.update({"max_tokens": 4000, "temperature": 0.9})
        send(window, "Write a very long story about the sea.")
        wait_for(window.answerStarted)
        print("STREAMING", flush=True)
        QTimer.singleShot(TIMEOUT_MS, app.quit)
        app.exec()
        return 1  # only reached if nobody killed us

    send(window, "Hello, who are you?")
    first = wait_for(window.answerCompleted)[0]
    workspace.settings.update({"max_tokens": 2000, "temperature": 0.9})
    send(window, "Tell me a long story about a ship.")
    wait_for(window.answerStarted)
    window.stop()
    second = wait_for(window.answerCompleted)[0]
    if scenario == "control":
        GUARD.enabled = False
        probe = socket.socket()
        probe.setblocking(False)
        probe.connect_ex(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere
        probe.close()
    window.close()
    workspace.close()
    print(json.dumps({
        "answers": [first.text, second.text],
        "second_stopped": second.stats.stopped,
        "blocked_by_guard": [a.destination for a in GUARD.blocked],
        "pid": os.getpid(),
    }), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
