"""Model → Manage models…: the reference update procedure in the window, on the demo
model: a second version is smoke-tested on the engine thread, promoted (the window loads
it), rolled back, retired and removed; promoting untested asks first."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from PySide6.QtCore import Qt

from strongroom.core.store.lifecycle import Lifecycle
from strongroom.core.transfer.drive import open_drive
from tests.helpers.audit_logs import entries_of
from tests.helpers.window import ANSWER_TIMEOUT_MS, answer_next_dialog


@pytest.fixture
def second_version(workspace, second_version_drive):
    """The second version, imported and staged as the import wizard does."""
    drive = open_drive(second_version_drive)
    version = workspace.store.import_model(drive, drive.models[0]).version
    Lifecycle(workspace.store, workspace.audit).stage(version)
    return version


def select(manager, version):
    row = next(i for i, s in enumerate(manager.states) if s.store_id == version.store_id)
    manager.table.selectRow(row)
    return manager.states[row]


def click(qtbot, manager, text):
    qtbot.mouseClick(manager.buttons[text], Qt.MouseButton.LeftButton)


def test_the_update_procedure_in_the_window(qtbot, window, workspace, second_version):
    first = window.loaded.identity.store_version
    manager = window.dialogs.open_model_manager()
    assert {s.state for s in manager.states} == {"active", "staged"}
    assert manager.disk_use.text().startswith("2 version(s) using 98.4 MB")  # one model file, once
    assert "staged" in [manager.table.item(r, 2).text() for r in range(manager.table.rowCount())]

    select(manager, second_version)
    with qtbot.waitSignal(manager.smokeTested, timeout=ANSWER_TIMEOUT_MS) as tested:
        click(qtbot, manager, "Smoke test")
    assert tested.args[0]["passed"], tested.args[0]["problems"]
    assert "passed" in manager.details.toPlainText()

    select(manager, second_version)
    with qtbot.waitSignal(window.modelReady, timeout=ANSWER_TIMEOUT_MS):  # the new version loads
        with qtbot.waitSignal(manager.changed, timeout=ANSWER_TIMEOUT_MS):
            click(qtbot, manager, "Promote")
    assert window.loaded.identity.store_version == second_version.store_id
    assert {s.store_id: s.state for s in manager.states} == {
        first: "previous", second_version.store_id: "active"}

    with qtbot.waitSignal(window.modelReady, timeout=ANSWER_TIMEOUT_MS):
        with qtbot.waitSignal(manager.changed, timeout=5000):
            click(qtbot, manager, "Roll back")
    assert window.loaded.identity.store_version == first

    select(manager, second_version)
    with qtbot.waitSignal(manager.changed, timeout=5000):
        click(qtbot, manager, "Retire")
    manager.accept()
    assert window.settings["last_model"] == "SmolLM2-135M-Instruct"  # the name, not a path

    retired = datetime.now(timezone.utc)
    workspace.clock = lambda: retired + timedelta(days=29, hours=23)
    window.record_start()  # within the 30 days of retention: kept
    assert second_version.folder.is_dir()
    workspace.clock = lambda: retired + timedelta(days=30, minutes=1)
    window.record_start()  # the window's start removes what has been retired long enough
    assert not second_version.folder.exists()
    assert [s.store_id for s in Lifecycle(workspace.store).states()] == [first]
    lifecycle = [e["details"] for e in entries_of(workspace.paths.audit_log)
                 if e["event"] == "model_lifecycle"]
    assert [e["action"] for e in lifecycle] == [
        "staged", "smoke tested", "promoted", "rolled back", "retired", "removed"]
    assert lifecycle[-1]["reason"] == "retired over 30 days ago"


def test_promoting_untested_asks_and_records_the_override(qtbot, window, workspace, second_version):
    manager = window.dialogs.open_model_manager()
    select(manager, second_version)
    answer_next_dialog("No")
    click(qtbot, manager, "Promote")
    assert Lifecycle(workspace.store).state_of(second_version).state == "staged"
    select(manager, second_version)
    answer_next_dialog("Yes")
    with qtbot.waitSignal(manager.changed, timeout=ANSWER_TIMEOUT_MS):
        click(qtbot, manager, "Promote")
    (promoted,) = [e["details"] for e in entries_of(workspace.paths.audit_log)
                   if e["event"] == "model_lifecycle" and e["details"]["action"] == "promoted"]
    assert promoted["override"] is True
    manager.accept()


def test_removing_the_loaded_model_unloads_it_first(qtbot, window, workspace):
    manager = window.dialogs.open_model_manager()
    (only,) = manager.states
    select(manager, only.version)
    answer_next_dialog("Yes")
    with qtbot.waitSignal(manager.changed, timeout=5000):
        click(qtbot, manager, "Remove…")
    assert window.loaded is None and manager.states == []
    qtbot.waitUntil(lambda: window.models.catalog is not None and not window.models.catalog.entries, timeout=5000)
    manager.accept()


def test_the_compliance_view_shows_every_item_and_saves_a_page(qtbot, window, tmp_path):
    view = window.dialogs.open_compliance_view()
    items = [view.table.item(r, 1).text() for r in range(view.table.rowCount())]
    assert "Network guard" in items and "Conversations encrypted" in items and "Models in use" in items
    view.save(tmp_path / "report.html", "html")
    assert "Strongroom compliance report" in (tmp_path / "report.html").read_text()
    (saved,) = [e["details"] for e in entries_of(window.workspace.paths.audit_log)
                if e["event"] == "compliance_report"]
    assert saved["kind"] == "html" and saved["summary"] == view.report.counts
    view.accept()


def test_it_opens_on_the_newest_version_and_moves_by_rows(qtbot, window, workspace,
                                                          second_version, stored_embedding_model):
    manager = window.dialogs.open_model_manager()
    newest = max(manager.states, key=lambda s: s.version.provenance["imported_at"])
    assert manager.selected().store_id == newest.store_id
    roles = {manager.table.item(r, 0).text(): manager.table.item(r, 3).text()
             for r in range(manager.table.rowCount())}
    assert roles == {"SmolLM2-135M-Instruct": "chat", "all-MiniLM-L6-v2": "embedding (documents)"}
    manager.table.setFocus()
    row = manager.table.currentRow()
    qtbot.keyClick(manager.table, Qt.Key.Key_Right)
    qtbot.keyClick(manager.table, Qt.Key.Key_Right)
    assert manager.table.currentColumn() == 0 and manager.table.currentRow() == row
    assert manager.table.horizontalScrollBar().value() == 0


def test_the_smoke_test_shows_the_models_answers(qtbot, window, second_version):
    manager = window.dialogs.open_model_manager()
    select(manager, second_version)
    with qtbot.waitSignal(manager.smokeTested, timeout=ANSWER_TIMEOUT_MS) as tested:
        click(qtbot, manager, "Smoke test")
    answers = [p["answer"] for p in tested.args[0]["prompts"]]
    assert all(answers)
    select(manager, second_version)
    assert f"answered: {answers[1]}" in manager.details.toPlainText()
