"""Writing the audit log: append-only, one fsynced write per entry, safe across processes,
and checked against what this computer last wrote before every append.

* Each entry is written with a single ``write`` on a file opened ``O_APPEND`` and fsynced;
  an exclusive ``flock`` around check-then-append keeps two processes (the window and a
  command) from interleaving or forking the chain. A write that fails part-way is cut back,
  so a full disk never leaves half an entry.
* The root key seals the first entry and is evolved at once: what is kept (in the OS
  keyring, or a 0600 file where there is none) is the current epoch key, one or more
  evolutions from the root. The root itself, the *audit verification key*, is kept in the
  same secret store only until it has been shown to a person once (a terminal, the window,
  or `strongroom audit init --show-key-once`), then deleted; when and where it was shown is
  kept instead (see `KeyDisplay`). An epoch is closed on a new UTC day, or when it holds
  `ENTRIES_PER_EPOCH` entries, by an ``audit_epoch_closed`` entry that seals its bytes;
  then the key evolves and the old one is overwritten (see `format.EPOCH_RULES`).
* Beside the key, the log's **head** (seq, entry hash, byte offset of the last entry) is
  kept and checked on open and before every append: a log cut short or rewritten since this
  computer last wrote to it is refused as tampering (`AuditUnavailable.tampering`). A final
  line without its newline (a crash while writing) is not tampering: it is moved to a side
  file and a ``recovered_tail`` entry records its length and SHA-256.
* Failing closed: if an entry cannot be written, `append` raises `AuditUnavailable` and
  callers refuse the action it would have recorded.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import logging
import os
import resource
import threading
import uuid
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from strongroom.core.audit import format as fmt
from strongroom.core.audit import keys, sealed_text
from strongroom.core.audit.kept import (
    Format1,
    Head,
    KeyDisplay,
    KeyState,
    LocalEvidence,
    head_secret_name,
    key_state_name,
    shown_name,
    stored_json,
    unshown_name,
)
from strongroom.core.audit.log_file import cut_back, parse_line, read_range, summarise
from strongroom.core.errors import StrongroomError
from strongroom.core.secrets import SecretStore

log = logging.getLogger(__name__)

ENTRIES_PER_EPOCH = 10_000
MAX_ENTRY_BYTES = 1 << 20  # an entry longer than this is not one Strongroom wrote
_TAIL_READ = 64 * 1024
_SPACE_MARGIN = 1 << 20  # kept free on the log's disk for the entries that close an answer


class AuditUnavailable(StrongroomError):
    """The audit log cannot be written; the message says why and what to do. ``tampering``
    is set when the reason is that the log was altered, not a fault."""

    def __init__(self, message: str, tampering: bool = False):
        super().__init__(message)
        self.tampering = tampering


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class AuditLog:
    """The audit log of one Strongroom installation. Thread-safe."""

    def __init__(self, path: Path, secrets: SecretStore, user: str | None = None,
                 entries_per_epoch: int = ENTRIES_PER_EPOCH,
                 clock: Callable[[], datetime] = _utc_now):
        if entries_per_epoch < 2:
            raise ValueError("an epoch holds at least one entry and its closing entry")
        self.path = path
        self.secrets = secrets
        self.user = user or getpass.getuser()
        self.entries_per_epoch = entries_per_epoch
        self.clock = clock
        self.created_key_text: str | None = None  # shown once when this call created the log
        self.created_fingerprint: str | None = None
        self.recovered: dict | None = None
        self.archived: Path | None = None  # a format-1 log moved aside when this one began
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._head = Head.empty()
        self._state: KeyState | None = None
        self._mac: keys.Hmac | None = None

    # -- opening -----------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether the log has begun (a file with at least its first entry's bytes)."""
        try:
            return self.path.stat().st_size > 0
        except OSError:
            return False

    def open(self) -> "AuditLog":
        """Open (creating if needed), check the head, recover a torn tail. Raises AuditUnavailable."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise AuditUnavailable(f"The audit log {self.path} cannot be opened ({error.strerror}). "
                                   "Strongroom will not answer until it can keep its audit "
                                   "record; check the folder's permissions and free space.") from None
        try:
            with self._lock, self._exclusive():
                if os.fstat(self._fd).st_size == 0:
                    self._create()
                else:
                    self._load_state()
                    self._check_and_recover()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    @property
    def key_storage(self) -> str:
        return self.secrets.description

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the audit verification key (see `keys.key_fingerprint`)."""
        return self._state.fingerprint

    @property
    def text_key(self) -> str | None:
        """The public key recorded text is sealed to (None for a log made before sealing)."""
        return self._state.text_key

    @contextmanager
    def _exclusive(self):
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _create(self, continues: dict | None = None) -> None:
        root = keys.new_root_key()
        fingerprint = keys.key_fingerprint(root)
        now = self.clock()
        details = {
            "log_id": str(uuid.uuid4()),
            "format_version": fmt.FORMAT_VERSION,
            "key_fingerprint": fingerprint,
            "entries_per_epoch": self.entries_per_epoch,
            "epoch_rules": fmt.EPOCH_RULES,
            "digests": "prompt and answer digests are HMAC-SHA256 under each epoch's digest key",
            "recorded_text": "sealed to text_key, whose private key the verification key derives",
            "text_key": sealed_text.public_key_text(root),
            "key_storage": self.secrets.kind,
            **({"continues": continues} if continues else {}),
        }
        self._head = Head.empty()
        # The first entry is sealed with the root; what is kept for writing is already one
        # evolution away from it, and is saved before the entry is written (a crash in between
        # leaves an empty log, which is simply created again). The root waits, in the secret
        # store, until a person has seen it once.
        entry, line = fmt.seal(self._entry(fmt.CREATED, details, now), keys.Hmac(root), 0)
        state = KeyState(details["log_id"], fingerprint, 1, keys.evolve(root), now.date().isoformat(),
                         1, len(line), None, details["text_key"])
        self.secrets.delete(shown_name(self.path))
        self.secrets.set(unshown_name(self.path), keys.key_to_text(root))
        self._save_state(state)
        self._append_line(entry, line)
        self._state, self._mac = state, keys.Hmac(state.key)
        self.created_key_text = keys.key_to_text(root)
        self.created_fingerprint = fingerprint

    def _load_state(self) -> None:
        stored = self.secrets.get(key_state_name(self.path))
        if stored is None:
            raise AuditUnavailable(
                f"The key that signs the audit log {self.path} is missing from "
                f"{self.secrets.description}. Entries written without it could not be verified, "
                "so Strongroom will not write any. Restore the key, or have the security officer "
                "archive this log so a new one can be started.")
        try:
            self._state = KeyState.loads(stored)
        except Format1:
            self._archive_format1()
            return
        except (ValueError, KeyError, TypeError):
            raise AuditUnavailable(
                f"The key kept for the audit log {self.path} in {self.secrets.description} "
                "cannot be read. Strongroom will not write entries it could not sign; restore the "
                "key from a backup, or have the security officer archive this log.") from None
        self._mac = keys.Hmac(self._state.key)

    def _archive_format1(self) -> None:
        """A log written by an earlier Strongroom (format 1, whose stored key could be the
        root): it is moved aside untouched and a new log starts, naming it."""
        archived = self._move_aside_and_restart("format1", {})
        log.warning("Moved the format-1 audit log aside as %s and started a new one", archived)

    def start_new_log(self, reason: str) -> Path:
        """Close this log for good and start a new one in its place (its verification key
        was lost, say). The old log's last entry says why; the new log's first entry names
        the old one (file, size, SHA-256 of its bytes and of its last entry). Returns where
        the old log now is. Raises AuditUnavailable as `append` does."""
        with self._lock:
            if self._fd is None:
                raise AuditUnavailable("The audit log is closed.")
            try:
                with self._exclusive():
                    self._verify_head_before_append()
                    self._write("audit_key", {"action": "log replaced", "reason": reason,
                                              "key_fingerprint": self._state.fingerprint})
                    return self._move_aside_and_restart("replaced", {"reason": reason})
            except OSError as error:
                raise AuditUnavailable(f"The audit log {self.path} could not be replaced "
                                       f"({error.strerror}); it was left as it was.") from None

    def _move_aside_and_restart(self, why: str, about: dict) -> Path:
        """Rename the log to ``<name>.<why>-<time>`` and create a new one whose first entry
        continues from it (called holding the lock)."""
        size = os.fstat(self._fd).st_size
        tail = os.pread(self._fd, min(size, _TAIL_READ), max(0, size - _TAIL_READ))
        last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        stamp = self.clock().strftime("%Y%m%dT%H%M%S")
        archived = self.path.with_name(f"{self.path.name}.{why}-{stamp}")
        summary = {"file": archived.name, "sha256": hashlib.sha256(read_range(self._fd, 0, size)).hexdigest(),
                   "bytes": size, "last_entry_sha256": hashlib.sha256(last).hexdigest(), **about}
        os.rename(self.path, archived)
        old_fd = self._fd
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        os.close(old_fd)
        self.archived = archived
        self._create(continues=summary)
        return archived

    # -- the head: checked on open and before every append --------------------------------------

    def _check_and_recover(self) -> None:
        """Make sure the log ends as this computer left it, then recover a torn tail."""
        size = os.fstat(self._fd).st_size
        stored = self._stored_head()
        if stored is None:
            log.warning("No head record for %s; it is rebuilt from the log's last entry", self.path)
            stored = self._head_from_tail(size)
        self._check_head(stored, size)
        self._head = stored
        extension_end = self._accept_extension(stored, size)
        if extension_end < size:
            self._recover_tail(extension_end, size)
        self._finish_interrupted_close()

    def _replaced(self) -> bool:
        """Whether the file at the log's path is no longer the one this program opened."""
        try:
            here = os.stat(self.path)
        except FileNotFoundError:
            return True
        opened = os.fstat(self._fd)
        return (here.st_dev, here.st_ino) != (opened.st_dev, opened.st_ino)

    def _stored_head(self) -> Head | None:
        data = stored_json(self.secrets, head_secret_name(self.path))
        try:
            return Head(int(data["seq"]), str(data["entry_hash"]), int(data["end"]))
        except (KeyError, TypeError, ValueError):
            return None

    def _head_from_tail(self, size: int) -> Head:
        """The last complete entry, as a head, when no head record was kept."""
        tail = os.pread(self._fd, min(size, _TAIL_READ), max(0, size - _TAIL_READ))
        end = size - len(tail) + tail.rfind(b"\n") + 1
        if end <= 0:
            return Head.empty()
        entry = parse_line(self._line_ending_at(end))
        if entry is None:
            raise self._tampered(f"its last entry (ending at byte {end:,}) is not a readable entry")
        return Head(entry.get("seq", -1), entry[fmt.HASH_FIELD], end)

    def _line_ending_at(self, end: int) -> bytes:
        """The complete line whose newline is the byte before ``end``."""
        start = end
        window = 4096
        while start > 0:
            chunk_start = max(0, end - window)
            chunk = os.pread(self._fd, end - 1 - chunk_start, chunk_start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                start = chunk_start + cut + 1
                break
            if chunk_start == 0:
                start = 0
                break
            if window > MAX_ENTRY_BYTES:
                raise self._tampered(f"the entry ending at byte {end:,} is longer than any entry "
                                     "Strongroom writes")
            window *= 4
        return os.pread(self._fd, end - start, start)

    def _check_head(self, head: Head, size: int) -> None:
        if head.seq < 0:
            return
        if size < head.end:
            raise self._tampered(
                f"it is {size:,} bytes long, but its last entry (seq {head.seq}) ended at byte "
                f"{head.end:,}: entries were cut from the end")
        line = self._line_ending_at(head.end)
        entry = parse_line(line)
        if (entry is None or entry.get("seq") != head.seq
                or entry.get(fmt.HASH_FIELD) != head.entry_hash
                or fmt.entry_hash({k: v for k, v in entry.items() if k != fmt.HASH_FIELD}) != head.entry_hash):
            raise self._tampered(
                f"the entry that ends at byte {head.end:,} is not the last entry Strongroom wrote "
                f"(seq {head.seq}, entry_hash {head.entry_hash[:16]}…): the log was rewritten")
        if not self._authentic(entry):
            raise self._tampered(f"its last entry (seq {head.seq}) does not carry this computer's "
                                 "MAC: it was forged or rewritten")

    def _authentic(self, entry: dict) -> bool:
        """Whether ``entry`` can be the last entry this computer wrote: one carrying the
        current epoch's MAC, or the entry that ended the previous epoch (or created the log),
        whose key is gone."""
        epoch = entry.get(fmt.EPOCH_FIELD)
        if epoch == self._state.epoch:
            body = {k: v for k, v in entry.items() if k not in (fmt.MAC_FIELD, fmt.HASH_FIELD)}
            return fmt.entry_mac(self._mac, body) == entry.get(fmt.MAC_FIELD)
        return epoch == self._state.epoch - 1 and entry.get("event") in (fmt.EPOCH_CLOSED, fmt.CREATED)

    def _accept_extension(self, head: Head, size: int) -> int:
        """Complete entries after the recorded head (its record was lost in a crash right after
        they were written) are accepted if they chain from it and carry this computer's MAC.
        Returns where the accepted part ends."""
        position = head.end
        while position < size:
            chunk = os.pread(self._fd, min(size - position, MAX_ENTRY_BYTES + 1), position)
            newline = chunk.find(b"\n")
            if newline < 0:
                return position  # a torn tail: recovered as a crash
            entry = parse_line(chunk[:newline + 1])
            previous = self._head.entry_hash
            if (entry is None or entry.get("prev_hash") != previous
                    or entry.get("seq") != self._head.seq + 1 or not self._authentic(entry)):
                raise self._tampered(
                    f"the bytes after its last recorded entry (seq {self._head.seq}, at byte "
                    f"{position:,}) are not an entry this computer wrote after it")
            position += newline + 1
            self._head = Head(entry["seq"], entry[fmt.HASH_FIELD], position)
        if position != head.end:
            self._save_head()
        return position

    def _tampered(self, what: str) -> AuditUnavailable:
        return AuditUnavailable(
            f"The audit log {self.path} is not as Strongroom left it: {what}. This is tampering, "
            "not a crash. Strongroom will not add entries to it. Tell your security officer, and "
            "run `strongroom audit verify` to see what changed.", tampering=True)

    def _recover_tail(self, cut: int, size: int) -> None:
        torn = os.pread(self._fd, size - cut, cut)
        digest = hashlib.sha256(torn).hexdigest()
        stamp = self.clock().strftime("%Y%m%dT%H%M%S")
        side = self.path.with_name(f"{self.path.name}.torn-{stamp}-{digest[:8]}")
        with open(side, "xb") as handle:
            handle.write(torn)
            handle.flush()
            os.fsync(handle.fileno())
        os.truncate(self._fd, cut)
        os.fsync(self._fd)
        self.recovered = {"dropped_bytes": len(torn), "dropped_sha256": digest,
                          "saved_as": side.name, "at_byte": cut}
        log.warning("Recovered a torn audit log entry (%d bytes) into %s", len(torn), side)
        self._write(fmt.RECOVERED, dict(self.recovered))

    def _finish_interrupted_close(self) -> None:
        """The log ends with the entry that closed the current epoch, but the key was not
        evolved yet (a crash between the two): evolve it now."""
        if self._head.seq < 0:
            return
        line = self._line_ending_at(self._head.end)
        last = parse_line(line)
        if last and last.get("event") == fmt.EPOCH_CLOSED and last.get(fmt.EPOCH_FIELD) == self._state.epoch:
            self._evolve(str(last.get("timestamp"))[:10], self._head.end - len(line))

    def _verify_head_before_append(self) -> None:
        if self._replaced():
            raise AuditUnavailable(
                f"The audit log {self.path} was replaced by a new one (`strongroom audit "
                "new-log`) while this program had it open. Start Strongroom again to record "
                "into the new log.")
        size = os.fstat(self._fd).st_size
        stored = self._stored_head()
        if stored is not None and stored != self._head:
            # Another process appended (and moved the head); its key state may have evolved.
            self._load_state()
            self._head = stored
        self._check_head(self._head, size)
        if size != self._head.end:
            end = self._accept_extension(self._head, size)
            if end < size:
                raise self._tampered(f"{size - end:,} bytes follow its last entry")

    # -- writing -----------------------------------------------------------------------------

    def append(self, event: str, details: dict[str, Any] | None = None, *,
               digests: dict[str, str] | None = None, **top: Any) -> dict:
        """Write one entry; return it. ``top`` holds top-level fields (the reference fields of
        an inference). ``digests`` maps field names to texts whose keyed digest goes there
        (under the key of the epoch the entry is written in; "details.x" names a detail)."""
        if event not in fmt.EVENTS or event in (fmt.CREATED, fmt.EPOCH_CLOSED, fmt.RECOVERED):
            raise ValueError(f"unknown audit event {event!r}")
        with self._lock:
            if self._fd is None:
                raise AuditUnavailable("The audit log is closed.")
            try:
                with self._exclusive():
                    self._verify_head_before_append()
                    return self._write(event, dict(details or {}), digests, **top)
            except OSError as error:
                raise AuditUnavailable(
                    f"Strongroom could not write to its audit log {self.path} ({error.strerror}). "
                    "Nothing will be answered until the audit record can be kept: free some disk "
                    "space or fix the folder's permissions, then try again.") from None

    def _entry(self, event: str, details: dict, now: datetime, **top: Any) -> dict:
        return {"seq": self._head.seq + 1, "timestamp": now.isoformat(), "event": event,
                "user_id": self.user, "details": details, **top, "prev_hash": self._head.entry_hash}

    def _write(self, event: str, details: dict, digests: dict[str, str] | None = None,
               **top: Any) -> dict:
        now = self.clock()
        self._close_epoch_if_due(now)
        for name, text in (digests or {}).items():
            digest = keys.keyed_digest(self._state.key, text)
            if name.startswith("details."):
                details[name.removeprefix("details.")] = digest
            else:
                top[name] = digest
        return self._write_line(self._entry(event, details, now, **top), self._state.epoch)

    def _write_line(self, entry: dict, epoch: int) -> dict:
        entry, line = fmt.seal(entry, self._mac, epoch)
        return self._append_line(entry, line)

    def _append_line(self, entry: dict, line: bytes) -> dict:
        if len(line) > MAX_ENTRY_BYTES:
            raise OSError(27, f"the entry would be {len(line):,} bytes, longer than an audit entry may be")
        before = self._head.end
        try:
            written = os.write(self._fd, line)
            if written != len(line):
                raise OSError(28, "No space left on device")
            os.fsync(self._fd)
        except OSError:
            cut_back(self._fd, before)  # never leave half an entry behind
            raise
        self._head = Head(entry["seq"], entry[fmt.HASH_FIELD], before + len(line))
        self._save_head()
        return entry

    def _save_head(self) -> None:
        # Not fsynced: the log itself is, first; a head lost in a crash only lags the log,
        # and the entries after it are accepted on the next open if they chain from it.
        self.secrets.set(head_secret_name(self.path), json.dumps(asdict(self._head)), durable=False)

    def _save_state(self, state: KeyState) -> None:
        self.secrets.set(key_state_name(self.path), state.dumps())

    # -- epochs --------------------------------------------------------------------------------

    def _close_epoch_if_due(self, now: datetime) -> None:
        state = self._state
        entries = self._head.seq - state.epoch_first_seq + 1
        today = now.date().isoformat()
        if entries <= 0:
            if state.epoch_date != today:  # an epoch with no entries yet simply starts today
                state.epoch_date = today
                self._save_state(state)
            return
        if state.epoch_date != today:
            self._close_epoch("new day", now)
        elif entries >= self.entries_per_epoch - 1:
            self._close_epoch("entry limit", now)

    def _close_epoch(self, reason: str, now: datetime) -> None:
        """Seal the epoch's bytes in an audit_epoch_closed entry, then evolve the key."""
        state = self._state
        start, end = state.epoch_start, self._head.end
        sealed = read_range(self._fd, start, end)
        summary = summarise(sealed)
        details = {
            "epoch": state.epoch, "reason": reason,
            "first_seq": state.epoch_first_seq, "last_seq": self._head.seq,
            "start": start, "end": end, "previous_close": state.last_close,
            "seal": fmt.epoch_seal(self._mac, sealed), **summary,
        }
        self._write_line(self._entry(fmt.EPOCH_CLOSED, details, now), state.epoch)
        self._evolve(now.date().isoformat(), end)

    def _evolve(self, today: str, closing_entry_at: int) -> None:
        state = self._state
        state.key = keys.evolve(state.key)  # the old key is overwritten, here and in the store
        state.epoch += 1
        state.epoch_date = today
        state.epoch_first_seq = self._head.seq + 1
        state.epoch_start = self._head.end
        state.last_close = closing_entry_at
        self._mac = keys.Hmac(state.key)
        self._save_state(state)

    # -- the verification key, shown once -----------------------------------------------------

    def unshown_key(self) -> str | None:
        """The audit verification key (SRAK-…) while no person has been shown it yet."""
        return self.secrets.get(unshown_name(self.path))

    def key_display(self) -> KeyDisplay | None:
        """When and where the verification key was shown (None: not yet, or not known)."""
        data = stored_json(self.secrets, shown_name(self.path))
        try:
            return KeyDisplay(str(data["where"]), str(data["at"]), bool(data.get("told_in_window")))
        except (KeyError, TypeError, AttributeError):
            return None

    def mark_key_shown(self, where: str) -> KeyDisplay:
        """The key was shown to a person (``where``): keep only that it was, not the key."""
        shown = KeyDisplay(where, self.clock().isoformat(timespec="seconds"),
                           told_in_window=where == "window")
        self.secrets.set(shown_name(self.path), json.dumps(asdict(shown)))
        self.secrets.delete(unshown_name(self.path))
        return shown

    def mark_told_in_window(self) -> None:
        """The window has said where and when the key was shown; it does not say it again."""
        shown = self.key_display()
        if shown is not None and not shown.told_in_window:
            self.secrets.set(shown_name(self.path),
                             json.dumps(asdict(KeyDisplay(shown.where, shown.at, True))))

    # -- what others ask of the log --------------------------------------------------------

    @property
    def head(self) -> Head:
        with self._lock:
            return self._head

    @property
    def epoch(self) -> int:
        return self._state.epoch

    def local_evidence(self) -> "LocalEvidence":
        """What this computer can check the log with: the current epoch and its key, and the
        head it recorded (for `verify_log` on the workstation)."""
        with self._lock:
            return LocalEvidence(self._state.epoch, self._state.key, self._head, self._state.fingerprint)

    def checkpoint(self) -> dict:
        """The head, for the auditor to keep off this machine; recorded in the log too."""
        with self._lock, self._exclusive():
            self._verify_head_before_append()
            entry = parse_line(self._line_ending_at(self._head.end))
            record = {
                "format": "strongroom.audit-checkpoint",
                "format_version": 1,
                "log_id": self._state.log_id,
                "log_path": str(self.path),
                "key_fingerprint": self._state.fingerprint,
                "seq": entry.get("seq"),
                "entry_hash": entry[fmt.HASH_FIELD],
                "epoch": entry.get(fmt.EPOCH_FIELD),
                "mac": entry.get(fmt.MAC_FIELD),
                "entry_timestamp": entry.get("timestamp"),
                "created_at": self.clock().isoformat(),
            }
            self._write("audit_checkpoint", {"seq": record["seq"], "checkpoint_of": record["entry_hash"]})
        return record

    def ensure_writable(self) -> None:
        """Raise AuditUnavailable unless an entry could be written now."""
        if self._fd is None:
            raise AuditUnavailable("The audit log is closed.")
        try:
            os.fstat(self._fd)
            if not os.access(self.path, os.W_OK):
                raise PermissionError(13, "Permission denied")
            if self.room_left() < 64 * 1024:
                raise OSError(28, "No space left on device")
        except OSError as error:
            raise AuditUnavailable(
                f"Strongroom cannot write to its audit log {self.path} ({error.strerror}). "
                "Nothing will be answered until the audit record can be kept.") from None

    def room_left(self) -> int:
        """Bytes the log can still grow by: the disk's free space less a margin, or this
        process's file size limit, whichever is smaller."""
        stats = os.statvfs(self.path.parent)
        room = stats.f_bavail * stats.f_frsize - _SPACE_MARGIN
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit != resource.RLIM_INFINITY and self._fd is not None:
            room = min(room, limit - os.fstat(self._fd).st_size)
        return room


