"""Fixtures for the window: a real MainWindow on the real model, offscreen."""

from __future__ import annotations

import pytest
from strongroom.ui.main_window import MainWindow

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
