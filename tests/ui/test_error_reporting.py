"""The last resort (ui/common/error_reporting): an error nothing handled, from a slot, a
background thread or Qt itself, reaches the app log with its traceback and the person as
a notice in the window, in plain words; closing puts the previous hooks back."""

from __future__ import annotations

import logging
import sys
import threading

import pytest
from PySide6.QtCore import Qt, qCritical
from PySide6.QtGui import QAction, QKeySequence

from strongroom.core.chats.database import ConversationStoreError
from strongroom.ui.app import report_errors_in

NOTICE_TIMEOUT_MS = 5000


@pytest.fixture
def reporting_window(open_window, workspace):
    window = open_window(wait_for_model=False)
    reporting = report_errors_in(window, workspace.paths.app_log)
    yield window
    reporting.uninstall()


def press_a_key_that_fails(qtbot, window, error: BaseException) -> None:
    """A shortcut whose slot raises ``error``, pressed as a person presses it."""
    def fail() -> None:
        raise error

    action = window.findChild(QAction, "failing") or QAction("Fail", window)
    action.setObjectName("failing")
    action.setShortcut(QKeySequence("Ctrl+Alt+F"))
    if action not in window.actions():
        window.addAction(action)
    else:
        action.triggered.disconnect()
    action.triggered.connect(fail)
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)


def test_a_fault_in_a_slot_is_said_and_logged(qtbot, reporting_window, workspace, caplog):
    with caplog.at_level(logging.ERROR):
        press_a_key_that_fails(qtbot, reporting_window, KeyError("draft"))
        qtbot.waitUntil(reporting_window.notice.isVisible, timeout=NOTICE_TIMEOUT_MS)
    said = reporting_window.notice.label.text()
    assert said.startswith("Something went wrong inside Strongroom (KeyError: 'draft').")
    assert "may not have finished" in said and str(workspace.paths.app_log) in said
    logged = [r for r in caplog.records if r.getMessage() == "an error nothing handled"]
    assert logged and logged[0].exc_info[0] is KeyError  # the traceback goes to the log
    assert reporting_window.notice.lasting  # stays when another conversation is opened


def test_an_explained_error_is_shown_as_it_reads(qtbot, reporting_window):
    message = "The conversations database /x/conversations.db could not be read: disk I/O error"
    press_a_key_that_fails(qtbot, reporting_window, ConversationStoreError(message))
    qtbot.waitUntil(reporting_window.notice.isVisible, timeout=NOTICE_TIMEOUT_MS)
    assert reporting_window.notice.label.text() == message


def test_a_background_threads_fault_reaches_the_window(qtbot, reporting_window, caplog):
    def work() -> None:
        raise OSError(28, "No space left on device")

    with caplog.at_level(logging.ERROR):
        thread = threading.Thread(target=work, name="indexing")
        thread.start()
        thread.join()
        qtbot.waitUntil(reporting_window.notice.isVisible, timeout=NOTICE_TIMEOUT_MS)
    assert "(OSError: [Errno 28] No space left on device)" in reporting_window.notice.label.text()
    assert any("in indexing" in r.getMessage() for r in caplog.records)


@pytest.mark.qt_log_ignore("the model file could not be mapped")  # expected, and chained
def test_a_critical_message_from_qt_is_said(qtbot, reporting_window, caplog):
    with caplog.at_level(logging.ERROR):
        qCritical("the model file could not be mapped")
        qtbot.waitUntil(reporting_window.notice.isVisible, timeout=NOTICE_TIMEOUT_MS)
    assert "the model file could not be mapped" in reporting_window.notice.label.text()
    assert any(r.getMessage() == "Qt: the model file could not be mapped"
               for r in caplog.records)


def test_the_same_fault_again_is_logged_not_shown_again(qtbot, reporting_window, caplog):
    with caplog.at_level(logging.ERROR):
        press_a_key_that_fails(qtbot, reporting_window, ValueError("once"))
        qtbot.waitUntil(reporting_window.notice.isVisible, timeout=NOTICE_TIMEOUT_MS)
        reporting_window.notice.hide()
        press_a_key_that_fails(qtbot, reporting_window, ValueError("once"))
        qtbot.waitUntil(lambda: sum(r.getMessage() == "an error nothing handled"
                                    for r in caplog.records) == 2, timeout=NOTICE_TIMEOUT_MS)
    assert not reporting_window.notice.isVisible()


def test_closing_puts_the_previous_hooks_back(open_window, workspace):
    before = (sys.excepthook, threading.excepthook)
    window = open_window(wait_for_model=False)
    reporting = report_errors_in(window, workspace.paths.app_log)
    assert sys.excepthook != before[0] and threading.excepthook != before[1]
    reporting.uninstall()
    assert (sys.excepthook, threading.excepthook) == before
