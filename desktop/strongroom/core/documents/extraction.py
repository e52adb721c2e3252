"""Reading a document's text, with where each part of it came from: the page of a PDF, the
heading and paragraph of a Word or Markdown file, the paragraph of a text file.

Everything here runs inside the extraction child (`reading.read_document`), never in the
app: the bytes come from the user's folders and may be malformed or hostile. The readers
refuse what a real document does not do (more pages than `MAX_PAGES`, a Word file that
unpacks to more than `MAX_UNPACKED_BYTES`, XML with a document type declaration) before
they spend time or memory on it; the child's limits catch the rest.
"""

from __future__ import annotations

import copy
import io
import re
import zipfile
import zlib
from dataclasses import asdict, dataclass
from xml.etree import ElementTree
from xml.parsers import expat

from strongroom.core.errors import StrongroomError

KINDS = {".pdf": "PDF", ".docx": "Word", ".txt": "text", ".text": "text", ".md": "Markdown",
         ".markdown": "Markdown"}
MAX_PAGES = 2_000
MAX_UNPACKED_BYTES = 64 * 1024**2  # the text part of a Word file, unpacked
MAX_TEXT_CHARS = 20_000_000

_WORD = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


class ExtractionError(StrongroomError):
    """The document cannot be read; the message says why (the caller names the file)."""


@dataclass(frozen=True)
class Section:
    """A run of text from one place in the document."""

    text: str
    page: int | None = None  # PDF pages, from 1
    heading: str | None = None  # the heading the text is under (Word, Markdown)
    paragraph: int | None = None  # the paragraph's number in the document, from 1

    def as_dict(self) -> dict:
        return asdict(self)


def kind_of(name: str) -> str | None:
    """The kind of document a file name says ("PDF", "Word", …); None if unsupported."""
    dot = name.rfind(".")
    return KINDS.get(name[dot:].lower()) if dot >= 0 else None


def extract(data: bytes, kind: str) -> list[Section]:
    readers = {"PDF": _pdf, "Word": _word, "text": _plain_text, "Markdown": _markdown}
    sections = readers[kind](data)
    if sum(len(s.text) for s in sections) > MAX_TEXT_CHARS:
        raise ExtractionError(f"it holds more than {MAX_TEXT_CHARS:,} characters of text; split it "
                              "into smaller documents")
    return sections


# -- PDF --------------------------------------------------------------------------------------

def _pdf(data: bytes) -> list[Section]:
    if b"%PDF-" not in data[:1024]:
        raise ExtractionError("it is not a PDF file (it does not start like one), although its "
                              "name ends in .pdf")
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.CRITICAL)  # its warnings are about the file
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("it is protected with a password; save an unprotected copy and "
                                  "add that")
        count = len(reader.pages)
        if count > MAX_PAGES:
            raise ExtractionError(f"it has {count:,} pages, and Strongroom reads documents of up "
                                  f"to {MAX_PAGES:,} pages; split it into parts")
        sections = []
        for number, page in enumerate(reader.pages, 1):
            text = _tidy(page.extract_text() or "")
            if text:
                sections.append(Section(text, page=number))
    except ExtractionError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            AssertionError, RecursionError, ZeroDivisionError, OverflowError) as error:
        raise ExtractionError(f"it is a damaged PDF ({type(error).__name__}: {error})") from None
    if count and not sections:
        raise ExtractionError(f"its {count:,} page(s) have no text layer: it looks like a scan. "
                              "Strongroom reads text, not pictures of text; run it through OCR "
                              "software to make a searchable PDF and add that")
    return sections


# -- Word -------------------------------------------------------------------------------------

def _word(data: bytes) -> list[Section]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        info = archive.getinfo("word/document.xml")
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ExtractionError("it is not a Word document (.docx): it is not the zip archive with "
                              "a word/document.xml part that Word writes") from None
    total = sum(i.file_size for i in archive.infolist())
    if info.file_size > MAX_UNPACKED_BYTES or total > 4 * MAX_UNPACKED_BYTES:
        raise ExtractionError(f"it unpacks to {total:,} bytes (a 'zip bomb', or far larger than "
                              "a document); it was not opened")
    xml = _read_limited(archive, info)
    _refuse_document_type(xml)
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as error:
        raise ExtractionError(f"its text part is damaged XML ({error})") from None
    sections, heading, number = [], None, 0
    for paragraph in root.iter(f"{_WORD}p"):
        text = _tidy("".join(_word_runs(paragraph)))
        if not text:
            continue
        number += 1
        if _is_heading(paragraph):
            heading = text[:200]
        sections.append(Section(text, heading=heading, paragraph=number))
    return sections


