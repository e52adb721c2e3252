"""The auditor's viewer: rows on demand, filters, prompt search, validation and reports."""

import json

import pytest
from PySide6.QtCore import Qt
from strongroom.ui.audit_viewer import AuditViewer

from tests.helpers.audit_logs import read_lines, write_lines, write_log

TIMEOUT_MS = 60_000


@pytest.fixture
def logged(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=300)
    log.append("model_load", {"file": "x.gguf"}, model_id="other-model")
    log.close()
    return path, key


@pytest.fixture
def viewer(qtbot, logged):
    path, _ = logged
    window = AuditViewer(path)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.index.complete and window.model.rowCount() == 302, timeout=TIMEOUT_MS)
    yield window
    window.close()


def test_rows_show_the_entries(viewer):
    model = viewer.model
    assert model.data(model.index_of(0, 4)) == "audit log created"  # in words
    assert model.data(model.index_of(0, 4), Qt.ItemDataRole.ToolTipRole) == "audit_created"
    assert model.data(model.index_of(1, 3)) == "alice"
    assert model.data(model.index_of(1, 5)) == "demo"
    viewer.table.setCurrentIndex(model.index_of(5))
    assert json.loads(viewer.detail.toPlainText())["seq"] == 5


def test_filters_and_the_prompt_search(qtbot, viewer):
    viewer.event_filter.setCurrentIndex(viewer.event_filter.findData("model_load"))
    with qtbot.waitSignal(viewer.filtered, timeout=TIMEOUT_MS) as found:
        viewer.apply_filter()
    assert found.args == [1]
    viewer.event_filter.setCurrentIndex(0)
    viewer.model_filter.setText("DEMO")
    with qtbot.waitSignal(viewer.filtered, timeout=TIMEOUT_MS) as found:
        viewer.apply_filter()
    assert found.args == [300]
    viewer.model_filter.clear()
    viewer.prompt.setText("prompt 42")
    with qtbot.waitSignal(viewer.filtered, timeout=TIMEOUT_MS) as found:
        viewer.find_prompt()
    assert found.args == [1] and viewer.model.entry(0)["details"]["n"] == 42
    viewer.prompt.setText("a prompt nobody asked")
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
    window.key.setText(key)
    with qtbot.waitSignal(window.validated, timeout=TIMEOUT_MS) as done:
        window.validate()
    report = done.args[0]
    assert not report.ok and report.first_break.line == 121
    assert "BROKEN at line 121" in window.banner.text()
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
    viewer.key.setText("0000-not-a-key")
    viewer.validate()
    assert "not an audit verification key" in viewer.banner.text()


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
    window.prompt.setText("Does patient X have HIV?")
    with qtbot.waitSignal(window.filtered, timeout=TIMEOUT_MS) as found:
        qtbot.keyClick(window.prompt, Qt.Key.Key_Return)  # Enter searches
    assert found.args == [0] and "Enter the audit verification key" in window.banner.text()
    window.key.setText(key)
    with qtbot.waitSignal(window.filtered, timeout=TIMEOUT_MS) as found:
        window.find_prompt()
    assert found.args == [1] and window.model.entry(0)["event"] == fmt.STARTED
    window.close()


def test_the_banner_says_what_was_checked(qtbot, viewer, logged):
    path, key = logged
    with qtbot.waitSignal(viewer.validated, timeout=TIMEOUT_MS):
        viewer.validate()
    assert viewer.banner.property("state") == "partial"  # not green without the key
    assert "without the audit verification key" in viewer.banner.text()
    viewer.key.setText(key)
    with qtbot.waitSignal(viewer.validated, timeout=TIMEOUT_MS):
        viewer.validate()
    assert viewer.banner.property("state") == "ok" and "every entry's MAC" in viewer.banner.text()


def test_recorded_text_opens_only_with_the_verification_key(qtbot, tmp_path):
    """Text recorded with the setting on is sealed: the viewer shows it once the auditor
    types the key, and never without it."""
    from strongroom.core.audit import keys
    from strongroom.core.audit.events import Auditor
    from strongroom.core.audit.writer import AuditLog
    from strongroom.ui.audit_viewer import AuditViewer

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
    viewer.key.setText(key)
    assert "Prompt (opened with the verification key):\nDoes patient 12 need surgery?" in \
        viewer.detail.toPlainText()
    viewer.key.setText(keys.key_to_text(bytes(32)))
    assert "does not open with this key" in viewer.detail.toPlainText()
    viewer.close()
