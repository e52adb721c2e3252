"""Writing the audit log: creation and keys, epochs and their seals, the head kept on this
computer, locking, recovery from a crash, and failing closed."""

import base64
import json
import resource
import stat
import subprocess
import sys

import pytest

from strongroom.core.audit import format as fmt
from strongroom.core.audit import keys
from strongroom.core.audit.kept import head_secret_name, key_state_name
from strongroom.core.audit.verifier import verify_log
from strongroom.core.audit.writer import AuditLog, AuditUnavailable
from tests.helpers import REPO
from tests.helpers.audit_logs import (
    Clock,
    append_inference,
    entries_of,
    file_secrets,
    read_lines,
    rechain,
    write_lines,
    write_log,
)


def reopen(path, clock=None) -> AuditLog:
    return AuditLog(path, file_secrets(path.parent / "secrets"), user="alice",
                    clock=clock or Clock()).open()


def forms_of(root: bytes) -> list[bytes]:
    """Every way the root key could be written down."""
    text = keys.key_to_text(root)
    return [root, root.hex().encode(), root.hex().upper().encode(), text.encode(),
            text.replace("-", "").encode(), base64.b32encode(root), base64.b64encode(root),
            base64.b32encode(root).rstrip(b"=")[4:]]


def assert_root_nowhere(root: bytes, *folders) -> None:
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for form in forms_of(root):
                    assert form not in data, f"the root key appears in {path}"


def test_the_root_key_is_kept_only_until_it_is_shown_once(tmp_path):
    path = tmp_path / "data" / "audit.log"
    log, key = write_log(path, entries=0)
    root = keys.key_from_text(key)
    first = entries_of(path)[0]
    assert first["event"] == "audit_created" and first["prev_hash"] == "genesis"
    assert first[fmt.EPOCH_FIELD] == 0 and first["details"]["format_version"] == 2
    assert first["details"]["key_fingerprint"] == keys.key_fingerprint(root)
    # Until a person has seen it, it waits in its own record of the secret store, and only there.
    assert log.unshown_key() == key and log.key_display() is None
    unshown = log.secrets.folder / (key_state_name(path) + "-unshown")
    kept = unshown.read_bytes()
    unshown.unlink()
    assert_root_nowhere(root, tmp_path)
    unshown.write_bytes(kept)
    shown = log.mark_key_shown("terminal")
    assert log.unshown_key() is None and log.key_display() == shown
    assert shown.where == "terminal" and not shown.told_in_window
    assert_root_nowhere(root, tmp_path)  # right after it was shown…
    stored = json.loads(log.secrets.get(key_state_name(path)))
    assert stored["epoch"] == 1 and bytes.fromhex(stored["key"]) == keys.evolve(root)
    for n in range(30):
        append_inference(log, n)
    log.close()
    assert_root_nowhere(root, tmp_path)  # …and after entries
    reopened = reopen(path)
    assert reopened.created_key_text is None  # shown only when the log is created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert verify_log(path, key).ok


def test_the_stored_key_is_exactly_one_evolution_per_closed_epoch(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=60, entries_per_epoch=25)
    stored = json.loads(log.secrets.get(key_state_name(path)))
    closings = [e for e in entries_of(path) if e["event"] == fmt.EPOCH_CLOSED]
    epoch = 1 + len(closings)
    assert stored["epoch"] == epoch == entries_of(path)[-1][fmt.EPOCH_FIELD]
    expected = keys.key_from_text(key)
    for _ in range(epoch):
        expected = keys.evolve(expected)
    assert bytes.fromhex(stored["key"]) == expected
    for earlier in range(epoch):  # no earlier key is kept anywhere either
        older = keys.key_from_text(key)
        for _ in range(earlier):
            older = keys.evolve(older)
        assert older.hex() not in json.dumps(stored)


def test_a_new_day_closes_the_epoch_with_a_seal(tmp_path):
    path = tmp_path / "audit.log"
    clock = Clock()
    log, key = write_log(path, entries=3, clock=clock)
    clock.next_day()
    entry = log.append("app_stop", {})
    assert entry[fmt.EPOCH_FIELD] == 2
    closing = entries_of(path)[-2]
    assert closing["event"] == fmt.EPOCH_CLOSED and closing[fmt.EPOCH_FIELD] == 1
    details = closing["details"]
    assert details["reason"] == "new day" and (details["first_seq"], details["last_seq"]) == (1, 3)
    assert details["events"] == {"inference": 3} and details["previous_close"] is None
    sealed = path.read_bytes()[details["start"]:details["end"]]
    assert len(sealed.splitlines()) == 3
    assert details["seal"] == keys.Hmac(keys.evolve(keys.key_from_text(key))).hexdigest(sealed)
    assert verify_log(path, key).ok


