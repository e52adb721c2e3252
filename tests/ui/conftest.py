"""Fixtures for the window: a real MainWindow on the real model, offscreen."""

from __future__ import annotations

import pytest

from strongroom.ui.audit.viewer import AuditViewer
from strongroom.ui.window.main_window import MainWindow
from tests.helpers.audit_logs import VIEWER_TIMEOUT_MS, write_log
from tests.helpers.window import ANSWER_TIMEOUT_MS, FAST_SETTINGS


@pytest.fixture
def open_window(qtbot, workspace):
    """A function that opens a MainWindow on ``workspace`` and waits for the model."""
    windows = []

    def open_(ws=workspace, wait_for_model=True):
        window = MainWindow(ws)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        if wait_for_model:
            with qtbot.waitSignal(window.modelReady, timeout=ANSWER_TIMEOUT_MS):
                pass
        return window

    yield open_
    for window in windows:
        window.close()


@pytest.fixture
def window(open_window, workspace, stored_model):
    workspace.settings.update(FAST_SETTINGS)
    return open_window()


@pytest.fixture
def active_window(qtbot, window):
    """The window, active: its shortcuts work only then, as on a desktop."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window


@pytest.fixture
def logged(tmp_path):
    """An audit log of 302 entries (the last a model_load of another model) and its key."""
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=300)
    log.append("model_load", {"file": "x.gguf"}, model_id="other-model")
    log.close()
    return path, key


@pytest.fixture
def viewer(qtbot, logged):
    """The auditor's viewer on ``logged``, every row indexed."""
    path, _ = logged
    window = AuditViewer(path)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.index.complete and window.model.rowCount() == 302,
                    timeout=VIEWER_TIMEOUT_MS)
    yield window
    window.close()
