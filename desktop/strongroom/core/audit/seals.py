"""Checking a format-2 log's closed epochs by their seals, with the audit verification key.

Every closed epoch ends with an ``audit_epoch_closed`` entry whose ``seal`` is HMAC-SHA256,
under that epoch's key, of every byte of the epoch's entries before it; the entry also
records where the epoch starts and ends, its first and last seq, how many entries of each
event it holds, which answers were started in it without finishing there, and where the
previous epoch's closing entry is. Starting from the last closing entry, the verifier walks
these back to the first epoch, checks each closing entry's own MAC and each seal, and the
links where epochs meet. A matching seal means the epoch's bytes are exactly what the
writer wrote, so its entries need not be read one by one: hashing the log once, in large
reads on two threads, is the whole cost.

Anything that does not fit — a seal that differs, an offset that points elsewhere, a
missing or unreadable closing entry — makes `check_seals` return None, and the verifier
reads the log line by line instead, which says exactly what is wrong and where.
"""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from strongroom.core.audit import format as fmt
from strongroom.core.audit.keys import EpochKeys, Hmac
from strongroom.core.audit.scan import MAX_LINE
from strongroom.core.progress import Cancelled

_READ = 4 * 1024 * 1024
_CLOSING = b'"event": "' + fmt.EPOCH_CLOSED.encode() + b'"'


@dataclass
class Closed:
    """One closed epoch, as its closing entry describes it."""

    epoch: int
    start: int
    end: int  # where the closing entry starts
    line_end: int  # where it ends
    entry: dict
    details: dict


@dataclass
class SealedEpochs:
    end: int  # byte offset where the open epoch begins
    last_hash: str  # the entry_hash of the entry before it (a closing entry, or audit_created)
    last_seq: int
    last_epoch: int
    epochs: int  # epochs checked by their seals
    entries: int  # entries before `end`
    counts: dict = field(default_factory=dict)
    created: dict = field(default_factory=dict)
    first_timestamp: str | None = None
    last_timestamp: str | None = None  # of the last entry before `end`
    started: dict = field(default_factory=dict)  # seq → line: answers started, not finished
    finished_refs: list = field(default_factory=list)  # (line, started seq) without a start
    recovered: list = field(default_factory=list)  # (line, details)
    checkpoint_hash: str | None = None


class _Unsealed(Exception):
    """The seals cannot vouch for the log; it is read line by line instead."""


def check_seals(path: str, size: int, keys: EpochKeys, checkpoint_seq: int | None = None,
                on_progress: Callable[[float, str], None] | None = None,
                cancel: threading.Event | None = None) -> SealedEpochs | None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return _check(fd, size, keys, checkpoint_seq, on_progress, cancel)
    except (_Unsealed, ValueError, KeyError, TypeError, OSError, RecursionError):
        return None
    finally:
        os.close(fd)


def _check(fd, size, keys, checkpoint_seq, on_progress, cancel) -> SealedEpochs:
    created_line = _line_at(fd, 0, size)
    created = _entry(created_line, keys, expect_event=fmt.CREATED, expect_epoch=0)
    if created["seq"] != 0 or created["prev_hash"] != fmt.GENESIS:
        raise _Unsealed()
    closings = _walk_back(fd, size, keys, len(created_line))
    if cancel is not None and cancel.is_set():
        raise Cancelled()
    _check_seals(fd, closings, keys, on_progress, cancel)
    return _summarise(fd, size, created, len(created_line), closings, checkpoint_seq)


def _walk_back(fd: int, size: int, keys: EpochKeys, created_end: int) -> list[Closed]:
    """The closed epochs, first to last, found from the last closing entry backwards."""
    found = _last_closing(fd, size, created_end)
    closings: list[Closed] = []
    while found is not None:
        start, line = found
        if len(closings) > keys.max_epoch:
            raise _Unsealed()
        entry = _entry(line, keys, expect_event=fmt.EPOCH_CLOSED)
        details = entry["details"]
        epoch = entry[fmt.EPOCH_FIELD]
        if (details.get("epoch") != epoch or details.get("end") != start
                or (closings and closings[-1].epoch != epoch + 1)):
            raise _Unsealed()
        closed = Closed(epoch, _int(details.get("start")), start, start + len(line), entry, details)
        if not created_end <= closed.start <= start:
            raise _Unsealed()
        closings.append(closed)
        previous = details.get("previous_close")
        if previous is None:
            if epoch != 1 or closed.start != created_end:
                raise _Unsealed()
            found = None
        else:
            previous = _int(previous)
            line = _line_at(fd, previous, closed.start)
            if previous + len(line) != closed.start:
                raise _Unsealed()
            found = (previous, line)
    closings.reverse()
    return closings


