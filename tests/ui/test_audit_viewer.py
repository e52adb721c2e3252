"""The auditor's viewer: rows on demand, filters, prompt search, validation and reports."""

import json
from datetime import datetime, timedelta, timezone

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from strongroom.core.audit import keys
from strongroom.core.audit.writer import AuditLog
from strongroom.ui.audit.viewer import AuditViewer
from tests.helpers.audit_logs import VIEWER_TIMEOUT_MS as TIMEOUT_MS
from tests.helpers.audit_logs import file_secrets, read_lines, write_lines, write_log


def test_rows_show_the_entries(viewer):
    model = viewer.model
    assert model.data(model.index_of(0, 4)) == "audit log created"  # in words
    assert model.data(model.index_of(0, 4), Qt.ItemDataRole.ToolTipRole) == "audit_created"
    assert model.data(model.index_of(1, 3)) == "alice"
    assert model.data(model.index_of(1, 5)) == "demo"
    viewer.table.setCurrentIndex(model.index_of(5))
    assert recorded_entry(viewer)["seq"] == 5


def test_filters_and_the_prompt_search(qtbot, viewer):
    viewer.controls.event_filter.setCurrentIndex(viewer.controls.event_filter.findData("model_load"))
    with qtbot.waitSignal(viewer.filtered, timeout=TIMEOUT_MS) as found:
        viewer.apply_filter()
    assert found.args == [1]
    viewer.controls.event_filter.setCurrentIndex(0)
    viewer.controls.model_filter.setText("DEMO")
    with qtbot.waitSignal(viewer.filtered, timeout=TIMEOUT_MS) as found:
        viewer.apply_filter()
    assert found.args == [300]
    viewer.controls.model_filter.clear()
    viewer.controls.prompt.setText("prompt 42")
    with qtbot.waitSignal(viewer.filtered, timeout=TIMEOUT_MS) as found:
        viewer.find_prompt()
    assert found.args == [1] and viewer.model.entry(0)["details"]["n"] == 42
    viewer.controls.prompt.setText("a prompt nobody asked")
    with qtbot.waitSignal(viewer.filtered, timeout=TIMEOUT_MS) as found:
        viewer.find_prompt()
    assert found.args == [0]


def test_validation_with_the_key_finds_and_shows_a_break(qtbot, logged, tmp_path):
    path, key = logged
    lines = read_lines(path)
    lines[120] = lines[120].replace(b'"completion_tokens": 20', b'"completion_tokens": 2000')
    write_lines(path, lines)
    window = AuditViewer(path)
    qtbot.addWidget(window)
    window.show()
    window.controls.key.setText(key)
    with qtbot.waitSignal(window.validated, timeout=TIMEOUT_MS) as done:
        window.validate()
    report = done.args[0]
    assert not report.ok and report.first_break.line == 121
    assert "BROKEN at line 121" in window.controls.banner.text()
    qtbot.waitUntil(lambda: window.index.complete, timeout=TIMEOUT_MS)
    window.go_to_first_break()
    assert window.table.currentIndex().row() == 120
    assert window.model.data(window.model.index_of(120), 8) is not None
    from PySide6.QtCore import Qt

    assert window.model.data(window.model.index_of(120), Qt.ItemDataRole.BackgroundRole) is not None
    window.export_report(tmp_path / "report.html")
    window.export_report(tmp_path / "report.json")
    assert "BROKEN at line 121" in (tmp_path / "report.html").read_text()
    assert json.loads((tmp_path / "report.json").read_text())["breaks"][0]["line"] == 121
    window.close()


def test_a_bad_key_is_explained(qtbot, viewer):
    viewer.controls.key.setText("0000-not-a-key")
    viewer.validate()
    assert "not an audit verification key" in viewer.controls.banner.text()


