"""Building audit logs for tests, and editing them the ways an attacker would."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from strongroom.core.audit import format as fmt
from strongroom.core.audit import keys
from strongroom.core.audit.writer import ENTRIES_PER_EPOCH, AuditLog
from strongroom.core.secrets import SecretStore

VIEWER_TIMEOUT_MS = 60_000  # the viewer indexing or filtering a test log


def file_secrets(folder: Path) -> SecretStore:
    return SecretStore("file", f"test files in {folder}", folder)


class Clock:
    """A clock the test moves: each reading is a second later; `next_day` jumps a day."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def next_day(self) -> None:
        self.now += timedelta(days=1)


def write_log(path: Path, entries: int = 100, entries_per_epoch: int = ENTRIES_PER_EPOCH,
              clock: Clock | None = None, days: int = 1) -> tuple[AuditLog, str]:
    """A Strongroom log with ``entries`` inference entries after `audit_created`, spread over
    ``days`` days (each day an epoch); returns the open log and its verification key."""
    clock = clock or Clock()
    log = AuditLog(path, file_secrets(path.parent / "secrets"), user="alice",
                   entries_per_epoch=entries_per_epoch, clock=clock).open()
    per_day = max(1, -(-entries // days))
    for n in range(entries):
        if n and n % per_day == 0:
            clock.next_day()
        append_inference(log, n)
    return log, log.created_key_text


def append_inference(log: AuditLog, n: int) -> dict:
    return log.append("inference", {"n": n, "prompt_tokens": 10 + n, "completion_tokens": 20},
                      prompt_hash=hashlib.sha256(f"prompt {n}".encode()).hexdigest(),
                      response_tokens=20, latency_ms=100.0 + n, model_id="demo")


def read_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def entries_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in read_lines(path)]


def line_of(path: Path, predicate) -> int:
    """The 0-based index of the first line whose entry satisfies ``predicate``."""
    return next(i for i, entry in enumerate(entries_of(path)) if predicate(entry))


def rechain(entries: list[dict]) -> list[bytes]:
    """Recompute every plain hash and link, as someone who can write the file would
    (without the audit key: MACs are left as they were)."""
    previous = "genesis"
    lines = []
    for entry in entries:
        entry = {k: v for k, v in entry.items() if k != "entry_hash"}
        entry["prev_hash"] = previous
        entry["entry_hash"] = hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()
        previous = entry["entry_hash"]
        lines.append((json.dumps(entry) + "\n").encode())
    return lines


def reseal(entries: list[dict], key: bytes, epoch: int, previous: str) -> list[bytes]:
    """Re-seal ``entries`` as someone holding one epoch's key would: renumbered from the seq
    after ``previous``'s entry, linked to it, each entry put in ``epoch`` and MACed with
    ``key``, with fresh hashes (the forger's best attempt)."""
    mac = keys.Hmac(key)
    lines = []
    for entry in entries:
        body = {k: v for k, v in entry.items() if k not in (fmt.HASH_FIELD, fmt.MAC_FIELD, fmt.EPOCH_FIELD)}
        body["prev_hash"] = previous
        entry, line = fmt.seal(body, mac, epoch)
        previous = entry[fmt.HASH_FIELD]
        lines.append(line)
    return lines


def epoch_key(key_text: str, epoch: int) -> bytes:
    key = keys.key_from_text(key_text)
    for _ in range(epoch):
        key = keys.evolve(key)
    return key


class ReferenceAuditLogger:
    """A faithful re-implementation of the reference document's AuditLogger."""

    def __init__(self, log_path: str):
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._prev_hash = "genesis"

    def log_inference(self, user_id, prompt_hash, response_tokens, latency_ms, model_id):
        entry = {
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "user_id": user_id,
            "prompt_hash": prompt_hash,
            "response_tokens": response_tokens,
            "latency_ms": round(latency_ms, 2),
            "model_id": model_id,
            "prev_hash": self._prev_hash,
        }
        entry_str = json.dumps(entry, sort_keys=True)
        entry_hash = hashlib.sha256(entry_str.encode()).hexdigest()
        entry["entry_hash"] = entry_hash
        self._prev_hash = entry_hash
        with open(self.log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")
        return entry_hash
