"""Writing the audit log: creation, keys and epochs, locking, recovery, failing closed."""

import json
import os
import stat
import subprocess
import sys

import pytest
from strongroom.core.audit import format as fmt
from strongroom.core.audit.verifier import verify_log
from strongroom.core.audit.writer import AuditLog, AuditUnavailable, _secret_name

from tests.helpers import REPO
from tests.helpers.audit_logs import file_secrets, write_log


def test_creation_shows_the_key_once_and_keeps_only_the_epoch_key(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=60, entries_per_epoch=25)
    assert key.startswith("SRAK-") and len(fmt.key_from_text(key)) == 32
    first = json.loads(path.read_bytes().splitlines()[0])
    assert first["event"] == "audit_created" and first["prev_hash"] == "genesis"
    assert first["details"]["key_fingerprint"] == fmt.key_fingerprint(fmt.key_from_text(key))
    stored = json.loads(log.secrets.get(_secret_name(path)))
    root = fmt.key_from_text(key)
    assert stored["epoch"] == 2 and bytes.fromhex(stored["key"]) == fmt.epoch_key(root, 2)
    assert key not in path.read_text() and root.hex() not in json.dumps(stored)
    reopened = AuditLog(path, log.secrets).open()
    assert reopened.created_key_text is None  # shown only when the log is created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    epochs = [json.loads(line)[fmt.EPOCH_FIELD] for line in path.read_bytes().splitlines()]
    assert epochs == sorted(epochs) and epochs[-1] == 2
    assert verify_log(path, key).ok


def test_a_new_day_starts_a_new_epoch(tmp_path, monkeypatch):
    from datetime import datetime, timedelta, timezone

    from strongroom.core.audit import writer as module

    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=3)
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    monkeypatch.setattr(module, "_utc_now", lambda: tomorrow)
    entry = log.append("app_stop", {})
    assert entry[fmt.EPOCH_FIELD] == 1
    assert verify_log(path, key).ok


def test_two_processes_appending_keep_one_chain(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=1)
    log.close()
    script = (
        "import sys; from pathlib import Path; from strongroom.core.audit.writer import AuditLog;"
        "from tests.helpers.audit_logs import file_secrets;"
        "p = Path(sys.argv[1]); log = AuditLog(p, file_secrets(p.parent / 'secrets'), user=sys.argv[2], entries_per_epoch=50).open()\n"
        "for n in range(150): log.append('app_start', {'n': n})")
    children = [subprocess.Popen([sys.executable, "-c", script, str(path), who], cwd=REPO)
                for who in ("first", "second")]
    assert [c.wait(timeout=300) for c in children] == [0, 0]
    report = verify_log(path, key)
    assert report.ok and report.entries == 2 + 300
    seqs = [json.loads(line)["seq"] for line in path.read_bytes().splitlines()]
    assert seqs == list(range(302))


def test_a_torn_tail_is_moved_aside_and_recorded(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=5)
    log.close()
    torn = b'{"details": {"n": 99}, "event": "inference", "lat'
    with open(path, "ab") as handle:
        handle.write(torn)
    reopened = AuditLog(path, file_secrets(tmp_path / "secrets")).open()
    assert reopened.recovered["dropped_bytes"] == len(torn)
    side = tmp_path / reopened.recovered["saved_as"]
    assert side.read_bytes() == torn
    last = json.loads(path.read_bytes().splitlines()[-1])
    assert last["event"] == "recovered_tail" and last["details"]["dropped_bytes"] == len(torn)
    report = verify_log(path, key)
    assert report.ok and "recovered an incomplete entry" in report.crashes[0]


def test_a_missing_key_fails_closed(tmp_path):
    path = tmp_path / "audit.log"
    log, _ = write_log(path, entries=2)
    log.close()
    secrets = file_secrets(tmp_path / "secrets")
    secrets.delete(_secret_name(path))
    with pytest.raises(AuditUnavailable, match="key that signs the audit log .* is missing"):
        AuditLog(path, secrets).open()


def test_a_log_that_cannot_be_opened_fails_closed(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log's folder should be")
    with pytest.raises(AuditUnavailable, match="cannot be opened .* will not answer"):
        AuditLog(blocker / "audit.log", file_secrets(tmp_path / "secrets")).open()


def test_a_full_disk_fails_closed(tmp_path):
    """/dev/full fails every write with ENOSPC: an append must refuse, not pretend."""
    log, _ = write_log(tmp_path / "audit.log", entries=1)
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, log._fd)
    os.close(full)
    log._known_size = os.fstat(log._fd).st_size  # /dev/full has no tail to re-read
    with pytest.raises(AuditUnavailable, match="could not write to its audit log"):
        log.append("app_stop", {})


def test_checkpoint_records_the_head(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=7)
    checkpoint = log.checkpoint()
    head = json.loads(path.read_bytes().splitlines()[-2])
    assert (checkpoint["seq"], checkpoint["entry_hash"]) == (head["seq"], head["entry_hash"])
    last = json.loads(path.read_bytes().splitlines()[-1])
    assert last["event"] == "audit_checkpoint" and last["details"]["seq"] == head["seq"]
    assert verify_log(path, key, checkpoint=checkpoint).ok


def test_keys_round_trip_and_bad_keys_are_explained():
    root = fmt.new_root_key()
    text = fmt.key_to_text(root)
    assert fmt.key_from_text(text.lower().replace("-", " ")) == root
    with pytest.raises(ValueError, match="not an audit verification key"):
        fmt.key_from_text("SRAK-1111-!!!!")
    with pytest.raises(ValueError, match="copied whole"):
        fmt.key_from_text(text[:-8])


def test_unknown_events_are_refused(tmp_path):
    log, _ = write_log(tmp_path / "audit.log", entries=0)
    with pytest.raises(ValueError, match="unknown audit event"):
        log.append("coffee_break", {})