def _last_closing(fd: int, size: int, floor: int) -> tuple[int, bytes] | None:
    """The last audit_epoch_closed line: found by searching back from the end of the log."""
    end = size
    while end > floor:
        start = max(floor, end - _READ)
        block = os.pread(fd, end - start + len(_CLOSING), start)
        at = block.rfind(_CLOSING)
        if at >= 0:
            position = start + at
            line_start = _line_start(fd, position, floor)
            return line_start, _line_at(fd, line_start, size)
        end = start
    return None


def _line_start(fd: int, position: int, floor: int) -> int:
    start = max(floor, position - MAX_LINE)
    block = os.pread(fd, position - start, start)
    cut = block.rfind(b"\n")
    if cut < 0 and start > floor:
        raise _Unsealed()
    return start + cut + 1


def _line_at(fd: int, start: int, limit: int) -> bytes:
    """The complete line starting at ``start`` (ending before ``limit``), newline included."""
    block = os.pread(fd, min(MAX_LINE + 1, limit - start), start)
    newline = block.find(b"\n")
    if newline < 0:
        raise _Unsealed()
    return block[:newline + 1]


def _entry(line: bytes, keys: EpochKeys, expect_event: str, expect_epoch: int | None = None) -> dict:
    """Parse a line and check its hash and MAC; raise _Unsealed unless all hold."""
    entry = json.loads(line)
    if not isinstance(entry, dict) or entry.get("event") != expect_event:
        raise _Unsealed()
    epoch = entry.get(fmt.EPOCH_FIELD)
    if not isinstance(epoch, int) or (expect_epoch is not None and epoch != expect_epoch):
        raise _Unsealed()
    body = {k: v for k, v in entry.items() if k != fmt.HASH_FIELD}
    if fmt.entry_hash(body) != entry.get(fmt.HASH_FIELD):
        raise _Unsealed()
    mac = keys.mac(epoch)
    stated = body.pop(fmt.MAC_FIELD, None)
    if mac is None or fmt.entry_mac(mac, body) != stated:
        raise _Unsealed()
    if not isinstance(entry.get("details"), dict) or not isinstance(entry.get("seq"), int):
        raise _Unsealed()
    return entry


def _check_seals(fd: int, closings: list[Closed], keys: EpochKeys, on_progress, cancel) -> None:
    total = sum(c.end - c.start for c in closings) or 1
    done = [0]
    lock = threading.Lock()

    def seal_of(closed: Closed) -> bool:
        key: Hmac = keys.mac(closed.epoch)
        inner = key.inner.copy()
        position = closed.start
        while position < closed.end:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            chunk = os.pread(fd, min(_READ, closed.end - position), position)
            if not chunk:
                return False
            inner.update(chunk)  # hashlib releases the GIL: the two threads hash at once
            position += len(chunk)
            with lock:
                done[0] += len(chunk)
                if on_progress is not None:
                    on_progress(done[0] / total, f"checked {done[0] / 1e6:,.0f} MB of sealed epochs")
        outer = key.outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest() == closed.details.get("seal")

    with ThreadPoolExecutor(max_workers=2) as pool:
        # Largest first, so the two threads finish together.
        ordered = sorted(closings, key=lambda c: c.start - c.end)
        if not all(pool.map(seal_of, ordered)):
            raise _Unsealed()


