"""Each message's actions from the keyboard: Alt+Left/Right through its versions, Shift+F10
(the menu key is the X suite's: only real X events make it) for Copy, Edit and versions, the shortcut list naming them, line breaks
typed with Shift+Enter kept in your bubble, "Copied", and the message being edited marked."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMenu

from strongroom.ui.window.menus import shortcut_lines
from tests.helpers.window import ANSWER_TIMEOUT_MS, send

pytestmark = pytest.mark.model

ALT = Qt.KeyboardModifier.AltModifier


def regenerate(qtbot, window):
    with qtbot.waitSignal(window.answerCompleted, timeout=ANSWER_TIMEOUT_MS) as finished:
        qtbot.keyClick(window.input, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    return finished.args[0].text


def with_menu(qtbot, window, open_menu, choose: str | None = None) -> list[str]:
    """Open a message's menu with ``open_menu``; return its entries, choosing ``choose``."""
    seen: list[str] = []

    def inspect():
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            QTimer.singleShot(10, inspect)
            return
        seen.extend(a.text() for a in menu.actions() if a.isEnabled())
        chosen = next((a for a in menu.actions() if a.text() == choose), None)
        if chosen is not None:
            menu.setActiveAction(chosen)
            qtbot.keyClick(menu, Qt.Key.Key_Return)
        else:
            qtbot.keyClick(menu, Qt.Key.Key_Escape)

    QTimer.singleShot(0, inspect)
    open_menu()
    qtbot.waitUntil(lambda: bool(seen) and QApplication.activePopupWidget() is None)
    window.activateWindow()  # a window manager gives it back; the offscreen platform does not
    qtbot.waitUntil(window.isActiveWindow)
    return seen


def test_alt_left_and_right_switch_versions_of_the_focused_answer(qtbot, active_window):
    window = active_window
    first = send(qtbot, window, "Say hello.").text
    window.settings.update({"temperature": 1.5, "max_tokens": 24})
    second = regenerate(qtbot, window)
    view = window.chat_view
    assert view.messages[1].alternative_label.text() == "2/2"
    # from the message box: the last message that has versions
    qtbot.keyClick(window.input, Qt.Key.Key_Left, ALT)
    assert view.messages[1].text == first and view.messages[1].alternative_label.text() == "1/2"
    qtbot.keyClick(window.input, Qt.Key.Key_Right, ALT)
    assert view.messages[1].text == second
    # from the answer itself: the keyboard stays on it after it is drawn again
    view.messages[1].body.setFocus()
    qtbot.keyClick(view.messages[1].body, Qt.Key.Key_Left, ALT)
    assert view.messages[1].text == first
    assert view.focused_message() is view.messages[1]
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Left, ALT)  # nothing before the first
    assert view.messages[1].alternative_label.text() == "1/2"


def test_shift_f10_offers_copy_edit_and_versions(qtbot, active_window):
    window = active_window
    send(qtbot, window, "Name a colour.")
    window.settings.update({"temperature": 1.5, "max_tokens": 16})
    regenerate(qtbot, window)
    question, answer = window.chat_view.messages
    question.body.setFocus()
    entries = with_menu(qtbot, window, lambda: qtbot.keyClick(question.body, Qt.Key.Key_F10,
                                                      Qt.KeyboardModifier.ShiftModifier),
                        "&Edit and send again")
    assert entries == ["&Copy", "&Edit and send again"]
    assert window.editing is not None and window.input.toPlainText() == "Name a colour."
    assert question.property("editing") and "editing" in question.detail.text()
    qtbot.keyClick(window.input, Qt.Key.Key_Escape)
    assert window.editing is None and not question.property("editing")

    answer.body.setFocus()
    entries = with_menu(qtbot, window, lambda: qtbot.keyClick(answer.body, Qt.Key.Key_F10,
                                                      Qt.KeyboardModifier.ShiftModifier),
                        "&Previous version\tAlt+Left")
    assert entries == ["&Copy", "&Previous version\tAlt+Left"]  # Next is off at the last
    assert window.chat_view.messages[1].alternative_label.text() == "1/2"
    answer = window.chat_view.messages[1]
    answer.body.setFocus()
    with_menu(qtbot, window, lambda: qtbot.keyClick(answer.body, Qt.Key.Key_F10,
                                            Qt.KeyboardModifier.ShiftModifier), "&Copy")
    assert QGuiApplication.clipboard().text() == answer.text
    assert answer.copy_button.text() == "Copied"
    qtbot.waitUntil(lambda: answer.copy_button.text() == "Copy", timeout=5000)


def test_the_shortcut_list_names_the_message_actions(active_window):
    text = "\n".join(shortcut_lines(active_window))
    for words in ("Alt+Left", "Alt+Right", "Previous version of a message",
                  "Next version of a message", "Shift+F10", "Menu of the message",
                  "Menu key", "Copy, Edit and send again"):
        assert words in text


def test_lines_typed_with_shift_enter_stay_lines_in_your_bubble(qtbot, active_window):
    window = active_window
    qtbot.keyClicks(window.input, "first line")
    qtbot.keyClick(window.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(window.input, "second line")
    with qtbot.waitSignal(window.answerCompleted, timeout=ANSWER_TIMEOUT_MS):
        qtbot.keyClick(window.input, Qt.Key.Key_Return)
    mine = window.chat_view.messages[0]
    assert mine.text == "first line\nsecond line"  # stored as typed
    assert mine.body.toPlainText().splitlines() == ["first line", "second line"]
