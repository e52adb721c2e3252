"""The audit log's keys: the root shown once, the epoch keys that evolve one way from it, and
what is derived from each epoch key.

* The **root key** K0 (32 random bytes) is the *audit verification key*. It is shown once,
  when the log is created, as ``SRAK-XXXX-…`` text, and is never stored: it seals the log's
  first entry and is evolved at once.
* **Epoch keys** evolve one way: ``K_{e+1} = SHA-256("strongroom audit key evolution\\0" ‖ K_e)``.
  The workstation keeps only the current one, so whoever steals it cannot compute an
  earlier one and cannot forge an earlier epoch's entries; the root derives them all.
* From each epoch key: the **MAC** of every entry and the **seal** of a closed epoch are
  HMAC-SHA256 under K_e; the **digest key** ``D_e = HMAC-SHA256(K_e, "strongroom prompt
  digest")`` keys the prompt and answer digests of that epoch, so a copy of the log alone
  cannot confirm a guessed prompt, while an auditor holding the root can.
* The **fingerprint** names a root key in public (it is recorded in the log) so a mistyped
  key is told apart from a tampered log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as random_secrets

from strongroom.core import key_text

KEY_PREFIX = "SRAK"
KEY_BYTES = 32
_EVOLVE = b"strongroom audit key evolution\x00"
_FINGERPRINT = b"strongroom audit key fingerprint\x00"
_DIGEST_KEY = b"strongroom prompt digest"


def new_root_key() -> bytes:
    return random_secrets.token_bytes(KEY_BYTES)


def evolve(key: bytes) -> bytes:
    """The next epoch's key; the previous one cannot be computed back from it."""
    return hashlib.sha256(_EVOLVE + key).digest()


def key_fingerprint(root: bytes) -> str:
    """A short public name for a root key (16 hex digits), recorded in the log."""
    return hashlib.sha256(_FINGERPRINT + root).hexdigest()[:16]


def show_fingerprint(fingerprint: str) -> str:
    """A fingerprint as people compare it: four groups of four."""
    return " ".join(fingerprint[i:i + 4] for i in range(0, len(fingerprint), 4))


def digest_key(epoch_key: bytes) -> bytes:
    return hmac.digest(epoch_key, _DIGEST_KEY, "sha256")


def keyed_digest(epoch_key: bytes, text: str) -> str:
    """The digest recorded for a prompt or answer written in the epoch of ``epoch_key``."""
    return hmac.new(digest_key(epoch_key), text.encode("utf-8"), "sha256").hexdigest()


class Hmac:
    """HMAC-SHA256 under one key, its inner and outer states prepared once (a verifier checks
    a million entries with the same few keys)."""

    def __init__(self, key: bytes):
        block = key.ljust(64, b"\0") if len(key) <= 64 else hashlib.sha256(key).digest().ljust(64, b"\0")
        self.inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self.outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def hexdigest(self, *parts: bytes | memoryview) -> str:
        inner = self.inner.copy()
        for part in parts:
            inner.update(part)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


class EpochKeys:
    """Every epoch's key, derived from the root on demand (in order, never past a bound)."""

    def __init__(self, root: bytes, max_epoch: int):
        self.root = root
        self.max_epoch = max_epoch
        self._keys = [root]
        self._macs: dict[int, Hmac] = {}

    def key(self, epoch: int) -> bytes | None:
        """K_epoch, or None for an epoch no log of this size can have reached."""
        if not isinstance(epoch, int) or epoch < 0 or epoch > self.max_epoch:
            return None
        while len(self._keys) <= epoch:
            self._keys.append(evolve(self._keys[-1]))
        return self._keys[epoch]

    def __getstate__(self) -> dict:  # sent to the verifier's worker processes without HMAC states
        return {"root": self.root, "max_epoch": self.max_epoch}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["root"], state["max_epoch"])

    def mac(self, epoch: int) -> Hmac | None:
        if epoch not in self._macs:
            key = self.key(epoch)
            if key is None:
                return None
            self._macs[epoch] = Hmac(key)
        return self._macs[epoch]


def key_to_text(root: bytes) -> str:
    """The audit verification key as a person copies or prints it: SRAK-XXXX-XXXX-…"""
    return key_text.to_text(KEY_PREFIX, root)


def key_from_text(text: str) -> bytes:
    return key_text.from_text(KEY_PREFIX, text, KEY_BYTES, "an audit verification key")
