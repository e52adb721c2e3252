"""The auditor's viewer follows the log while it is open (rows, counts, a filter's matches,
a file moved aside or cut) and its entry pane describes only the entry selected and shown."""

import json
import os

import pytest

from strongroom.core.audit.writer import AuditLog
from tests.helpers.audit_logs import VIEWER_TIMEOUT_MS as TIMEOUT_MS
from tests.helpers.audit_logs import append_inference, file_secrets, read_lines, write_lines, write_log

MODEL_LOAD = 301  # the line (0-based) of the one model_load entry


@pytest.fixture
def log_path(logged):
    return logged[0]


def reopen(path):
    return AuditLog(path, file_secrets(path.parent / "secrets"), user="alice").open()


def filter_by_event(qtbot, viewer, event: str) -> int:
    with qtbot.waitSignal(viewer.filtered, timeout=TIMEOUT_MS) as found:
        viewer.controls.event_filter.setCurrentIndex(viewer.controls.event_filter.findData(event))  # filters at once
    return found.args[0]


def shown_seq(viewer) -> int | None:
    text = viewer.detail.toPlainText()
    return json.loads(text.split("The entry as recorded:\n", 1)[1])["seq"] if text else None


def test_entries_written_while_open_are_shown_and_counted(qtbot, viewer, log_path):
    assert viewer.count.text() == "302 entries"
    log = reopen(log_path)
    with qtbot.waitSignal(viewer.indexed, timeout=TIMEOUT_MS,  # the log's new day is an entry too
                          check_params_cb=lambda n: n == len(read_lines(log_path))):
        append_inference(log, 300)
        append_inference(log, 301)
    log.close()
    total = len(read_lines(log_path))
    assert total >= 304
    assert viewer.model.rowCount() == total
    assert viewer.count.text() == f"{total} entries"
    assert viewer.model.data(viewer.model.index_of(total - 1, 4)) == "answer finished"


def test_a_filter_and_its_count_follow_the_log(qtbot, viewer, log_path):
    """Filtered by event, the matching count is that event's count: it goes up when one is
    written, and other events leave it alone."""
    assert filter_by_event(qtbot, viewer, "model_load") == 1
    log = reopen(log_path)
    with qtbot.waitSignal(viewer.filtered, timeout=TIMEOUT_MS, check_params_cb=lambda n: n == 2):
        append_inference(log, 300)
        log.append("model_load", {"file": "y.gguf"}, model_id="third-model")
    log.close()
    total = len(read_lines(log_path))
    assert viewer.count.text() == f"2 matching entries of {total}"
    assert [viewer.model.entry(row)["model_id"] for row in range(2)] == ["other-model", "third-model"]


def test_the_entry_pane_follows_the_selection_through_filters(qtbot, viewer):
    model = viewer.model
    viewer.table.setCurrentIndex(model.index_of(MODEL_LOAD))
    assert shown_seq(viewer) == MODEL_LOAD
    filter_by_event(qtbot, viewer, "model_load")  # the entry stays shown: kept selected
    assert viewer.table.currentIndex().row() == 0 and shown_seq(viewer) == MODEL_LOAD
    filter_by_event(qtbot, viewer, "inference")  # not among the rows: nothing is described
    assert not viewer.table.currentIndex().isValid() and viewer.detail.toPlainText() == ""
    viewer.table.setCurrentIndex(model.index_of(7))
    seq = shown_seq(viewer)
    assert seq == model.entry(7)["seq"] and seq != 7
    viewer.clear_filter()  # Show all: the same entry, now on its own line
    assert viewer.table.currentIndex().row() == seq and shown_seq(viewer) == seq
    viewer.controls.prompt.setText("a prompt nobody asked")
    with qtbot.waitSignal(viewer.filtered, timeout=TIMEOUT_MS):
        viewer.find_prompt()
    assert viewer.model.rowCount() == 0 and viewer.detail.toPlainText() == ""


def test_a_cut_log_is_read_again_from_the_start(qtbot, viewer, log_path):
    viewer.table.setCurrentIndex(viewer.model.index_of(250))
    assert filter_by_event(qtbot, viewer, "inference") == 300
    lines = read_lines(log_path)
    with qtbot.waitSignal(viewer.indexed, timeout=TIMEOUT_MS, check_params_cb=lambda n: n == 100):
        write_lines(log_path, lines[:100])
    assert viewer.model.rowCount() == 100 and viewer.model.rows is None  # the filter is gone
    assert viewer.count.text() == "100 entries"
    assert viewer.detail.toPlainText() == ""
    assert "read again from the start" in viewer.controls.banner.text()
    assert viewer.controls.banner.property("state") == "partial"


def test_a_log_moved_aside_is_followed_to_the_new_file(qtbot, viewer, log_path, tmp_path):
    fresh = tmp_path / "fresh" / "audit.log"
    fresh.parent.mkdir()
    log, _ = write_log(fresh, entries=5)
    log.close()
    with qtbot.waitSignal(viewer.indexed, timeout=TIMEOUT_MS, check_params_cb=lambda n: n == 6):
        os.rename(log_path, tmp_path / "audit.log.old")
        os.rename(fresh, log_path)
    assert viewer.model.rowCount() == 6
    assert viewer.model.entry(5)["details"]["n"] == 4
    assert "read again from the start" in viewer.controls.banner.text()
