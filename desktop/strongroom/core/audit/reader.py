"""Reading a large audit log on demand: line offsets, entries by row, filters and searches.

A log of a million entries is never loaded whole. `LineIndex` records where each line
starts (8 bytes a line), built in blocks so the first rows can be shown while the rest is
still being indexed; `entry` reads and parses one line when it is needed. Filters scan the
file once, checking cheap byte patterns before parsing a line.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from array import array
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable, Iterator

from strongroom.core.audit.keys import evolve, keyed_digest

BLOCK = 4 * 1024 * 1024
SCAN_BLOCK = 16 * 1024 * 1024
MAX_SHOWN = 1 << 20  # no entry is longer; a longer line is shown cut


class LineIndex:
    """Start offsets of the complete lines of a log file. Thread-safe to read while built."""

    def __init__(self, path: Path):
        self.path = path
        self.starts = array("Q")
        self.complete = False
        self._end = 0  # bytes indexed so far
        self._lock = threading.Lock()
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __len__(self) -> int:
        return len(self.starts)

    def build(self, on_block: Callable[[int], None] | None = None,
              cancel: threading.Event | None = None) -> int:
        """Index the file block by block; ``on_block(lines so far)`` after each. Returns lines."""
        size = os.fstat(self._fd).st_size
        position = self._end
        pending_start = position
        while position < size:
            if cancel is not None and cancel.is_set():
                break
            block = os.pread(self._fd, min(BLOCK, size - position), position)
            if not block:
                break
            new = array("Q")
            at = block.find(b"\n")
            while at >= 0:
                new.append(pending_start)
                pending_start = position + at + 1
                at = block.find(b"\n", at + 1)
            position += len(block)
            with self._lock:
                self.starts.extend(new)
                self._end = pending_start
            if on_block is not None:
                on_block(len(self.starts))
        self.complete = position >= size
        return len(self.starts)

    def line(self, row: int) -> bytes:
        """Line ``row``; a line longer than any entry is cut to `MAX_SHOWN` bytes."""
        with self._lock:
            start = self.starts[row]
            end = self.starts[row + 1] if row + 1 < len(self.starts) else self._end
        return os.pread(self._fd, min(end - start, MAX_SHOWN), start).rstrip(b"\n")

    def entry(self, row: int) -> dict:
        """The entry on line ``row`` (0-based); a dict with an "unreadable" key if it is not JSON."""
        raw = self.line(row)
        try:
            entry = json.loads(raw)
            if isinstance(entry, dict):
                return entry
        except (ValueError, RecursionError):
            pass
        return {"unreadable": raw[:200].decode("utf-8", "replace")}

    def replaced(self) -> bool:
        """True when the file at `path` is no longer the one indexed (moved aside and a new
        one made) or is shorter than what was indexed (cut): it must be indexed afresh."""
        try:
            now = os.stat(self.path)
        except OSError:
            return False  # gone for now: keep showing what was read
        indexed = os.fstat(self._fd)
        return (now.st_dev, now.st_ino) != (indexed.st_dev, indexed.st_ino) or now.st_size < self._end

    def scan(self, cancel: threading.Event | None = None, first: int = 0,
             last: int | None = None) -> Iterator[tuple[int, bytes]]:
        """Every (row, line) from row ``first`` up to ``last`` (all indexed so far when None),
        in order, read in large blocks."""
        row = first
        total = len(self.starts) if last is None else min(last, len(self.starts))
        while row < total:
            if cancel is not None and cancel.is_set():
                return
            stop = row + 1
            start = self.starts[row]
            while stop < total and stop - row < 20_000 and self.starts[stop] - start < SCAN_BLOCK:
                stop += 1  # a block of lines, as many as fit (at least one)
            with self._lock:  # the block ends where the next line starts, indexed or not yet
                end = self.starts[stop] if stop < len(self.starts) else self._end
            if stop > row + 1 and end - start > SCAN_BLOCK:  # its last line is long: read alone
                stop -= 1
                end = self.starts[stop]
            if stop == row + 1 and end - start > MAX_SHOWN:  # one line longer than any entry
                yield row, os.pread(self._fd, MAX_SHOWN, start)
                row = stop
                continue
            block = os.pread(self._fd, end - start, start)
            for offset_row in range(row, stop):
                a = self.starts[offset_row] - start
                b = (self.starts[offset_row + 1] - start if offset_row + 1 < stop else len(block))
                yield offset_row, block[a:b].rstrip(b"\n")
            row = stop


class PromptSearch:
    """"Was this prompt asked?": the digests the log would hold for ``text``.

    Entries in the reference form, and those of logs written before format 2, record the
    plain SHA-256 of a prompt. Format-2 entries record a digest keyed with their epoch's
    digest key, which only the audit verification key derives: without it they cannot be
    searched (which is the point: a copy of the log alone confirms no guess).
    """

    def __init__(self, text: str, root: bytes | None = None, max_epoch: int = 0):
        self.plain = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self.keyed = root is not None
        self.digests = {self.plain.encode()}
        if root is not None:
            key = root
            for _ in range(max_epoch + 1):
                self.digests.add(keyed_digest(key, text).encode())
                key = evolve(key)

    def matches_line(self, line: bytes) -> bool:
        at = line.rfind(_PROMPT_HASH)
        return at >= 0 and line[at + len(_PROMPT_HASH):at + len(_PROMPT_HASH) + 64] in self.digests


_PROMPT_HASH = b'"prompt_hash": "'


@dataclass(frozen=True)
class EntryFilter:
    """What the auditor asked to see; empty fields match everything."""

    event: str = ""
    user: str = ""
    model: str = ""
    since: date | None = None
    until: date | None = None
    prompt: PromptSearch | None = None  # "was this prompt asked?"

    @property
    def empty(self) -> bool:
        return not (self.event or self.user or self.model or self.since or self.until or self.prompt)

    def quick_reject(self, line: bytes) -> bool:
        """True when the line cannot match, judged from its bytes alone (no parsing)."""
        if self.event and f'"event": "{self.event}"'.encode() not in line:
            return True
        if self.prompt is not None and not self.prompt.matches_line(line):
            return True
        if self.user or self.model:
            lowered = line.lower()
            if self.user and self.user.lower().encode() not in lowered:
                return True
            if self.model and self.model.lower().encode() not in lowered:
                return True
        return False

    def matches(self, entry: dict) -> bool:
        if self.event and entry.get("event") != self.event:
            return False
        if self.user and self.user.lower() not in str(entry.get("user_id", "")).lower():
            return False
        if self.model and self.model.lower() not in str(entry.get("model_id", "")).lower():
            return False
        day = str(entry.get("timestamp", ""))[:10]
        if self.since and day < self.since.isoformat():
            return False
        if self.until and day > self.until.isoformat():
            return False
        if self.prompt is not None and str(entry.get("prompt_hash", "")).encode() not in self.prompt.digests:
            return False
        return True


def last_epoch(index: LineIndex) -> int:
    """The epoch of the log's last Strongroom entry (0 when it has none)."""
    for row in range(len(index) - 1, max(-1, len(index) - 50), -1):
        epoch = index.entry(row).get("verification_epoch")
        if isinstance(epoch, int) and not isinstance(epoch, bool) and 0 <= epoch < 10_000_000:
            return epoch
    return 0


