"""The window locks (on request, or after minutes without use) and shows nothing of the
conversations until the login password or the recovery key opens them again."""

from __future__ import annotations

import functools

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QLabel, QLineEdit, QPlainTextEdit, QTextEdit

from strongroom.core import os_login
from strongroom.core.chats.database import ConversationsClosed
from strongroom.core.chats.database_key import DatabaseKeys, recovery_text
from tests.helpers.audit_logs import entries_of
from tests.helpers.pam import pam_service_accepting
from tests.helpers.window import ANSWER_TIMEOUT_MS, send

SECRET = "Kowalski settlement figure"
PASSWORD = "correct horse"


def visible_text(window) -> str:
    """Every piece of text a person could read in the window now."""
    parts = [window.windowTitle()]
    for widget in window.findChildren(QLabel):
        parts.append(widget.text() if widget.isVisible() else "")
    for widget in window.findChildren(QLineEdit):
        parts.append(widget.text() if widget.isVisible() else "")
    for kind in (QPlainTextEdit, QTextEdit):
        for widget in window.findChildren(kind):
            parts.append(widget.toPlainText() if widget.isVisible() else "")
    for widget in window.findChildren(QAbstractButton):
        parts.append(widget.text() if widget.isVisible() else "")
    model = window.conversations.model
    parts += [model.data(model.index(row)) for row in range(model.rowCount())]
    return "\n".join(parts)


def type_into(qtbot, field, text):
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


@pytest.fixture
def chatted(qtbot, window):
    send(qtbot, window, f"Summarise the {SECRET} in one line.")
    window.input.setPlainText(f"Draft about the {SECRET}")
    return window


def lock_by_keyboard(qtbot, window):
    with qtbot.waitSignal(window.locking.locked, timeout=5000):
        qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier
                       | Qt.KeyboardModifier.ShiftModifier)


def test_locked_window_shows_nothing_and_the_recovery_key_brings_it_all_back(
        qtbot, chatted, workspace, home):
    window = chatted
    conversation_id = window.conversation_id
    assert SECRET in visible_text(window)
    lock_by_keyboard(qtbot, window)

    assert SECRET not in visible_text(window)
    assert window.stack.currentWidget() is window.locking.screen
    assert window.windowTitle() == "Strongroom — locked"
    assert window.status.lock_label.text() == "● Locked"
    enabled = {text for text, action in window.actions_by_text.items() if action.isEnabled()}
    assert enabled == {"Quit", "Lock now"}
    with pytest.raises(ConversationsClosed):
        window.chats.conversations()

    screen = window.locking.screen
    qtbot.mouseClick(screen.switch_button, Qt.MouseButton.LeftButton)
    key = recovery_text(DatabaseKeys(workspace.secrets).current())
    with qtbot.waitSignal(window.locking.unlocked, timeout=5000):
        type_into(qtbot, screen.field, key)

    assert window.stack.currentIndex() == 0
    assert window.conversation_id == conversation_id
    assert SECRET in "\n".join(w.text for w in window.chat_view.messages)
    assert window.input.toPlainText() == f"Draft about the {SECRET}"
    assert all(action.isEnabled() for text, action in window.actions_by_text.items()
               if text not in {"Stop answer", "Regenerate answer", "Continue answer"})
    lock_entries = [e["details"] for e in entries_of(home.audit_log) if e["event"] == "conversations_lock"]
    assert lock_entries == [{"action": "locked", "reason": "asked"},
                            {"action": "unlocked", "method": "recovery key"}]


@pytest.fixture
def pam_service(tmp_path):
    return pam_service_accepting(tmp_path, PASSWORD)


