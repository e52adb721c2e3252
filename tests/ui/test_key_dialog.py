"""The audit key, for people: shown once in a dialog that closes only when the key is stored,
offering only places off this computer, with its fingerprint; and a log found altered shown
in red in the window."""

import os
import stat

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from strongroom.core.audit import keys
from strongroom.ui.common.key_dialog import AuditKeyDialog
from tests.helpers.audit_logs import read_lines, write_lines
from tests.helpers.window import answer_next_dialog

KEY = keys.key_to_text(bytes(range(32)))
FINGERPRINT = keys.key_fingerprint(bytes(range(32)))


def make_dialog(qtbot, tmp_path, *local):
    dialog = AuditKeyDialog(KEY, FINGERPRINT, "test files", (tmp_path, *local))
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_it_does_not_close_until_the_key_is_stored(qtbot, tmp_path):
    dialog = make_dialog(qtbot, tmp_path)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    dialog.close()
    assert dialog.isVisible() and "Store the key first" in dialog.status.text()
    dialog.confirmed.setChecked(True)
    assert ok.isEnabled()
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()


def test_it_shows_the_fingerprint(qtbot, tmp_path):
    dialog = make_dialog(qtbot, tmp_path)
    assert keys.show_fingerprint(FINGERPRINT) in dialog.fingerprint_label.text()
    assert KEY in dialog.page_text() and keys.show_fingerprint(FINGERPRINT) in dialog.page_text()


def test_it_will_not_save_the_key_on_this_computer(qtbot, tmp_path):
    dialog = make_dialog(qtbot, tmp_path)
    answer_next_dialog("OK")
    assert not dialog.save_to(tmp_path / "key.txt")  # the app's own file system
    assert not (tmp_path / "key.txt").exists()
    elsewhere = "/dev/shm" if os.stat("/dev/shm").st_dev != os.stat(tmp_path).st_dev else None
    if elsewhere:  # another file system stands in for a removable drive
        target = __import__("pathlib").Path(elsewhere) / f"strongroom-key-{os.getpid()}.txt"
        try:
            assert dialog.save_to(target) and KEY in target.read_text()
        finally:
            target.unlink(missing_ok=True)