def test_keyed_prompt_digests_need_the_key_to_be_searched(qtbot, tmp_path):
    """Format-2 answers record keyed digests: without the key the viewer says so and finds
    nothing; with it, it finds the answer, whatever day (epoch) it was asked on."""
    from strongroom.core.audit import format as fmt
    from tests.helpers.audit_logs import Clock

    path = tmp_path / "audit.log"
    clock = Clock()
    log, key = write_log(path, entries=2, clock=clock)
    clock.next_day()
    log.append(fmt.STARTED, {}, model_id="demo", digests={"prompt_hash": "Does patient X have HIV?"})
    log.close()
    window = AuditViewer(path)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.index.complete, timeout=TIMEOUT_MS)
    window.controls.prompt.setText("Does patient X have HIV?")
    with qtbot.waitSignal(window.filtered, timeout=TIMEOUT_MS) as found:
        qtbot.keyClick(window.controls.prompt, Qt.Key.Key_Return)  # Enter searches
    assert found.args == [0] and "Enter the audit verification key" in window.controls.banner.text()
    window.controls.key.setText(key)
    with qtbot.waitSignal(window.filtered, timeout=TIMEOUT_MS) as found:
        window.find_prompt()
    assert found.args == [1] and window.model.entry(0)["event"] == fmt.STARTED
    window.close()


def test_the_banner_says_what_was_checked(qtbot, viewer, logged, tmp_path):
    """Chain only without the key (amber), the MACs with the key named by its fingerprint
    (green), and the checkpoint when one is given."""
    path, key = logged
    shown = keys.show_fingerprint(keys.key_fingerprint(keys.key_from_text(key)))
    with qtbot.waitSignal(viewer.validated, timeout=TIMEOUT_MS):
        viewer.validate()
    assert viewer.controls.banner.property("state") == "partial"  # not green without the key
    assert viewer.controls.banner.text().startswith("Checked: chain only. The chain holds for what could be "
                                           "checked without the audit verification key: 302 entries.")
    viewer.controls.key.setText(key)
    with qtbot.waitSignal(viewer.validated, timeout=TIMEOUT_MS):
        viewer.validate()
    assert viewer.controls.banner.property("state") == "ok"
    assert viewer.controls.banner.text() == (f"Checked: chain + MACs with key {shown}. The log holds: "
                                    "302 entries, each as it was written.")
    assert "every entry's MAC" in viewer.controls.banner.toolTip()  # the details, one line each

    log = AuditLog(path, file_secrets(path.parent / "secrets")).open()
    checkpoint = tmp_path / "checkpoint.json"
    checkpoint.write_text(json.dumps(log.checkpoint()))
    log.close()
    viewer.controls.checkpoint_path.setText(str(checkpoint))
    with qtbot.waitSignal(viewer.validated, timeout=TIMEOUT_MS):
        viewer.validate()
    assert viewer.controls.banner.property("state") == "ok"
    assert viewer.controls.banner.text().startswith(f"Checked: chain + MACs with key {shown} + checkpoint. "
                                           f"The log holds: {len(read_lines(path))} entries")
    assert "The checkpoint matches." in viewer.controls.banner.text()
    viewer.controls.key.clear()
    with qtbot.waitSignal(viewer.validated, timeout=TIMEOUT_MS):
        viewer.validate()
    assert viewer.controls.banner.property("state") == "partial"
    assert viewer.controls.banner.text().startswith("Checked: chain + checkpoint. ")


def test_a_key_for_another_log_is_red_and_checks_the_chain_only(qtbot, viewer):
    viewer.controls.key.setText(keys.key_to_text(bytes(32)))
    with qtbot.waitSignal(viewer.validated, timeout=TIMEOUT_MS):
        viewer.validate()
    assert viewer.controls.banner.property("state") == "bad"
    assert viewer.controls.banner.text().startswith("This key does not belong to this log")
    assert "Checked: chain only." in viewer.controls.banner.text()


def test_the_exported_report_says_when_and_with_which_key(qtbot, viewer, logged, tmp_path):
    _, key = logged
    with qtbot.waitSignal(viewer.validated, timeout=TIMEOUT_MS):
        viewer.validate()
    viewer.export_report(tmp_path / "plain.json")
    viewer.export_report(tmp_path / "plain.html")
    plain = json.loads((tmp_path / "plain.json").read_text())
    made = datetime.fromisoformat(plain["created_at"])
    assert made.utcoffset() == timedelta(0)  # UTC, in ISO form
    assert abs(datetime.now(timezone.utc) - made) < timedelta(minutes=5)
    assert plain["key_fingerprint"] is None and plain["key_used"] == "no key was used"
    assert plain["scope"] == "chain only"
    html = (tmp_path / "plain.html").read_text()
    assert f"Report created {plain['created_at']} (UTC)" in html
    assert "Checked: chain only." in html and "Key: no key was used." in html

    viewer.controls.key.setText(key)
    with qtbot.waitSignal(viewer.validated, timeout=TIMEOUT_MS):
        viewer.validate()
    viewer.export_report(tmp_path / "keyed.json")
    viewer.export_report(tmp_path / "keyed.html")
    keyed = json.loads((tmp_path / "keyed.json").read_text())
    fingerprint = keys.key_fingerprint(keys.key_from_text(key))
    assert keyed["key_fingerprint"] == fingerprint
    assert keyed["scope"] == f"chain + MACs with key {keys.show_fingerprint(fingerprint)}"
    assert (f"Key: the audit verification key with fingerprint {keys.show_fingerprint(fingerprint)}."
            in (tmp_path / "keyed.html").read_text())