def test_a_day_without_entries_needs_no_closing(tmp_path):
    path = tmp_path / "audit.log"
    clock = Clock()
    log, key = write_log(path, entries=0, clock=clock)
    clock.next_day()
    append_inference(log, 1)
    assert [e["event"] for e in entries_of(path)] == ["audit_created", "inference"]
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
    assert report.ok, report.summary()
    seqs = [e["seq"] for e in entries_of(path)]
    assert seqs == list(range(len(seqs))) and report.counts["app_start"] == 300
    assert report.counts.get("audit_epoch_closed", 0) >= 5  # the epochs closed as they filled


def test_a_torn_tail_is_moved_aside_and_recorded(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=5)
    log.close()
    torn = b'{"details": {"n": 99}, "event": "inference", "lat'
    with open(path, "ab") as handle:
        handle.write(torn)
    reopened = reopen(path)
    assert reopened.recovered["dropped_bytes"] == len(torn)
    side = tmp_path / reopened.recovered["saved_as"]
    assert side.read_bytes() == torn
    last = entries_of(path)[-1]
    assert last["event"] == "recovered_tail" and last["details"]["dropped_bytes"] == len(torn)
    report = verify_log(path, key)
    assert report.ok and "recovered an incomplete entry" in report.crashes[0]


def test_a_cut_tail_is_tampering_and_nothing_more_is_written(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=20)
    log.close()
    write_lines(path, read_lines(path)[:15])
    with pytest.raises(AuditUnavailable, match="cut from the end") as refused:
        reopen(path)
    assert refused.value.tampering
    assert len(read_lines(path)) == 15  # nothing was appended to it


def test_a_rewritten_log_is_tampering(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=20)
    log.close()
    entries = entries_of(path)
    entries[5]["user_id"] = "mallory"
    write_lines(path, rechain(entries))  # fresh plain hashes, same length
    with pytest.raises(AuditUnavailable, match="rewritten") as refused:
        reopen(path)
    assert refused.value.tampering


def test_a_forged_entry_appended_without_the_key_is_tampering(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=5)
    log.close()
    entries = entries_of(path)
    forged = dict(entries[-1], seq=6, details={"n": "forged"})
    write_lines(path, read_lines(path) + rechain(entries + [forged])[-1:])
    with pytest.raises(AuditUnavailable, match="not an entry this computer wrote") as refused:
        reopen(path)
    assert refused.value.tampering


def test_a_log_changed_while_open_is_refused_before_the_next_append(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=10)
    write_lines(path, read_lines(path)[:8])
    with pytest.raises(AuditUnavailable, match="cut from the end"):
        append_inference(log, 11)


def test_a_lost_head_record_after_a_crash_is_rebuilt(tmp_path):
    """The head is written after the entry: a crash in between leaves it a step behind."""
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=5)
    behind = log.secrets.get(head_secret_name(path))
    append_inference(log, 6)
    log.close()
    log.secrets.set(head_secret_name(path), behind)
    reopened = reopen(path)
    assert reopened.head.seq == 6
    append_inference(reopened, 7)
    assert verify_log(path, key).ok


def test_a_crash_between_closing_an_epoch_and_evolving_the_key(tmp_path):
    path = tmp_path / "audit.log"
    clock = Clock()
    log, key = write_log(path, entries=3, clock=clock)
    before = log.secrets.get(key_state_name(path))
    clock.next_day()
    log.append("app_stop", {})
    log.close()
    # Cut back to the closing entry and put the unevolved key back, as a crash would leave it.
    lines = read_lines(path)
    write_lines(path, lines[:-1])
    log.secrets.set(key_state_name(path), before)
    closing = json.loads(lines[-2])
    log.secrets.set(head_secret_name(path), json.dumps(
        {"seq": closing["seq"], "entry_hash": closing["entry_hash"], "end": path.stat().st_size}))
    reopened = reopen(path, clock)
    assert reopened.epoch == 2
    reopened.append("app_stop", {})
    assert verify_log(path, key).ok


def test_a_missing_key_fails_closed(tmp_path):
    path = tmp_path / "audit.log"
    log, _ = write_log(path, entries=2)
    log.close()
    secrets = file_secrets(tmp_path / "secrets")
    secrets.delete(key_state_name(path))
    with pytest.raises(AuditUnavailable, match="key that signs the audit log .* is missing"):
        AuditLog(path, secrets).open()


