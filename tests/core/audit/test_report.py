"""The verification report's renderings: terminal summary, JSON and the HTML an auditor files."""

import json

from strongroom.core.audit.report import AuditReport, Break, BreakKind


def test_html_report_escapes_and_says_when_it_was_made(tmp_path):
    report = AuditReport(tmp_path / "audit.log", entries=3, counts={"inference": 2, "audit_created": 1},
                         checked_with=["every entry's hash"], notes=["<script>alert(1)</script>"])
    report.breaks.append(Break(2, 1, BreakKind.EDITED, "its content <b>changed</b>"))
    html = report.as_html()
    assert "The log is BROKEN at line 2" in html
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "its content &lt;b&gt;changed&lt;/b&gt;" in html
    assert f"Report created {report.created_at} (UTC)" in html
    assert "<tr><th>Event</th><th>Entries</th></tr>" in html
    assert '<td title="recorded as inference">answer finished</td><td>2</td>' in html


def test_json_and_summary_agree(tmp_path):
    report = AuditReport(tmp_path / "audit.log", entries=1)
    assert report.ok and "RESULT: the log holds" in report.summary()
    data = json.loads(report.as_json())
    assert data["ok"] is True and data["entries"] == 1 and data["created_at"] == report.created_at


def test_the_period_is_from_the_first_entry_to_the_last_with_or_without_the_key(tmp_path):
    """The last entry, not the last epoch's close: a log written on after the day's key
    moved on covers until its last entry."""
    from strongroom.core.audit.verifier import verify_log
    from tests.helpers.audit_logs import Clock, append_inference, entries_of, write_log

    clock = Clock()
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=30, days=3, clock=clock)
    clock.now = clock.now.replace(hour=15, minute=45)
    append_inference(log, 99)  # in the open epoch, hours after the day's close
    log.close()
    entries = entries_of(path)
    for with_key in (key, None):
        report = verify_log(path, with_key)
        assert report.ok
        assert (report.first_timestamp, report.last_timestamp) == \
            (entries[0]["timestamp"], entries[-1]["timestamp"])
        assert f"written from {entries[0]['timestamp']} to {entries[-1]['timestamp']}" in report.summary()
        assert "15:45" in report.as_html()
