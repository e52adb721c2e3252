"""Checking an audit log line by line: every entry's hash, its link to the entry before it,
its MAC where a key covers its epoch, and the epoch rules.

`scan_range` checks the lines in one byte range of the file (the verifier checks ranges in
parallel processes and joins them). It reads in blocks, so memory stays bounded whatever
the file holds, and its time is linear in the range's size:

* the **fast path** checks a line Strongroom wrote from its bytes alone: such a line is its
  own canonical form plus the hash (see `format`), so the hashed and MACed bodies end at
  fixed distances from its newline, and after ``"event"`` (keys sort after ``"details"``, the
  only nested value) it holds no ``{``, so the last occurrence of a later key is the
  top-level one;
* anything else — another layout, a failed check, a change of epoch, the entries the epoch
  rules are about — goes to the **careful path**, which parses the line and says exactly
  what is wrong with it.

Nothing in the file is trusted: a line may be any bytes, of any length.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

from strongroom.core.audit import format as fmt
from strongroom.core.audit.keys import EpochKeys, Hmac
from strongroom.core.audit.report import BreakKind

BLOCK = 8 * 1024 * 1024
MAX_LINE = 1 << 20  # no entry Strongroom writes is longer
MAX_BREAKS = 1000

_PREV = b'"prev_hash": "'
_SEQ = b'"seq": '
_STARTED_SEQ = b'"started_seq": '
_EVENT = b'"event": "'
_NO_EVENT = b"\x00"  # matches no event name
_RULED = {fmt.CREATED, fmt.EPOCH_CLOSED, fmt.RECOVERED}  # entries the careful path reads
# Distances back from a Strongroom line's newline (see format.BODY_END and HASHED_END).
_MAC_AT, _HASH_AT = fmt.BODY_END, fmt.HASHED_END
_MAC_VALUE_AT = _MAC_AT - len(fmt.MAC_MARKER)  # the MAC's hex digits start here…
_MAC_VALUE_END = _HASH_AT + 1  # …and end here (before its closing quote)
_HASH_VALUE_AT, _HASH_VALUE_END = fmt.HEX + 2, 2
_EPOCH_VALUE = len(fmt.EPOCH_MARKER)
_PREV_VALUE = len(_PREV)
_EVENT_VALUE = len(_EVENT)


class KeySource:
    """The MAC keys a scan checks with: every epoch's (from the audit verification key), one
    epoch's (the current key kept on the workstation), or none."""

    def __init__(self, epoch_keys: EpochKeys | None = None, only_epoch: int | None = None,
                 only_key: bytes | None = None):
        self.epoch_keys = epoch_keys
        self.only_epoch = only_epoch
        self._only = Hmac(only_key) if only_key is not None else None
        self._only_raw = only_key

    def __getstate__(self) -> dict:  # sent to worker processes without HMAC states
        return {"epoch_keys": self.epoch_keys, "only_epoch": self.only_epoch,
                "only_key": self._only_raw}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    @property
    def any(self) -> bool:
        return self.epoch_keys is not None or self._only is not None

    def covers(self, epoch: int | None) -> bool:
        if self.epoch_keys is not None:
            return True
        return self._only is not None and epoch == self.only_epoch

    def mac(self, epoch: int | None) -> Hmac | None:
        """HMAC under the epoch's key, or None when no key of that epoch can exist."""
        if self.epoch_keys is not None:
            return self.epoch_keys.mac(epoch) if isinstance(epoch, int) else None
        return self._only if epoch == self.only_epoch else None

    def raw(self, epoch: int | None) -> bytes | None:
        if self.epoch_keys is not None:
            return self.epoch_keys.key(epoch) if isinstance(epoch, int) else None
        return self._only_raw if epoch == self.only_epoch else None


@dataclass(frozen=True)
class ScanRules:
    """How the lines of this log are checked."""

    keys: KeySource = field(default_factory=KeySource)
    format_version: int = fmt.FORMAT_VERSION  # 1: lenient epochs, format-1 MACs
    entries_per_epoch: int | None = None
    checkpoint_seq: int | None = None


@dataclass
class Edge:
    """The first or last entry of a range, for joining ranges."""

    line: int
    seq: int | None
    digest: str  # the last entry's own hash, or the first entry's prev_hash
    epoch: int | None
    event: str | None