def filter_rows(index: LineIndex, wanted: EntryFilter, on_progress: Callable[[float], None] | None = None,
                cancel: threading.Event | None = None, first: int = 0, last: int | None = None) -> array:
    """The rows (0-based) whose entries match ``wanted``, among rows ``first`` to ``last``
    (every row indexed so far when None)."""
    rows = array("Q")
    total = max((len(index) if last is None else last) - first, 1)
    for row, line in index.scan(cancel, first, last):
        if on_progress is not None and row % 50_000 == 0:
            on_progress((row - first) / total)
        if wanted.quick_reject(line):
            continue
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(entry, dict) and wanted.matches(entry):
            rows.append(row)
    return rows


def entries_of(path: Path, events: tuple[str, ...]) -> Iterator[dict]:
    """Each entry of the log at ``path`` whose event is one of ``events``, in order, read
    in one pass (lines without their marker are never parsed; unreadable ones are skipped)."""
    markers = [f'"event": "{event}"'.encode() for event in events]
    index = LineIndex(path)
    try:
        index.build()
        for _row, line in index.scan():
            if not any(marker in line for marker in markers):
                continue
            try:
                entry = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(entry, dict) and entry.get("event") in events:
                yield entry
    finally:
        index.close()


def import_records(path: Path) -> dict[str, str]:
    """{"name/version": provenance SHA-256} from the model_import entries of the log at
    ``path`` (the latest for each version): what each import recorded of its provenance."""
    records: dict[str, str] = {}
    for entry in entries_of(path, ("model_import",)):
        details = entry.get("details")
        if isinstance(details, dict) and isinstance(details.get("provenance_sha256"), str):
            records[f"{details.get('model')}/{details.get('version')}"] = details["provenance_sha256"]
    return records
