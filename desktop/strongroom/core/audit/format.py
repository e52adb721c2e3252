"""The audit log's entry format and its keys: what is hashed, what is MACed, and how.

An entry is one JSON line. The chain rule is the reference `AuditLogger`'s, unchanged:
``entry_hash = sha256(json.dumps(entry_without_entry_hash, sort_keys=True))`` and the first
``prev_hash`` is ``"genesis"``, so logs written by that logger verify here too.

Strongroom's entries are a superset. Besides the reference fields they carry ``seq``,
``event``, ``details``, and a keyed, forward-secure MAC over the digest of the rest:
``verification_mac = BLAKE2b-256 keyed with K_epoch (RFC 7693 MAC mode) of
SHA-256(json.dumps(entry minus mac and hash, sort_keys=True))`` with ``verification_epoch``
naming the epoch. (MACing the digest lets a verifier hash each line once for both checks;
keyed BLAKE2b costs a verifier half what HMAC does, over a million entries.) Epoch keys evolve one way,
``K_{e+1} = SHA-256("strongroom audit key evolution" ‖ K_e)``: whoever steals today's key
cannot compute yesterday's, so cannot forge yesterday's entries. K_0, the root, is shown
once to the security officer as the audit verification key and not kept.

Strongroom writes each line as its canonical form (sorted keys) with ``entry_hash`` appended
last, and every other field sorts before ``verification_epoch`` and ``verification_mac``.
A verifier can therefore check most lines from their bytes alone: the hash is over the
line's prefix, the MAC over the prefix up to the MAC field. Lines in any other layout are
parsed and checked the long way; the result is the same.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets as random_secrets

GENESIS = "genesis"
EPOCH_FIELD = "verification_epoch"
MAC_FIELD = "verification_mac"
HASH_FIELD = "entry_hash"
_EVOLVE = b"strongroom audit key evolution\x00"
KEY_PREFIX = "SRAK"

EVENTS = (
    "audit_created", "inference", "model_import", "model_verify", "model_load",
    "settings_change", "chat_export", "app_start", "app_stop", "egress_blocked",
    "audit_checkpoint", "audit_verify", "recovered_tail",
)

HASH_SUFFIX = b', "entry_hash": "'
MAC_MARKER = b', "verification_mac": "'


def canonical(entry: dict) -> bytes:
    """The bytes the reference logger hashes: json.dumps with sorted keys."""
    return json.dumps(entry, sort_keys=True).encode("utf-8")


def entry_hash(entry_without_hash: dict) -> str:
    return hashlib.sha256(canonical(entry_without_hash)).hexdigest()


def mac(key: bytes, entry_without_mac_and_hash: dict) -> str:
    body_digest = hashlib.sha256(canonical(entry_without_mac_and_hash)).digest()
    return MacKey(key).hexdigest(body_digest)


def evolve(key: bytes) -> bytes:
    """The next epoch's key; the previous one cannot be computed back from it."""
    return hashlib.sha256(_EVOLVE + key).digest()


def epoch_key(root: bytes, epoch: int) -> bytes:
    key = root
    for _ in range(epoch):
        key = evolve(key)
    return key


class MacKey:
    """The MAC for one epoch key: keyed BLAKE2b-256, its keyed state prepared once."""

    def __init__(self, key: bytes):
        # The keyed state before any message; copy it, never update it.
        self.state = hashlib.blake2b(key=key, digest_size=32, person=b"strongroom-audit")

    def hexdigest(self, message: bytes) -> str:
        state = self.state.copy()
        state.update(message)
        return state.hexdigest()


class EpochKeys:
    """MAC keys for each epoch, derived from the root on demand, for a verifier."""

    def __init__(self, root: bytes):
        self._keys = [root]
        self._macs: dict[int, MacKey] = {}

    def __call__(self, epoch: int) -> MacKey:
        if epoch not in self._macs:
            while len(self._keys) <= epoch:
                self._keys.append(evolve(self._keys[-1]))
            self._macs[epoch] = MacKey(self._keys[epoch])
        return self._macs[epoch]


def new_root_key() -> bytes:
    return random_secrets.token_bytes(32)


def key_fingerprint(root: bytes) -> str:
    """A short public name for a root key, recorded in the log so a key can be matched to it."""
    return hashlib.sha256(b"strongroom audit key fingerprint\x00" + root).hexdigest()[:16]


def key_to_text(root: bytes) -> str:
    """The audit verification key as a person copies or prints it: SRAK-XXXX-XXXX-…"""
    encoded = base64.b32encode(root).decode("ascii").rstrip("=")
    return "-".join([KEY_PREFIX] + [encoded[i:i + 4] for i in range(0, len(encoded), 4)])


def key_from_text(text: str) -> bytes:
    cleaned = "".join(text.split()).replace("-", "").upper()
    if cleaned.startswith(KEY_PREFIX):
        cleaned = cleaned[len(KEY_PREFIX):]
    try:
        root = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (ValueError, base64.binascii.Error):
        raise ValueError("This is not an audit verification key (it should look like "
                         "SRAK-XXXX-XXXX-…, letters A-Z and digits 2-7).") from None
    if len(root) != 32:
        raise ValueError(f"This audit verification key is {len(root)} bytes long, not 32; "
                         "check that it was copied whole.")
    return root


def seal(entry: dict, key: bytes, epoch: int) -> tuple[dict, bytes]:
    """Add epoch, MAC and hash to ``entry``; return it and its line as written."""
    if any(k >= EPOCH_FIELD for k in entry):
        raise ValueError("audit fields must sort before the verification fields")
    entry = dict(entry)
    entry[EPOCH_FIELD] = epoch
    entry[MAC_FIELD] = mac(key, entry)
    body = canonical(entry)
    digest = hashlib.sha256(body).hexdigest()
    entry[HASH_FIELD] = digest
    line = body[:-1] + HASH_SUFFIX + digest.encode("ascii") + b'"}\n'
    return entry, line