def _summarise(fd: int, size: int, created: dict, created_end: int, closings: list[Closed],
               checkpoint_seq: int | None) -> SealedEpochs:
    previous_hash, previous_seq = created[fmt.HASH_FIELD], 0
    counts = {fmt.CREATED: 1}
    started: dict[int, int] = {}
    finished_refs: list[tuple[int, int]] = []
    recovered: list = []
    checkpoint_hash = created[fmt.HASH_FIELD] if checkpoint_seq == 0 else None
    for closed in closings:
        details = closed.details
        first_seq, last_seq = _int(details.get("first_seq")), _int(details.get("last_seq"))
        if first_seq != previous_seq + 1 or last_seq < first_seq or closed.entry["seq"] != last_seq + 1:
            raise _Unsealed()
        first = json.loads(_line_at(fd, closed.start, closed.end))
        last = json.loads(_last_line_before(fd, closed.start, closed.end))
        if (first.get("seq") != first_seq or first.get("prev_hash") != previous_hash
                or first.get(fmt.EPOCH_FIELD) != closed.epoch or last.get("seq") != last_seq
                or closed.entry.get("prev_hash") != last.get(fmt.HASH_FIELD)):
            raise _Unsealed()
        if details.get("reason") not in ("new day", "entry limit") or (
                details.get("reason") == "new day"
                and str(closed.entry.get("timestamp"))[:10] <= str(first.get("timestamp"))[:10]):
            raise _Unsealed()
        events = details.get("events")
        if not isinstance(events, dict) or sum(events.values()) != last_seq - first_seq + 1:
            raise _Unsealed()
        for name, count in events.items():
            counts[str(name)] = counts.get(str(name), 0) + _int(count)
        counts[fmt.EPOCH_CLOSED] = counts.get(fmt.EPOCH_CLOSED, 0) + 1
        for ref in details.get("finished_earlier", []):
            if started.pop(_int(ref), None) is None:
                finished_refs.append((None, _int(ref)))
        for seq in details.get("unfinished", []):
            started[_int(seq)] = _int(seq) + 1  # in an intact log, seq N is on line N + 1
        if events.get(fmt.RECOVERED):
            recovered += _recovered_in(fd, closed)
        if checkpoint_seq is not None and first_seq <= checkpoint_seq <= last_seq + 1:
            checkpoint_hash = _hash_of_seq(fd, closed, checkpoint_seq)
        previous_hash, previous_seq = closed.entry[fmt.HASH_FIELD], closed.entry["seq"]
    last_epoch = closings[-1].epoch if closings else 0
    end = closings[-1].line_end if closings else created_end
    last_timestamp = (closings[-1].entry if closings else created).get("timestamp")
    return SealedEpochs(end, previous_hash, previous_seq, last_epoch, len(closings), previous_seq + 1,
                        counts, created["details"], created.get("timestamp"),
                        last_timestamp if isinstance(last_timestamp, str) else None, started,
                        finished_refs, recovered, checkpoint_hash)


def _last_line_before(fd: int, start: int, end: int) -> bytes:
    block = os.pread(fd, min(MAX_LINE + 1, end - start), max(start, end - MAX_LINE - 1))
    if not block.endswith(b"\n"):
        raise _Unsealed()
    cut = block.rfind(b"\n", 0, len(block) - 1)
    return block[cut + 1:]


def _recovered_in(fd: int, closed: Closed) -> list:
    """The recovered_tail entries of a sealed epoch (rare: read only when it has some)."""
    found = []
    marker = b'"event": "' + fmt.RECOVERED.encode() + b'"'
    position = closed.start
    while position < closed.end:
        block = os.pread(fd, min(_READ + MAX_LINE, closed.end - position), position)
        at = block.find(marker)
        if at < 0:
            position += _READ
            continue
        line_start = block.rfind(b"\n", 0, at) + 1
        line = _line_at(fd, position + line_start, closed.end)
        entry = json.loads(line)
        found.append((_int(entry.get("seq")) + 1, entry.get("details")))
        position += line_start + len(line)
    return found


def _hash_of_seq(fd: int, closed: Closed, seq: int) -> str | None:
    if seq == closed.entry["seq"]:
        return closed.entry[fmt.HASH_FIELD]
    marker = b'"seq": %d,' % seq
    position = closed.start
    while position < closed.end:
        block = os.pread(fd, min(_READ + MAX_LINE, closed.end - position), position)
        at = block.find(marker)
        if at >= 0:
            line_start = block.rfind(b"\n", 0, at) + 1
            entry = json.loads(_line_at(fd, position + line_start, closed.end))
            if entry.get("seq") == seq:
                return entry.get(fmt.HASH_FIELD)
        position += _READ
    return None


def _int(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Unsealed()
    return value
