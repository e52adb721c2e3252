"""Forward security: whoever steals today's key (the one the workstation keeps) cannot alter,
delete or insert an earlier day's entries and re-seal the rest without the verification key
finding it, at the place it was done."""

import pytest

from strongroom.core.audit import format as fmt
from strongroom.core.audit.report import BreakKind
from strongroom.core.audit.verifier import verify_log
from tests.helpers.audit_logs import (
    entries_of,
    epoch_key,
    read_lines,
    reseal,
    write_lines,
    write_log,
)

DAYS = 4  # epochs 1, 2 and 3 closed; epoch 4 is today's, whose key the attacker holds


@pytest.fixture
def stolen(tmp_path):
    path = tmp_path / "audit.log"
    log, key = write_log(path, entries=80, days=DAYS)
    log.close()
    entries = entries_of(path)
    assert entries[-1][fmt.EPOCH_FIELD] == DAYS
    return path, key, entries, epoch_key(key, DAYS)


def first_of_epoch(entries, epoch) -> int:
    return next(i for i, e in enumerate(entries) if e[fmt.EPOCH_FIELD] == epoch)


def resealed_from(lines, entries, index, replacement, today_key) -> list[bytes]:
    """Keep lines before ``index``; re-seal ``replacement`` with today's key, linked to them."""
    previous = entries[index - 1]["entry_hash"]
    return lines[:index] + reseal(replacement, today_key, DAYS, previous)


def assert_found_with_the_key(path, key, line: int) -> None:
    report = verify_log(path, key)
    assert not report.ok
    first = report.first_break
    assert first.line == line, report.summary()
    assert first.kind in (BreakKind.EPOCH, BreakKind.MAC, BreakKind.LINK)


def test_altering_an_earlier_day_and_resealing_the_rest(stolen):
    path, key, entries, today_key = stolen
    index = first_of_epoch(entries, 1) + 5
    altered = [dict(e) for e in entries[index:]]
    altered[0]["details"] = {"n": "altered"}
    write_lines(path, resealed_from(read_lines(path), entries, index, altered, today_key))
    assert_found_with_the_key(path, key, index + 1)
    # Without the key the plain chain holds, but the epoch rules still show the jump.
    assert verify_log(path).first_break.kind is BreakKind.EPOCH


def test_deleting_an_earlier_entry_and_resealing_the_rest(stolen):
    path, key, entries, today_key = stolen
    index = first_of_epoch(entries, 2) + 3
    rest = [dict(e, seq=e["seq"] - 1) for e in entries[index + 1:]]
    write_lines(path, resealed_from(read_lines(path), entries, index, rest, today_key))
    assert_found_with_the_key(path, key, index + 1)


def test_inserting_into_an_earlier_day_and_resealing_the_rest(stolen):
    path, key, entries, today_key = stolen
    index = first_of_epoch(entries, 1) + 2
    forged = dict(entries[index], details={"n": "inserted"})
    rest = [forged] + [dict(e, seq=e["seq"] + 1) for e in entries[index:]]
    write_lines(path, resealed_from(read_lines(path), entries, index, rest, today_key))
    assert_found_with_the_key(path, key, index + 1)


def test_cutting_the_end_of_an_earlier_day(stolen):
    """Removing the last entries of day 2 means re-sealing its closing entry: day 2's key is gone."""
    path, key, entries, today_key = stolen
    closing = next(i for i, e in enumerate(entries) if e["event"] == fmt.EPOCH_CLOSED
                   and e[fmt.EPOCH_FIELD] == 2)
    rest = [dict(e, seq=e["seq"] - 2) for e in entries[closing:]]
    write_lines(path, resealed_from(read_lines(path), entries, closing - 2, rest, today_key))
    assert_found_with_the_key(path, key, closing - 1)


def test_removing_whole_days(stolen):
    path, key, entries, today_key = stolen
    after_day_1 = first_of_epoch(entries, 2)
    removed = first_of_epoch(entries, DAYS) - after_day_1
    rest = [dict(e, seq=e["seq"] - removed) for e in entries[after_day_1 + removed:]]
    write_lines(path, resealed_from(read_lines(path), entries, after_day_1, rest, today_key))
    report = verify_log(path, key)
    assert report.first_break.line == after_day_1 + 1
    assert "epochs advance one at a time" in report.first_break.message


def test_claiming_an_earlier_epoch_with_todays_key(stolen):
    """Re-sealed entries that claim their original epochs carry MACs of the wrong key."""
    path, key, entries, today_key = stolen
    index = first_of_epoch(entries, 2) + 1
    lines = read_lines(path)
    altered = dict(entries[index], details={"n": "altered"})
    forged = reseal([altered], today_key, DAYS, entries[index - 1]["entry_hash"])[0]
    forged = forged.replace(b'"verification_epoch": %d' % DAYS, b'"verification_epoch": 2')
    write_lines(path, lines[:index] + [forged] + lines[index + 1:])
    report = verify_log(path, key)
    assert (report.first_break.line, report.first_break.kind) == (index + 1, BreakKind.EDITED)
    assert any(b.kind is BreakKind.MAC and b.line == index + 1 for b in report.breaks)


def test_todays_entries_are_what_the_stolen_key_can_forge(stolen):
    """The limit, stated in docs/security.md: today's key can re-seal today's entries. A
    checkpoint kept elsewhere shows that (and the head kept on the workstation, unless
    whoever took the key could rewrite that record too)."""
    path, key, entries, today_key = stolen
    index = first_of_epoch(entries, DAYS) + 1
    altered = [dict(e) for e in entries[index:]]
    altered[0]["details"] = {"n": "altered today"}
    write_lines(path, resealed_from(read_lines(path), entries, index, altered, today_key))
    assert verify_log(path, key).ok
