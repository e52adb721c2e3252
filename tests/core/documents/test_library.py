"""Adding, finding and removing documents: real files, real extraction, the encrypted
database, and the audit entries each change leaves."""

import json
import sqlite3

import pytest

from strongroom.core.documents.chunking import MAX_CHARS, chunk_sections
from strongroom.core.documents.extraction import Section
from strongroom.core.documents.retrieval import fts_query, search, search_terms
from tests.helpers.audit_logs import entries_of
from tests.helpers.documents import PDF_FACTS, WORD_FACTS, write_pdf


def test_a_folder_is_read_with_where_each_passage_came_from(workspace, indexer, library, folder):
    documents = {d.name: d for d in workspace.libraries.documents(library)}
    assert set(documents) == {"facts.pdf", "discharge.docx", "notes.md", "memo.txt"}
    assert documents["facts.pdf"].pages == 3 and documents["facts.pdf"].kind == "PDF"
    assert all(d.status == "indexed" and len(d.sha256) == 64 for d in documents.values())

    [found] = search(workspace.libraries, library, "liability cap landlord", limit=1)
    assert found.chunk.document.name == "facts.pdf" and found.chunk.page == 2
    assert "180,000 euros" in found.chunk.text
    [found] = search(workspace.libraries, library, "apixaban dose", limit=1)
    assert found.chunk.document.name == "discharge.docx"
    assert found.chunk.heading == "Anticoagulation" and found.chunk.page is None
    assert found.chunk.place.startswith("Anticoagulation, paragraph")
    assert found.citation["sha256"] == documents["discharge.docx"].sha256


def test_each_page_is_cited_by_its_own_number(workspace, indexer, tmp_path):
    pages = [f"Page {n} holds the code word {word}." for n, word in
             enumerate(["ALBATROSS", "BRIGANTINE", "CORMORANT", "DUNLIN", "EIDER"], 1)]
    library = indexer.create_library("Pages")
    indexer.add(library, [write_pdf(tmp_path / "codes.pdf", pages)])
    for number, word in enumerate(["albatross", "brigantine", "cormorant", "dunlin", "eider"], 1):
        [found] = search(workspace.libraries, library, f"Where is {word}?", limit=1)
        assert found.chunk.page == number and word.upper() in found.chunk.text


def test_a_question_of_common_words_alone_finds_nothing(workspace, library):
    assert search_terms("What is it, and who did it?") == []
    assert search(workspace.libraries, library, "What is it, and who did it?") == []
    assert search(workspace.libraries, library, "volcanic eruptions on Jupiter's moons") == []


def test_query_syntax_in_a_question_is_only_words(workspace, library):
    for question in ['"unbalanced', "NEAR(liability cap)", "cap*", "-rent OR", "col:rent", "^rent"]:
        search(workspace.libraries, library, question)  # no FTS5 syntax error
    assert fts_query(['a"b']) == '"a""b"'


def test_adding_and_removing_are_audited_by_hash_never_by_text(workspace, indexer, library):
    documents = workspace.libraries.documents(library)
    [pdf] = [d for d in documents if d.name == "facts.pdf"]
    indexer.remove(library, pdf)
    entries = [e for e in entries_of(workspace.paths.audit_log) if e["event"] == "document_library"]
    actions = [e["details"]["action"] for e in entries]
    assert actions == ["library created"] + ["document added"] * 4 + ["document removed"]
    added = {e["details"]["sha256"] for e in entries if e["details"]["action"] == "document added"}
    assert added == {d.sha256 for d in documents}
    assert entries[-1]["details"]["sha256"] == pdf.sha256
    raw = workspace.paths.audit_log.read_text()
    for fact in PDF_FACTS + list(WORD_FACTS.values()):
        assert fact[:30] not in raw


def test_removing_a_document_removes_its_passages_and_vectors(workspace, indexer, library, embedder):
    indexer.embed_pending(library, embedder)
    db = workspace.chats.database
    [pdf] = workspace.libraries.find_documents(library, "facts.pdf")
    before = db.execute("SELECT count(*) FROM chunks WHERE document_id = ?", (pdf.id,)).fetchone()[0]
    assert before == 3
    indexer.remove(library, pdf)
    assert db.execute("SELECT count(*) FROM chunks WHERE document_id = ?", (pdf.id,)).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM chunk_vectors v LEFT JOIN chunks c ON c.id = v.chunk_id "
                      "WHERE c.id IS NULL").fetchone()[0] == 0
    assert search(workspace.libraries, library, "liability cap landlord") == []
    assert db.execute("SELECT count(*) FROM chunk_text WHERE chunk_text MATCH 'landlord'").fetchone()[0] == 0


