"""The small things a person meets on a walk through the window: notices coloured by what
they say and gone with their conversation, a draft that stays with its conversation, a
search that says when nothing matches and clears with Esc, Preferences in the File menu,
"Stopping…" at once, a font size that stays readable, the model manager's first view, and
an add-server dialog wide enough for a whole pin."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from strongroom.ui.common import theme
from strongroom.ui.settings.servers_page import AddServerDialog
from tests.helpers.window import ANSWER_TIMEOUT_MS, send

pytestmark = pytest.mark.model




def test_a_success_is_green_and_notices_go_with_their_conversation(qtbot, active_window, tmp_path):
    window = active_window
    send(qtbot, window, "Hello.")
    first = window.conversation_id
    window.dialogs.export_conversation(tmp_path / "chat.md", "md")
    assert window.notice.text.startswith("Exported to") and window.notice.property("level") == "success"
    window.show_notice("Something about this conversation went wrong.")
    window.new_conversation()
    assert window.notice.text == ""  # gone with its conversation…
    window.open_conversation(first)
    assert window.notice.text == ""  # …for good
    window.show_notice("The audit log cannot be written.", lasting=True)
    window.new_conversation()
    assert window.notice.text == "The audit log cannot be written."  # about the window: stays


def test_a_draft_stays_with_its_conversation(qtbot, active_window):
    window = active_window
    send(qtbot, window, "Hello.")
    first = window.conversation_id
    qtbot.keyClicks(window.input, "half a thought")
    qtbot.keyClick(window.input, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.conversation_id != first and window.input.toPlainText() == ""
    window.conversations.select(first)
    assert window.input.toPlainText() == "half a thought"


def test_search_says_when_nothing_matches_and_esc_clears_it(qtbot, active_window):
    window = active_window
    send(qtbot, window, "Hello.")
    panel = window.conversations
    panel.search_box.setFocus()
    qtbot.keyClicks(panel.search_box, "zebra crossing")
    assert panel.no_matches.isVisible()
    assert "No conversation matches “zebra crossing”" in panel.no_matches.text()
    qtbot.keyClick(panel.search_box, Qt.Key.Key_Escape)
    assert panel.search_box.text() == "" and not panel.no_matches.isVisible()
    assert panel.model.rowCount() == 1


def test_preferences_are_in_the_file_menu(active_window):
    file_menu = active_window.menuBar().actions()[0].menu()
    texts = [a.text().replace("&", "") for a in file_menu.actions()]
    assert "Preferences…" in texts
    assert active_window.actions_by_text["Preferences…"].shortcut().toString() == "Ctrl+,"


def test_stopping_says_so_at_once(qtbot, active_window):
    window = active_window
    window.settings.update({"max_tokens": 2000, "temperature": 0.8})
    window.input.setPlainText("Write a very long story about a lighthouse keeper.")
    with qtbot.waitSignal(window.answerStarted, timeout=ANSWER_TIMEOUT_MS):
        window.send()
    answer = window.chat_view.messages[-1]
    assert answer.detail.text() == "Writing…"
    with qtbot.waitSignal(window.answerCompleted, timeout=ANSWER_TIMEOUT_MS):
        window.stop()
        assert answer.detail.text() == "Stopping…"
    assert "Writing" not in window.chat_view.messages[-1].detail.text()


def test_the_font_size_stays_readable(workspace, qapp):
    path = workspace.paths.settings_file
    stored = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**stored, "font_size": 3}))
    from strongroom.core.settings import Settings

    settings = Settings(path)
    assert settings["font_size"] == 0 and "must be 0 (desktop's size) or from 8 to 32" in settings.problems[0]
    app = QApplication.instance()
    theme.apply_appearance(app, "light", 2)  # an odd desktop default is not used either
    assert app.font().pointSize() == 8
    theme.apply_appearance(app, "light", 200)
    assert app.font().pointSize() == 32
    theme.apply_appearance(app, "light", 0)
    assert theme.zoomed(8, -1) == 8


def test_the_pin_field_shows_a_whole_fingerprint(qtbot):
    dialog = AddServerDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    pin = "ab" * 32
    dialog.pin.setText(pin)
    metrics = dialog.pin.fontMetrics()
    assert dialog.pin.width() >= metrics.horizontalAdvance(pin)


def test_while_a_long_message_is_read_it_says_how_far_and_esc_stops_it(qtbot, open_window,
                                                                       workspace, stored_model):
    from tests.helpers.audit_logs import entries_of

    workspace.settings.update({"context_length": 4096, "max_tokens": 16, "temperature": 0.0})
    window = open_window()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    clauses = " ".join(f"Clause {i}: the tenant pays the rent on day {i % 28 + 1}."
                       for i in range(200))
    window.input.setPlainText(f"{clauses}\nWhich day is the rent due?")
    window.send()
    answer = window.chat_view.messages[-1]
    qtbot.waitUntil(lambda: answer.detail.text().startswith("Reading your message: "),
                    timeout=ANSWER_TIMEOUT_MS)
    words = answer.detail.text()  # "Reading your message: 1,234 of 2,345 tokens… Stop (Esc)…"
    total = int(words.split(" of ")[1].split(" tokens")[0].replace(",", ""))
    assert words.endswith(f"of {total:,} tokens… Stop (Esc) stops it")
    assert window.send_button.text() == "Stop" and window.send_button.isEnabled()
    with qtbot.waitSignal(window.answerCompleted, timeout=ANSWER_TIMEOUT_MS) as finished:
        qtbot.keyClick(window.input, Qt.Key.Key_Escape)
    assert finished.args[0].stats.finish_reason == "stopped while reading"
    assert "Stopped while the model was reading your message" in window.notice.text
    assert window.send_button.text() == "Send"
    last = [e for e in entries_of(workspace.paths.audit_log) if e["event"] == "inference"][-1]
    assert last["details"]["outcome"] == "stopped while reading the prompt"
    assert last["details"]["prompt_tokens"] == total
