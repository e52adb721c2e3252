"""Validating an audit log: the chain, the MACs and seals, the epoch rules, a checkpoint, the
head kept on this computer, and crash damage told apart from tampering.

What can be shown depends on what the auditor brings:

* nothing: every entry's hash and its link to the one before (the reference chain rule);
  sequence numbers place deletions, insertions and reorderings. A plain chain cannot show
  that entries were cut from the end, or that someone who can write the file rewrote it
  all with fresh hashes, and the report says so;
* on the workstation, without the verification key: what the key kept there can check — the
  MACs of the current epoch's entries, which also vouch for every entry before them through
  the chain — and the head it recorded, which shows a cut tail;
* the audit verification key: every closed epoch's seal and every other entry's MAC, so a
  rewrite by anyone without the key fails at its first rewritten epoch or entry, and the
  epoch rules, so whoever holds a later day's key cannot re-seal an earlier day's entries;
* a checkpoint kept off the machine: the log must still contain that entry unchanged.

Any bytes in, a report out: `verify_log` raises only for a key that is not a key at all.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

from strongroom.core.audit import format as fmt
from strongroom.core.audit import keys
from strongroom.core.audit.kept import LocalEvidence
from strongroom.core.audit.report import AuditReport, Break, BreakKind
from strongroom.core.audit.scan import (
    MAX_BREAKS,
    MAX_LINE,
    KeySource,
    RangeResult,
    ScanRules,
    epoch_message,
    link_message,
    next_data,
    scan_range,
)
from strongroom.core.audit.scan import _parse as parse_line
from strongroom.core.audit.seals import SealedEpochs, check_seals
from strongroom.core.progress import Cancelled
from strongroom.core.units import human_list

MIN_ENTRY_BYTES = 100  # no Strongroom entry is shorter: bounds how far keys are derived
PARALLEL_FROM = 4 << 20  # smaller logs are not worth starting processes for


def read_checkpoint(path: Path) -> dict:
    import json

    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise ValueError(f"{path}: not a readable checkpoint ({error})") from None
    if (not isinstance(record, dict) or record.get("format") != "strongroom.audit-checkpoint"
            or not isinstance(record.get("entry_hash"), str)
            or not isinstance(record.get("seq"), int) or isinstance(record.get("seq"), bool)):
        raise ValueError(f"{path}: not a Strongroom audit checkpoint")
    return record


def verify_log(path: Path, key_text: str | None = None, checkpoint: dict | None = None, *,
               local: LocalEvidence | None = None, key_storage: str | None = None,
               workers: int | None = None,
               on_progress: Callable[[float, str], None] | None = None,
               cancel: threading.Event | None = None) -> AuditReport:
    """Check the log at ``path``. Raises ValueError for a key that is not a key; never for a
    bad log. ``local`` is the evidence the workstation keeps for this log (its current key
    and head), ``key_storage`` where it is kept (for the report)."""
    path = Path(path)
    report = AuditReport(path)
    root = keys.key_from_text(key_text) if key_text else None
    try:
        status = os.stat(path)
    except OSError as error:
        report.breaks.append(Break(0, None, BreakKind.UNREADABLE, f"{path} cannot be read ({error.strerror})"))
        return report
    if not stat.S_ISREG(status.st_mode):
        report.breaks.append(Break(0, None, BreakKind.UNREADABLE, f"{path} is not a regular file"))
        return report
    size = status.st_size
    created = _first_entry(path, size)
    details = created.get("details") if created and isinstance(created.get("details"), dict) else {}
    format_version = details.get("format_version", 1) if created else None
    format_version = format_version if isinstance(format_version, int) else 1
    fingerprint = details.get("key_fingerprint") if isinstance(details.get("key_fingerprint"), str) else None

    if root is not None and fingerprint is not None and keys.key_fingerprint(root) != fingerprint:
        report.key_problem = (
            f"This key does not belong to this log: its fingerprint is "
            f"{keys.show_fingerprint(keys.key_fingerprint(root))}, and the log was created with the "
            f"key whose fingerprint is {keys.show_fingerprint(fingerprint)}. Check that the key was "
            "copied from the right record; the log's MACs were not checked with it.")
        root = None
    if local is not None and fingerprint is not None and local.fingerprint != fingerprint:
        local = None  # evidence kept for another log
    report.keyed = root is not None
    report.key_fingerprint = keys.key_fingerprint(root) if root is not None else None
    report.local_epoch = local.epoch if root is None and local is not None else None
    key_source = (KeySource(keys.EpochKeys(root, size // MIN_ENTRY_BYTES + 2)) if root is not None
                  else KeySource(only_epoch=local.epoch, only_key=local.key) if local is not None
                  else KeySource())
    rules = ScanRules(key_source, format_version if created else 1,
                      _int_or_none(details.get("entries_per_epoch")),
                      checkpoint.get("seq") if checkpoint else None)

    sealed = None
    if root is not None and format_version >= 2:
        sealed = check_seals(str(path), size, key_source.epoch_keys, rules.checkpoint_seq,
                             on_progress, cancel)
    start = sealed.end if sealed is not None else 0
    results = _scan(path, start, size, rules, workers, on_progress, cancel)
    _join(report, sealed, results)
    _describe(report, sealed, rules, format_version, created is not None, root, fingerprint,
              local, key_storage)
    if checkpoint is not None:
        _check_checkpoint(report, sealed, results, checkpoint)
    if local is not None:
        _check_head(report, path, size, local)
    report.breaks.sort(key=lambda b: b.line)
    report.more_breaks += max(0, len(report.breaks) - MAX_BREAKS)
    report.breaks = report.breaks[:MAX_BREAKS]
    return report


def _first_entry(path: Path, size: int) -> dict | None:
    with open(path, "rb") as handle:
        head = handle.read(min(size, MAX_LINE + 1))
    newline = head.find(b"\n")
    entry = parse_line(head[:newline + 1]) if newline >= 0 else None
    return entry if entry is not None and entry.get("event") == fmt.CREATED else None


def _scan(path: Path, start: int, end: int, rules: ScanRules, workers: int | None,
          on_progress, cancel) -> list[RangeResult]:
    if start >= end:
        return []
    if workers is None:
        workers = max(1, min(8, len(os.sched_getaffinity(0)))) if end - start > PARALLEL_FROM else 1
    ranges = _split(path, start, end, workers)
    jobs = [(str(path), a, b, rules, index == len(ranges) - 1, a == 0)
            for index, (a, b) in enumerate(ranges)]
    if len(jobs) == 1:
        result = scan_range(*jobs[0])
        if on_progress:
            on_progress(1.0, f"checked {result.lines:,} entries")
        return [result]
    results = []
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=len(jobs), mp_context=context) as pool:
        futures = [pool.submit(scan_range, *job) for job in jobs]
        for done, future in enumerate(futures, 1):
            if cancel is not None and cancel.is_set():
                for other in futures:
                    other.cancel()
                raise Cancelled()
            results.append(future.result())
            if on_progress:
                on_progress(done / len(futures), f"checked {sum(r.lines for r in results):,} entries")
    return results


def _split(path: Path, start: int, end: int, parts: int) -> list[tuple[int, int]]:
    """Ranges of about equal size, each starting at a line's start (found in bounded reads)."""
    bounds = [start]
    with open(path, "rb", buffering=0) as handle:
        for part in range(1, parts):
            position = start + (end - start) * part // parts
            while position < end:
                position = next_data(handle.fileno(), position, end)  # holes hold no newline
                if position >= end:
                    break
                handle.seek(position)
                block = handle.read(min(1 << 20, end - position))
                newline = block.find(b"\n")
                if newline >= 0:
                    position += newline + 1
                    break
                position += len(block)
            if bounds[-1] < position < end:
                bounds.append(position)
    bounds.append(end)
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _join(report: AuditReport, sealed: SealedEpochs | None, results: list[RangeResult]) -> None:
    """Join the sealed epochs and the scanned ranges: counts, edges, answers, crash damage."""
    breaks: list[Break] = []
    open_answers: dict[int, int] = {}
    orphans: list[tuple] = []
    previous_last = None  # (line, seq, hash, epoch, event) of the entry before the next range
    offset = 0  # lines before the next range
    if sealed is not None:
        report.entries = sealed.entries
        report.counts = dict(sealed.counts)
        report.first_timestamp = sealed.first_timestamp
        report.last_timestamp = sealed.last_timestamp
        for seq, line in sealed.started.items():
            open_answers[seq] = line
        orphans += sealed.finished_refs
        for line, details in sealed.recovered:
            report.crashes.append(_recovered_message(line, details))
        previous_last = (sealed.entries, sealed.last_seq, sealed.last_hash, sealed.last_epoch, fmt.EPOCH_CLOSED
                         if sealed.epochs else fmt.CREATED)
        offset = sealed.entries
    for result in results:
        report.entries += result.lines
        for event, count in result.counts.items():
            report.counts[event] = report.counts.get(event, 0) + count
        report.first_timestamp = report.first_timestamp or result.first_timestamp
        report.last_timestamp = result.last_timestamp or report.last_timestamp
        breaks += [Break(line + offset, seq, BreakKind[kind], message)
                   for line, seq, kind, message in result.breaks]
        report.more_breaks += result.more_breaks
        first = result.first
        if first is not None and previous_last is not None:
            _, last_seq, last_hash, last_epoch, last_event = previous_last
            if first.digest != last_hash:
                breaks.append(Break(first.line + offset, first.seq, BreakKind.LINK,
                                    link_message(last_seq, first.seq)))
            if (isinstance(first.epoch, int) and isinstance(last_epoch, int) and first.epoch != last_epoch
                    and not (first.epoch == last_epoch + 1 and last_event in (fmt.CREATED, fmt.EPOCH_CLOSED))):
                breaks.append(Break(first.line + offset, first.seq, BreakKind.EPOCH,
                                    epoch_message(last_epoch, first.epoch)))
        for line, ref in result.finished_refs:
            if open_answers.pop(ref, None) is None:
                orphans.append((line + offset, ref))
        for seq, line in result.started.items():
            open_answers[seq] = line + offset
        if result.torn:
            line, size = result.torn
            report.crashes.append(
                f"line {line + offset}: the last {size} bytes are an incomplete entry (the app was "
                "interrupted while writing it; Strongroom moves it aside and records it when the "
                "log is next opened)")
        for line, details in result.recovered:
            report.crashes.append(_recovered_message(line + offset, details))
        if result.last is not None:
            last = result.last
            previous_last = (last.line + offset, last.seq, last.digest, last.epoch, last.event)
        offset += result.lines
    report.breaks = breaks
    report.unfinished = sorted((line, seq) for seq, line in open_answers.items())
    report.orphans = orphans


