"""Commands that only look create nothing on a computer where Strongroom never ran: no
folder, key, database, audit log or app log; a path that is not there is said not to exist;
where a log exists, what they check is still recorded."""

from __future__ import annotations

import json

import pytest

from tests.helpers.cli import strongroom

LOOKING = [
    ("verify", "{drive}"), ("verify", "{drive}", "--json"), ("trust", "list"),
    ("trust", "list", "--json"), ("models",), ("models", "--json"), ("store", "list"),
    ("store", "list", "--json"), ("compliance",), ("compliance", "--json"), ("paths",),
    ("paths", "store"), ("--help",), ("verify", "--help"), ("--self-test",),
]


@pytest.mark.parametrize("command", LOOKING, ids=" ".join)
def test_a_command_that_only_looks_creates_nothing_on_a_fresh_computer(tmp_path, demo_drive,
                                                                       command):
    home = tmp_path / "never-used"
    result = strongroom(*[part.format(drive=demo_drive) for part in command], home=home)
    assert result.returncode in (0, 1), result.stderr  # compliance is red without a guard
    assert "Traceback" not in result.stderr
    assert not home.exists(), sorted(str(p) for p in home.rglob("*"))
    assert "SRAK-" not in result.stderr and "SRCK-" not in result.stderr


def test_verify_says_a_missing_path_does_not_exist(tmp_path):
    home = tmp_path / "never-used"
    result = strongroom("verify", str(tmp_path / "no-such-drive"), home=home)
    assert result.returncode == 2
    assert f"{tmp_path / 'no-such-drive'} does not exist" in result.stderr
    assert not home.exists()


def test_verify_says_it_was_not_recorded_without_a_log_and_records_with_one(home, demo_drive):
    unrecorded = strongroom("verify", str(demo_drive), home=home)
    assert unrecorded.returncode == 0, unrecorded.stderr
    assert "All 3 files verified" in unrecorded.stdout
    assert "not recorded: there is no audit log on this computer yet" in unrecorded.stderr
    strongroom("audit", "init", home=home)
    recorded = strongroom("verify", str(demo_drive), home=home)
    assert recorded.returncode == 0 and "not recorded" not in recorded.stderr
    events = [json.loads(line)["event"] for line in home.audit_log.read_text().splitlines()]
    assert events.count("model_verify") == 1


def test_compliance_on_a_fresh_computer_says_what_is_not_there_yet(tmp_path):
    home = tmp_path / "never-used"
    report = json.loads(strongroom("compliance", "--json", home=home).stdout)
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["audit_log"]["status"] == "amber"
    assert "not started yet" in checks["audit_log"]["reason"]
    assert checks["conversations"]["status"] == "green"
    assert "no conversations yet" in checks["conversations"]["reason"]
    assert checks["documents"]["reason"] == "no libraries yet"
