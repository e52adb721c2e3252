"""Bad documents among good ones: files that are not what their names say, damaged PDFs,
Word zip bombs (honest and lying), billion laughs, too many pages, scans, files that
change or are not files, duplicates, unsupported kinds, text that is not UTF-8, missing
paths, link loops, a reading that takes too long, and indexing killed with SIGKILL.

Every case makes real files and runs the real `Indexer` (and its extraction child). Each
bad file is added in one call between two sound notes, and must be listed in the report's
`failed` with a problem that names the file and says in plain words what is wrong, be kept
as failed with no passages, and cost neither the sound notes (added, found by search) nor
the library's earlier documents (unchanged, found by search).
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from strongroom.core.audit.verifier import verify_log
from strongroom.core.documents.indexing import IndexReport
from strongroom.core.documents.reading import DocumentUnreadable, read_document
from strongroom.core.documents.retrieval import search
from strongroom.core.workspace import Workspace
from tests.helpers.audit_logs import entries_of
from tests.helpers.documents import (
    make_library_folder,
    write_blank_pages_pdf,
    write_copied_pages_pdf,
    write_pdf,
    write_raw_pdf,
    write_scanned_pdf,
    write_word_part,
    write_zip_bomb_docx,
)
from tests.helpers.kills import run_and_kill

SUPPORTED = "Strongroom reads PDF, Word (.docx), text (.txt) and Markdown (.md) documents"
PAGE_TEXT = "The quick brown fox jumps over the lazy dog beside the old mill race. " * 40
WORD = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
QUICKLY_S = 20  # a refusal that takes longer than this unpacked or parsed what it refused
_codewords = itertools.count(1)


# -- adding bad files among good ones -----------------------------------------------------

def sound_note(folder: Path, name: str) -> tuple[Path, str]:
    """A Markdown note holding a word no other document holds; returns it and the word."""
    word = f"quillon{next(_codewords):04d}"
    folder.mkdir(parents=True, exist_ok=True)
    note = folder / f"{name}-{word}.md"
    note.write_text(f"# Register\n\nThe register entry {word} was checked and signed.\n",
                    encoding="utf-8")
    return note, word


def stored_rows(workspace, library) -> dict:
    """Each document of ``library`` with its passages, by id."""
    db = workspace.chats.database
    return {d.id: (d, db.execute("SELECT ordinal, page, heading, text FROM chunks WHERE "
                                 "document_id = ? ORDER BY ordinal", (d.id,)).fetchall())
            for d in workspace.libraries.documents(library)}


def found_in(workspace, library, word: str) -> str:
    """The name of the document the best passage for ``word`` comes from."""
    passages = search(workspace.libraries, library, word, limit=1)
    assert passages, f"nothing found for {word!r}"
    return passages[0].chunk.document.name


def add_between_sound_notes(workspace, indexer, library, tmp_path, *files: Path) -> IndexReport:
    """Add ``files`` in one call between two sound notes. Checks that the notes were added
    and are found, and that the library's earlier documents are as they were."""
    earlier = stored_rows(workspace, library)
    first, first_word = sound_note(tmp_path / "sound", "first")
    last, last_word = sound_note(tmp_path / "sound", "last")
    report = indexer.add(library, [first, *files, last])
    assert {first.name, last.name} <= {d.name for d in report.added}, report.failed
    assert found_in(workspace, library, first_word) == first.name
    assert found_in(workspace, library, last_word) == last.name
    now = stored_rows(workspace, library)
    assert {i: now.get(i) for i in earlier} == earlier, "an earlier document changed"
    assert found_in(workspace, library, "liability cap landlord") == "facts.pdf"
    assert found_in(workspace, library, "apixaban dose") == "discharge.docx"
    return report


def problems_of(workspace, report: IndexReport, *bad: Path) -> dict[str, str]:
    """The problem of each of ``bad`` by file name: each checked to be in the report's
    failed, named in its problem, and kept as failed with no passages."""
    failed = {Path(d.source): d for d in report.failed}
    assert set(failed) == {path.absolute() for path in bad}, [d.problem for d in report.failed]
    db = workspace.chats.database
    for path, document in failed.items():
        kept = workspace.libraries.document(document.id)
        assert kept.status == "failed" and kept.problem == document.problem
        assert kept.chunk_count == 0
        assert db.execute("SELECT count(*) FROM chunks WHERE document_id = ?",
                          (document.id,)).fetchone()[0] == 0
        assert document.problem.startswith(f"{path}: "), document.problem
    return {path.name: document.problem for path, document in failed.items()}


