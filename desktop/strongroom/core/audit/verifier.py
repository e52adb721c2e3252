"""Validating an audit log: the chain, the keyed MACs, a checkpoint, and crash damage.

What can be shown depends on what the auditor brings:

* nothing: every entry's hash and its link to the one before (the reference chain rule);
  sequence numbers place deletions, insertions and reorderings. A plain chain cannot show
  that entries were cut from the end, or that someone who can write the file rewrote it
  all with fresh hashes, and the report says so;
* the audit verification key: every entry's MAC, so a rewrite by anyone without the key
  fails at its first rewritten entry;
* a checkpoint kept off the machine: the log must still contain that entry unchanged, so
  cutting the tail or rewriting anything before it is found.

The file is split into ranges checked in parallel processes; most lines are checked from
their bytes (see `audit_format`), the others by parsing them.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from strongroom.core.audit import format as fmt
from strongroom.core.audit.report import AuditReport, Break, BreakKind
from strongroom.core.progress import Cancelled

MAX_BREAKS = 1000
_PREV = b'"prev_hash": "'
_SEQ = b'"seq": '
_EVENT = b'"event": "'
_EPOCH_MARKER = b', "verification_epoch": '
_SUFFIX_LENGTH = len(fmt.HASH_SUFFIX) + 64 + 2


@dataclass
class _Chunk:
    """What one range of lines told; the parent joins the ranges."""

    first_line: int
    lines: int = 0
    first: tuple | None = None  # (line, seq, prev_hash, epoch)
    last: tuple | None = None  # (line, seq, entry_hash, epoch)
    breaks: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    torn: tuple | None = None  # (line, bytes) of an incomplete last line
    recovered: list = field(default_factory=list)
    created: dict | None = None
    checkpoint_hash: str | None = None
    reference_lines: int = 0
    last_position: tuple | None = None  # (start, end, line number) of the last entry


def _slow_fields(line: bytes):
    """Parse a line the long way: (entry, entry_hash ok?, prefix bytes for MAC or None)."""
    entry = json.loads(line)
    if not isinstance(entry, dict) or not isinstance(entry.get(fmt.HASH_FIELD), str):
        raise ValueError("no entry_hash")
    stated = entry.pop(fmt.HASH_FIELD)
    return entry, fmt.entry_hash(entry) == stated, stated


def _seq_of(line) -> int | None:
    try:
        value = json.loads(bytes(line)).get("seq")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


_MAC_MESSAGE = ("its MAC does not match (or it has none): it was forged or rewritten by someone "
                "without the audit key")


class _Range:
    """One range's state, and its slow path: lines that must be parsed to be checked."""

    def __init__(self, chunk: _Chunk, keys, checkpoint_seq: int | None):
        self.chunk = chunk
        self.keys = keys
        self.checkpoint_seq = checkpoint_seq
        self.previous_hash: bytes | None = None
        self.previous_epoch: int | None = None
        self.previous_line = b""

    def broke(self, number: int, line: bytes, kind: BreakKind, message: str) -> None:
        self.chunk.breaks.append((number, _seq_of(line), kind.name, message))

    def link(self, number: int, line: bytes, prev: bytes, epoch: int | None) -> None:
        """Check that ``line`` follows the previous entry; called for failures and edges."""
        if self.previous_hash is None:
            if self.chunk.first is None:
                self.chunk.first = (number, _seq_of(line), prev.decode("ascii", "replace"), epoch)
        elif prev != self.previous_hash:
            self.broke(number, line, BreakKind.LINK,
                       _link_message(_seq_of(self.previous_line), _seq_of(line)))
        if epoch is not None:
            if self.previous_epoch is not None and epoch < self.previous_epoch:
                self.broke(number, line, BreakKind.EPOCH, f"epoch {epoch} follows epoch {self.previous_epoch}")
            self.previous_epoch = epoch

    def slow(self, line: bytes, number: int) -> None:
        chunk = self.chunk
        try:
            entry, hash_ok, stated = _slow_fields(line)
        except (ValueError, UnicodeDecodeError):
            chunk.breaks.append((number, None, BreakKind.UNREADABLE.name,
                                 "this line is not a JSON audit entry"))
            self.previous_hash = None
            return
        epoch = entry.get(fmt.EPOCH_FIELD)
        epoch = epoch if isinstance(epoch, int) and 0 <= epoch < 1_000_000 else None
        event = entry.get("event", "inference (reference form)" if "prompt_hash" in entry else "unknown")
        event = str(event).encode()
        chunk.counts[event] = chunk.counts.get(event, 0) + 1
        if not hash_ok:
            self.broke(number, line, BreakKind.EDITED, "its content does not match its entry_hash")
        if fmt.MAC_FIELD not in entry:
            chunk.reference_lines += 1
            if self.keys is not None:
                self.broke(number, line, BreakKind.MAC, _MAC_MESSAGE)
        elif self.keys is not None:
            stated_mac = entry.pop(fmt.MAC_FIELD)
            body_digest = hashlib.sha256(fmt.canonical(entry)).digest()
            if epoch is None or self.keys(epoch).hexdigest(body_digest) != stated_mac:
                self.broke(number, line, BreakKind.MAC, _MAC_MESSAGE)
        _note_entry(chunk, entry, number)
        if self.checkpoint_seq is not None and entry.get("seq") == self.checkpoint_seq:
            chunk.checkpoint_hash = stated
        self.link(number, line, str(entry.get("prev_hash")).encode(), epoch)
        self.previous_hash = stated.encode()
        self.previous_line = line
        chunk.last_position = (number, line)


