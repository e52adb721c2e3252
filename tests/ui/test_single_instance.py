"""One window per data folder: a second start brings the first window forward and ends."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from strongroom.ui.common.single_instance import SingleInstance, socket_path
from tests.helpers import REPO


def test_a_second_start_asks_the_first_window_to_come_forward(qtbot, tmp_path):
    first = SingleInstance(tmp_path)
    assert first.listen()
    try:
        with qtbot.waitSignal(first.raiseRequested, timeout=5000):
            assert SingleInstance(tmp_path).ask_running_window()
    finally:
        first.close()
    assert not SingleInstance(tmp_path).ask_running_window()


def test_a_socket_left_by_a_crashed_window_is_replaced(tmp_path):
    path = socket_path(tmp_path)
    left = socket.socket(socket.AF_UNIX)
    left.bind(path)  # bound and never listening: what a killed window leaves
    left.close()
    assert os.path.exists(path)
    again = SingleInstance(tmp_path)
    assert not again.ask_running_window(timeout_ms=500)
    assert again.listen()
    again.close()


def test_the_app_started_twice_keeps_one_window(qtbot, home):
    env = {**os.environ, "STRONGROOM_HOME": str(home.data_dir.parent), "QT_QPA_PLATFORM": "offscreen"}
    first = subprocess.Popen([sys.executable, "-m", "strongroom"], cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        qtbot.waitUntil(lambda: SingleInstance(home.data_dir).ask_running_window(200),
                        timeout=60_000)
        second = subprocess.run([sys.executable, "-m", "strongroom"], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 0 and "already open" in second.stderr
        assert first.poll() is None  # the first window is still there
    finally:
        first.terminate()
        try:
            first.wait(timeout=30)
        except subprocess.TimeoutExpired:
            first.kill()
            first.wait()