def test_on_the_workstation_the_banner_names_its_own_key(qtbot, tmp_path):
    """Without the verification key, the viewer opened from the app checks the current
    epoch with the key kept on this computer and says so; the validation it records is
    counted as written since."""
    from strongroom.core.audit.events import Auditor

    path = tmp_path / "audit.log"
    auditor = Auditor.open(AuditLog(path, file_secrets(tmp_path / "secrets")))
    auditor.app_start("test")
    epoch = auditor.log.local_evidence().epoch
    window = AuditViewer(path, auditor)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.index.complete and window.model.rowCount() == 2, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(window.indexed, timeout=TIMEOUT_MS, check_params_cb=lambda n: n == 3):
        with qtbot.waitSignal(window.validated, timeout=TIMEOUT_MS) as done:
            window.validate()
    assert done.args[0].ok and done.args[0].key_fingerprint is None
    assert window.controls.banner.property("state") == "partial"
    assert window.controls.banner.text().startswith(
        f"Checked: chain + epoch {epoch}'s MACs with this computer's key. ")
    # the record of this validation is said to be that, never news to validate again
    assert window.controls.banner.text().endswith("This validation is recorded as entry 3.")
    assert "validate again" not in window.controls.banner.text()
    assert window.model.data(window.model.index_of(2, 4)) == "audit log validated"
    window.close()
    auditor.close()


def recorded_entry(viewer) -> dict:
    """The entry the detail pane shows, as recorded (under its description in words)."""
    return json.loads(viewer.detail.toPlainText().split("The entry as recorded:\n", 1)[1])


def test_events_are_offered_in_words_and_enter_filters(qtbot, viewer):
    combo = viewer.controls.event_filter
    at = combo.findData("model_load")
    assert combo.itemText(at) == "model loaded"
    assert combo.itemData(at, Qt.ItemDataRole.ToolTipRole) == "model_load"
    assert all(combo.itemText(i) != combo.itemData(i) for i in range(1, combo.count()))
    viewer.controls.model_filter.setText("other")
    with qtbot.waitSignal(viewer.filtered, timeout=TIMEOUT_MS) as found:
        qtbot.keyClick(viewer.controls.model_filter, Qt.Key.Key_Return)
    assert found.args == [1] and viewer.model.entry(0)["event"] == "model_load"
    assert viewer.count.text() == "1 matching entries of 302"


def test_recorded_text_opens_only_with_the_verification_key(qtbot, tmp_path):
    """Text recorded with the setting on is sealed: the viewer shows it once the auditor
    types the key, and never without it."""
    from strongroom.core.audit import keys
    from strongroom.core.audit.events import Auditor
    from strongroom.core.audit.writer import AuditLog
    from strongroom.ui.audit.viewer import AuditViewer
    from tests.helpers.audit_logs import file_secrets

    log = AuditLog(tmp_path / "audit.log", file_secrets(tmp_path / "secrets")).open()
    key = log.created_key_text
    auditor = Auditor.open(log)
    auditor.app_start("test")
    sealed = auditor._sealed("Does patient 12 need surgery?")
    auditor._append("app_stop", {"note": "x", "prompt_sealed": sealed})
    auditor.close()
    assert "patient 12" not in (tmp_path / "audit.log").read_text()
    viewer = AuditViewer(tmp_path / "audit.log")
    qtbot.addWidget(viewer)
    viewer.show()
    qtbot.waitUntil(lambda: viewer.model.rowCount() == 3, timeout=10_000)
    viewer.table.setCurrentIndex(viewer.model.index_of(2))
    assert "patient 12" not in viewer.detail.toPlainText()
    viewer.controls.key.setText(key)
    assert "Prompt (opened with the verification key):\nDoes patient 12 need surgery?" in \
        viewer.detail.toPlainText()
    viewer.controls.key.setText(keys.key_to_text(bytes(32)))
    assert "does not open with this key" in viewer.detail.toPlainText()
    viewer.close()


