"""`strongroom library` and `strongroom chat --library`, run as real subprocesses."""

import json

import pytest

from tests.helpers.audit_logs import entries_of
from tests.helpers.cli import strongroom
from tests.helpers.documents import PDF_FACTS


def test_adding_a_folder_lists_what_was_read_skipped_and_stored(home, folder):
    result = strongroom("library", "add", "Casework", str(folder), home=home)
    assert result.returncode == 0, result.stderr
    assert "Created the library “Casework”." in result.stderr
    assert "skipped (not PDF, Word, text or Markdown):" in result.stderr and "budget.xlsx" in result.stderr
    assert "“Casework”: 4 added, 1 skipped" in result.stdout and "4 document(s)" in result.stdout
    listed = json.loads(strongroom("library", "list", "Casework", "--json", home=home).stdout)
    documents = {d["name"]: d for d in listed[0]["documents"]}
    assert documents["facts.pdf"]["pages"] == 3 and documents["facts.pdf"]["status"] == "indexed"
    text = strongroom("library", "list", "Casework", home=home).stdout
    assert "facts.pdf (PDF, 3 pages, 3 passages) sha256 " + documents["facts.pdf"]["sha256"] in text


def test_a_document_that_cannot_be_read_is_named_and_the_rest_are_added(home, folder):
    (folder / "broken.pdf").write_bytes(b"this is not a pdf")
    result = strongroom("library", "add", "Casework", str(folder), home=home)
    assert result.returncode == 1
    assert f"could not read: {folder / 'broken.pdf'}: it is not a PDF file" in result.stderr
    assert "4 added, 1 could not be read" in result.stdout


def test_removing_needs_a_name_and_asks_before_a_whole_library(home, folder):
    strongroom("library", "add", "Casework", str(folder), home=home)
    result = strongroom("library", "remove", "Casework", "nothing.pdf", home=home)
    assert result.returncode == 2 and "has no document 'nothing.pdf'" in result.stderr
    assert strongroom("library", "remove", "Casework", "facts.pdf", home=home).returncode == 0
    refused = strongroom("library", "remove", "Casework", home=home)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert strongroom("library", "remove", "Casework", "--yes", home=home).returncode == 0
    assert "no libraries yet" in strongroom("library", "list", home=home).stdout
    actions = [e["details"]["action"] for e in entries_of(home.audit_log)
               if e["event"] == "document_library"]
    assert actions[-2:] == ["document removed", "library removed"]


def test_an_unknown_library_is_named_with_the_ones_there_are(home, folder, demo_model):
    strongroom("library", "add", "Casework", str(folder), home=home)
    result = strongroom("chat", "--model", str(demo_model), "--library", "Casewrok", "Hi", home=home)
    assert result.returncode == 1 and "no library called “Casewrok” (libraries: “Casework”)" in result.stderr


@pytest.mark.model
def test_chat_with_a_library_prints_the_answer_and_its_sources_as_json(home, folder, demo_model):
    strongroom("library", "add", "Casework", str(folder), home=home)
    result = strongroom("chat", "--model", str(demo_model), "--library", "Casework", "--json",
                        "--max-tokens", "32", "--temperature", "0",
                        "What is the annual rent of the Harrowgate lease?", home=home)
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    first = output["sources"][0]
    assert output["library"] == "Casework" and output["answer"]
    assert first["document"] == "facts.pdf" and first["page"] == 1 and first["text"] == PDF_FACTS[0]
    assert first["chunk"] == f"{first['sha256'][:16]}:0" and first["score"] > 0
    [started] = [e for e in entries_of(home.audit_log) if e["event"] == "inference_started"]
    assert started["details"]["sources"]["passages"] == [s["chunk"] for s in output["sources"]]


@pytest.mark.model
def test_chat_with_a_library_that_has_nothing_on_it_says_so(home, folder, demo_model):
    strongroom("library", "add", "Casework", str(folder), home=home)
    question = "volcanic eruptions on Jupiter's moons"
    as_json = strongroom("chat", "--model", str(demo_model), "--library", "Casework", "--json",
                         question, home=home)
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["answer"] is None
    plain = strongroom("chat", "--model", str(demo_model), "--library", "Casework", question, home=home)
    assert plain.returncode == 1 and "Nothing in the library “Casework” matches" in plain.stderr
    assert "Searched 4 documents" in plain.stderr


@pytest.mark.model
def test_with_an_embedding_model_in_the_store_search_is_hybrid(home, folder, demo_model,
                                                              stored_embedding_model):
    added = strongroom("library", "add", "Casework", str(folder), home=home)
    assert "passage vectors with all-MiniLM-L6-v2" in added.stderr, added.stderr
    models = strongroom("models", home=home).stdout
    assert "all-MiniLM-L6-v2 · 46.2 MB · F16" in models
    assert "(embedding model: searches documents, not for chat)" in models
    result = strongroom("chat", "--model", str(demo_model), "--library", "Casework", "--json",
                        "--max-tokens", "16", "Which blood thinner did the patient go home on?",
                        home=home)
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout)["sources"][0]
    assert first["document"] == "discharge.docx" and first["place"].startswith("Anticoagulation")