def _read_limited(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The part's bytes, refusing to unpack more than its declared (checked) size: the
    sizes in a zip's directory are the writer's claim, not a promise. (zipfile stops at the
    declared size and reports a bad checksum, which would hide that claim being false, so
    it is asked for one byte more, unchecked, and the checksum is checked here.)"""
    unchecked = copy.copy(info)
    unchecked.file_size, unchecked.CRC = info.file_size + 1, None
    try:
        with archive.open(unchecked) as part:
            data = part.read(unchecked.file_size)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as error:
        raise ExtractionError(f"its text part cannot be unpacked ({error})") from None
    if len(data) > info.file_size:
        raise ExtractionError("its text part unpacks to more than its archive says; it was not read")
    if zlib.crc32(data) != info.CRC:
        raise ExtractionError("its text part is damaged (its checksum does not match)")
    return data


class _PrologRead(Exception):
    pass


def _refuse_document_type(xml: bytes) -> None:
    """Refuse XML that declares a document type (where entities are declared: a "billion
    laughs" expands a few of them into gigabytes). Word never writes one. Asked of the XML
    parser, not of the bytes, so that it holds in any encoding (UTF-16 too); it stops at
    the first element, after which no declaration can come."""
    def refuse(*_args):
        raise ExtractionError("its text part declares a document type or entities, which Word "
                              "never writes; it was not read")

    def stop(*_args):
        raise _PrologRead()

    checker = expat.ParserCreate()
    checker.StartDoctypeDeclHandler = refuse
    checker.StartElementHandler = stop
    try:
        checker.Parse(xml, True)
    except (_PrologRead, expat.ExpatError):
        pass  # no declaration; whether it is sound XML is for ElementTree to say


def _word_runs(paragraph):
    for node in paragraph.iter():
        if node.tag == f"{_WORD}t" and node.text:
            yield node.text
        elif node.tag == f"{_WORD}tab":
            yield "\t"
        elif node.tag in (f"{_WORD}br", f"{_WORD}cr"):
            yield "\n"


def _is_heading(paragraph) -> bool:
    style = paragraph.find(f"{_WORD}pPr/{_WORD}pStyle")
    name = (style.get(f"{_WORD}val") or "") if style is not None else ""
    return name.lower().startswith(("heading", "title"))


# -- text and Markdown ------------------------------------------------------------------------

def _decoded(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    else:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ExtractionError(
                f"it is not UTF-8 text (byte {error.start:,} is not valid UTF-8); save it as "
                "UTF-8 (most editors offer it under 'Save as… / Encoding') and add it again") from None
    raise ExtractionError("it starts like UTF-16 text but is not valid UTF-16; save it as UTF-8 "
                          "and add it again")


def _paragraphs(text: str):
    for block in re.split(r"\n\s*\n", text):
        block = _tidy(block)
        if block:
            yield block


def _plain_text(data: bytes) -> list[Section]:
    return [Section(p, paragraph=n) for n, p in enumerate(_paragraphs(_decoded(data)), 1)]


_MARKDOWN_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")


def _markdown(data: bytes) -> list[Section]:
    sections, heading, number = [], None, 0
    for block in _paragraphs(_decoded(data)):
        lines = []
        for line in block.split("\n"):
            match = _MARKDOWN_HEADING.match(line)
            if match:
                if lines:  # text before the heading, in the same block
                    number += 1
                    sections.append(Section("\n".join(lines), heading=heading, paragraph=number))
                    lines = []
                heading = match.group(1)[:200] or heading
            lines.append(line)
        number += 1
        sections.append(Section("\n".join(lines), heading=heading, paragraph=number))
    return sections


def _tidy(text: str) -> str:
    """Text without NULs and stray control characters, and without trailing blanks."""
    text = text.replace("\x00", "")
    text = re.sub(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]", " ", text)
    return re.sub(r"[ \t]+\n", "\n", text).strip()
