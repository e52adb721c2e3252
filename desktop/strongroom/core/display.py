"""Showing text that Strongroom did not write (names and fields from a drive, a manifest, a
store record or a model) so that it cannot forge report lines or drive a terminal."""

from __future__ import annotations


def printable(text: str) -> str:
    """``text`` safe to show: control characters and undecodable bytes escaped, so a hostile
    file name cannot forge report lines or drive a terminal."""
    if text.isprintable():
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            pass
    escaped = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in escaped)
