"""Writing the audit log: append-only, one fsynced write per entry, safe across processes.

* Each entry is written with a single ``write`` on a file opened ``O_APPEND`` and then
  fsynced; an exclusive ``flock`` around read-head-then-append keeps two processes (the
  window and a command) from interleaving or forking the chain.
* On open, a final line without its newline (a crash in the middle of a write) is moved to
  a side file and a ``recovered_tail`` entry records its length and SHA-256: a crash is
  recorded as a crash, never mistaken for tampering, and nothing is silently dropped.
* The current epoch key lives in the secret store (keyring, or a 0600 file); the key
  evolves daily or every `ENTRIES_PER_EPOCH` entries and the old one is overwritten.
* Failing closed: if an entry cannot be written, `append` raises `AuditUnavailable` and
  callers refuse to run inference.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from strongroom.core.audit import format as fmt
from strongroom.core.secrets import SecretStore

log = logging.getLogger(__name__)

ENTRIES_PER_EPOCH = 10_000
_TAIL_READ = 64 * 1024


class AuditUnavailable(Exception):
    """The audit log cannot be written; the message says why and what to do."""


@dataclass
class Head:
    """What the next entry links to."""

    seq: int  # of the last entry (-1 for an empty log)
    entry_hash: str
    epoch: int

    @classmethod
    def empty(cls) -> "Head":
        return cls(-1, fmt.GENESIS, 0)


@dataclass
class KeyState:
    log_id: str
    epoch: int
    key: bytes
    epoch_date: str  # UTC date the epoch began
    entries: int  # written in this epoch

    def dumps(self) -> str:
        return json.dumps({"log_id": self.log_id, "epoch": self.epoch, "key": self.key.hex(),
                           "epoch_date": self.epoch_date, "entries": self.entries})

    @classmethod
    def loads(cls, text: str) -> "KeyState":
        data = json.loads(text)
        return cls(data["log_id"], data["epoch"], bytes.fromhex(data["key"]), data["epoch_date"],
                   data["entries"])


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _secret_name(path: Path) -> str:
    return "audit-key-" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]


class AuditLog:
    """The audit log of one Strongroom installation. Thread-safe."""

    def __init__(self, path: Path, secrets: SecretStore, user: str | None = None,
                 entries_per_epoch: int = ENTRIES_PER_EPOCH):
        self.path = path
        self.secrets = secrets
        self.user = user or getpass.getuser()
        self.entries_per_epoch = entries_per_epoch
        self.created_key_text: str | None = None  # shown once when this call created the log
        self.recovered: dict | None = None
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._known_size = -1
        self._head = Head.empty()
        self._state: KeyState | None = None

    # -- opening -----------------------------------------------------------------------------

    def open(self) -> "AuditLog":
        """Open (creating if needed) and recover a torn tail. Raises AuditUnavailable."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise AuditUnavailable(f"The audit log {self.path} cannot be opened ({error.strerror}). "
                                   "Strongroom will not answer until it can keep its audit "
                                   "record; check the folder's permissions and free space.") from None
        with self._lock, self._exclusive():
            if os.fstat(self._fd).st_size == 0:
                self._create()
            else:
                self._sync_head()
                self._recover_tail()
        return self

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    @property
    def key_storage(self) -> str:
        return self.secrets.description

    def _exclusive(self):
        fd = self._fd

        class _Flock:
            def __enter__(self_inner):
                fcntl.flock(fd, fcntl.LOCK_EX)

            def __exit__(self_inner, *exc):
                fcntl.flock(fd, fcntl.LOCK_UN)

        return _Flock()

    def _create(self) -> None:
        root = fmt.new_root_key()
        log_id = str(uuid.uuid4())
        self._state = KeyState(log_id, 0, root, _utc_now().date().isoformat(), 0)
        self.secrets.set(_secret_name(self.path), self._state.dumps())
        self._head = Head.empty()
        self._write("audit_created", {
            "log_id": log_id,
            "key_fingerprint": fmt.key_fingerprint(root),
            "epoch_policy": f"daily, or every {self.entries_per_epoch} entries",
            "key_storage": self.secrets.kind,
        })
        self.created_key_text = fmt.key_to_text(root)

    def _sync_head(self) -> None:
        """Read the last complete entry (another process may have appended) and the key."""
        size = os.fstat(self._fd).st_size
        if size == self._known_size:
            return
        tail = os.pread(self._fd, min(size, _TAIL_READ), max(0, size - _TAIL_READ))
        complete = tail[: tail.rfind(b"\n") + 1]
        lines = complete.splitlines()
        self._head = Head.empty()
        if lines:
            try:
                last = json.loads(lines[-1])
                self._head = Head(int(last.get("seq", -1)), str(last[fmt.HASH_FIELD]),
                                  int(last.get(fmt.EPOCH_FIELD, 0)))
            except (ValueError, KeyError, TypeError):
                raise AuditUnavailable(
                    f"The last entry of the audit log {self.path} cannot be read, so new entries "
                    "cannot be chained to it. Run `strongroom audit verify` to see what is wrong."
                ) from None
        stored = self.secrets.get(_secret_name(self.path))
        if stored is None:
            raise AuditUnavailable(
                f"The key that signs the audit log {self.path} is missing from "
                f"{self.secrets.description}. Entries written without it could not be verified, "
                "so Strongroom will not write any. Restore the key, or have the security officer "
                "archive this log so a new one can be started.")
        self._state = KeyState.loads(stored)
        self._known_size = size

    def _recover_tail(self) -> None:
        size = os.fstat(self._fd).st_size
        last = os.pread(self._fd, 1, size - 1)
        if last == b"\n":
            return
        tail = os.pread(self._fd, min(size, _TAIL_READ), max(0, size - _TAIL_READ))
        cut = size - len(tail) + tail.rfind(b"\n") + 1
        torn = os.pread(self._fd, size - cut, cut)
        stamp = _utc_now().strftime("%Y%m%dT%H%M%S")
        side = self.path.with_name(f"{self.path.name}.torn-{stamp}-{hashlib.sha256(torn).hexdigest()[:8]}")
        with open(side, "xb") as handle:
            handle.write(torn)
            handle.flush()
            os.fsync(handle.fileno())
        os.truncate(self._fd, cut)
        os.fsync(self._fd)
        self._known_size = -1
        if cut == 0:
            self._create()  # the torn line was the log's first: start it again
        else:
            self._sync_head()
        self.recovered = {"dropped_bytes": len(torn), "dropped_sha256": hashlib.sha256(torn).hexdigest(),
                          "saved_as": side.name, "at_byte": cut}
        log.warning("Recovered a torn audit log entry (%d bytes) into %s", len(torn), side)
        self._write("recovered_tail", dict(self.recovered))

    # -- writing -----------------------------------------------------------------------------

    def append(self, event: str, details: dict[str, Any] | None = None, **top: Any) -> dict:
        """Write one entry; return it. ``top`` holds the reference fields of an inference."""
        if event not in fmt.EVENTS:
            raise ValueError(f"unknown audit event {event!r}")
        with self._lock:
            if self._fd is None:
                raise AuditUnavailable("The audit log is closed.")
            try:
                with self._exclusive():
                    self._sync_head()
                    return self._write(event, details or {}, **top)
            except OSError as error:
                raise AuditUnavailable(
                    f"Strongroom could not write to its audit log {self.path} ({error.strerror}). "
                    "Nothing will be answered until the audit record can be kept: free some disk "
                    "space or fix the folder's permissions, then try again.") from None

    def _write(self, event: str, details: dict, **top: Any) -> dict:
        now = _utc_now()
        self._evolve_if_due(now)
        entry = {
            "seq": self._head.seq + 1,
            "timestamp": now.isoformat(),
            "event": event,
            "user_id": self.user,
            "details": details,
            **top,
            "prev_hash": self._head.entry_hash,
        }
        entry, line = fmt.seal(entry, self._state.key, self._state.epoch)
        written = os.write(self._fd, line)
        if written != len(line):
            raise OSError(28, "the entry was only partly written (disk full?)")
        os.fsync(self._fd)
        self._head = Head(entry["seq"], entry[fmt.HASH_FIELD], self._state.epoch)
        self._state.entries += 1
        self._known_size = os.fstat(self._fd).st_size
        if self._state.entries % 100 == 0:  # the count only guides evolution; no need to save each time
            self.secrets.set(_secret_name(self.path), self._state.dumps())
        return entry

    def _evolve_if_due(self, now: datetime) -> None:
        state = self._state
        if state.entries < self.entries_per_epoch and state.epoch_date == now.date().isoformat():
            return
        state.key = fmt.evolve(state.key)  # the old key is overwritten, here and in the store
        state.epoch += 1
        state.epoch_date = now.date().isoformat()
        state.entries = 0
        self.secrets.set(_secret_name(self.path), state.dumps())

    @property
    def head(self) -> Head:
        with self._lock:
            return Head(self._head.seq, self._head.entry_hash, self._head.epoch)

    def checkpoint(self) -> dict:
        """The head, for the auditor to keep off this machine; recorded in the log too."""
        with self._lock, self._exclusive():
            self._sync_head()
            size = os.fstat(self._fd).st_size
            last = os.pread(self._fd, min(size, _TAIL_READ), max(0, size - _TAIL_READ)).splitlines()[-1]
            entry = json.loads(last)
        record = {
            "format": "strongroom.audit-checkpoint",
            "format_version": 1,
            "log_id": self._state.log_id,
            "log_path": str(self.path),
            "seq": entry.get("seq"),
            "entry_hash": entry[fmt.HASH_FIELD],
            "epoch": entry.get(fmt.EPOCH_FIELD),
            "mac": entry.get(fmt.MAC_FIELD),
            "entry_timestamp": entry.get("timestamp"),
            "created_at": _utc_now().isoformat(),
        }
        self.append("audit_checkpoint", {"seq": record["seq"], "checkpoint_of": record["entry_hash"]})
        return record

    def ensure_writable(self) -> None:
        """Raise AuditUnavailable unless an entry could be written now."""
        if self._fd is None:
            raise AuditUnavailable("The audit log is closed.")
        try:
            os.fstat(self._fd)
            if not os.access(self.path, os.W_OK):
                raise PermissionError(13, "Permission denied")
            stats = os.statvfs(self.path.parent)
            if stats.f_bavail * stats.f_frsize < 1024 * 1024:
                raise OSError(28, "No space left on device")
        except OSError as error:
            raise AuditUnavailable(
                f"Strongroom cannot write to its audit log {self.path} ({error.strerror}). "
                "Nothing will be answered until the audit record can be kept.") from None
