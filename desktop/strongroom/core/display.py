"""Showing text that Strongroom did not write (names and fields from a drive, a manifest, a
store record, a model or a log) so that it cannot forge report lines, hide or reorder what
is shown, or drive a terminal.

`printable` is the one function every command and window shows such text through: control
characters (DEL and C1 included), bidirectional overrides and other invisible format
characters, line separators and undecodable bytes are made visible as escapes. JSON output
is not passed through it (JSON escapes what it must by itself).
"""

from __future__ import annotations

MAX_SHOWN = 2000  # characters shown of one untrusted string; the rest is counted


def printable(text: str, keep_newlines: bool = False, limit: int = MAX_SHOWN) -> str:
    """``text`` safe to show. With ``keep_newlines``, line breaks stay (for a multi-line
    view of, say, an entry's JSON); everything else invisible is escaped."""
    if len(text) > limit:
        text = text[:limit]
        cut = True
    else:
        cut = False
    if not (text.isprintable() and _utf8(text)):
        escaped = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        text = "".join(c if c.isprintable() or (keep_newlines and c == "\n") else _escape(c)
                       for c in escaped)
    return text + "…" if cut else text


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _escape(character: str) -> str:
    shown = repr(character)[1:-1]
    if shown == character:  # repr leaves some invisible characters as they are
        shown = f"\\u{ord(character):04x}"
    return shown