def test_printing_sends_the_page_to_lp_on_its_standard_input(qtbot, tmp_path, monkeypatch):
    printed = tmp_path / "printed.txt"
    lp = tmp_path / "bin" / "lp"
    lp.parent.mkdir()
    lp.write_text(f"#!/bin/sh\ncat > {printed}\n")
    lp.chmod(lp.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{lp.parent}:{os.environ['PATH']}")
    dialog = make_dialog(qtbot, tmp_path)
    dialog.print_key()
    assert printed.read_text() == dialog.page_text()
    assert dialog.status.text() == "Sent to the printer."


def test_a_log_altered_while_closed_is_shown_in_red(qtbot, open_window, workspace, home):
    from strongroom.core.workspace import Workspace

    for _ in range(3):
        workspace.audit.app_start("test")
    workspace.close()
    write_lines(home.audit_log, read_lines(home.audit_log)[:-2])  # cut the tail
    cut = home.audit_log.read_bytes()
    reopened = Workspace.open(home)
    try:
        assert not reopened.audit.available and reopened.audit.tampering
        window = open_window(reopened, wait_for_model=False)
        assert window.status.audit_label.isVisible()
        assert "altered" in window.status.audit_label.text()
        assert "cut from the end" in window.notice.text
        window.input.setPlainText("Answer me anyway")
        window.send()
        assert "cut from the end" in window.notice.text and not window.generating
        window.close()
    finally:
        reopened.close()
    assert home.audit_log.read_bytes() == cut  # nothing was added to the altered log


def tick_and_press_return(qtbot, dialog) -> None:
    """As a person does it: Space ticks the box, Return closes the dialog."""
    dialog.confirmed.setFocus()
    qtbot.keyClick(dialog.confirmed, Qt.Key.Key_Space)
    assert dialog.confirmed.isChecked()
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        qtbot.keyClick(dialog.confirmed, Qt.Key.Key_Return)


def test_return_on_the_box_closes_the_dialog_and_never_unticks_it(qtbot, tmp_path):
    dialog = make_dialog(qtbot, tmp_path)
    dialog.confirmed.setFocus()
    qtbot.keyClick(dialog.confirmed, Qt.Key.Key_Return)  # not ticked yet: it says what to do
    assert dialog.isVisible() and not dialog.confirmed.isChecked()
    assert "Tick the box (Space)" in dialog.status.text()
    tick_and_press_return(qtbot, dialog)
    assert dialog.confirmed.isChecked() and not dialog.isVisible()


def test_first_start_shows_both_keys_one_after_the_other(qtbot, workspace):
    from PySide6.QtWidgets import QApplication

    from strongroom.core.chats.database_key import DatabaseKeys
    from strongroom.ui.common.key_dialog import AuditKeyDialog, RecoveryKeyDialog
    from strongroom.ui.window.start_keys import KeysAtStart

    recovery, audit_key = workspace.chats_recovery_text, workspace.audit.pending_key()
    assert recovery.startswith("SRCK-") and audit_key.startswith("SRAK-")
    keys_at_start = KeysAtStart(workspace)
    with qtbot.waitSignal(keys_at_start.shown, timeout=5000) as first:
        keys_at_start.start()
    dialog = first.args[0]
    qtbot.addWidget(dialog)
    assert isinstance(dialog, RecoveryKeyDialog) and dialog.key.text() == recovery
    visible = [w for w in QApplication.topLevelWidgets()
               if w.isVisible() and getattr(w, "key_text", None) in (recovery, audit_key)]
    assert visible == [dialog]  # never stacked
    dialog.close()
    assert dialog.isVisible()  # not before it is stored
    with qtbot.waitSignal(keys_at_start.shown, timeout=5000) as second:
        tick_and_press_return(qtbot, dialog)
    assert workspace.chats_recovery_text is None
    assert DatabaseKeys(workspace.secrets).unconfirmed_recovery_text() is None
    dialog = second.args[0]
    qtbot.addWidget(dialog)
    assert isinstance(dialog, AuditKeyDialog) and dialog.key.text() == audit_key
    with qtbot.waitSignal(keys_at_start.done, timeout=5000):
        tick_and_press_return(qtbot, dialog)
    assert workspace.audit.pending_key() is None
    assert workspace.audit.log.key_display().where == "window"
    entries = [__import__("json").loads(line) for line in read_lines(workspace.paths.audit_log)]
    assert [e["details"]["action"] for e in entries if e["event"] == "audit_key"] == \
        ["verification key shown"]
    again = KeysAtStart(workspace)
    with qtbot.waitSignal(again.done, timeout=5000):
        again.start()  # the next start: nothing left to show
    assert again.current is None


def test_a_key_shown_on_a_terminal_is_spoken_of_once_in_the_window(qtbot, workspace):
    from PySide6.QtWidgets import QMessageBox

    from strongroom.ui.window.start_keys import KeysAtStart

    workspace.confirm_recovery_key_stored()
    workspace.audit.key_shown("terminal")
    keys_at_start = KeysAtStart(workspace)
    with qtbot.waitSignal(keys_at_start.shown, timeout=5000) as shown:
        keys_at_start.start()
    box = shown.args[0]
    qtbot.addWidget(box)
    assert isinstance(box, QMessageBox)
    text = box.text()
    assert "shown on a terminal on" in text
    assert keys.show_fingerprint(workspace.audit.log.fingerprint) in text
    assert "strongroom audit new-log" in text and "SRAK-" not in text
    with qtbot.waitSignal(keys_at_start.done, timeout=5000):
        qtbot.keyClick(box, Qt.Key.Key_Return)
    again = KeysAtStart(workspace)
    with qtbot.waitSignal(again.done, timeout=5000):
        again.start()  # said once