def test_filters_see_every_entry_of_a_log_of_many_megabytes(qtbot, tmp_path):
    """Filters read the log in large blocks: every line of each block is looked at (a log of
    several megabytes in the reference logger's form)."""
    import hashlib

    from tests.helpers.audit_logs import ReferenceAuditLogger

    path = tmp_path / "reference.log"
    logger = ReferenceAuditLogger(str(path))
    for n in range(12_000):
        logger.log_inference("bob" if n % 3 == 0 else "alice",
                             hashlib.sha256(f"prompt {n}".encode()).hexdigest(), 20, 100.0, "demo")
    assert path.stat().st_size > 3 << 20
    window = AuditViewer(path)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.index.complete and window.model.rowCount() == 12_000,
                    timeout=TIMEOUT_MS)
    window.controls.user_filter.setText("bob")
    with qtbot.waitSignal(window.filtered, timeout=TIMEOUT_MS) as found:
        window.apply_filter()
    assert found.args == [4_000] and window.count.text() == "4,000 matching entries of 12,000"
    window.controls.user_filter.clear()
    window.controls.prompt.setText("prompt 11998")
    with qtbot.waitSignal(window.filtered, timeout=TIMEOUT_MS) as found:
        window.find_prompt()
    assert found.args == [1] and window.model.line_of(0) == 11_998
    window.close()


def test_from_the_keyboard_the_key_shows_enter_validates_and_esc_closes(qtbot, logged):
    path, key = logged
    window = AuditViewer(path)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow() and window.index.complete, timeout=TIMEOUT_MS)
    window.controls.key.setFocus()
    qtbot.keyClicks(window.controls.key, key)
    assert window.controls.key.echoMode() == QLineEdit.EchoMode.Password
    qtbot.keyClick(window.controls.key, Qt.Key.Key_Tab)  # Show comes next (Alt+W: the X suite's)
    assert window.controls.show_key.hasFocus()
    qtbot.keyClick(window.controls.show_key, Qt.Key.Key_Space)
    assert window.controls.show_key.isChecked() and window.controls.key.echoMode() == QLineEdit.EchoMode.Normal
    window.controls.key.setFocus()
    with qtbot.waitSignal(window.validated, timeout=TIMEOUT_MS) as done:
        qtbot.keyClick(window.controls.key, Qt.Key.Key_Return)
    assert done.args[0].ok and done.args[0].keyed
    qtbot.keyClick(window.table, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    assert not window.isVisible()
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window.table, Qt.Key.Key_Escape)
    assert not window.isVisible()


def test_choosing_an_event_filters_at_once_and_entries_read_in_words(qtbot, viewer):
    combo = viewer.controls.event_filter
    with qtbot.waitSignal(viewer.filtered, timeout=TIMEOUT_MS) as found:
        combo.setCurrentIndex(combo.findData("model_load"))
    assert found.args == [1]
    viewer.table.setCurrentIndex(viewer.model.index_of(0))
    words = viewer.detail.toPlainText().split("\n\nThe entry as recorded:")[0]
    assert words.startswith("Model loaded, 2026-") and " UTC, by alice" in words
    assert "  model: other-model" in words and "  file: x.gguf" in words
    assert "{" not in words and "epoch" not in words.lower()
    assert viewer.model.data(viewer.model.index_of(0, 4)) == "model loaded"


def test_the_viewer_keeps_its_foot_on_a_small_screen(qtbot, viewer):
    """It fits a 1366×768 screen (less the panel and title bar), its count in view (the X
    suite checks it on such a screen)."""
    from PySide6.QtGui import QGuiApplication

    needs = viewer.minimumSizeHint()
    assert needs.width() <= 1366 - 40 and needs.height() <= 768 - 60
    area = QGuiApplication.primaryScreen().availableGeometry()
    assert viewer.height() <= area.height()
    foot = viewer.count.mapTo(viewer, viewer.count.rect().bottomLeft())
    assert viewer.count.isVisible() and foot.y() <= viewer.height()
    assert viewer.count.text() == "302 entries"
