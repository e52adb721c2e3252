"""The audit log file's bytes: reading a range, parsing one line, cutting back a write
that failed part-way, and the summary an epoch's closing entry gives of what it seals."""

from __future__ import annotations

import json
import logging
import os

from strongroom.core.audit import format as fmt

log = logging.getLogger(__name__)


def parse_line(line: bytes) -> dict | None:
    try:
        entry = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get(fmt.HASH_FIELD), str):
        return None
    return entry


def read_range(fd: int, start: int, end: int) -> bytes:
    chunks = []
    position = start
    while position < end:
        chunk = os.pread(fd, min(end - position, 1 << 22), position)
        if not chunk:
            raise OSError(5, "the audit log ended early while its epoch was being sealed")
        chunks.append(chunk)
        position += len(chunk)
    return b"".join(chunks)


def summarise(sealed: bytes) -> dict:
    """What an epoch's closing entry says about the entries it seals: how many of each event,
    and which answers were started in it without finishing there, or finished there after
    starting in an earlier epoch (a verifier pairs them without reading every entry)."""
    events: dict[str, int] = {}
    started: set[int] = set()
    finished_earlier: list[int] = []
    for line in sealed.splitlines():
        entry = parse_line(line)
        if entry is None:
            continue
        event = str(entry.get("event"))
        events[event] = events.get(event, 0) + 1
        if event == fmt.STARTED:
            started.add(entry["seq"])
        elif event == fmt.FINISHED and isinstance(entry.get("started_seq"), int):
            if entry["started_seq"] in started:
                started.discard(entry["started_seq"])
            else:
                finished_earlier.append(entry["started_seq"])
    return {"events": dict(sorted(events.items())), "unfinished": sorted(started),
            "finished_earlier": sorted(finished_earlier)}


def cut_back(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        log.exception("a partly written audit entry could not be cut back; it is recovered "
                      "as a torn tail when the log is next opened")
