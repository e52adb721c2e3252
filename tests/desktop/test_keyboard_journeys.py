"""The journeys a person makes with the keyboard alone, in the real window on a real X
display with a window manager, typed with xdotool: first start's keys on a dark GTK
desktop, a question and its versions, the import wizard, and the audit viewer."""

from __future__ import annotations

import json

import pytest

from strongroom.core.workspace import Workspace
from tests.helpers.window import FAST_SETTINGS

pytestmark = pytest.mark.model

DARK_GTK = {"QT_QPA_PLATFORMTHEME": "gtk3", "GTK_THEME": "Adwaita:dark"}


def fast_settings(home) -> None:
    home.config_dir.mkdir(parents=True, exist_ok=True)
    home.settings_file.write_text(json.dumps(FAST_SETTINGS))


def is_a(name: str, what: str = "modal") -> str:
    return f"{what} is not None and type({what}).__name__ == {name!r}"


def test_first_start_keys_on_a_dark_gtk_desktop_then_a_question_and_its_versions(
        x_app, home, stored_model, tmp_path):
    fast_settings(home)
    app = x_app(env=DARK_GTK, wait_for=is_a("RecoveryKeyDialog"))
    app.key("alt+s")  # ticks "I have stored the key…" and takes the keyboard there
    app.wait_for("modal.confirmed.isChecked() and focus is modal.confirmed")
    app.key("Return")  # GNOME's theme would tick the box again; here it closes the dialog
    app.wait_for(is_a("AuditKeyDialog"))  # the second key, only once the first is stored
    app.key("alt+s")
    app.wait_for("modal.confirmed.isChecked() and focus is modal.confirmed")
    app.key("Return")
    app.wait_for("modal is None")
    assert app.ask("main.workspace.chats_recovery_text is None")
    assert app.ask("main.workspace.audit.pending_key() is None")
    assert app.ask("main.workspace.audit.log.key_display().where") == "window"
    app.server.screenshot(tmp_path / "after-keys.png")

    app.wait_for("main.loaded is not None", timeout=120)
    app.key("ctrl+l")
    app.type("What is the capital of France?")
    app.key("Return")
    app.wait_for("len(main.chat_view.messages) == 2 and not main.generating", timeout=120)
    app.key("ctrl+r")  # ask again: the first answer is kept as a version
    app.wait_for("not main.generating and main.chat_view.messages[1].has_versions()", timeout=120)
    assert app.ask("main.chat_view.messages[1].alternative_label.text()") == "2/2"
    app.key("alt+Left")
    app.wait_for("main.chat_view.messages[1].alternative_label.text() == '1/2'")
    app.key("shift+Tab", "shift+Tab")  # from the message box back into the last message
    app.wait_for("main.chat_view.focused_message() is main.chat_view.messages[1]")
    app.key("Menu")  # the keyboard's menu key, a real X event
    menu = app.wait_for("popup is not None and texts(popup)")
    assert menu[0] == "&Copy" and "&Next version\tAlt+Right" in menu
    app.key("Escape")
    app.wait_for("popup is None")
    app.key("shift+F10")
    app.wait_for("popup is not None")
    app.key("Escape")
    app.key("alt+Right")
    app.wait_for("main.chat_view.messages[1].alternative_label.text() == '2/2'")


def test_the_import_wizard_from_the_keyboard_enter_always_goes_forward(x_app, home, demo_drive):
    fast_settings(home)
    with Workspace.open(home) as workspace:  # keys already taken away
        workspace.confirm_recovery_key_stored()
        workspace.audit.key_shown("terminal")
        workspace.audit.log.mark_told_in_window()
    app = x_app()
    app.key("ctrl+i")
    app.wait_for(is_a("ImportWizardDialog"))
    app.key("alt+c")  # Choose a folder…
    app.wait_for(is_a("QFileDialog"))
    app.type(str(demo_drive))
    app.key("Return")
    app.wait_for(is_a("ImportWizardDialog") + " and modal.logic.drive is not None")
    app.key("Return")  # Next: the models
    app.wait_for("modal.currentId() == 1")
    app.key("Return")  # Next: verification
    app.wait_for("modal.currentId() == 2 and not modal.currentPage().cancel_button.isEnabled()",
                 timeout=120)
    app.key("Return")  # verified: on to the review, never back to the models
    assert app.wait_for("modal.currentId() in (1, 3) and modal.currentId()") == 3
    app.key("Return")  # Import
    app.wait_for("modal.currentId() == 5", timeout=120)
    app.key("Return")  # Finish
    app.wait_for("modal is None")
    assert app.ask("list(main.models.catalog.staged)") == ["SmolLM2-135M-Instruct"]


def test_the_audit_viewer_from_the_keyboard_on_a_1366_by_768_screen(x_app, home, stored_model):
    fast_settings(home)
    with Workspace.open(home) as workspace:
        key = workspace.audit.pending_key()
        workspace.confirm_recovery_key_stored()
        workspace.audit.key_shown("terminal")
    app = x_app(wait_for=is_a("QMessageBox"))  # once: where the key was shown, and its fingerprint
    assert "shown on a terminal" in app.ask("modal.text()")
    app.key("Return")
    app.wait_for("modal is None")
    app.key("ctrl+shift+a")
    app.wait_for(is_a("AuditViewer", "active") + " and active.index.complete")
    frame = app.ask("[active.frameGeometry().right(), active.frameGeometry().bottom()]")
    assert frame[0] < 1366 and frame[1] < 768
    assert app.ask("active.statusBar().isVisible() and "
                   "active.mapToGlobal(active.statusBar().geometry().bottomLeft()).y() < 768")
    app.key("alt+v")  # to the key field
    app.wait_for("focus is active.controls.key")
    app.type(key)
    assert app.ask("active.controls.key.echoMode().name") == "Password"
    app.key("alt+w")  # show it, to check it against the printed one
    app.wait_for("active.controls.key.echoMode().name == 'Normal'")
    app.key("alt+v", "Return")  # Enter validates
    app.wait_for("active.controls.banner.property('state') == 'ok'", timeout=120)
    banner = app.ask("active.controls.banner.text()")
    assert "The log holds" in banner and "validate again" not in banner
    app.key("alt+f", "Down", "Down")  # choosing an event filters at once
    app.wait_for("active.model.rows is not None")
    app.key("Escape")  # closes the viewer
    app.wait_for("not any(type(w).__name__ == 'AuditViewer' and w.isVisible() "
                 "for w in main.children())", timeout=30)
