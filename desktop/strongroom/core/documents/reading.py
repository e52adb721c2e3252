"""Reading a document from the user's folders: its bytes once, their SHA-256, and their text
from a separate, limited process.

The file is read into memory in one pass that also hashes it, and read is refused if the
file changed meanwhile (its size or modification time moved), so the text indexed is the
text of exactly the bytes whose SHA-256 is recorded. The child process (`CHILD_COMMAND`)
gets those bytes on its standard input, never the path, and has limits on time, memory
and CPU; a file that hangs it, crashes it or exhausts its memory is reported, and the app
carries on.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from strongroom.core.documents.extraction import ExtractionError, Section, extract, kind_of
from strongroom.core.errors import StrongroomError
from strongroom.core.isolated import run_isolated
from strongroom.core.units import human_size

CHILD_COMMAND = "_read-document"  # `strongroom _read-document KIND`, the bytes on stdin
MAX_FILE_BYTES = 200 * 1024**2
TIMEOUT_S = 180
CHILD_MEMORY_BYTES = 3 * 1024**3


class DocumentUnreadable(StrongroomError):
    """The document cannot be added; the message names the file and says why."""


@dataclass(frozen=True)
class ReadDocument:
    path: Path
    kind: str
    sha256: str
    size: int
    sections: list[Section]

    @property
    def pages(self) -> int | None:
        pages = [s.page for s in self.sections if s.page is not None]
        return max(pages) if pages else None


def read_bytes(path: Path) -> tuple[bytes, str]:
    """The file's bytes and their SHA-256, checked not to have changed while being read."""
    try:
        with open(path, "rb", opener=_without_waiting) as file:
            before = os.fstat(file.fileno())
            if not stat.S_ISREG(before.st_mode):
                raise DocumentUnreadable(f"{path}: it is not a regular file")
            if before.st_size > MAX_FILE_BYTES:
                raise DocumentUnreadable(
                    f"{path}: it is {human_size(before.st_size)}, and documents of up to "
                    f"{human_size(MAX_FILE_BYTES)} are read; split it into parts")
            data = file.read(MAX_FILE_BYTES + 1)
            after = os.stat(path)
    except OSError as error:
        raise DocumentUnreadable(f"{path}: it cannot be read ({error.strerror or error})") from None
    changed = (len(data) != before.st_size or after.st_size != before.st_size
               or after.st_mtime_ns != before.st_mtime_ns or after.st_ino != before.st_ino)
    if changed:
        raise DocumentUnreadable(f"{path}: it changed while it was being read (another program "
                                 "is writing it); add it again once it is saved")
    return data, hashlib.sha256(data).hexdigest()


def _without_waiting(name, flags: int) -> int:
    """Open ``name`` without blocking: a named pipe would otherwise wait for a writer
    forever, before it could be refused as not a regular file."""
    return os.open(name, flags | os.O_NONBLOCK)


def read_document(path: Path, timeout: float = TIMEOUT_S) -> ReadDocument:
    """Read ``path``'s text in the extraction child; raises DocumentUnreadable."""
    kind = kind_of(path.name)
    if kind is None:
        raise DocumentUnreadable(f"{path}: Strongroom reads PDF, Word (.docx), text (.txt) and "
                                 "Markdown (.md) documents, and this is none of them")
    data, sha256 = read_bytes(path)
    try:
        result = run_isolated([CHILD_COMMAND, kind], input=data, timeout=timeout,
                              memory_bytes=CHILD_MEMORY_BYTES, cpu_seconds=int(timeout))
    except subprocess.TimeoutExpired:
        raise DocumentUnreadable(_too_long(path, timeout)) from None
    if result.returncode == -signal.SIGXCPU:  # its processor-time limit, the timeout's twin
        raise DocumentUnreadable(_too_long(path, timeout))
    try:
        outcome = json.loads(result.stdout)
    except ValueError:
        how = (f"was stopped by signal {-result.returncode}" if result.returncode < 0
               else f"failed (exit status {result.returncode})")
        raise DocumentUnreadable(f"{path}: reading it {how}, which a sound document never "
                                 "causes (it may be malformed, or use more memory than "
                                 "allowed); it was not added") from None
    if outcome.get("problem"):
        raise DocumentUnreadable(f"{path}: {outcome['problem']}")
    sections = [Section(**s) for s in outcome["sections"]]
    if not sections:
        raise DocumentUnreadable(f"{path}: it holds no text")
    return ReadDocument(path, kind, sha256, len(data), sections)


def _too_long(path: Path, timeout: float) -> str:
    return (f"{path}: reading it took longer than {timeout:g} s, so it was stopped; the file "
            "is malformed or far too large")


def main(argv: list[str]) -> int:
    """Entry point of the extraction child: the document on stdin, one JSON object out."""
    data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    try:
        outcome = {"sections": [s.as_dict() for s in extract(data, argv[0])]}
    except ExtractionError as error:
        outcome = {"problem": str(error)}
    except MemoryError:
        outcome = {"problem": "reading it needs more memory than a document may use"}
    except RecursionError:
        outcome = {"problem": "its structure is nested far deeper than any real document's"}
    sys.stdout.write(json.dumps(outcome))
    return 0
