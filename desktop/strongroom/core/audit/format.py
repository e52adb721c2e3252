"""The audit log's entry format: what is hashed, what is MACed, what is sealed, and how a
line is laid out.

An entry is one JSON line. The chain rule is the reference `AuditLogger`'s, unchanged:
``entry_hash = sha256(json.dumps(entry_without_entry_hash, sort_keys=True))`` and the first
``prev_hash`` is ``"genesis"``, so logs written by that logger verify here too.

Strongroom's entries (format 2, recorded in the log's first entry) are a superset: ``seq``,
``event``, ``details``, ``verification_epoch`` and ``verification_mac`` =
HMAC-SHA256(K_epoch, the canonical JSON of the entry without verification_mac and
entry_hash). Epochs follow rules a verifier checks (see `EPOCH_RULES`): epoch 0 is the
first entry alone, sealed with the root key; every later epoch ends with an
``audit_epoch_closed`` entry whose ``seal`` is HMAC-SHA256(K_epoch, every byte of the
epoch's entries before it), and the next entry is in the next epoch.

Strongroom writes each line as its canonical form (sorted keys) with ``entry_hash``
appended last, and every other field sorts before ``verification_epoch`` and
``verification_mac``; the line therefore ends with a fixed layout (`BODY_END`,
`HASHED_END`), which is what lets a verifier check lines from their bytes.

Format 1 (logs written before format 2) MACed with keyed BLAKE2b over the body's SHA-256 and
kept no epoch rules; such logs still verify, with a note.
"""

from __future__ import annotations

import hashlib
import json

from strongroom.core.audit.keys import Hmac

FORMAT_VERSION = 2
GENESIS = "genesis"
EPOCH_FIELD = "verification_epoch"
MAC_FIELD = "verification_mac"
HASH_FIELD = "entry_hash"
HEX = 64  # a SHA-256 or HMAC-SHA256 in hex

MAC_MARKER = b', "verification_mac": "'
HASH_MARKER = b', "entry_hash": "'
EPOCH_MARKER = b', "verification_epoch": '
LINE_END = b'"}\n'
# Counted back from a Strongroom line's newline: where the MAC field starts (the MACed
# body ends there) and where the entry_hash field starts (the hashed body ends there).
HASHED_END = len(HASH_MARKER) + HEX + len(LINE_END) - 1
BODY_END = len(MAC_MARKER) + HEX + 1 + HASHED_END

CREATED = "audit_created"
EPOCH_CLOSED = "audit_epoch_closed"
STARTED = "inference_started"
FINISHED = "inference"
RECOVERED = "recovered_tail"

# Every event Strongroom records, and how the viewer names it for people.
EVENTS = {
    CREATED: "audit log created",
    EPOCH_CLOSED: "the day's entries sealed, and the key moved on",
    STARTED: "answer started",
    FINISHED: "answer finished",
    "model_import": "model import",
    "model_verify": "model or drive verified",
    "model_load": "model loaded",
    "settings_change": "settings changed",
    "chat_export": "conversation exported",
    "app_start": "app started",
    "app_stop": "app stopped",
    "egress_blocked": "network connection blocked",
    "audit_checkpoint": "checkpoint exported",
    "audit_verify": "audit log validated",
    "trust_change": "trusted officer keys changed",
    "conversations_key": "conversations' encryption key event",
    "conversations_lock": "window locked or unlocked",
    "compliance_report": "compliance report saved",
    "model_lifecycle": "model version staged, tested, promoted, rolled back, retired or removed",
    "document_library": "document library changed (documents added, read again or removed)",
    "library_search": "documents searched, nothing found",
    "inference_server": "inference server added, removed or tested",
    "model_serve": "model served to the workstations (started or stopped)",
    "audit_key": "audit verification key shown, or the log replaced by a new one",
    RECOVERED: "crash damage recovered",
}

EPOCH_RULES = (
    "epoch 0 holds only the first entry (audit_created, sealed with the root key); "
    "the entry after it is in epoch 1; an epoch ends only with an audit_epoch_closed entry "
    "(on a new UTC day, or when it holds the entry limit the log's first entry records), "
    "whose seal covers every byte of the epoch's entries before it; the entry after it is in "
    "the next epoch; any other change of epoch is a break"
)


def canonical(entry: dict) -> bytes:
    """The bytes the reference logger hashes: json.dumps with sorted keys."""
    return json.dumps(entry, sort_keys=True).encode("utf-8")


def entry_hash(entry_without_hash: dict) -> str:
    return hashlib.sha256(canonical(entry_without_hash)).hexdigest()


def entry_mac(key: Hmac, entry_without_mac_and_hash: dict) -> str:
    """verification_mac of a format-2 entry."""
    return key.hexdigest(canonical(entry_without_mac_and_hash))


def entry_mac_v1(key: bytes, entry_without_mac_and_hash: dict) -> str:
    """verification_mac of a format-1 entry (keyed BLAKE2b-256 over the body's SHA-256)."""
    body = hashlib.sha256(canonical(entry_without_mac_and_hash)).digest()
    return hashlib.blake2b(body, key=key, digest_size=32, person=b"strongroom-audit").hexdigest()


def seal(entry: dict, key: Hmac, epoch: int) -> tuple[dict, bytes]:
    """Add epoch, MAC and hash to ``entry``; return it and its line as written."""
    if any(k >= EPOCH_FIELD for k in entry):
        raise ValueError("audit fields must sort before the verification fields")
    entry = dict(entry)
    entry[EPOCH_FIELD] = epoch
    entry[MAC_FIELD] = entry_mac(key, entry)
    body = canonical(entry)
    digest = hashlib.sha256(body).hexdigest()
    entry[HASH_FIELD] = digest
    line = body[:-1] + HASH_MARKER + digest.encode("ascii") + LINE_END
    return entry, line


def epoch_seal(key: Hmac, data: bytes | memoryview) -> str:
    """The seal of a closed epoch: HMAC-SHA256 of every byte of its entries."""
    return key.hexdigest(data)
