"""The officer keys this workstation trusts, and whether drives must be signed by one.

The list lives in the secret store (the OS keyring where there is one), not in a settings
file: adding a key is what makes a drive acceptable, so it is kept where the app's other
secrets are, and each change is an audit entry (written by the caller, who knows the user).

Policy: "require signed drives" is on unless the officer turns it off, and takes effect
once at least one key is trusted; before that there is nothing to check signatures against,
and the wizard says so.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from strongroom.core.display import printable
from strongroom.core.secrets import SecretStore
from strongroom.core.transfer.signatures import (
    SigningError,
    fingerprint_of,
    load_public_key,
    public_pem,
    shown_fingerprint,
)

TRUST_RECORD = "trusted-officer-keys"
MAX_NAME = 100


@dataclass(frozen=True)
class TrustedKey:
    name: str
    fingerprint: str
    public_pem: str
    added: str
    added_by: str
    demo: bool = False  # the setup's demo key, whose private key sits in the checkout

    @property
    def label(self) -> str:
        """"Name (1a2b 3c4d …)", as the wizard and the commands show a signer."""
        return f"{printable(self.name)} ({shown_fingerprint(self.fingerprint)})"

    def public_key(self):
        return load_public_key(self.public_pem.encode("ascii"), f"the trusted key {self.name!r}")


@dataclass(frozen=True)
class TrustPolicy:
    keys: tuple[TrustedKey, ...] = ()
    require_signed: bool = True  # the officer's setting

    @property
    def enforced(self) -> bool:
        """Unsigned drives are refused: the setting is on and there is a key to check with."""
        return self.require_signed and bool(self.keys)

    def key(self, fingerprint: str | None) -> TrustedKey | None:
        return next((k for k in self.keys if k.fingerprint == fingerprint), None)

    def public_keys(self) -> dict[str, object]:
        return {k.fingerprint: k.public_key() for k in self.keys}

    def describe(self) -> str:
        if self.enforced:
            return "this workstation requires a trusted officer's signature"
        if self.keys:
            return ("signatures are checked when present but not required (the officer turned "
                    "the requirement off)")
        return "signatures are not required: no officer key is trusted on this workstation"


@dataclass
class _Record:
    require_signed: bool = True
    keys: list[dict] = field(default_factory=list)


class TrustStore:
    def __init__(self, secrets: SecretStore):
        self.secrets = secrets

    def policy(self) -> TrustPolicy:
        record = self._read()
        return TrustPolicy(tuple(TrustedKey(**k) for k in record.keys), record.require_signed)

    def find(self, pem: bytes, source: str) -> TrustedKey | None:
        """The trusted key that is the public key in ``pem``, if it is trusted."""
        fingerprint = fingerprint_of(load_public_key(pem, source))
        return self.policy().key(fingerprint)

    def add(self, pem: bytes, name: str, source: str, user: str, demo: bool = False) -> TrustedKey:
        """Trust the public key in ``pem`` (read from ``source``) under ``name``; ``demo``
        marks the setup's demo key (the compliance check stays amber while it is trusted).
        A key already trusted under another name is refused (`find` tells whether it is)."""
        name = name.strip()
        if not name or len(name) > MAX_NAME or not name.isprintable():
            raise SigningError(f"Give the key a name of 1 to {MAX_NAME} ordinary characters "
                               "(the officer's name, say), with --name.")
        key = load_public_key(pem, source)
        fingerprint = fingerprint_of(key)
        record = self._read()
        existing = next((k for k in record.keys if k["fingerprint"] == fingerprint), None)
        if existing is not None:
            raise SigningError(f"This key is already trusted, as {existing['name']!r} "
                               f"({shown_fingerprint(fingerprint)}).")
        trusted = TrustedKey(name, fingerprint, public_pem(key).decode("ascii"),
                             datetime.now(timezone.utc).isoformat(timespec="seconds"), user, demo)
        record.keys.append(asdict(trusted))
        self._write(record)
        return trusted

    def remove(self, fingerprint_prefix: str) -> TrustedKey:
        """Stop trusting the key whose fingerprint starts with ``fingerprint_prefix``
        (spaces ignored; at least 8 characters, and it must name one key)."""
        wanted = fingerprint_prefix.replace(" ", "").lower()
        record = self._read()
        matches = [k for k in record.keys if k["fingerprint"].startswith(wanted)]
        if len(wanted) < 8 or len(matches) != 1:
            listed = ", ".join(TrustedKey(**k).label for k in record.keys) or "none"
            raise SigningError(f"No single trusted key has a fingerprint starting {wanted!r} "
                               f"(give at least 8 characters). Trusted keys: {listed}.")
        record.keys.remove(matches[0])
        self._write(record)
        return TrustedKey(**matches[0])

    def set_require_signed(self, required: bool) -> None:
        record = self._read()
        record.require_signed = required
        self._write(record)

    def _read(self) -> _Record:
        text = self.secrets.get(TRUST_RECORD)
        if text is None:
            return _Record()
        try:
            data = json.loads(text)
            return _Record(bool(data["require_signed"]), [dict(k) for k in data["keys"]])
        except (ValueError, KeyError, TypeError) as error:
            # A damaged list must not silently trust nothing (which would lift the policy).
            raise SigningError(f"The list of trusted officer keys, kept in "
                               f"{self.secrets.description}, is damaged ({error}). Ask the "
                               "security officer to remove the record and trust the keys "
                               "again.") from None

    def _write(self, record: _Record) -> None:
        self.secrets.set(TRUST_RECORD, json.dumps(asdict(record), sort_keys=True))