@pytest.mark.skipif(not os_login.available(), reason="no PAM library here")
def test_the_login_password_unlocks_and_a_wrong_one_is_refused(qtbot, chatted, pam_service, home):
    window = chatted
    window.locking._check_password = functools.partial(os_login.password_accepted,
                                                       config_dir=pam_service)
    lock_by_keyboard(qtbot, window)
    screen = window.locking.screen
    assert screen.field.hasFocus() or not window.isActiveWindow()
    with qtbot.waitSignal(window.locking.refused, timeout=10_000) as refused:
        type_into(qtbot, screen.field, "guess")
    assert "password was not accepted" in refused.args[0]
    assert screen.problem.isVisible() and window.locking.is_locked
    with qtbot.waitSignal(window.locking.unlocked, timeout=10_000):
        type_into(qtbot, screen.field, PASSWORD)
    assert SECRET in "\n".join(w.text for w in window.chat_view.messages)
    actions = [(e["details"]["action"], e["details"].get("reason")) for e in entries_of(home.audit_log)
               if e["event"] == "conversations_lock"]
    assert actions == [("locked", "asked"), ("unlock refused", "password not accepted"),
                       ("unlocked", None)]


def test_idle_minutes_from_settings_lock_the_window(qtbot, window):
    window.apply_settings({"lock_after_minutes": 5})
    assert window.locking.idle.running
    assert window.status.lock_label.text() == "Locks after 5 min idle"
    window.locking.idle.set_interval_ms(50)  # five minutes, shortened for the test
    with qtbot.waitSignal(window.locking.locked, timeout=5000):
        pass
    assert window.locking.screen.reason.text().startswith("Locked after 5 minutes without use.")
    window.apply_settings({"lock_after_minutes": 0})
    assert not window.locking.idle.running  # still locked: no timer until unlocked


def test_a_key_press_starts_the_idle_time_again(qtbot, window):
    idle = window.locking.idle
    idle.set_interval_ms(60_000)
    first = idle._timer.remainingTime()
    qtbot.waitUntil(lambda: idle._timer.remainingTime() < first - 30, timeout=5000)
    qtbot.keyClick(window.input, Qt.Key.Key_A)
    assert idle._timer.remainingTime() > first - 30


def test_an_answer_being_written_is_let_finish_before_locking(qtbot, window, workspace):
    workspace.settings.update({"max_tokens": 200})
    window.input.setPlainText("Write a long story about the sea.")
    with qtbot.waitSignal(window.answerStarted, timeout=ANSWER_TIMEOUT_MS):
        qtbot.keyClick(window.input, Qt.Key.Key_Return)
    window.locking._on_idle()  # the idle time ran out mid-answer
    assert not window.locking.is_locked
    with qtbot.waitSignal(window.locking.locked, timeout=ANSWER_TIMEOUT_MS), \
            qtbot.waitSignal(window.answerCompleted, timeout=ANSWER_TIMEOUT_MS) as finished:
        pass
    answer = finished.args[0]
    assert answer.text and not answer.stats.stopped  # finished, not cut short by the lock
    assert window.workspace.chats.closed


def test_locking_closes_the_audit_viewer(qtbot, window):
    viewer = window.dialogs.open_audit_viewer()
    qtbot.waitExposed(viewer)
    with qtbot.waitSignal(viewer.destroyed, timeout=5000):
        window.locking.lock_now()


def test_a_mistyped_recovery_key_stays_typed_so_one_typo_can_be_fixed(qtbot, chatted, workspace):
    window = chatted
    lock_by_keyboard(qtbot, window)
    screen = window.locking.screen
    qtbot.mouseClick(screen.switch_button, Qt.MouseButton.LeftButton)
    key = recovery_text(DatabaseKeys(workspace.secrets).current())
    # one group's first letter wrong (the last letter may carry only padding bits)
    typo = key[:5] + ("Q" if key[5] != "Q" else "R") + key[6:]
    with qtbot.waitSignal(window.locking.refused, timeout=5000):
        type_into(qtbot, screen.field, typo)
    assert screen.field.text() == typo and screen.field.selectedText() == typo
    assert screen.problem.isVisible() and window.locking.is_locked
    qtbot.keyClick(screen.field, Qt.Key.Key_Home)
    for _ in range(6):
        qtbot.keyClick(screen.field, Qt.Key.Key_Right)
    qtbot.keyClick(screen.field, Qt.Key.Key_Backspace)
    with qtbot.waitSignal(window.locking.unlocked, timeout=5000):
        type_into(qtbot, screen.field, key[5])
    assert screen.field.text() == ""  # nothing typed stays behind the window
