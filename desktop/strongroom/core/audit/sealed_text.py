"""Prompt and answer text in the audit log, readable by the auditor and by no one else.

When "Record prompt and answer text" is on, the text is not written as it is: it is sealed
to a public key derived from the audit verification key, which the workstation never keeps.
The log's first entry carries that public key (an X25519 key whose private half is
``HMAC-SHA256(root, "strongroom recorded text key")``); each text is sealed with a fresh
X25519 key pair, HKDF-SHA256 and AES-256-GCM. So the workstation, a stolen day key, or a
copy of the log can write sealed text but never read it back; an auditor holding the
verification key can, in the viewer. The digests and the chain are as for any entry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "sealed-v1"
_PRIVATE = b"strongroom recorded text key"
_CONTEXT = b"strongroom recorded text"
_RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _private_key(root: bytes) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(hmac.new(root, _PRIVATE, hashlib.sha256).digest())


def public_key_text(root: bytes) -> str:
    """The public key texts are sealed to, as the log's first entry records it."""
    return base64.b64encode(_private_key(root).public_key().public_bytes(*_RAW)).decode("ascii")


def _key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None,
                info=_CONTEXT + ephemeral + recipient).derive(shared)


def seal(public_text: str, text: str) -> str:
    recipient = base64.b64decode(public_text)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(*_RAW)
    key = _key(ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient)),
               ephemeral_public, recipient)
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, text.encode("utf-8"), _CONTEXT)
    return f"{VERSION}:" + base64.b64encode(ephemeral_public + nonce + sealed).decode("ascii")


def unseal(root: bytes, sealed_text: str) -> str:
    """The text, with the audit verification key ``root``; ValueError when it does not open."""
    version, _, encoded = sealed_text.partition(":")
    if version != VERSION:
        raise ValueError(f"this recorded text is sealed in an unknown way ({version!r})")
    try:
        data = base64.b64decode(encoded, validate=True)
        private = _private_key(root)
        recipient = private.public_key().public_bytes(*_RAW)
        ephemeral, nonce, sealed = data[:32], data[32:44], data[44:]
        key = _key(private.exchange(X25519PublicKey.from_public_bytes(ephemeral)), ephemeral, recipient)
        return AESGCM(key).decrypt(nonce, sealed, _CONTEXT).decode("utf-8")
    except (ValueError, InvalidTag, UnicodeDecodeError):
        raise ValueError("this recorded text does not open with this key (another log's key, "
                         "or the text was altered)") from None
