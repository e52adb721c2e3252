"""Secret keys as people copy, print and type them: ``PREFIX-XXXX-XXXX-…`` in base32
(letters A-Z and digits 2-7, no look-alike 0/1/8), case and spaces ignored when read back.

The prefix says which key it is (``SRAK`` the audit verification key, ``SRCK`` the
conversations' recovery key), so a key typed into the wrong place is told apart from a
mistyped one.
"""

from __future__ import annotations

import base64
import binascii

KNOWN = {"SRAK": "the audit verification key", "SRCK": "the conversations' recovery key"}


def to_text(prefix: str, key: bytes) -> str:
    encoded = base64.b32encode(key).decode("ascii").rstrip("=")
    return "-".join([prefix] + [encoded[i:i + 4] for i in range(0, len(encoded), 4)])


def from_text(prefix: str, text: str, length: int, what: str) -> bytes:
    """The key in ``text``; ValueError naming ``what`` it should have been."""
    cleaned = "".join(text.split()).replace("-", "").upper()
    if cleaned.startswith(prefix):
        cleaned = cleaned[len(prefix):]
    elif cleaned[:4] in KNOWN:
        raise ValueError(f"This is not {what}: it is {KNOWN[cleaned[:4]]} (it starts with "
                         f"{cleaned[:4]}, not {prefix}).")
    try:
        key = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (ValueError, binascii.Error):
        raise ValueError(f"This is not {what} (it should look like {prefix}-XXXX-XXXX-…, "
                         "letters A-Z and digits 2-7).") from None
    if len(key) != length:
        raise ValueError(f"This {what} is {len(key)} bytes long, not {length}; check that it "
                         "was copied whole.")
    return key
