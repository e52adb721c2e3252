"""Officer keys and trust policies for tests: made the way `strongroom officer keygen` and
`strongroom trust add` make them."""

from __future__ import annotations

from pathlib import Path

from strongroom.core.transfer.signatures import (
    fingerprint_of,
    generate_key_pair,
    load_public_key,
    public_pem,
)
from strongroom.core.transfer.trust import TrustedKey, TrustPolicy

PASSPHRASE = b"correct horse battery staple"


def officer_key(folder: Path) -> tuple[Path, Path, str]:
    """A new key pair in ``folder`` (private, public, fingerprint), under PASSPHRASE."""
    return generate_key_pair(folder, PASSPHRASE)


def trusting(*public_keys: Path, require: bool = True, name: str = "Alice Officer") -> TrustPolicy:
    """A policy that trusts these public key files."""
    keys = []
    for index, path in enumerate(public_keys):
        key = load_public_key(path.read_bytes(), str(path))
        keys.append(TrustedKey(name if index == 0 else f"{name} {index + 1}", fingerprint_of(key),
                               public_pem(key).decode(), "2026-11-29T00:00:00+00:00", "officer"))
    return TrustPolicy(tuple(keys), require)
