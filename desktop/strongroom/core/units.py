"""Sizes, counts and lists written for people: 98.4 MB, 135M, "a, b, c and 4 more"."""

from __future__ import annotations


def human_size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def human_count(n: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.0f}{unit}" if n / scale >= 10 else f"{n / scale:.1f}{unit}"
    return str(n)


def human_list(names: list[str], most: int, separator: str = ", ",
               more: str = " and {} more") -> str:
    """The first ``most`` of ``names`` joined by ``separator``, and how many more there are."""
    shown = separator.join(names[:most])
    return shown + more.format(len(names) - most) if len(names) > most else shown
