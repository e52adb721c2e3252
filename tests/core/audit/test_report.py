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
    assert "<td>inference</td><td>2</td>" in html


def test_json_and_summary_agree(tmp_path):
    report = AuditReport(tmp_path / "audit.log", entries=1)
    assert report.ok and "RESULT: the log holds" in report.summary()
    data = json.loads(report.as_json())
    assert data["ok"] is True and data["entries"] == 1 and data["created_at"] == report.created_at