def refused(workspace, indexer, library, tmp_path, *bad: Path) -> dict[str, str]:
    report = add_between_sound_notes(workspace, indexer, library, tmp_path, *bad)
    assert len(report.added) == 2 and not report.duplicates and not report.skipped
    return problems_of(workspace, report, *bad)


# -- the cases ------------------------------------------------------------------------------

def test_a_file_named_pdf_that_is_not_a_pdf_is_refused_as_not_a_pdf(workspace, indexer, library,
                                                                     tmp_path):
    text = tmp_path / "minutes.pdf"
    text.write_text("Minutes of the meeting, saved as plain text under the wrong name.\n")
    picture = tmp_path / "scan-of-lease.pdf"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    problems = refused(workspace, indexer, library, tmp_path, text, picture)
    for problem in problems.values():
        assert "it is not a PDF file" in problem and "its name ends in .pdf" in problem


def test_a_damaged_pdf_is_refused_as_damaged_and_soon(workspace, indexer, library, tmp_path):
    whole = write_pdf(tmp_path / "whole.pdf", ["A page that is cut off.", "And another."])
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(whole.read_bytes()[:whole.stat().st_size // 2])
    garbled = tmp_path / "garbled.pdf"
    noise = random.Random(20261130)
    garbled.write_bytes(b"%PDF-1.7\n" + bytes(noise.randrange(256) for _ in range(20_000)))
    looping = write_raw_pdf(tmp_path / "looping.pdf", [  # a page tree that is its own child
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>"])
    started = time.monotonic()
    problems = refused(workspace, indexer, library, tmp_path, truncated, garbled, looping)
    assert time.monotonic() - started < QUICKLY_S
    for problem in problems.values():
        assert "it is a damaged PDF" in problem
    assert "cyclic page references" in problems["looping.pdf"]


def test_a_word_zip_bomb_is_refused_without_being_unpacked(workspace, indexer, library, tmp_path):
    unpacked = 300 * 2**20
    honest = write_zip_bomb_docx(tmp_path / "honest-bomb.docx", unpacked)
    lying = write_zip_bomb_docx(tmp_path / "lying-bomb.docx", unpacked, declared_bytes=4096)
    assert honest.stat().st_size < 2**20 and lying.stat().st_size < 2**20
    started = time.monotonic()
    problems = refused(workspace, indexer, library, tmp_path, honest, lying)
    assert time.monotonic() - started < QUICKLY_S
    honest_problem = problems["honest-bomb.docx"]
    assert f"it unpacks to {unpacked + len('<Types/>'):,} bytes" in honest_problem
    assert "zip bomb" in honest_problem and "it was not opened" in honest_problem
    # Its directory says 4 KB: it is refused once the 4 KB and one byte more have come out.
    assert "its text part unpacks to more than its archive says" in problems["lying-bomb.docx"]


def test_a_word_file_with_a_billion_laughs_is_refused_in_any_encoding(workspace, indexer, library,
                                                                       tmp_path):
    entities = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))

    def laughs(encoding: str) -> str:
        return (f'<?xml version="1.0" encoding="{encoding}"?>\n'
                f'<!DOCTYPE lolz [<!ENTITY lol0 "lol">{entities}]>\n'
                f'<w:document xmlns:w="{WORD}"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p>'
                '</w:body></w:document>')

    utf8 = write_word_part(tmp_path / "laughs.docx", laughs("UTF-8").encode("utf-8"))
    utf16 = write_word_part(tmp_path / "laughs-utf16.docx", laughs("UTF-16").encode("utf-16"))
    started = time.monotonic()
    problems = refused(workspace, indexer, library, tmp_path, utf8, utf16)
    assert time.monotonic() - started < QUICKLY_S
    for problem in problems.values():
        assert "its text part declares a document type or entities" in problem
        assert "Word never writes" in problem


def test_a_pdf_of_too_many_pages_is_refused_with_its_page_count(workspace, indexer, library,
                                                               tmp_path):
    huge = write_blank_pages_pdf(tmp_path / "five-thousand.pdf", 5_000)
    [problem] = refused(workspace, indexer, library, tmp_path, huge).values()
    assert "it has 5,000 pages" in problem and "up to 2,000 pages" in problem
    assert "split it into parts" in problem


def test_a_scan_without_a_text_layer_is_refused_as_a_scan_not_kept_empty(workspace, indexer,
                                                                        library, tmp_path):
    scan = write_scanned_pdf(tmp_path / "signed-contract.pdf", pages=3)
    before = workspace.libraries.counts(library)
    [problem] = refused(workspace, indexer, library, tmp_path, scan).values()
    assert "its 3 page(s) have no text layer" in problem and "it looks like a scan" in problem
    assert "OCR" in problem
    assert workspace.libraries.counts(library)[0] == before[0] + 2  # the two notes alone


@pytest.mark.timeout(60)  # opened the ordinary way, a named pipe waits for a writer forever
def test_a_named_pipe_is_refused_as_not_a_regular_file(workspace, indexer, library, tmp_path):
    pipe = tmp_path / "incoming.txt"
    os.mkfifo(pipe)
    [problem] = refused(workspace, indexer, library, tmp_path, pipe).values()
    assert "it is not a regular file" in problem


def test_a_file_whose_bytes_are_not_its_size_is_refused_as_changed(workspace, indexer, library,
                                                                  tmp_path):
    """A file the kernel writes as it is read (its size says 0 bytes, reading gives more):
    for the reader exactly what a file being written meanwhile looks like, every time."""
    live = tmp_path / "live-status.txt"
    live.symlink_to("/proc/self/status")
    [problem] = refused(workspace, indexer, library, tmp_path, live).values()
    assert "it changed while it was being read" in problem
    assert "another program is writing it" in problem and "add it again once it is saved" in problem


# Appends to the file named by its argument for as long as it lives; says "writing" once it
# has started.
WRITER = r"""
import os, sys
descriptor = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(descriptor, b"A line written before the reading started.\n\n")
print("writing", flush=True)
while True:
    os.write(descriptor, b"Another line of the ledger.\n\n")
"""
ATTEMPTS = 5


def test_a_file_another_program_is_writing_is_refused_as_changed(workspace, indexer, library,
                                                                 tmp_path):
    """Another process appends to the file all the while it is read. Reading its 15 MB
    takes long enough that a line lands in between almost always; if none did, the attempt
    is made again with a new file, a few times."""
    problem = None
    for attempt in range(ATTEMPTS):
        ledger = tmp_path / f"ledger-{attempt}.txt"
        ledger.write_bytes(b"Ledger line.\n\n" * 2**20)
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(ledger)],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout.readline() == "writing\n"
            report = add_between_sound_notes(workspace, indexer, library, tmp_path, ledger)
        finally:
            writer.kill()
            writer.wait()
            writer.stdout.close()
        if report.failed:
            [problem] = problems_of(workspace, report, ledger).values()
            break
    assert problem is not None, f"no line was written while the file was read, in {ATTEMPTS} tries"
    assert "it changed while it was being read" in problem
    assert "another program is writing it" in problem


def test_the_same_bytes_under_two_names_are_kept_once(workspace, indexer, library, tmp_path):
    original = tmp_path / "brief.md"
    original.write_text("# Brief\n\nThe tribunal sits at Wetherby on the ninth.\n", encoding="utf-8")
    copy = tmp_path / "brief (copy).md"
    copy.write_bytes(original.read_bytes())
    report = add_between_sound_notes(workspace, indexer, library, tmp_path, original, copy)
    assert not report.failed
    assert [d.name for d in report.added if d.name.startswith("brief")] == ["brief.md"]
    [(duplicate, kept)] = report.duplicates
    assert duplicate == copy and kept.name == "brief.md" and kept.status == "indexed"
    assert [d.name for d in workspace.libraries.documents(library) if d.sha256 == kept.sha256] == \
        ["brief.md"]
    assert found_in(workspace, library, "tribunal Wetherby") == "brief.md"


def test_unsupported_files_named_are_refused_and_in_a_folder_skipped(workspace, indexer, library,
                                                                    tmp_path):
    named = tmp_path / "named"
    named.mkdir()
    files = [named / "budget.xlsx", named / "setup.exe", named / "README"]
    for file in files:
        file.write_bytes(b"PK\x03\x04 or MZ, or words: not a document Strongroom reads")
    problems = refused(workspace, indexer, library, tmp_path, *files)
    for problem in problems.values():
        assert SUPPORTED in problem and "this is none of them" in problem

    folder = tmp_path / "folder"
    folder.mkdir()
    inside = [folder / file.name for file in files]
    for file in inside:
        file.write_bytes(b"not a document Strongroom reads")
    note, word = sound_note(folder, "inside")
    before = len(workspace.libraries.documents(library))
    report = indexer.add(library, [folder])
    assert sorted(report.skipped) == sorted(inside) and not report.failed
    assert [d.name for d in report.added] == [note.name]
    assert "3 skipped" in report.summary()
    assert len(workspace.libraries.documents(library)) == before + 1
    assert found_in(workspace, library, word) == note.name


def test_text_that_is_not_utf8_is_refused_with_how_to_fix_it(workspace, indexer, library,
                                                            tmp_path):
    latin1 = tmp_path / "lettre.txt"
    latin1.write_bytes("Le café du coin ouvre à sept heures.\n".encode("latin-1"))
    broken = tmp_path / "notes.md"
    broken.write_bytes(b"# Notes\n\nThe bytes \x80\x81 here are no text at all.\n")
    problems = refused(workspace, indexer, library, tmp_path, latin1, broken)
    assert "byte 6 is not valid UTF-8" in problems["lettre.txt"]  # the é
    assert "byte 19 is not valid UTF-8" in problems["notes.md"]
    for problem in problems.values():
        assert "it is not UTF-8 text" in problem and "save it as UTF-8" in problem
        assert "Encoding" in problem and "add it again" in problem


def test_utf16_text_with_its_byte_order_mark_is_read(workspace, indexer, library, tmp_path):
    utf16 = tmp_path / "résumé.txt"
    utf16.write_bytes("Résumé: Zoë Ångström chaired the Ørsted inquiry.\n".encode("utf-16"))
    assert utf16.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    report = add_between_sound_notes(workspace, indexer, library, tmp_path, utf16)
    assert not report.failed and utf16.name in {d.name for d in report.added}
    [passage] = search(workspace.libraries, library, "Zoe Angstrom inquiry", limit=1)
    assert passage.chunk.document.name == utf16.name
    assert passage.chunk.text == "Résumé: Zoë Ångström chaired the Ørsted inquiry."


def test_a_path_that_does_not_exist_is_refused_as_not_found(workspace, indexer, library, tmp_path):
    missing = tmp_path / "gone" / "lease.pdf"
    [problem] = refused(workspace, indexer, library, tmp_path, missing).values()
    assert "it cannot be read" in problem and "No such file or directory" in problem


def test_a_folder_with_link_loops_is_read_once_without_following_them(workspace, indexer, library,
                                                                     tmp_path):
    folder = tmp_path / "loops"
    outer, outer_word = sound_note(folder, "outer")
    inner, inner_word = sound_note(folder / "inner", "inner")
    (folder / "inner" / "up").symlink_to(folder)  # a folder link to its own ancestor
    (folder / "itself").symlink_to(folder / "itself")  # a link to itself
    (folder / "ping.md").symlink_to(folder / "pong.md")  # two links to each other
    (folder / "pong.md").symlink_to(folder / "ping.md")
    started = time.monotonic()
    report = add_between_sound_notes(workspace, indexer, library, tmp_path, folder)
    assert time.monotonic() - started < QUICKLY_S
    assert not report.failed and not report.skipped and not report.duplicates
    assert sorted(d.name for d in report.added if Path(d.source).is_relative_to(folder)) == \
        sorted([inner.name, outer.name])
    assert found_in(workspace, library, outer_word) == outer.name
    assert found_in(workspace, library, inner_word) == inner.name


def test_a_document_that_takes_too_long_to_read_is_stopped_and_named(tmp_path):
    """Stopped by the clock or by its processor-time limit (a whole number of seconds, so
    with 1.5 s allowed it is usually that limit, after 1 s), the message is the same."""
    from pypdf import PdfReader

    slow = write_copied_pages_pdf(tmp_path / "annual-report.pdf", 1_500, PAGE_TEXT)
    assert len(PdfReader(slow).pages) == 1_500  # sound, just long (about 4 s to read)
    for timeout in (1, 1.5):
        started = time.monotonic()
        with pytest.raises(DocumentUnreadable) as stopped:
            read_document(slow, timeout=timeout)
        assert time.monotonic() - started < 10
        message = str(stopped.value)
        assert message.startswith(f"{slow}: ")
        assert f"reading it took longer than {timeout} s, so it was stopped" in message


# -- killed with SIGKILL mid-document -------------------------------------------------------

IN_OPEN = 0x20  # inotify: a file in the watched folder was opened

# Adds a folder to a library as the app does: `python -c DRIVER LIBRARY FOLDER`, with
# STRONGROOM_HOME set.
DRIVER = r"""
import sys
from pathlib import Path
from strongroom.core.workspace import Workspace

with Workspace.open() as workspace:
    workspace.indexer().add(workspace.libraries.get(sys.argv[1]), [Path(sys.argv[2])])
"""


def check_stored_passages(workspace) -> None:
    """Every indexed document has exactly its count of passages, every other none, and the
    full-text index agrees with the passages."""
    db = workspace.chats.database
    rows = db.execute("SELECT d.name, d.status, d.chunk_count, count(c.id) FROM documents d "
                      "LEFT JOIN chunks c ON c.document_id = d.id GROUP BY d.id").fetchall()
    for name, status, count, stored in rows:
        assert stored == (count if status == "indexed" else 0), (name, status, count, stored)
    db.execute("INSERT INTO chunk_text(chunk_text) VALUES('integrity-check')")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_indexing_killed_mid_document_is_resumed_and_loses_nothing(home, tmp_path):
    folder = tmp_path / "archive"
    notes = dict(sound_note(folder, f"{n:02d}") for n in range(1, 9))
    # Last in name order; reading it takes about a second, so the kill, the moment it is
    # opened, comes while it is being read, after the eight notes were stored.
    long_pdf = write_copied_pages_pdf(folder / "99-long.pdf", 300, PAGE_TEXT)
    with Workspace.open(home) as workspace:
        key = workspace.audit.log.created_key_text
        indexer = workspace.indexer()
        earlier = indexer.create_library("Casework")
        assert len(indexer.add(earlier, [make_library_folder(tmp_path / "casework")]).added) == 4
        indexer.create_library("Archive")
        earlier_rows = stored_rows(workspace, earlier)

    outcome = run_and_kill([sys.executable, "-c", DRIVER, "Archive", str(folder)],
                           {"STRONGROOM_HOME": str(home.data_dir.parent)},
                           "on", str(folder), str(IN_OPEN), long_pdf.name)
    assert outcome["killed"], "the indexing ended before the long PDF was opened"

    with Workspace.open(home) as workspace:
        archive = workspace.libraries.get("Archive")
        documents = {d.name: d for d in workspace.libraries.documents(archive)}
        assert documents[long_pdf.name].status == "indexing", "the kill came after it was read"
        assert {name for name, d in documents.items() if d.status == "indexed"} == \
            {note.name for note in notes}
        check_stored_passages(workspace)

        report = workspace.indexer().resume(archive)
        assert [d.name for d in report.added] == [long_pdf.name] and not report.failed
        assert {d.status for d in workspace.libraries.documents(archive)} == {"indexed"}
        assert len(workspace.libraries.documents(archive)) == len(notes) + 1
        check_stored_passages(workspace)
        for note, word in notes.items():
            assert found_in(workspace, archive, word) == note.name
        [passage] = search(workspace.libraries, archive, "fox lazy dog mill race", limit=1)
        assert passage.chunk.document.name == long_pdf.name and passage.chunk.page is not None
        assert stored_rows(workspace, earlier) == earlier_rows
        assert found_in(workspace, earlier, "liability cap landlord") == "facts.pdf"

    actions = [(e["details"]["library"], e["details"]["action"])
               for e in entries_of(home.audit_log) if e["event"] == "document_library"]
    assert actions[-(len(notes) + 1):] == \
        [("Archive", "document added")] * len(notes) + [("Archive", "document read again")]
    verified = verify_log(home.audit_log, key)
    assert verified.ok, verified.summary()