@dataclass
class RangeResult:
    lines: int = 0
    first: Edge | None = None
    last: Edge | None = None
    breaks: list = field(default_factory=list)  # (line, seq, kind name, message)
    more_breaks: int = 0
    counts: dict = field(default_factory=dict)
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    torn: tuple | None = None  # (line, bytes) of an incomplete last line
    recovered: list = field(default_factory=list)  # (line, details) of recovered_tail entries
    created: dict | None = None
    checkpoint_hash: str | None = None
    reference_lines: int = 0
    started: dict = field(default_factory=dict)  # seq → line: answers started, not finished here
    finished_refs: list = field(default_factory=list)  # (line, started_seq): finished, started before


def scan_range(path: str, start: int, end: int, rules: ScanRules, is_last: bool,
               at_log_start: bool) -> RangeResult:
    """Check the lines in bytes [start, end) of the log; ``start`` is a line's start."""
    scanner = _Scanner(rules, at_log_start)
    with open(path, "rb", buffering=0) as handle:
        position = start
        pending = b""  # the start of a line the last block did not finish
        skipping = False  # inside a line longer than MAX_LINE
        while position < end:
            hole = next_data(handle.fileno(), position, end) - position
            if hole:  # a hole in a sparse file reads as zeros: no newline, part of one line
                position += hole
                if not skipping and len(pending) + hole <= MAX_LINE:
                    pending += bytes(hole)
                else:
                    scanner.long_line_bytes += len(pending) + hole
                    pending, skipping = b"", True
                continue
            size = min(BLOCK, end - position, next_hole(handle.fileno(), position, end) - position)
            handle.seek(position)  # (finding holes moves the file's offset)
            block = handle.read(size)
            if not block:
                break
            position += len(block)
            if skipping:
                newline = block.find(b"\n")
                if newline < 0:
                    scanner.long_line_bytes += len(block)
                    continue
                scanner.long_line_bytes += newline + 1
                scanner.too_long()
                block = block[newline + 1:]
                skipping = False
            data = pending + block if pending else block
            last_newline = data.rfind(b"\n")
            if last_newline >= 0:
                scanner.scan(data, last_newline + 1)
            pending = data[last_newline + 1:]
            if len(pending) > MAX_LINE:
                scanner.long_line_bytes = len(pending)
                pending = b""
                skipping = True
        if skipping:
            scanner.too_long()
        elif pending and is_last:
            scanner.result.torn = (scanner.number, len(pending))
        elif pending:
            scanner.careful(pending)
    return scanner.finish()


def next_data(fd: int, position: int, end: int) -> int:
    """Where data resumes at or after ``position`` (``end`` if only a hole remains)."""
    try:
        return min(os.lseek(fd, position, os.SEEK_DATA), end)
    except OSError:  # ENXIO: a hole up to the end; or a file system without holes
        return end if _has_holes(fd) else position


def next_hole(fd: int, position: int, end: int) -> int:
    try:
        return max(position + 1, min(os.lseek(fd, position, os.SEEK_HOLE), end))
    except OSError:
        return end


def _has_holes(fd: int) -> bool:
    try:
        os.lseek(fd, 0, os.SEEK_HOLE)
        return True
    except OSError:
        return False