def _recovered_message(line, details) -> str:
    details = details if isinstance(details, dict) else {}
    return (f"line {line}: Strongroom recovered an incomplete entry after a crash "
            f"({details.get('dropped_bytes')} bytes, saved as {details.get('saved_as')})")


def _describe(report: AuditReport, sealed, rules: ScanRules, format_version: int, strongroom: bool,
              root, fingerprint, local: LocalEvidence | None, key_storage: str | None) -> None:
    reference = report.counts.get("inference (reference form)", 0)
    report.reference_format = reference > 0
    if sealed is not None and sealed.epochs:
        report.checked_with.append(
            f"the seals of the {sealed.epochs:,} closed epochs: each covers every byte of its "
            "entries (HMAC-SHA256 with that epoch's key), so those entries are exactly as written")
        report.checked_with.append("every entry after the last closed epoch: its hash, its link "
                                   "to the entry before it, and its MAC")
    else:
        report.checked_with.append("every entry's hash and its link to the entry before it")
    shown = keys.show_fingerprint(fingerprint) if fingerprint else None
    if root is not None:
        report.checked_with.append(
            "every entry's MAC, with the keys derived from the audit verification key"
            + (f" (fingerprint {shown})" if shown else ""))
    elif local is not None:
        report.checked_with.append(
            f"the MACs of epoch {local.epoch} (the current one), with the key kept on this computer"
            + (f" in {key_storage}" if key_storage else "")
            + "; through the chain they also vouch for every entry before them")
    if strongroom and format_version >= 2:
        report.checked_with.append(f"the epoch rules: {fmt.EPOCH_RULES}")
    if not report.keyed:
        if local is None:
            report.notes.append("No audit verification key was given: an entry rewritten with fresh "
                                "hashes by someone who can write the file cannot be told apart from "
                                "the original. Give the key to check the MACs.")
        else:
            report.notes.append(
                f"Without the audit verification key, only epoch {local.epoch}'s MACs can be checked: "
                "whoever holds this computer's current key could rewrite today's entries. Give the "
                "key to check every epoch.")
    if strongroom and format_version < 2:
        report.notes.append("This log was written by an earlier version of Strongroom (format 1): "
                            "its epochs are not checked for forward security.")
    if reference:
        report.notes.append(
            f"{reference:,} entries are in the reference logger's form (a plain hash chain from "
            "'genesis', with no MAC and no sequence numbers): such a chain cannot show that entries "
            "were cut from the end, or that whoever could write the file rewrote it all.")
    if report.unfinished:
        shown_lines = human_list([f"line {line} (seq {seq})" for line, seq in report.unfinished], 10)
        report.notes.append(
            f"{len(report.unfinished)} answer(s) started and never finished: {shown_lines}. "
            "The app stopped while answering (closed, killed or crashed); this is not tampering.")
    if report.orphans and report.ok:
        report.notes.append(f"{len(report.orphans)} finished answer(s) refer to a start that is not "
                            "in this log (it began in a log before this one).")
    if root is not None and rules.checkpoint_seq is None:
        report.notes.append("No checkpoint was given: entries cut from the end of the log cannot be "
                            "noticed. Keep checkpoints off this machine and give the latest one.")


