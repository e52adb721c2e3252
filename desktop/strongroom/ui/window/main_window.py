"""The main window: conversations on the left, the chat on the right, the model on top.

The window shows things and passes what the user does to core: a `ChatSession` decides
what the model is asked and keeps the conversation and its audit record; the engine thread
(`EngineHost`) loads models and writes answers. One answer is in flight at a time; a turn
that fails is taken back by the session, and the message goes back into the box.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QByteArray, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QWidget,
)

from strongroom.core.audit.events import AuditUnavailable
from strongroom.core.chats.conversation_store import Message
from strongroom.core.chats.lock import ConversationsLock
from strongroom.core.chats.session import ChatSession
from strongroom.core.inference.engine import Answer
from strongroom.core.inference.identity import LoadedModel
from strongroom.core.offline import EgressGuard
from strongroom.core.settings import BY_NAME
from strongroom.core.store.lifecycle import LifecycleError
from strongroom.core.workspace import Workspace
from strongroom.ui.chat.answering import AnswerController, show_messages
from strongroom.ui.chat.chat_pane import ChatPane
from strongroom.ui.chat.conversation_list import ConversationPanel
from strongroom.ui.common.engine_worker import EngineHost
from strongroom.ui.common.screen import fit_on_screen
from strongroom.ui.documents.library_choice import LibraryChoice
from strongroom.ui.lock.locking import WindowLock
from strongroom.ui.models.model_picker import ModelPicker
from strongroom.ui.settings.appearance import Appearance
from strongroom.ui.window.blocked import BlockedConnections
from strongroom.ui.window.dialogs import Dialogs
from strongroom.ui.window.keyboard import KeyboardActions
from strongroom.ui.window.menus import build_menus
from strongroom.ui.window.model_control import ModelControl
from strongroom.ui.window.status_bar import StatusBar

log = logging.getLogger(__name__)

class MainWindow(QMainWindow):
    """Signals:
        modelReady(object): a model finished loading (`LoadedModel`).
        modelFailed(str): a model could not be loaded (the message shown).
        answerStarted(): the first text of an answer is on screen.
        answerCompleted(object): an answer was stored (`engine.Answer`).
        answerFailed(str): an answer failed (the message shown).
        catalogShown(object): the model list was refreshed (`Catalog`).
    """

    modelReady = Signal(object)
    modelFailed = Signal(str)
    answerStarted = Signal()
    answerCompleted = Signal(object)
    answerFailed = Signal(str)
    catalogShown = Signal(object)

    def __init__(self, workspace: Workspace, egress_guard: EgressGuard | None = None):
        super().__init__()
        self.workspace = workspace
        self.chats = workspace.chats
        self.settings = workspace.settings
        self.audit = workspace.audit
        self.session = ChatSession(workspace.audit, workspace.settings, workspace.chats,
                                   workspace.libraries)
        self.setWindowTitle("Strongroom")
        self.appearance = Appearance(self.settings, self)
        self._place_on_screen()

        self.host = EngineHost(self)
        self._drafts: dict[int | None, str] = {}  # unsent text, by conversation (None: none yet)
        self._started = False

        self._build_widgets()
        self.models = ModelControl(self)
        self.dialogs = Dialogs(self)
        self.keys = KeyboardActions(self)
        self.appearance.changed.connect(self.chat_view.restyle)
        self._build_menus()
        self._update_controls()
        self.locking = WindowLock(self, ConversationsLock(self.chats, workspace.secrets, self.audit),
                                  self.stack)
        self.locking.set_minutes(self.settings["lock_after_minutes"])

        self._egress_guard = egress_guard
        self.blocked = BlockedConnections(self, egress_guard)

        conversations = self.chats.conversations()
        if conversations:
            self.conversations.select(conversations[0].id)
        self.input.setFocus()  # the message box, not the first button
        if not self.audit.available:
            self.show_notice(self.audit.problem, lasting=True)
        self.models.refresh()

    # -- layout ----------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.conversations = ConversationPanel(self.chats)
        self.conversations.conversationSelected.connect(self.open_conversation)
        self.conversations.newRequested.connect(self.new_conversation)
        self.conversations.deleted.connect(self._on_conversation_deleted)
        self.conversations.renamed.connect(lambda _id: self._show_title())

        self.model_picker = ModelPicker()

        self.pane = ChatPane()
        self.notice, self.chat_view, self.input = self.pane.notice, self.pane.chat_view, self.pane.input
        self.send_button, self.regenerate_button = self.pane.send_button, self.pane.regenerate_button
        self.editing_label = self.pane.editing_label
        self.documents = LibraryChoice(self)
        self.library_picker = self.pane.library_picker
        self.answers = AnswerController(self.session, self.host, self.pane, self)
        self.answers.started.connect(self.answerStarted)
        self.answers.completed.connect(self._on_answer_completed)
        self.answers.failed.connect(self.answerFailed)
        self.answers.conversationChanged.connect(self._on_conversation_changed)
        self.answers.stateChanged.connect(self._update_controls)
        self.chat_view.editRequested.connect(self.answers.edit_message)
        self.chat_view.alternativeRequested.connect(self.answers.switch_alternative)
        self.chat_view.sourceRequested.connect(self.documents.open_source)
        self.conversations.deleting.connect(self.documents.forget_conversation)
        self.pane.attach_button.clicked.connect(self.documents.ask_attach)
        self.pane.continue_button.clicked.connect(self.continue_answer)
        self.chat_view.actionRequested.connect(
            lambda action: self.dialogs.open_import_wizard() if action == "import"
            else self.dialogs.open_model_manager())
        self.input.submitted.connect(self.send)
        self.input.pageRequested.connect(self.chat_view.scroll_page)
        self.chat_view.messagesShown.connect(self._set_tab_order)
        self.input.textChanged.connect(self._update_controls)
        self.send_button.clicked.connect(self._send_or_stop)
        self.regenerate_button.clicked.connect(self.regenerate)

        self.splitter = splitter = QSplitter()
        splitter.addWidget(self.conversations)
        splitter.addWidget(self.pane)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 840])
        self.stack = QStackedWidget()  # the chat, or the lock page (`WindowLock`)
        self.stack.addWidget(splitter)
        self.setCentralWidget(self.stack)

        self.model_toolbar = toolbar = QToolBar("Model")
        toolbar.setObjectName("modelToolbar")
        toolbar.setMovable(False)
        toolbar.addWidget(QLabel("Model: "))
        toolbar.addWidget(self.model_picker)
        self.addToolBar(toolbar)
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self._set_tab_order()

    @Slot()
    def _set_tab_order(self) -> None:
        """Reading order: the model and the documents, the conversations, the messages
        (their buttons, text and sources), the message box and its buttons."""
        panel = self.conversations
        chain = [self.model_picker, panel.new_button, panel.search_box, panel.view,
                 panel.rename_button, panel.delete_button, *self.chat_view.focus_stops(),
                 self.library_picker, self.input, self.send_button, self.regenerate_button,
                 self.pane.continue_button, self.pane.attach_button]
        for first, second in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(first, second)

    def _build_menus(self) -> None:
        self.actions_by_text = build_menus(self)
        self.stop_action = self.actions_by_text["Stop answer"]
        self.regenerate_action = self.actions_by_text["Regenerate answer"]
        self.edit_action = self.actions_by_text["Edit last message"]
        self.continue_action = self.actions_by_text["Continue answer"]
        self.sidebar_action = self.actions_by_text["Show conversations"]
        self.sidebar_action.setCheckable(True)
        self.sidebar_action.setChecked(True)

    # -- state -----------------------------------------------------------------------------

    @property
    def loaded(self) -> LoadedModel | None:
        return self.session.model

    @property
    def conversation_id(self) -> int | None:
        return self.session.conversation_id

    @property
    def generating(self) -> bool:
        return self.answers.generating

    @property
    def editing(self) -> Message | None:
        return self.answers.editing

    @Slot()
    def _update_controls(self) -> None:
        can_regenerate = not self.generating and self.loaded is not None and bool(self.chat_view.messages)
        can_continue = self.loaded is not None and self.answers.can_continue()
        self.pane.show_answering(self.generating, bool(self.input.toPlainText().strip()),
                                 can_regenerate, can_continue)
        self.regenerate_action.setEnabled(can_regenerate)
        self.continue_action.setEnabled(can_continue)
        self.stop_action.setEnabled(self.generating or self.editing is not None)
        self.edit_action.setEnabled(not self.generating)
        self.status.show_audit(None if self.audit.available else self.audit.problem,
                               self.audit.tampering)

    def _show_title(self) -> None:
        """The conversation shown: its title, and the documents attached to it."""
        if self.conversation_id is None:
            self.setWindowTitle("Strongroom")
        else:
            self.setWindowTitle(f"{self.chats.conversation(self.conversation_id).title} — Strongroom")
        self.documents.show_attachments()

    def show_notice(self, text: str, level: str = "error", until=None,
                    lasting: bool = False) -> None:
        self.notice.show_message(text, level, until, lasting)

    # -- models ----------------------------------------------------------------------------

    # -- conversations -----------------------------------------------------------------------

    @Slot()
    def new_conversation(self) -> None:
        if self.generating:
            self.stop()
        self._keep_draft()
        conversation = self.session.new_conversation()
        self.notice.clear_for_another_conversation()
        self.conversations.refresh()
        self.conversations.select(conversation.id)
        self.input.setFocus()

    @Slot(int)
    def open_conversation(self, conversation_id: int) -> None:
        if self.generating:
            self.stop()
        self.answers.cancel_edit()
        self._keep_draft()
        show_messages(self.pane, self.session.open(conversation_id), self.session.alternatives())
        self.documents.follow_conversation(conversation_id)
        self.notice.clear_for_another_conversation()
        self.input.setPlainText(self._drafts.pop(conversation_id, ""))
        self._show_title()
        self._update_controls()

    def _keep_draft(self) -> None:
        """What is typed and not sent stays with its conversation, not the next one."""
        text = self.input.toPlainText()
        if text.strip():
            self._drafts[self.conversation_id] = text
        self.input.clear()

    @Slot(int)
    def _on_conversation_changed(self, conversation_id: int) -> None:
        self.documents.follow_conversation(self.session.conversation_id)
        self.conversations.refresh()
        if self.session.conversation_id is None:  # the turn that started it was taken back
            self.conversations.select(None, emit=False)
        elif self.conversations.current_id() != conversation_id:
            self.conversations.select(conversation_id, emit=False)
        self._show_title()

    @Slot(int)
    def _on_conversation_deleted(self, conversation_id: int) -> None:
        if self.conversation_id == conversation_id:
            if self.generating:
                self.stop()
            self.session.close_conversation()
            self.documents.follow_conversation(None)
            self._show_title()
            self.chat_view.clear()
            remaining = self.chats.conversations()
            if remaining:
                self.conversations.select(remaining[0].id)
        self._update_controls()

    # -- answering ---------------------------------------------------------------------------

    @Slot()
    def _send_or_stop(self) -> None:
        if self.generating:
            self.stop()
        else:
            self.send()

    @Slot()
    def send(self) -> None:
        if self.loaded is None and self.models.loading is not None and self.input.toPlainText().strip():
            self.show_notice("The model is still loading; send again in a moment.", "info",
                             until=self.modelReady)
            return
        self.answers.send()

    @Slot()
    def regenerate(self) -> None:
        self.answers.regenerate()

    @Slot()
    def continue_answer(self) -> None:
        self.answers.continue_answer()

    @Slot()
    def stop(self) -> None:
        self.answers.stop()

    @Slot()
    def edit_last_message(self) -> None:
        self.answers.edit_last_message()

    def show_passages_destination(self) -> None:
        """While answers draw on a library and come from the firm's server, the status bar
        says that the library's passages go there."""
        server = self.loaded.identity.server if self.loaded is not None else None
        library = self.session.library
        self.status.show_passages(
            f"Passages from “{library.name}” go to the firm's server {server}"
            if server and library else None)

    @Slot(object)
    def _on_answer_completed(self, answer: Answer) -> None:
        self.status.show_speed(answer.stats.tokens_per_second)
        self.answerCompleted.emit(answer)

    # -- settings and small actions ---------------------------------------------------------

    def apply_settings(self, values: dict) -> None:
        try:
            self.audit.require()  # a change that cannot be recorded is not made
            changed = self.settings.update(values)
            if changed:
                self.audit.settings_change(changed)
        except (ValueError, OSError, AuditUnavailable) as error:
            self.show_notice(f"Settings were not saved: {error}")
            return
        if "lock_after_minutes" in changed:
            self.locking.set_minutes(self.settings["lock_after_minutes"])
        if "theme" in changed or "font_size" in changed:
            self.appearance.apply()
        if self.loaded is not None and any(BY_NAME[name].reloads_model for name in changed):
            self.show_notice("Reloading the model with the new settings.", "info",
                             until=self.modelReady)
            self.models.load(self.loaded.identity)

    # -- start and shutdown ------------------------------------------------------------------

    def record_start(self) -> None:
        """Write app_start (app_stop follows when the window closes)."""
        try:
            self.audit.app_start("window")
            self._started = True
        except AuditUnavailable as error:
            self.show_notice(str(error))
            return
        try:  # retired versions past the retention period leave the store at start
            removed = self.workspace.lifecycle.collect_garbage(self.settings["retention_days"])
        except (LifecycleError, AuditUnavailable, OSError) as error:
            self.show_notice(f"Retired models could not be removed: {error}")
        else:
            if removed:
                self.models.refresh()

    def _place_on_screen(self) -> None:
        """Where it was last time; the first time, 1100×760 or as much of the screen's
        free area as there is, so the message box is never off-screen."""
        saved = self.settings["window_geometry"]
        if saved and self.restoreGeometry(QByteArray.fromBase64(saved.encode("ascii"))):
            return
        fit_on_screen(self, 1100, 760)

    def closeEvent(self, event: QCloseEvent) -> None:
        try:
            self.settings.update({"window_geometry": bytes(self.saveGeometry().toBase64()).decode("ascii")})
        except (OSError, ValueError):
            log.error("the window's position could not be saved")
        if self._started and self.audit.available:
            try:
                self.audit.app_stop("window")
            except AuditUnavailable:
                log.error("app_stop could not be recorded")
            self._started = False
        self.locking.shutdown()
        self.documents.close()
        self.appearance.stop_following()
        self.blocked.stop()
        self.models.stop()
        if not self.host.shutdown():
            log.error("the engine thread did not stop in time")
        super().closeEvent(event)