_NOTED_EVENTS = (b"audit_created", b"recovered_tail")


def _verify_range(path: str, start: int, end: int, first_line: int, root: bytes | None,
                  checkpoint_seq: int | None, is_last: bool) -> _Chunk:
    """Check the lines in bytes [start, end) of the log. Runs in a worker process.

    The loop is the fast path, written for speed (locals only; work that rarely changes,
    such as the epoch's key and the event name, is redone only when its bytes change). A
    line Strongroom wrote is its own canonical form plus the hash, and after "event" (keys
    sort after "details", the only nested value) it holds no "{", so the last occurrence
    of each later key before the MAC is the top-level one. A line that is anything else,
    or fails any check, is handed to `_Range`, which parses it and says what is wrong.
    """
    chunk = _Chunk(first_line)
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(end - start)
    view = memoryview(data)
    keys = fmt.EpochKeys(root) if root is not None else None
    state = _Range(chunk, keys, checkpoint_seq)
    checkpoint_marker = None if checkpoint_seq is None else b'"seq": %d,' % checkpoint_seq
    counts = chunk.counts
    sha256 = hashlib.sha256
    find, rfind, startswith = data.find, data.rfind, data.startswith
    hash_suffix, mac_marker, event_marker, prev_marker, epoch_marker = (
        fmt.HASH_SUFFIX, fmt.MAC_MARKER, _EVENT, _PREV, _EPOCH_MARKER)
    size = len(data)
    position, number = 0, first_line
    last_newline = rfind(b"\n")
    expected_prev = None  # the previous entry's hash and closing quote, as bytes
    previous_hash, previous_epoch, previous_start = None, None, 0
    epoch_bytes, epoch, mac_state = None, -1, None
    event_name, event_run = None, 0  # counts are kept per run of one event name
    while position < size:
        newline = find(b"\n", position)
        if newline < 0:
            if is_last:
                chunk.torn = (number, size - position)
            break
        end_ = newline - 83
        v = rfind(event_marker, position, end_)
        m = rfind(mac_marker, v, end_)
        i = rfind(prev_marker, v, m)
        e = rfind(epoch_marker, i, m)
        fast = (end_ == m + 88 and v > position and i > v and e > i and expected_prev is not None
                and startswith(hash_suffix, end_) and find(b"{", v, end_) < 0)
        if fast:
            stated = data[newline - 66:newline - 2]
            digest = sha256(view[position:m])
            body = digest.copy()
            body.update(b"}")
            digest.update(view[m:end_])
            digest.update(b"}")
            if data[e + 24:m] != epoch_bytes:
                epoch_bytes = data[e + 24:m]
                new_epoch = int(epoch_bytes)
                fast = new_epoch >= epoch
                epoch = new_epoch
                mac_state = keys(epoch).state if keys is not None else None
            if mac_state is not None:
                check = mac_state.copy()
                check.update(body.digest())
                fast = fast and check.hexdigest().encode() == data[m + 23:end_ - 1]
            fast = (fast and digest.hexdigest().encode() == stated
                    and startswith(expected_prev, i + 14) and newline != last_newline)
            if fast and (event_name is None or not startswith(event_name, v + 10)):
                if event_name is not None:
                    counts[event_name[:-1]] = counts.get(event_name[:-1], 0) + event_run
                event_name = data[v + 10:find(b'"', v + 10) + 1]
                event_run = 0
                fast = event_name[:-1] not in _NOTED_EVENTS
        if fast:
            event_run += 1
            if checkpoint_marker is not None and find(checkpoint_marker, position, end_) >= 0 \
                    and _seq_of(data[position:newline]) == checkpoint_seq:
                chunk.checkpoint_hash = stated.decode()
            previous_hash, previous_epoch = stated, epoch
        else:
            # The careful way: parse, check, and explain; then carry on from this line.
            state.previous_hash, state.previous_epoch = previous_hash, previous_epoch
            state.previous_line = data[previous_start:max(previous_start, position - 1)]
            state.slow(data[position:newline], number)
            previous_hash, previous_epoch = state.previous_hash, state.previous_epoch
            epoch_bytes, epoch = None, previous_epoch if previous_epoch is not None else -1
        expected_prev = None if previous_hash is None else previous_hash + b'"'
        previous_start = position
        position = newline + 1
        number += 1
    if event_name is not None:
        counts[event_name[:-1]] = counts.get(event_name[:-1], 0) + event_run
    chunk.lines = number - first_line
    last = chunk.last_position
    chunk.last_position = None
    if last is not None and previous_hash is not None:
        entry = json.loads(last[1])
        chunk.last = (last[0], entry.get("seq"), previous_hash.decode(), previous_epoch)
    chunk.counts = {k.decode("utf-8", "replace"): v for k, v in counts.items()}
    return chunk


