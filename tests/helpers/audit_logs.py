"""Building audit logs for tests, and editing them the ways an attacker would."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from strongroom.core.audit.writer import AuditLog
from strongroom.core.secrets import SecretStore


def file_secrets(folder: Path) -> SecretStore:
    return SecretStore("file", f"test files in {folder}", folder)


def write_log(path: Path, entries: int = 100, entries_per_epoch: int = 25) -> tuple[AuditLog, str]:
    """A Strongroom log with ``entries`` inference entries after `audit_created`; returns the
    open log and its audit verification key."""
    log = AuditLog(path, file_secrets(path.parent / "secrets"), user="alice",
                   entries_per_epoch=entries_per_epoch).open()
    for n in range(entries):
        log.append("inference", {"n": n, "prompt_tokens": 10 + n, "completion_tokens": 20},
                   prompt_hash=hashlib.sha256(f"prompt {n}".encode()).hexdigest(),
                   response_tokens=20, latency_ms=100.0 + n, model_id="demo")
    return log, log.created_key_text


def read_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


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
