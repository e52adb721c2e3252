"""Driving the main window as a user would: typing and sending, answering dialogs."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QAbstractButton, QApplication

ANSWER_TIMEOUT_MS = 120_000
FAST_SETTINGS = {"context_length": 1024, "max_tokens": 48, "temperature": 0.0}


def send(qtbot, window, text: str, timeout=ANSWER_TIMEOUT_MS):
    """Type ``text`` and press Enter; return the finished answer."""
    window.input.setPlainText(text)
    with qtbot.waitSignal(window.answerCompleted, timeout=timeout) as finished:
        qtbot.keyClick(window.input, Qt.Key.Key_Return)
    return finished.args[0]


def answer_next_dialog(button_text: str):
    """Click the button labelled ``button_text`` in the next modal dialog, once it is shown."""

    def click():
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(10, click)
            return
        for button in dialog.findChildren(QAbstractButton):
            if button.text().replace("&", "") == button_text:
                button.click()
                return
        raise AssertionError(f"no button {button_text!r} in {dialog.windowTitle()!r}")

    QTimer.singleShot(0, click)