class _Scanner:
    def __init__(self, rules: ScanRules, at_log_start: bool):
        self.rules = rules
        self.keys = rules.keys
        self.strict = rules.format_version >= 2
        self.result = RangeResult()
        self.at_log_start = at_log_start
        self.number = 1  # the next line's number, counted within the range
        self.long_line_bytes = 0
        # What the next line is checked against (the last entry read):
        self.previous_hash: bytes | None = None  # its stated entry_hash
        self.previous_seq: int | None = None
        self.previous_event: str | None = None  # None for an ordinary event
        self.previous_epoch: int | None = None
        self.previous_line: bytes | None = None  # its bytes, when its seq is not known yet
        self.epoch_entries = 0  # entries of the current epoch read in this range
        self.epoch_first_day: str | None = None  # the UTC day its first entry was written
        # What the fast path needs about the current epoch:
        self.epoch_bytes: bytes | None = None
        self.mac: Hmac | None = None
        self.check_mac = False
        self.last_fast_line: tuple[bytes, int] | None = None

    # -- the fast path -------------------------------------------------------------------------

    def scan(self, data: bytes, stop: int) -> None:
        """Check the complete lines in data[:stop]."""
        result = self.result
        counts, started, finished_refs = result.counts, result.started, result.finished_refs
        view = memoryview(data)
        find, rfind, startswith = data.find, data.rfind, data.startswith
        sha256 = hashlib.sha256
        hash_marker, mac_marker, epoch_marker = fmt.HASH_MARKER, fmt.MAC_MARKER, fmt.EPOCH_MARKER
        event_marker, prev_marker, line_end = _EVENT, _PREV, fmt.LINE_END
        strict = self.strict
        checkpoint = self.rules.checkpoint_seq
        checkpoint_marker = None if checkpoint is None else b'"seq": %d,' % checkpoint
        epoch_bytes, mac, check_mac = self.epoch_bytes, self.mac, self.check_mac
        previous = self.previous_hash
        expected = None if previous is None else previous + b'"'
        event_name, run = _NO_EVENT, 0  # the current run of one event, with its closing quote
        in_epoch = 0  # fast lines since the last careful one
        position, number = 0, self.number
        previous_start, previous_fast = 0, False
        while position < stop:
            newline = find(b"\n", position)
            mac_at, hash_at = newline - _MAC_AT, newline - _HASH_AT
            event_at = find(event_marker, position, mac_at)
            # The hash covers the line up to its entry_hash field; the rest is fixed.
            fast = (strict and expected is not None and event_at > position
                    and startswith(hash_marker, hash_at) and startswith(mac_marker, mac_at)
                    and startswith(line_end, newline - 2) and find(b"{", event_at, mac_at) < 0)
            if fast:
                epoch_at = rfind(epoch_marker, event_at, mac_at)
                prev_at = rfind(prev_marker, event_at, epoch_at)
                fast = (epoch_at > 0 and prev_at > 0 and data[epoch_at + _EPOCH_VALUE:mac_at] == epoch_bytes
                        and startswith(expected, prev_at + _PREV_VALUE))
            if fast:
                digest = sha256(view[position:hash_at])
                digest.update(b"}")
                fast = digest.hexdigest().encode() == data[newline - _HASH_VALUE_AT:newline - _HASH_VALUE_END]
                if fast and check_mac:
                    fast = mac is not None and mac.hexdigest(view[position:mac_at], b"}").encode() \
                        == data[newline - _MAC_VALUE_AT:newline - _MAC_VALUE_END]
            if fast and not startswith(event_name, event_at + _EVENT_VALUE):
                if run:
                    _add(counts, event_name, run)
                    run = 0
                event_name = data[event_at + _EVENT_VALUE:find(b'"', event_at + _EVENT_VALUE) + 1]
                fast = event_name[:-1].decode("ascii", "replace") not in _RULED
            if fast:
                run += 1
                in_epoch += 1
                if event_name == b'inference_started"':
                    seq = _int_after(data, rfind(_SEQ, prev_at, epoch_at), len(_SEQ))
                    if seq is not None:
                        started[seq] = number
                elif event_name == b'inference"':
                    ref = _int_after(data, rfind(_STARTED_SEQ, prev_at, epoch_at), len(_STARTED_SEQ))
                    if ref is not None and started.pop(ref, None) is None:
                        finished_refs.append((number, ref))
                if checkpoint_marker is not None and find(checkpoint_marker, prev_at, epoch_at) >= 0:
                    result.checkpoint_hash = data[newline - _HASH_VALUE_AT:newline - _HASH_VALUE_END].decode()
                previous = data[newline - _HASH_VALUE_AT:newline - _HASH_VALUE_END]
                expected = previous + b'"'
                previous_fast = True
            else:
                if run:
                    _add(counts, event_name, run)
                    run = 0
                event_name = _NO_EVENT
                if previous_fast:  # the entry before was read by the fast path
                    self.previous_hash, self.previous_event, self.previous_seq = previous, None, None
                    self.previous_line = data[previous_start:position]
                self.epoch_entries += in_epoch
                in_epoch = 0
                self.number = number
                self.careful(data[position:newline + 1])
                previous = self.previous_hash
                expected = None if previous is None else previous + b'"'
                epoch_bytes, mac, check_mac = self.epoch_bytes, self.mac, self.check_mac
                previous_fast = False
            previous_start = position
            position = newline + 1
            number += 1
        if run:
            _add(counts, event_name, run)
        self.epoch_entries += in_epoch
        self.number = number
        if previous_fast:
            self.previous_hash, self.previous_event, self.previous_seq = previous, None, None
            self.previous_line = data[previous_start:position]
            self.last_fast_line = (self.previous_line, number - 1)

    # -- the careful path ----------------------------------------------------------------------

    def careful(self, line: bytes) -> None:
        """Parse one line, check everything, and say what is wrong."""
        number = self.number
        self.number += 1
        self.last_fast_line = None
        entry = _parse(line)
        if entry is None:
            self.broke(number, None, BreakKind.UNREADABLE, "this line is not a JSON audit entry")
            self._forget_previous()
            return
        stated = entry.pop(fmt.HASH_FIELD)
        seq = entry.get("seq") if _is_int(entry.get("seq")) else None
        event = entry.get("event")
        event = event if isinstance(event, str) else ("inference (reference form)" if "prompt_hash" in entry
                                                      else "unknown")
        result = self.result
        result.counts[event[:64]] = result.counts.get(event[:64], 0) + 1
        if fmt.entry_hash(entry) != stated:
            self.broke(number, seq, BreakKind.EDITED, "its content does not match its entry_hash")
        epoch = entry.get(fmt.EPOCH_FIELD)
        epoch = epoch if _is_int(epoch) else None
        self._check_mac(number, seq, entry, epoch)
        self._check_link(number, seq, entry, stated, event, epoch)
        self._check_epoch(number, seq, entry, event, epoch)
        self._note(number, entry, event, seq, stated)
        self.previous_hash = stated.encode("utf-8", "replace")
        self.previous_seq, self.previous_line = seq, None
        self.previous_event = event if event in _RULED else None
        self.previous_epoch = epoch
        self._enter_epoch(epoch if fmt.MAC_FIELD in entry else None)

    def _enter_epoch(self, epoch: int | None) -> None:
        """What the fast path checks the next lines with."""
        if epoch is None or not self.strict:
            self.epoch_bytes, self.mac, self.check_mac = None, None, False
            return
        self.epoch_bytes = str(epoch).encode()
        self.check_mac = self.keys.covers(epoch)
        self.mac = self.keys.mac(epoch) if self.check_mac else None

    def _forget_previous(self) -> None:
        self.previous_hash = self.previous_seq = self.previous_line = None
        self.previous_event = None
        self.epoch_bytes, self.mac, self.check_mac = None, None, False

    def _check_mac(self, number: int, seq, entry: dict, epoch) -> None:
        keys = self.keys
        if fmt.MAC_FIELD not in entry:
            self.result.reference_lines += 1
            if keys.any:
                self.broke(number, seq, BreakKind.MAC, _MAC_MESSAGE)
            return
        if not keys.covers(epoch) and epoch is not None:
            return  # a key for another epoch: these MACs are not checked
        stated = entry.pop(fmt.MAC_FIELD)
        if self.strict:
            key = keys.mac(epoch)
            ok = key is not None and fmt.entry_mac(key, entry) == stated
        else:
            raw = keys.raw(epoch)
            ok = raw is not None and fmt.entry_mac_v1(raw, entry) == stated
        entry[fmt.MAC_FIELD] = stated
        if not ok and keys.any:
            self.broke(number, seq, BreakKind.MAC, _MAC_MESSAGE)

    def _check_link(self, number: int, seq, entry: dict, stated, event: str, epoch) -> None:
        prev = entry.get("prev_hash")
        prev = prev if isinstance(prev, str) else repr(prev)
        result = self.result
        if result.first is None and self.previous_hash is None:
            result.first = Edge(number, seq, prev, epoch, event)
            if self.at_log_start and number == 1 and prev != fmt.GENESIS:
                self.broke(number, seq, BreakKind.LINK,
                           "the first entry does not start the chain (its prev_hash is not "
                           "'genesis'): entries were cut from the beginning")
        elif self.previous_hash is not None and prev.encode("utf-8", "replace") != self.previous_hash:
            if self.previous_seq is None and self.previous_line is not None:
                previous = _parse(self.previous_line)
                self.previous_seq = previous.get("seq") if previous and _is_int(previous.get("seq")) else None
            self.broke(number, seq, BreakKind.LINK, link_message(self.previous_seq, seq))
        if isinstance(stated, str):
            result.last = Edge(number, seq, stated, epoch, event)

    def _check_epoch(self, number: int, seq, entry: dict, event: str, epoch) -> None:
        """The epoch rules of format 2 (see `format.EPOCH_RULES`); format 1 only required that
        epochs never go backwards."""
        if fmt.MAC_FIELD not in entry:
            return
        previous = self.previous_epoch
        if not self.strict:
            if epoch is not None and previous is not None and epoch < previous:
                self.broke(number, seq, BreakKind.EPOCH, f"epoch {epoch} follows epoch {previous}")
            return
        if epoch is None:
            self.broke(number, seq, BreakKind.EPOCH, "its verification_epoch is not a whole number")
            return
        if self.at_log_start and number == 1:
            if event != fmt.CREATED or epoch != 0:
                self.broke(number, seq, BreakKind.EPOCH,
                           "the log's first entry must be the one that created it, in epoch 0")
        elif self.previous_hash is None or previous is None:
            pass  # the range (or what can be read) starts here: the join, or the break, says it
        elif epoch == previous:
            if event == fmt.CREATED:
                self.broke(number, seq, BreakKind.EPOCH, "a second audit_created entry")
            elif self.previous_event in (fmt.CREATED, fmt.EPOCH_CLOSED):
                self.broke(number, seq, BreakKind.EPOCH,
                           f"epoch {previous} was closed by the entry before, but this entry is "
                           f"still in epoch {epoch}")
        elif epoch == previous + 1 and self.previous_event in (fmt.CREATED, fmt.EPOCH_CLOSED):
            self.epoch_entries = 0
            self.epoch_first_day = str(entry.get("timestamp"))[:10]
        else:
            self.broke(number, seq, BreakKind.EPOCH,
                       epoch_message(previous, epoch))
        self.epoch_entries += 1
        if event == fmt.EPOCH_CLOSED:
            self._check_closing(number, seq, entry, epoch)
        limit = self.rules.entries_per_epoch
        if limit and epoch > 0 and self.epoch_entries > limit:
            self.broke(number, seq, BreakKind.EPOCH,
                       f"epoch {epoch} holds more than the {limit} entries its rules allow")

    def _check_closing(self, number: int, seq, entry: dict, epoch: int) -> None:
        details = entry.get("details") if isinstance(entry.get("details"), dict) else {}
        problems = []
        if details.get("epoch") != epoch:
            problems.append(f"it says it closes epoch {details.get('epoch')!r}, but it is in epoch {epoch}")
        first, last = details.get("first_seq"), details.get("last_seq")
        if seq is not None and last != seq - 1:
            problems.append(f"it says the epoch's last entry is seq {last!r}, but it follows seq {seq - 1}")
        limit, reason = self.rules.entries_per_epoch, details.get("reason")
        if reason not in ("new day", "entry limit"):
            problems.append(f"its reason {reason!r} is not one the epoch rules allow")
        if (limit and reason == "entry limit" and _is_int(first) and _is_int(last)
                and last - first + 2 != limit):
            problems.append(f"it gives the entry limit as its reason, but the epoch holds "
                            f"{last - first + 2} entries, not {limit}")
        day = str(entry.get("timestamp"))[:10]
        if reason == "new day" and self.epoch_first_day is not None and day <= self.epoch_first_day:
            problems.append(f"it gives a new day as its reason, but the epoch began on {day} too")
        for problem in problems:
            self.broke(number, seq, BreakKind.EPOCH, f"this entry closes its epoch wrongly: {problem}")

    def _note(self, number: int, entry: dict, event: str, seq, stated: str) -> None:
        result = self.result
        timestamp = entry.get("timestamp")
        if isinstance(timestamp, str):
            result.first_timestamp = result.first_timestamp or timestamp[:64]
            result.last_timestamp = timestamp[:64]
        details = entry.get("details") if isinstance(entry.get("details"), dict) else {}
        if event == fmt.CREATED and result.created is None:
            result.created = details
        elif event == fmt.RECOVERED:
            result.recovered.append((number, details))
        elif event == fmt.STARTED and seq is not None:
            result.started[seq] = number
        elif event == fmt.FINISHED and _is_int(entry.get("started_seq")):
            if result.started.pop(entry["started_seq"], None) is None:
                result.finished_refs.append((number, entry["started_seq"]))
        if self.rules.checkpoint_seq is not None and seq == self.rules.checkpoint_seq:
            result.checkpoint_hash = stated

    def too_long(self) -> None:
        self.broke(self.number, None, BreakKind.UNREADABLE,
                   f"this line is {self.long_line_bytes:,} bytes long; no audit entry is longer "
                   f"than {MAX_LINE // 1024:,} KB")
        self.number += 1
        self.long_line_bytes = 0
        self.last_fast_line = None
        self._forget_previous()

    def broke(self, number: int, seq, kind: BreakKind, message: str) -> None:
        if len(self.result.breaks) < MAX_BREAKS:
            self.result.breaks.append((number, seq, kind.name, message))
        else:
            self.result.more_breaks += 1

    def finish(self) -> RangeResult:
        result = self.result
        result.lines = self.number - 1
        if self.last_fast_line is not None:  # the range ended with a fast line: describe it
            line, number = self.last_fast_line
            entry = _parse(line) or {}
            seq = entry.get("seq") if _is_int(entry.get("seq")) else None
            result.last = Edge(number, seq, str(entry.get(fmt.HASH_FIELD)),
                               entry.get(fmt.EPOCH_FIELD), None)
            timestamp = entry.get("timestamp")  # the fast path reads no timestamps
            if isinstance(timestamp, str):
                result.first_timestamp = result.first_timestamp or timestamp[:64]
                result.last_timestamp = timestamp[:64]
        if result.last is not None and self.previous_hash is None:
            result.last = None  # the range ended on a line that could not be read
        return result


