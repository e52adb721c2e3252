"""The tamper matrix: each way of altering the log is detected and located at the right entry.

Line numbers are 1-based; line 1 is `audit_created` (seq 0), so in an intact log the entry
with seq N is on line N + 1.
"""

import json

import pytest

from strongroom.core.audit import format as fmt
from strongroom.core.audit.report import BreakKind
from strongroom.core.audit.verifier import verify_log
from tests.helpers.audit_logs import (
    ReferenceAuditLogger,
    append_inference,
    entries_of,
    read_lines,
    rechain,
    write_lines,
    write_log,
)


@pytest.fixture
def log(tmp_path):
    """One day's log: 120 answers in epoch 1, which is still open."""
    path = tmp_path / "audit.log"
    opened, key = write_log(path, entries=120)
    opened.close()
    return path, key


@pytest.fixture
def days(tmp_path):
    """Four days of entries: epochs 1 to 3 closed and sealed, epoch 4 open."""
    path = tmp_path / "audit.log"
    opened, key = write_log(path, entries=120, days=4)
    opened.close()
    return path, key


@pytest.mark.parametrize("workers", [1, 2])
def test_an_untouched_log_holds(log, workers):
    path, key = log
    report = verify_log(path, key, workers=workers)
    assert report.ok and report.entries == 121
    assert report.counts == {"audit_created": 1, "inference": 120}
    assert report.keyed and "MAC" in " ".join(report.checked_with)
    assert report.first_timestamp and report.last_timestamp
    assert verify_log(path, workers=workers).ok


def test_a_log_of_several_days_holds_and_its_closed_days_are_checked_by_their_seals(days):
    path, key = days
    report = verify_log(path, key)
    assert report.ok, report.summary()
    assert report.entries == 124 and report.counts["audit_epoch_closed"] == 3
    assert report.counts["inference"] == 120
    assert any("seals of the 3 closed epochs" in c for c in report.checked_with)
    unkeyed = verify_log(path)
    assert unkeyed.ok and unkeyed.entries == 124 and unkeyed.counts == report.counts


def test_edit_one_field(log):
    path, key = log
    lines = read_lines(path)
    lines[51] = lines[51].replace(b'"response_tokens": 20', b'"response_tokens": 21')
    write_lines(path, lines)
    for report in (verify_log(path), verify_log(path, key)):
        first = report.first_break
        assert (first.line, first.seq, first.kind) == (52, 51, BreakKind.EDITED)


def test_an_edit_in_a_sealed_day_is_found_at_its_entry(days):
    path, key = days
    lines = read_lines(path)
    target = next(i for i, line in enumerate(lines) if b'"n": 10,' in line)
    lines[target] = lines[target].replace(b'"response_tokens": 20', b'"response_tokens": 19')
    write_lines(path, lines)
    for report in (verify_log(path), verify_log(path, key)):
        assert (report.first_break.line, report.first_break.kind) == (target + 1, BreakKind.EDITED)


def test_delete_an_entry(log):
    path, key = log
    lines = read_lines(path)
    del lines[40]
    write_lines(path, lines)
    first = verify_log(path).first_break
    assert (first.line, first.kind) == (41, BreakKind.LINK)
    assert "seq jumps from 39 to 41: the entries with seq 40 were deleted or moved" in first.message
    assert verify_log(path, key).first_break.line == 41


def test_insert_a_forged_entry_with_recomputed_plain_hashes(log):
    path, key = log
    lines = read_lines(path)
    entries = [json.loads(line) for line in lines]
    forged = dict(entries[30], details={"n": "forged"}, seq=31)
    entries.insert(31, forged)
    # the forger recomputes the plain hashes of the forged entry and everything after it
    write_lines(path, [lines[i] for i in range(31)] + rechain(entries)[31:])
    with_key = verify_log(path, key).first_break
    assert (with_key.line, with_key.kind) == (32, BreakKind.MAC)
    without_key = verify_log(path)
    assert without_key.ok  # a rechained plain log cannot show it…
    assert any("cannot be told apart" in n for n in without_key.notes)  # …and the report says so


def test_insert_a_forged_entry_without_rechaining(log):
    path, _ = log
    lines = read_lines(path)
    entries = [json.loads(line) for line in lines]
    forged = rechain(entries[:31] + [dict(entries[30], details={"n": "forged"}, seq=31)])[31]
    write_lines(path, lines[:31] + [forged] + lines[31:])
    first = verify_log(path).first_break
    assert (first.line, first.kind) == (33, BreakKind.LINK)
    assert "inserted: seq 31 appears twice" in first.message


def test_swap_two_entries(log):
    path, key = log
    lines = read_lines(path)
    lines[60], lines[61] = lines[61], lines[60]
    write_lines(path, lines)
    first = verify_log(path, key).first_break
    assert (first.line, first.kind) == (61, BreakKind.LINK)
    assert "the entries with seq 60 were deleted or moved" in first.message
    assert verify_log(path).breaks[1].message == "entries were reordered: seq 60 comes after seq 61"


def test_cut_the_tail_is_found_with_a_checkpoint(tmp_path):
    path = tmp_path / "audit.log"
    opened, key = write_log(path, entries=50)
    checkpoint = opened.checkpoint()
    append_inference(opened, 99)
    opened.close()
    assert verify_log(path, key, checkpoint=checkpoint).ok
    lines = read_lines(path)
    write_lines(path, lines[:40])
    assert verify_log(path, key).ok  # without the checkpoint nothing shows…
    report = verify_log(path, key, checkpoint=checkpoint)
    assert report.first_break.kind is BreakKind.TRUNCATED
    assert f"checkpoint records seq {checkpoint['seq']}" in report.first_break.message