def test_removing_a_library_leaves_no_rows(workspace, indexer, library, embedder):
    indexer.embed_pending(library, embedder)
    indexer.remove_library(library)
    db = workspace.chats.database
    for table in ("documents", "chunks", "chunk_vectors"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    assert workspace.libraries.find("Casework") is None


def test_the_same_bytes_twice_are_one_document(workspace, indexer, library, folder, tmp_path):
    copy = tmp_path / "copy-of-facts.pdf"
    copy.write_bytes((folder / "facts.pdf").read_bytes())
    report = indexer.add(library, [copy])
    assert not report.added and report.duplicates[0][1].name == "facts.pdf"
    assert len(workspace.libraries.documents(library)) == 4


def test_library_names_are_checked(indexer, library):
    from strongroom.core.documents.library import LibraryError

    for bad in ("", "   ", "x" * 81, "Casework", " Casework "):
        with pytest.raises(LibraryError):
            indexer.create_library(bad)


def test_documents_are_stored_encrypted(workspace, indexer, library):
    workspace.chats.close()
    data = workspace.paths.conversations_db.read_bytes()
    wal = workspace.paths.conversations_db.with_name(workspace.paths.conversations_db.name + "-wal")
    data += wal.read_bytes() if wal.exists() else b""
    assert b"Harrowgate" not in data and b"apixaban" not in data
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(workspace.paths.conversations_db).execute("SELECT * FROM chunks").fetchall()


def test_hybrid_search_finds_what_shares_no_word_with_the_question(workspace, library, indexer,
                                                                   embedder):
    question = "Which blood thinner did the patient go home on?"
    assert search(workspace.libraries, library, question) == []  # no word in common
    assert indexer.embed_pending(library, embedder) == workspace.libraries.counts(library)[1]
    found = search(workspace.libraries, library, question, embed=embedder.embed,
                   model_sha256=embedder.model_sha256)
    assert found and found[0].chunk.heading == "Anticoagulation"
    assert search(workspace.libraries, library, "volcanic eruptions on Jupiter's moons",
                  embed=embedder.embed, model_sha256=embedder.model_sha256) == []
    assert indexer.embed_pending(library, embedder) == 0  # nothing left to do


def test_passages_keep_to_one_page_and_a_bounded_length():
    sections = [Section("short para one.", page=1), Section("short para two.", page=1),
                Section("A sentence here. " * 400, page=2), Section("x" * 5000, page=3)]
    chunks = chunk_sections(sections)
    assert chunks[0].text == "short para one.\n\nshort para two." and chunks[0].page == 1
    assert {c.page for c in chunks[1:]} == {2, 3}
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert "".join(c.text for c in chunks if c.page == 3) == "x" * 5000


def test_the_json_of_a_citation_holds_no_database_ids(workspace, library):
    [found] = search(workspace.libraries, library, "parking visitors", limit=1)
    citation = found.citation
    assert set(citation) == {"document", "sha256", "page", "place", "chunk", "score", "text"}
    assert citation["chunk"] == f"{citation['sha256'][:16]}:0"
    json.dumps(citation)


def test_a_refused_document_is_recorded_without_its_path(workspace, indexer, tmp_path):
    secret = tmp_path / "Patient Jane Roe" / "referral.pdf"
    secret.parent.mkdir()
    secret.write_bytes(b"not a pdf")
    library = indexer.create_library("Referrals")
    [failed] = indexer.add(library, [secret]).failed
    assert failed.problem.startswith(f"{secret}: it is not a PDF file")  # the user is told where
    [entry] = [e for e in entries_of(workspace.paths.audit_log)
               if e["details"].get("action") == "document refused"]
    assert entry["details"]["reason"].startswith("it is not a PDF file")
    assert "Jane Roe" not in workspace.paths.audit_log.read_text()


def test_a_very_long_question_is_searched_by_its_first_words(workspace, library):
    question = "liability " + " ".join(f"word{i}" for i in range(5_000))
    assert len(search_terms(question)) == 32
    assert search(workspace.libraries, library, question)[0].chunk.page == 2


def test_a_small_library_is_searched_whole_beside_a_large_one(workspace, indexer, library):
    from strongroom.core.documents.chunking import Chunk
    from strongroom.core.documents.retrieval import FIRST_LOOK

    big = workspace.libraries.create("Big")
    document = workspace.libraries.start_document(big, "big.pdf", "/nowhere")
    workspace.libraries.store_chunks(  # more, and better, matches than the small library has
        document, kind="PDF", sha256="b" * 64, size=1, pages=1,
        chunks=[Chunk(i, "landlord liability landlord liability", 1, None, None)
                for i in range(FIRST_LOOK + 50)])
    [found] = search(workspace.libraries, library, "landlord liability", limit=1)
    assert found.chunk.document.name == "facts.pdf" and found.chunk.page == 2
    assert len(search(workspace.libraries, big, "landlord liability", limit=100)) == 40


def test_the_compliance_report_says_what_documents_are_held(workspace, library):
    from strongroom.core.compliance import build_report

    [check] = [c for c in build_report(workspace, None).checks if c.id == "documents"]
    assert check.reason.startswith("1 library, 4 document(s), 7 passages, in the encrypted")
    assert check.details["libraries"] == {"Casework": {"documents": 4, "passages": 7}}
    assert check.details["search"].startswith("keywords only")