def _check_checkpoint(report: AuditReport, sealed, results: list[RangeResult], checkpoint: dict) -> None:
    report.checkpoint_checked = True
    seq, expected = checkpoint.get("seq"), checkpoint.get("entry_hash")
    report.checked_with.append(f"the checkpoint of seq {seq} (entry_hash {expected})")
    found = sealed.checkpoint_hash if sealed is not None else None
    found = found or next((r.checkpoint_hash for r in results if r.checkpoint_hash), None)
    last = next((r.last for r in reversed(results) if r.last), None)
    last_seq = last.seq if last else (sealed.last_seq if sealed else None)
    if found is None:
        report.breaks.append(Break(report.entries, last_seq, BreakKind.TRUNCATED,
                                   f"the log ends at seq {last_seq}, but the checkpoint records "
                                   f"seq {seq}: entries were cut from the end"))
    elif found != expected:
        report.breaks.append(Break(report.entries, seq, BreakKind.REWRITTEN,
                                   f"the entry at seq {seq} is not the one the checkpoint "
                                   "recorded: the log was rewritten up to there"))


def _check_head(report: AuditReport, path: Path, size: int, local: LocalEvidence) -> None:
    """The head this computer recorded: the log must still end at or after it, with it."""
    head = local.head
    report.checked_with.append(
        f"the head kept on this computer: the log must still hold seq {head.seq} "
        f"(entry_hash {head.entry_hash[:16]}…) ending at byte {head.end:,}")
    if head.seq < 0:
        return
    if size < head.end:
        report.breaks.append(Break(report.entries, None, BreakKind.TRUNCATED,
                                   f"the log is {size:,} bytes long, but the last entry this computer "
                                   f"wrote (seq {head.seq}) ended at byte {head.end:,}: entries were "
                                   "cut from the end"))
        return
    with open(path, "rb") as handle:
        handle.seek(max(0, head.end - MAX_LINE - 1))
        block = handle.read(head.end - max(0, head.end - MAX_LINE - 1))
    line = block[block.rfind(b"\n", 0, len(block) - 1) + 1:]
    entry = parse_line(line)
    if entry is None or entry.get("seq") != head.seq or entry.get(fmt.HASH_FIELD) != head.entry_hash:
        report.breaks.append(Break(head.seq + 1, head.seq, BreakKind.REWRITTEN,
                                   f"the entry that ends at byte {head.end:,} is not the last entry "
                                   f"this computer wrote (seq {head.seq}): the log was rewritten"))


def _int_or_none(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
