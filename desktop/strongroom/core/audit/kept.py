"""What the workstation keeps beside its audit log, in the secret store (the OS keyring or
0600 files): the key state (the current epoch key, never the root), the head (the last
entry's seq, hash and end), the verification key until it is shown, and when and where it
was shown. Each is named after the log's resolved path, so two logs never share one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from strongroom.core.audit import format as fmt
from strongroom.core.secrets import SecretStore


@dataclass(frozen=True)
class Head:
    """The last entry: what the next one links to, and where the log ends."""

    seq: int  # -1 for an empty log
    entry_hash: str
    end: int  # byte offset just after the entry's newline

    @classmethod
    def empty(cls) -> "Head":
        return cls(-1, fmt.GENESIS, 0)


@dataclass
class KeyState:
    """What the workstation keeps between appends (never the root key)."""

    log_id: str
    fingerprint: str
    epoch: int
    key: bytes
    epoch_date: str  # UTC date of the epoch's first entry
    epoch_first_seq: int  # seq of the epoch's first entry
    epoch_start: int  # byte offset of the epoch's first entry
    last_close: int | None  # byte offset of the last audit_epoch_closed entry
    text_key: str | None = None  # the public key recorded text is sealed to (sealed_text)

    def dumps(self) -> str:
        data = asdict(self)
        data["key"] = self.key.hex()
        return json.dumps({"format": fmt.FORMAT_VERSION, **data})

    @classmethod
    def loads(cls, text: str) -> "KeyState":
        data = json.loads(text)
        if data.pop("format", 1) != fmt.FORMAT_VERSION:
            raise Format1()
        data["key"] = bytes.fromhex(data["key"])
        return cls(**data)


class Format1(Exception):
    """The stored key belongs to a log written by an earlier Strongroom (format 1)."""


def key_state_name(path: Path) -> str:
    return "audit-key-" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]


def head_secret_name(path: Path) -> str:
    return key_state_name(path) + "-head"


def unshown_name(path: Path) -> str:
    return key_state_name(path) + "-unshown"


def shown_name(path: Path) -> str:
    return key_state_name(path) + "-shown"


@dataclass(frozen=True)
class KeyDisplay:
    """When and where the audit verification key was shown to a person, and whether the
    window has since said so (it does once, when the key was shown somewhere else)."""

    where: str  # "terminal", "window" or "command"
    at: str  # ISO time, UTC
    told_in_window: bool = False

    def describe(self) -> str:
        """'on a terminal on 2026-12-08 at 10:02 UTC', for people."""
        where = {"terminal": "on a terminal", "window": "in the Strongroom window",
                 "command": "by `strongroom audit init --show-key-once`"}.get(self.where, self.where)
        try:
            moment = datetime.fromisoformat(self.at).astimezone(timezone.utc)
            when = moment.strftime("on %Y-%m-%d at %H:%M UTC")
        except ValueError:
            when = f"at {self.at}"
        return f"{where} {when}"


@dataclass(frozen=True)
class LocalEvidence:
    """What the workstation keeps that can check its own log without the verification key."""

    epoch: int
    key: bytes
    head: Head
    fingerprint: str


def read_local_evidence(path: Path, secrets: SecretStore) -> LocalEvidence | None:
    """The evidence kept for the log at ``path`` (read only: the log need not open)."""
    try:
        state = KeyState.loads(secrets.get(key_state_name(path)) or "")
        head = json.loads(secrets.get(head_secret_name(path)) or "")
        return LocalEvidence(state.epoch, state.key, Head(int(head["seq"]), str(head["entry_hash"]),
                                                          int(head["end"])), state.fingerprint)
    except (Format1, ValueError, KeyError, TypeError):
        return None


def stored_json(secrets: SecretStore, name: str) -> dict | None:
    """The JSON object kept as ``name`` (None when there is none, or it is not one)."""
    text = secrets.get(name)
    try:
        data = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
