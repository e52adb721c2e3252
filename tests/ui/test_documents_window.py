"""Documents in the window: the Documents… pane reading a real folder, the library picker,
answers with sources that open their passages, and nothing-found said in words."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QTextCursor

from strongroom.ui.documents.documents_dialog import DocumentsDialog
from tests.helpers.audit_logs import entries_of
from tests.helpers.documents import PDF_FACTS
from tests.helpers.window import ANSWER_TIMEOUT_MS, send

pytestmark = pytest.mark.model

RUN_TIMEOUT_MS = 60_000


def read_into_library(qtbot, window, folder, name="Casework") -> DocumentsDialog:
    """Open Documents…, make the library ``name`` and add ``folder``, as a user would."""
    qtbot.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    dialog = window.documents.dialog
    assert dialog is not None and dialog.isVisible()
    assert not dialog.add_folder_button.isEnabled()  # no library yet
    dialog.new_library(name)
    updates = []
    dialog.run_progress = updates
    with qtbot.waitSignal(dialog.runFinished, timeout=RUN_TIMEOUT_MS) as finished:
        dialog.add([folder])
        dialog.run.progress.connect(updates.append)
        assert not dialog.add_folder_button.isEnabled() and dialog.cancel_button.isVisible()
    return dialog, finished.args[0], updates


def test_the_documents_pane_reads_a_folder_and_shows_each_document(qtbot, window, folder):
    (folder / "broken.pdf").write_bytes(b"not a pdf at all")
    dialog, report, updates = read_into_library(qtbot, window, folder)
    rows = {dialog.table.item(r, 0).text(): dialog.table.item(r, 4).text()
            for r in range(dialog.table.rowCount())}
    assert set(rows) == {"facts.pdf", "discharge.docx", "notes.md", "memo.txt", "broken.pdf"}
    assert rows["facts.pdf"] == "Ready"
    assert rows["broken.pdf"].startswith("Could not be read:") and "not a PDF file" in rows["broken.pdf"]
    assert "4 added, 1 could not be read, 1 skipped" in dialog.summary.text()
    assert [u.done for u in updates] == sorted(u.done for u in updates)
    assert any(u.seconds_left for u in updates)  # an estimate once a document was read
    assert dialog.add_folder_button.isEnabled() and not dialog.cancel_button.isVisible()
    names = [window.library_picker.itemText(i) for i in range(window.library_picker.count())]
    assert names == ["No documents", "Casework"]

    dialog.table.selectRow(next(r for r in range(dialog.table.rowCount())
                                if dialog.table.item(r, 0).text() == "broken.pdf"))
    dialog.remove_button.click()
    assert dialog.table.rowCount() == 4
    actions = [e["details"]["action"] for e in entries_of(window.workspace.paths.audit_log)
               if e["event"] == "document_library"]
    assert actions.count("document added") == 4 and actions[-1] == "document removed"
    dialog.close()


def test_an_answer_from_a_library_lists_sources_that_open_their_passages(qtbot, window, folder):
    dialog, _report, _ = read_into_library(qtbot, window, folder)
    dialog.close()
    window.library_picker.setCurrentIndex(1)
    assert window.session.library.name == "Casework"
    send(qtbot, window, "What is the annual rent of the Harrowgate lease?")
    answer = window.chat_view.messages[-1]
    assert answer.sources is not None
    first = answer.sources.buttons[0]
    assert first.text() == "[1] facts.pdf, page 1"
    assert first in window.chat_view.focus_stops()  # Tab reaches it
    title = answer.sources.findChild(type(answer.title)).text()
    assert title == "Sources — from the library “Casework”, 4 documents searched"

    passages = []
    window.documents.open_source = _recording(window.documents.open_source, passages)
    window.chat_view.sourceRequested.disconnect()
    window.chat_view.sourceRequested.connect(window.documents.open_source)
    first.click()
    [passage] = passages
    assert passage.in_context
    text = passage.text.toPlainText()
    assert PDF_FACTS[0] in text and PDF_FACTS[1] in text  # the next page too, for context
    cursor = passage.text.document().find(PDF_FACTS[0])
    at = QTextCursor(passage.text.document())
    at.setPosition(cursor.selectionStart() + 1)
    assert at.charFormat().fontWeight() == QFont.Weight.Bold  # the cited one is marked
    passage.close()

    # Reopened later, the answer still lists them; with the document gone the passage is
    # shown as the model was given it.
    [facts] = window.workspace.libraries.find_documents(window.session.library, "facts.pdf")
    window.workspace.indexer().remove(window.session.library, facts)
    window.open_conversation(window.conversation_id)
    reopened = window.chat_view.messages[-1]
    reopened.sources.buttons[0].click()
    assert not passages[-1].in_context and PDF_FACTS[0] in passages[-1].text.toPlainText()
    passages[-1].close()


def test_nothing_found_is_said_and_names_the_documents_searched(qtbot, window, folder):
    dialog, _report, _ = read_into_library(qtbot, window, folder)
    dialog.close()
    window.library_picker.setCurrentIndex(1)
    window.input.setPlainText("volcanic eruptions on Jupiter's moons")
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    notice = window.notice.text
    assert "Nothing in the library “Casework” matches" in notice and "facts.pdf" in notice
    assert window.input.toPlainText() == "volcanic eruptions on Jupiter's moons"  # kept
    assert window.chat_view.messages == []
    tooltip = window.library_picker.itemData(1, Qt.ItemDataRole.ToolTipRole)
    assert tooltip.startswith("Searches 4 document(s):") and "discharge.docx" in tooltip


def test_a_document_named_like_markup_is_shown_as_its_name(qtbot, window, tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "<b>Bold <img src=x onerror=y>.txt").write_text("The gazebo is painted teal.\n")
    dialog, _report, _ = read_into_library(qtbot, window, folder)
    assert dialog.table.item(0, 0).text() == "<b>Bold <img src=x onerror=y>.txt"
    dialog.close()
    window.library_picker.setCurrentIndex(1)
    send(qtbot, window, "What colour is the gazebo?")
    button = window.chat_view.messages[-1].sources.buttons[0]
    assert button.text() == "[1] <b>Bold <img src=x onerror=y>.txt, paragraph 1"


def test_with_an_embedding_model_in_the_store_the_window_searches_by_meaning(
        qtbot, window, folder, stored_embedding_model):
    window.models.refresh()
    with qtbot.waitSignal(window.catalogShown, timeout=ANSWER_TIMEOUT_MS):
        pass
    assert "all-MiniLM-L6-v2" not in [window.model_picker.itemText(i)
                                      for i in range(window.model_picker.count())]
    with qtbot.waitSignal(window.documents.embedderReady, timeout=ANSWER_TIMEOUT_MS):
        window.documents.load_embedder()
    dialog, _report, updates = read_into_library(qtbot, window, folder)
    assert window.session.embedder is not None
    assert any(u.stage == "Computing passage vectors" for u in updates)
    dialog.close()
    window.library_picker.setCurrentIndex(1)
    send(qtbot, window, "Which blood thinner did the patient go home on?")
    assert window.chat_view.messages[-1].sources.buttons[0].text().startswith(
        "[1] discharge.docx, Anticoagulation")


def _recording(open_source, opened: list):
    def record(citation):
        dialog = open_source(citation)
        opened.append(dialog)
        return dialog
    return record


def test_passages_added_without_an_embedding_model_get_vectors_once_one_is_loaded(
        qtbot, window, folder, stored_embedding_model):
    library = window.workspace.indexer().create_library("Earlier")
    window.workspace.indexer().add(library, [folder])  # as `strongroom library add` would
    window.models.refresh()
    with qtbot.waitSignal(window.catalogShown, timeout=ANSWER_TIMEOUT_MS):
        pass
    with qtbot.waitSignal(window.documents.embedderReady, timeout=ANSWER_TIMEOUT_MS):
        window.library_picker.setCurrentIndex(1)
    run = window.documents._vectors_run
    if run is not None:
        with qtbot.waitSignal(run.finished, timeout=RUN_TIMEOUT_MS):
            pass
    sha = window.session.embedder.model_sha256
    assert window.workspace.libraries.count_without_vectors(library, sha) == 0


def test_documents_attached_to_a_conversation_answer_there_and_go_with_it(qtbot, window, folder):
    with qtbot.waitSignal(window.documents.attached, timeout=RUN_TIMEOUT_MS):
        window.documents.attach([folder / "facts.pdf"])
    conversation = window.conversation_id
    assert conversation is not None  # attaching started one
    label = window.pane.attachments_label
    assert label.isVisible() and label.text().startswith("Attached to this conversation (1): facts.pdf")
    assert window.library_picker.currentData() is None  # no library chosen: only these
    send(qtbot, window, "What caps the landlord's liability?")
    answer = window.chat_view.messages[-1]
    assert answer.sources.buttons[0].text() == "[1] facts.pdf, page 2"
    assert window.workspace.libraries.all() == []  # not listed as a library

    window.new_conversation()
    assert not window.pane.attachments_label.isVisible()
    window.input.setPlainText("What caps the landlord's liability?")
    window.open_conversation(conversation)
    assert window.pane.attachments_label.isVisible()

    window.conversations.delete(conversation)
    db = window.workspace.chats.database
    assert db.execute("SELECT count(*) FROM libraries").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM chunks").fetchone()[0] == 0
    actions = [e["details"]["action"] for e in entries_of(window.workspace.paths.audit_log)
               if e["event"] == "document_library"]
    assert actions == ["library created", "document added", "library removed"]


def test_locking_closes_what_shows_documents(qtbot, window, folder):
    dialog, _report, _ = read_into_library(qtbot, window, folder)
    window.library_picker.setCurrentIndex(1)
    send(qtbot, window, "What is the annual rent of the Harrowgate lease?")
    opened = []
    window.chat_view.sourceRequested.disconnect()
    window.chat_view.sourceRequested.connect(_recording(window.documents.open_source, opened))
    window.chat_view.messages[-1].sources.buttons[0].click()
    with qtbot.waitSignal(window.documents.attached, timeout=RUN_TIMEOUT_MS):
        window.documents.attach([folder / "notes.md"])
    window.locking.lock_now()
    assert not dialog.isVisible() and not opened[0].isVisible()
    assert not window.pane.attachments_label.isVisible()
    assert window.documents.dialog is None or not window.documents.dialog.isVisible()


def test_an_answer_citing_a_passage_it_was_not_given_says_so(qtbot):
    from strongroom.ui.chat.message import MessageWidget

    widget = MessageWidget("assistant", "The cap is 180,000 euros [1]; rent is monthly [3].")
    qtbot.addWidget(widget)
    widget.show_sources({"sources": [{"number": 1, "document": "facts.pdf", "place": "page 2"}],
                         "searched_in": "the library “Casework”", "searched": 4,
                         "unknown_citations": [3]})
    assert [b.text() for b in widget.sources.buttons] == ["[1] facts.pdf, page 2"]
    assert widget.sources.warning.text().startswith("The answer cites [3], which is not among")


def test_the_library_chosen_follows_its_conversation_not_the_window(qtbot, window, folder):
    dialog, _report, _ = read_into_library(qtbot, window, folder)
    dialog.close()
    window.library_picker.setCurrentIndex(1)  # Casework, for this conversation
    send(qtbot, window, "What is the annual rent of the Harrowgate lease?")
    casework = window.conversation_id
    window.new_conversation()
    assert window.library_picker.currentText() == "No documents"
    assert window.session.library is None
    send(qtbot, window, "Say hello.")
    assert window.chat_view.messages[-1].sources is None  # no passages carried in silently
    other = window.conversation_id
    window.conversations.select(casework)
    assert window.library_picker.currentText() == "Casework"
    assert window.session.library.name == "Casework"
    window.conversations.select(other)
    assert window.session.library is None