def test_a_log_that_cannot_be_opened_fails_closed(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log's folder should be")
    with pytest.raises(AuditUnavailable, match="cannot be opened .* will not answer"):
        AuditLog(blocker / "audit.log", file_secrets(tmp_path / "secrets")).open()


def test_a_full_disk_fails_closed_and_leaves_the_log_whole(tmp_path):
    """A write beyond the process's file size limit fails (EFBIG) as a full disk does: the
    append refuses, and no part of the entry stays in the log."""
    path = tmp_path / "audit.log"
    script = (
        "import resource, signal, sys; from pathlib import Path\n"
        "from strongroom.core.audit.writer import AuditLog, AuditUnavailable\n"
        "from tests.helpers.audit_logs import Clock, file_secrets\n"
        "p = Path(sys.argv[1])\n"
        "log = AuditLog(p, file_secrets(p.parent / 'secrets'), clock=Clock()).open()  # the same day\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (p.stat().st_size + 700, resource.RLIM_INFINITY))\n"
        "try:\n"
        "    log.append('app_stop', {'pad': 'x' * 2000})\n"
        "except AuditUnavailable as error:\n"
        "    print('REFUSED', error)\n")
    log, key = write_log(path, entries=3)
    log.close()
    before = path.read_bytes()
    result = subprocess.run([sys.executable, "-c", script, str(path)], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert "REFUSED Strongroom could not write to its audit log" in result.stdout, result.stderr
    assert path.read_bytes() == before
    assert verify_log(path, key).ok and reopen(path).head.seq == 3


def test_room_left_follows_the_file_size_limit(tmp_path):
    log, _ = write_log(tmp_path / "audit.log", entries=1)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    size = (tmp_path / "audit.log").stat().st_size
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 5000, hard))
        assert log.room_left() == 5000
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_checkpoint_records_the_head(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=7)
    checkpoint = log.checkpoint()
    head = entries_of(path)[-2]
    assert (checkpoint["seq"], checkpoint["entry_hash"]) == (head["seq"], head["entry_hash"])
    assert checkpoint["key_fingerprint"] == keys.key_fingerprint(keys.key_from_text(key))
    last = entries_of(path)[-1]
    assert last["event"] == "audit_checkpoint" and last["details"]["seq"] == head["seq"]
    assert verify_log(path, key, checkpoint=checkpoint).ok


def test_prompt_digests_are_keyed_per_epoch(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=0)
    entry = log.append("inference_started", {}, model_id="demo",
                       digests={"prompt_hash": "Does patient X have HIV?",
                                "details.prompt_digest": "Does patient X have HIV?"})
    import hashlib

    assert entry["prompt_hash"] != hashlib.sha256(b"Does patient X have HIV?").hexdigest()
    epoch_key = keys.evolve(keys.key_from_text(key))
    assert entry["prompt_hash"] == keys.keyed_digest(epoch_key, "Does patient X have HIV?")
    assert entry["details"]["prompt_digest"] == entry["prompt_hash"]


def test_keys_round_trip_and_bad_keys_are_explained():
    root = keys.new_root_key()
    text = keys.key_to_text(root)
    assert keys.key_from_text(text.lower().replace("-", " ")) == root
    with pytest.raises(ValueError, match="not an audit verification key"):
        keys.key_from_text("SRAK-1111-!!!!")
    with pytest.raises(ValueError, match="copied whole"):
        keys.key_from_text(text[:-8])
    assert keys.show_fingerprint("0123456789abcdef") == "0123 4567 89ab cdef"


def test_callers_cannot_write_the_entries_the_log_writes_itself(tmp_path):
    log, _ = write_log(tmp_path / "audit.log", entries=0)
    for event in ("coffee_break", "audit_created", "audit_epoch_closed", "recovered_tail"):
        with pytest.raises(ValueError, match="unknown audit event"):
            log.append(event, {})


def test_a_format_1_log_is_kept_aside_and_a_new_one_continues_it(tmp_path):
    path = tmp_path / "audit.log"
    secrets = file_secrets(tmp_path / "secrets")
    old_key = keys.new_root_key()
    line = fmt.canonical({"details": {"log_id": "old"}, "event": "audit_created", "prev_hash": "genesis",
                          "seq": 0, "timestamp": "2026-11-01T00:00:00+00:00", "user_id": "alice",
                          "verification_epoch": 0, "verification_mac": "0" * 64})
    entry = json.loads(line)
    entry["entry_hash"] = fmt.entry_hash(entry)
    path.write_text(json.dumps(entry) + "\n")
    secrets.set(key_state_name(path), json.dumps({"log_id": "old", "epoch": 0, "key": old_key.hex(),
                                                "epoch_date": "2026-11-01", "entries": 1}))
    log = AuditLog(path, secrets).open()
    assert log.archived is not None and log.archived.read_bytes().startswith(b'{"details"')
    assert log.created_key_text is not None
    first = entries_of(path)[0]
    assert first["details"]["continues"]["file"] == log.archived.name
    assert old_key.hex() not in (tmp_path / "secrets" / key_state_name(path)).read_text()
    assert verify_log(path, log.created_key_text).ok