def test_a_checkpoint_inside_a_sealed_day(days):
    path, key = days
    seq = entries_of(path)[20]["seq"]
    checkpoint = {"format": "strongroom.audit-checkpoint", "seq": seq,
                  "entry_hash": entries_of(path)[20]["entry_hash"]}
    assert verify_log(path, key, checkpoint=checkpoint).ok
    assert not verify_log(path, key, checkpoint=dict(checkpoint, entry_hash="0" * 64)).ok


def test_a_rewrite_before_the_checkpoint_is_found(tmp_path):
    path = tmp_path / "audit.log"
    opened, key = write_log(path, entries=30)
    checkpoint = opened.checkpoint()
    opened.close()
    entries = [json.loads(line) for line in read_lines(path)]
    entries[10]["details"] = {"n": "rewritten"}
    write_lines(path, rechain(entries))
    report = verify_log(path, checkpoint=checkpoint)
    assert report.first_break.kind is BreakKind.REWRITTEN


def test_rewrite_the_whole_log_with_recomputed_plain_hashes(log):
    path, key = log
    entries = [json.loads(line) for line in read_lines(path)]
    for entry in entries:
        entry["user_id"] = "mallory"
    write_lines(path, rechain(entries))
    assert verify_log(path).ok
    report = verify_log(path, key)
    assert (report.first_break.line, report.first_break.kind) == (1, BreakKind.MAC)
    assert len([b for b in report.breaks if b.kind is BreakKind.MAC]) == 121


def test_a_torn_last_line_is_a_crash_not_tampering(log):
    path, key = log
    data = path.read_bytes()
    path.write_bytes(data + data.splitlines(keepends=True)[-1][:57])
    report = verify_log(path, key)
    assert report.ok
    assert report.crashes and report.crashes[0].startswith("line 122: the last 57 bytes")


def test_the_wrong_key_is_named_as_such_not_as_tampering(log, tmp_path):
    path, _ = log
    _, other_key = write_log(tmp_path / "other" / "audit.log", entries=1)
    report = verify_log(path, other_key)
    assert not report.ok and report.breaks == []
    assert "This key does not belong to this log" in report.key_problem
    assert "RESULT: NOT CHECKED WITH THE KEY GIVEN" in report.summary()
    assert json.loads(report.as_json())["key_problem"] == report.key_problem


def test_a_mangled_line_and_a_cut_beginning(log):
    path, key = log
    lines = read_lines(path)
    lines[10] = b"{not json at all\n"
    write_lines(path, lines)
    kinds = [(b.line, b.kind) for b in verify_log(path).breaks[:2]]
    assert kinds == [(11, BreakKind.UNREADABLE), (12, BreakKind.LINK)] or kinds[0] == (11, BreakKind.UNREADABLE)
    write_lines(path, read_lines(path)[20:])
    assert "cut from the beginning" in verify_log(path).first_break.message


def test_a_reference_log_verifies_and_an_edit_in_it_is_caught(tmp_path):
    path = tmp_path / "reference.log"
    logger = ReferenceAuditLogger(str(path))
    for n in range(200):
        logger.log_inference("dr.jones", f"{n:064x}", 10 + n, 123.456, "llama-3.2-3b")
    report = verify_log(path)
    assert report.ok and report.entries == 200 and report.reference_format
    assert any("cannot show that entries were cut from the end" in n for n in report.notes)
    lines = read_lines(path)
    lines[120] = lines[120].replace(b'"response_tokens": 130', b'"response_tokens": 131')
    write_lines(path, lines)
    first = verify_log(path).first_break
    assert (first.line, first.kind) == (121, BreakKind.EDITED)


def test_large_logs_are_checked_in_parallel_ranges_with_the_same_result(tmp_path):
    path = tmp_path / "audit.log"
    opened, key = write_log(path, entries=6000, entries_per_epoch=1000)
    opened.close()
    lines = read_lines(path)
    lines[4500] = lines[4500].replace(b'"completion_tokens": 20', b'"completion_tokens": 99')
    write_lines(path, lines)
    single = verify_log(path, key, workers=1)
    parallel = verify_log(path, key, workers=3)
    assert [b.as_dict() for b in single.breaks] == [b.as_dict() for b in parallel.breaks]
    assert single.first_break.line == 4501 and single.entries == parallel.entries == 1 + 6000 + 6
    unkeyed = [verify_log(path, workers=n) for n in (1, 3)]
    assert [b.as_dict() for b in unkeyed[0].breaks] == [b.as_dict() for b in unkeyed[1].breaks]


def test_an_epoch_limit_closes_epochs_that_verify(tmp_path):
    path = tmp_path / "audit.log"
    opened, key = write_log(path, entries=100, entries_per_epoch=10)
    opened.close()
    entries = entries_of(path)
    closings = [e for e in entries if e["event"] == fmt.EPOCH_CLOSED]
    assert closings and all(c["details"]["reason"] == "entry limit" for c in closings)
    assert all(c["details"]["last_seq"] - c["details"]["first_seq"] + 2 == 10 for c in closings)
    epochs = [e[fmt.EPOCH_FIELD] for e in entries]
    assert epochs[:2] == [0, 1] and epochs == sorted(epochs)
    assert verify_log(path, key).ok and verify_log(path).ok
