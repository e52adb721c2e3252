"""Which documents answers draw on: the Documents list beside the model, the documents
attached to the conversation shown, the embedding model loaded for them (off the GUI
thread), the Documents… window and the passages sources open.

`LibraryChoice` is a part of the main window kept in its own file: it owns the picker and
tells the chat session which library to use (`ChatSession.use_library`) and which
embedding model searches it (`ChatSession.embedder`, when the store has one).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QFileDialog

from strongroom.core.audit.events import AuditUnavailable
from strongroom.core.chats.database import ConversationStoreError
from strongroom.core.display import printable
from strongroom.core.documents.library import INDEXED, Library
from strongroom.core.units import human_list
from strongroom.ui.common.background import Tasks
from strongroom.ui.documents.documents_dialog import DOCUMENT_FILTER, DocumentsDialog
from strongroom.ui.documents.indexing_run import IndexingRun
from strongroom.ui.documents.passage_dialog import PassageDialog

log = logging.getLogger(__name__)

class LibraryChoice(QObject):
    """Signals:
        embedderReady(): the store's embedding model is loaded (search is hybrid from now).
        attached(object): documents were attached to the conversation (`IndexReport`)."""

    embedderReady = Signal()
    attached = Signal(object)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window_ = window
        self.workspace = window.workspace
        self.session = window.session
        self.picker = window.pane.library_picker
        self.picker.chosen.connect(self._on_chosen)
        self.tasks = Tasks(self)  # loading the embedding model
        self._vectors_run: IndexingRun | None = None
        self._vectors_left: list[Library] = []
        self.dialog: DocumentsDialog | None = None
        self.attaching: IndexingRun | None = None
        # The library each conversation answers from (by library id), chosen while it was
        # shown; a conversation not chosen for answers from no library. None: not started yet.
        self._by_conversation: dict[int | None, int] = {}
        self._shown_conversation: int | None = None

    def refresh(self) -> None:
        """List the libraries again (one was made or removed, or documents changed)."""
        try:
            libraries = self.workspace.libraries.all()
            described = {library.id: _described(self.workspace.libraries, library)
                         for library in libraries}
        except ConversationStoreError as error:  # locked, or damaged: the window says so
            log.warning("libraries not listed: %s", error)
            return
        self.picker.show_libraries(libraries, described)

    @Slot(object)
    def _on_chosen(self, library: Library | None) -> None:
        self.session.use_library(library)
        if library is None:
            self._by_conversation.pop(self._shown_conversation, None)
        else:
            self._by_conversation[self._shown_conversation] = library.id
            self.load_embedder()
        self.window_.show_passages_destination()

    def follow_conversation(self, conversation_id: int | None) -> None:
        """Another conversation is shown: answer from the library chosen for it, if any
        (a choice is never carried silently into another conversation)."""
        if conversation_id is not None and self._shown_conversation is None \
                and self.session.conversation_id == conversation_id \
                and None in self._by_conversation:  # the new conversation this choice began
            self._by_conversation[conversation_id] = self._by_conversation.pop(None)
        self._shown_conversation = conversation_id
        wanted = self._by_conversation.get(conversation_id)
        library = next((self.picker.itemData(i) for i in range(1, self.picker.count())
                        if self.picker.itemData(i).id == wanted), None)
        self.picker.select(library)  # emits `chosen` when it changes

    def load_embedder(self) -> None:
        """Load the store's embedding model, if it has one and it is not loaded yet."""
        if self.session.embedder is not None or self.tasks.busy:
            return
        catalog = self.window_.models.catalog
        if catalog is None or catalog.embedding_model() is None:
            return
        self.tasks.call(self.workspace.load_embedder, self._on_embedder, self._on_embedder_failed)

    @Slot(object)
    def _on_embedder(self, embedder) -> None:
        self.session.embedder = embedder
        try:
            self._vectors_left = list(self.workspace.libraries.all(with_attached=True))
        except ConversationStoreError:  # locked meanwhile: the next load does it
            self._vectors_left = []
        self._next_library_vectors()
        self.embedderReady.emit()

    def _next_library_vectors(self) -> None:
        """Give every library's passages that lack one its vector (they were added by
        `strongroom library add` without an embedding model, or before this one came in),
        one library after the other, in the background."""
        self._vectors_run = None
        if not self._vectors_left or self.session.embedder is None:
            return
        embedder = self.session.embedder
        run = IndexingRun(self.workspace.indexer(), self._vectors_left.pop(0), lambda: embedder, self)
        run.finished.connect(lambda _report: self._next_library_vectors())
        run.failed.connect(lambda message: log.warning("passage vectors not computed: %s", message))
        self._vectors_run = run
        run.embed_only()

    @Slot(str)
    def _on_embedder_failed(self, message: str) -> None:
        self.window_.show_notice(f"The store's embedding model cannot be used, so documents are "
                                 f"searched by their words alone: {message}", "warning")

    # -- documents attached to a conversation -----------------------------------------------

    @Slot()
    def ask_attach(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self.window_, "Attach documents to this conversation",
                                                str(Path.home()), DOCUMENT_FILTER)
        if files:
            self.attach([Path(f) for f in files])

    def attach(self, paths: list[Path]) -> IndexingRun | None:
        """Read ``paths`` into the current conversation's documents (starting a conversation
        if none is open); its answers draw on them from then on."""
        if self.attaching is not None:
            self.window_.show_notice("Documents are being attached; wait for them first.", "info")
            return None
        session = self.session
        if session.conversation_id is None:
            session.new_conversation()
            self.window_.conversations.refresh()
            self.window_.conversations.select(session.conversation_id)
        indexer = self.workspace.indexer()
        try:
            library = indexer.attached_library(session.conversation_id)
        except (AuditUnavailable, ConversationStoreError) as error:
            self.window_.show_notice(str(error))
            return None
        self.attaching = run = IndexingRun(indexer, library, lambda: self.session.embedder, self)
        pane = self.window_.pane
        run.progress.connect(lambda update: pane.attachments_label.setText(
            printable(f"Reading {update.current} ({update.done + 1} of {update.total})…")))
        run.finished.connect(self._on_attached)
        run.failed.connect(self._on_attach_failed)
        pane.attachments_label.show()
        pane.attach_button.setEnabled(False)
        run.add(paths)
        return run

    @Slot(object)
    def _on_attached(self, report) -> None:
        self.attaching = None
        self.window_.pane.attach_button.setEnabled(True)
        self.show_attachments()
        problems = [d.problem for d in report.failed]
        if problems:
            self.window_.show_notice(printable("Some documents could not be attached: "
                                               + "; ".join(problems[:3])), "warning")
        self.attached.emit(report)

    @Slot(str)
    def _on_attach_failed(self, message: str) -> None:
        self.attaching = None
        self.window_.pane.attach_button.setEnabled(True)
        self.show_attachments()
        self.window_.show_notice(message)

    def show_attachments(self) -> None:
        """Name the documents attached to the conversation shown, under it."""
        label = self.window_.pane.attachments_label
        if self.attaching is not None:
            return
        conversation_id = self.session.conversation_id
        try:
            library = (self.workspace.libraries.attached(conversation_id)
                       if conversation_id is not None else None)
            documents = self.workspace.libraries.documents(library, INDEXED) if library else []
        except ConversationStoreError:
            documents = []
        label.setVisible(bool(documents))
        names = human_list([d.name for d in documents], 6)
        label.setText(printable(f"Attached to this conversation ({len(documents)}): {names}. "
                                "Its answers draw on them."))

    @Slot(int)
    def forget_conversation(self, conversation_id: int) -> None:
        """The conversation is being deleted: its attached documents go first, recorded."""
        try:
            library = self.workspace.libraries.attached(conversation_id)
            if library is not None:
                self.workspace.indexer().remove_library(library)
        except (AuditUnavailable, ConversationStoreError) as error:
            log.error("the documents attached to conversation %s: %s", conversation_id, error)

    # -- windows ---------------------------------------------------------------------------

    @Slot()
    def open_documents(self) -> DocumentsDialog:
        if self.dialog is not None:
            self.dialog.raise_()
            return self.dialog
        self.load_embedder()
        self.dialog = dialog = DocumentsDialog(self.workspace, lambda: self.session.embedder,
                                               self.window_)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.librariesChanged.connect(self.refresh)
        dialog.runFinished.connect(lambda _report: self.refresh())
        dialog.destroyed.connect(self._dialog_closed)
        library = self.picker.currentData()
        if library is not None:
            dialog.show_libraries(library.name)
        dialog.show()
        return dialog

    @Slot()
    def _dialog_closed(self) -> None:
        self.dialog = None

    @Slot(object)
    def open_source(self, citation: dict) -> PassageDialog:
        passage = PassageDialog(citation, self.workspace.libraries, self.window_)
        passage.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        passage.show()
        return passage

    def close_windows(self) -> None:
        """Close what shows documents (the window is locking): Documents…, the passages
        open, the attachments line; reading stops after the document under way."""
        if self.dialog is not None:
            self.dialog.close()
        for passage in self.window_.findChildren(PassageDialog):
            passage.close()
        for run in (self.attaching, self._vectors_run):
            if run is not None:
                run.stop()
        self.attaching = self._vectors_run = None
        self._vectors_left = []
        self.window_.pane.attach_button.setEnabled(True)
        self.window_.pane.attachments_label.hide()

    def close(self) -> None:
        self.close_windows()
        self.tasks.stop()
        if self.session.embedder is not None:
            self.session.embedder.close()
            self.session.embedder = None


def _described(libraries, library: Library) -> str:
    """The library's documents, for the picker's tooltip: which documents are searched."""
    names = [d.name for d in libraries.documents(library, INDEXED)]
    if not names:
        return "No documents that could be read yet"
    shown = human_list(names, 20, "\n", "\n… and {} more")
    return printable(f"Searches {len(names)} document(s):\n{shown}", keep_newlines=True)