def _note_entry(chunk: _Chunk, entry: dict, number: int) -> None:
    """Keep what the report needs from the few entries it describes."""
    timestamp = entry.get("timestamp")
    if isinstance(timestamp, str):
        chunk.first_timestamp = chunk.first_timestamp or timestamp
        chunk.last_timestamp = timestamp
    if entry.get("event") == "audit_created":
        chunk.created = entry.get("details")
    if entry.get("event") == "recovered_tail":
        chunk.recovered.append((number, entry.get("details")))


def _link_message(previous_seq, seq) -> str:
    if isinstance(previous_seq, int) and isinstance(seq, int):
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


def _split(path: Path, parts: int) -> list[tuple[int, int]]:
    size = path.stat().st_size
    if size == 0:
        return []
    bounds = [0]
    with open(path, "rb") as handle:
        for part in range(1, parts):
            handle.seek(size * part // parts)
            handle.readline()
            position = handle.tell()
            if bounds[-1] < position < size:
                bounds.append(position)
    bounds.append(size)
    return list(zip(bounds[:-1], bounds[1:]))


def read_checkpoint(path: Path) -> dict:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable checkpoint ({error})") from None
    if record.get("format") != "strongroom.audit-checkpoint" or not isinstance(record.get("entry_hash"), str):
        raise ValueError(f"{path}: not a Strongroom audit checkpoint")
    return record


def verify_log(path: Path, key_text: str | None = None, checkpoint: dict | None = None,
               workers: int | None = None,
               on_progress: Callable[[float, str], None] | None = None,
               cancel: threading.Event | None = None) -> AuditReport:
    """Check the log at ``path``. Raises ValueError for an unusable key; never for a bad log."""
    path = Path(path)
    report = AuditReport(path)
    root = fmt.key_from_text(key_text) if key_text else None
    report.keyed = root is not None
    if not path.is_file():
        report.breaks.append(Break(0, None, BreakKind.UNREADABLE, f"{path} does not exist"))
        return report
    if workers is None:  # small logs are not worth starting processes for
        workers = max(1, min(8, len(os.sched_getaffinity(0)))) if path.stat().st_size > (4 << 20) else 1
    ranges = _split(path, workers)
    checkpoint_seq = checkpoint.get("seq") if checkpoint else None
    # Each range numbers its lines from 1; _join shifts them once the counts are known.
    jobs = [(str(path), start, end, 1, root, checkpoint_seq, index == len(ranges) - 1)
            for index, (start, end) in enumerate(ranges)]
    chunks: list[_Chunk] = []
    if len(jobs) > 1:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=len(jobs), mp_context=context) as pool:
            futures = [pool.submit(_verify_range, *job) for job in jobs]
            for done, future in enumerate(futures, 1):
                if cancel is not None and cancel.is_set():
                    for other in futures:
                        other.cancel()
                    raise Cancelled()
                chunks.append(future.result())
                if on_progress:
                    on_progress(done / len(futures), f"checked {sum(c.lines for c in chunks):,} entries")
    elif jobs:
        chunks.append(_verify_range(*jobs[0]))
        if on_progress:
            on_progress(1.0, f"checked {chunks[0].lines:,} entries")
    _join(report, chunks)
    _describe(report, chunks, root, checkpoint)
    return report