_MAC_MESSAGE = ("its MAC does not match (or it has none): it was forged or rewritten by someone "
                "without the audit key")


def _add(counts: dict, event_name: bytes, run: int) -> None:
    name = event_name[:-1].decode("ascii", "replace")
    counts[name] = counts.get(name, 0) + run


def _int_after(data: bytes, at: int, skip: int) -> int | None:
    """The whole number written at data[at + skip:] up to the next comma, if there is one."""
    if at < 0:
        return None
    end = data.find(b",", at + skip, at + skip + 24)
    digits = data[at + skip:end]
    return int(digits) if end > 0 and digits.isdigit() else None


def _parse(line: bytes) -> dict | None:
    try:
        entry = json.loads(line)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get(fmt.HASH_FIELD), str):
        return None
    return entry


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def link_message(previous_seq, seq) -> str:
    if _is_int(previous_seq) and _is_int(seq):
        if seq > previous_seq + 1:
            missing = (f"seq {previous_seq + 1}" if seq == previous_seq + 2
                       else f"seq {previous_seq + 1} to {seq - 1}")
            return (f"seq jumps from {previous_seq} to {seq}: the entries with {missing} were "
                    "deleted or moved")
        if seq == previous_seq:
            return f"an entry was inserted: seq {seq} appears twice"
        if seq < previous_seq:
            return f"entries were reordered: seq {seq} comes after seq {previous_seq}"
    return ("its prev_hash does not match the entry before it: an entry was inserted, deleted "
            "or reordered")


def epoch_message(previous: int, epoch: int) -> str:
    if epoch < previous:
        return f"epoch {epoch} follows epoch {previous}: the epoch went backwards"
    if epoch == previous + 1:
        return (f"epoch {epoch} begins without an audit_epoch_closed entry ending epoch {previous}: "
                "entries were removed before it, or it was re-sealed with a later key")
    return (f"epoch {epoch} follows epoch {previous}: epochs advance one at a time, so entries "
            "were re-sealed with a later key, or whole epochs were removed")
