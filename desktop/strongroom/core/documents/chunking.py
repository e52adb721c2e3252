"""Cutting a document's text into the passages that are indexed, found and cited.

A passage is about `TARGET_CHARS` long (a few paragraphs: enough to answer from, short
enough that several fit in a prompt), made of whole paragraphs where they are short
enough, and never spans two pages or two headings, so each passage cites one place.
A paragraph longer than a passage is cut between sentences, or between words when a
"sentence" is itself too long.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from strongroom.core.documents.extraction import Section

TARGET_CHARS = 1_000
MAX_CHARS = 1_500

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


@dataclass(frozen=True)
class Chunk:
    ordinal: int  # its place in the document, from 0
    text: str
    page: int | None
    heading: str | None
    paragraph: int | None  # the first paragraph it holds


def chunk_sections(sections: Iterable[Section]) -> list[Chunk]:
    chunks: list[Chunk] = []
    parts: list[str] = []
    place: Section | None = None

    def flush() -> None:
        if parts:
            chunks.append(Chunk(len(chunks), "\n\n".join(parts), place.page, place.heading,
                                place.paragraph))
            parts.clear()

    for section in sections:
        if place is not None and (section.page, section.heading) != (place.page, place.heading):
            flush()
        for piece in _pieces(section.text):
            if parts and sum(map(len, parts)) + len(piece) > TARGET_CHARS:
                flush()
            if not parts:
                place = section
            parts.append(piece)
        place = place or section
    flush()
    return chunks


def _pieces(text: str) -> Iterator[str]:
    """``text`` in pieces of at most MAX_CHARS: whole if it fits, else by sentences."""
    if len(text) <= MAX_CHARS:
        yield text
        return
    piece = ""
    for sentence in _SENTENCE_END.split(text):
        for part in _words(sentence):
            if piece and len(piece) + 1 + len(part) > TARGET_CHARS:
                yield piece
                piece = ""
            piece = f"{piece} {part}" if piece else part
    if piece:
        yield piece


def _words(sentence: str) -> Iterator[str]:
    """The sentence, or, if it is longer than MAX_CHARS, pieces of it cut between words
    (or anywhere, for a run with no spaces)."""
    while len(sentence) > MAX_CHARS:
        cut = sentence.rfind(" ", 0, TARGET_CHARS)
        cut = cut if cut > 0 else TARGET_CHARS
        yield sentence[:cut]
        sentence = sentence[cut:].lstrip()
    if sentence:
        yield sentence