def _join(report: AuditReport, chunks: list[_Chunk]) -> None:
    breaks = []
    previous: _Chunk | None = None
    offset = 0  # lines in the ranges before this one
    for chunk in chunks:
        shift = lambda item: (item[0] + offset, *item[1:]) if item else item  # noqa: E731
        chunk.first, chunk.last = shift(chunk.first), shift(chunk.last)
        report.entries += chunk.lines
        for event, count in chunk.counts.items():
            report.counts[event] = report.counts.get(event, 0) + count
        report.first_timestamp = report.first_timestamp or chunk.first_timestamp
        report.last_timestamp = chunk.last_timestamp or report.last_timestamp
        breaks += [Break(line + offset, seq, BreakKind[kind], message)
                   for line, seq, kind, message in chunk.breaks]
        if previous is not None and previous.last and chunk.first:
            line, seq, prev, epoch = chunk.first
            _, last_seq, last_hash, last_epoch = previous.last
            if prev != last_hash:
                breaks.append(Break(line, seq, BreakKind.LINK, _link_message(last_seq, seq)))
            if isinstance(epoch, int) and isinstance(last_epoch, int) and epoch < last_epoch:
                breaks.append(Break(line, seq, BreakKind.EPOCH, f"epoch {epoch} follows epoch {last_epoch}"))
        elif previous is None and chunk.first:
            line, seq, prev, _ = chunk.first
            if prev != fmt.GENESIS:
                breaks.append(Break(line, seq, BreakKind.LINK,
                                    "the first entry does not start the chain (its prev_hash is not "
                                    "'genesis'): entries were cut from the beginning"))
        if chunk.torn:
            line, size = chunk.torn
            report.crashes.append(
                f"line {line + offset}: the last {size} bytes are an incomplete entry (the app was "
                "interrupted while writing it; Strongroom moves it aside and records it when the "
                "log is next opened)")
        for line, details in chunk.recovered:
            report.crashes.append(
                f"line {line + offset}: Strongroom recovered an incomplete entry after a crash "
                f"({(details or {}).get('dropped_bytes')} bytes, saved as {(details or {}).get('saved_as')})")
        previous = chunk if chunk.last else previous
        offset += chunk.lines
    breaks.sort(key=lambda b: b.line)
    report.breaks = breaks[:MAX_BREAKS]
    report.more_breaks = max(0, len(breaks) - MAX_BREAKS)


def _describe(report: AuditReport, chunks: list[_Chunk], root: bytes | None,
              checkpoint: dict | None) -> None:
    reference = sum(c.reference_lines for c in chunks)
    report.reference_format = reference > 0
    report.checked_with.append("every entry's hash and its link to the entry before it")
    created = next((c.created for c in chunks if c.created), None)
    if root is not None:
        report.checked_with.append("every entry's MAC, with the audit verification key")
        if created and created.get("key_fingerprint") not in (None, fmt.key_fingerprint(root)):
            report.breaks.insert(0, Break(1, 0, BreakKind.WRONG_KEY,
                                          "this is not the key of this log (its fingerprint differs "
                                          "from the one the log records)"))
    else:
        report.notes.append("No audit verification key was given: an entry rewritten with fresh "
                            "hashes by someone who can write the file cannot be told apart from "
                            "the original. Give the key to check the MACs.")
    if reference:
        report.notes.append(
            f"{reference:,} entries are in the reference logger's form (a plain hash chain from "
            "'genesis', with no MAC and no sequence numbers): such a chain cannot show that entries "
            "were cut from the end, or that whoever could write the file rewrote it all.")
    if checkpoint is not None:
        report.checkpoint_checked = True
        seq, expected = checkpoint.get("seq"), checkpoint.get("entry_hash")
        report.checked_with.append(f"the checkpoint of seq {seq} (entry_hash {expected})")
        found = next((c.checkpoint_hash for c in chunks if c.checkpoint_hash), None)
        last_line = report.entries
        last_seq = next((c.last[1] for c in reversed(chunks) if c.last), None)
        if found is None:
            report.breaks.append(Break(last_line, last_seq, BreakKind.TRUNCATED,
                                       f"the log ends at seq {last_seq}, but the checkpoint records "
                                       f"seq {seq}: entries were cut from the end"))
        elif found != expected:
            report.breaks.append(Break(last_line, seq, BreakKind.REWRITTEN,
                                       f"the entry at seq {seq} is not the one the checkpoint "
                                       "recorded: the log was rewritten up to there"))
        report.breaks.sort(key=lambda b: b.line)
    elif root is not None:
        report.notes.append("No checkpoint was given: entries cut from the end of the log cannot be "
                            "noticed. Keep checkpoints off this machine and give the latest one.")
