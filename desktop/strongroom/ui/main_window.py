"""The main window: conversations on the left, the chat on the right, the model on top.

The window wires widgets to the workspace (settings, chat store) and to the engine
thread; it computes nothing itself. One answer is in flight at a time. Every change an
answer makes to a conversation is undone if the answer fails before producing text, so a
failed send leaves the conversation exactly as it was and the message back in the box.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PySide6.QtCore import Qt, QObject, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QPushButton,
    QSplitter, QToolBar, QVBoxLayout, QWidget,
)

from strongroom import __version__
from strongroom.core.chats import export
from strongroom.core.atomic import write_atomic
from strongroom.core.audit.writer import AuditUnavailable
from strongroom.core.chats.conversation_store import Message
from strongroom.core.inference.engine import Answer, LoadOptions, SamplingOptions
from strongroom.core.store.catalog import Catalog, ModelEntry
from strongroom.core.units import human_size
from strongroom.core.offline import BlockedAttempt, EgressGuard
from strongroom.core.settings import BY_NAME
from strongroom.core.workspace import Workspace
from strongroom.ui.audit_viewer import AuditViewer
from strongroom.ui.chat_view import ChatView, MessageWidget
from strongroom.ui.conversation_list import ConversationPanel
from strongroom.ui.engine_worker import EngineHost, LoadedModel
from strongroom.ui.import_wizard import ImportWizardDialog
from strongroom.ui.message_input import MessageInput
from strongroom.ui.settings_dialog import SettingsDialog
from strongroom.ui.status_widgets import NoticeBar, StatusBar

log = logging.getLogger(__name__)


@dataclass
class _PendingAnswer:
    """An answer in flight and how to undo what sending it changed."""

    request_id: int
    conversation_id: int
    widget: MessageWidget
    messages: list[dict[str, str]]  # what the model was asked, for the audit log
    sampling: dict
    removed: list[Message] = field(default_factory=list)  # replaced by this answer
    sent: Message | None = None  # the user message sent with it, if any
    received_text: bool = False


class _EgressBridge(QObject):
    """Carries blocked-connection reports from any thread to the GUI thread."""

    blocked = Signal(str, str)

    def __call__(self, attempt: BlockedAttempt) -> None:
        self.blocked.emit(attempt.event, attempt.destination)


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
        self.store = workspace.chats
        self.settings = workspace.settings
        self.audit = workspace.audit
        self.setWindowTitle("Strongroom")
        self.resize(1100, 760)

        self.host = EngineHost(self)
        worker = self.host.worker
        worker.catalogReady.connect(self._show_catalog)
        worker.loadProgress.connect(self._on_load_progress)
        worker.loaded.connect(self._on_loaded)
        worker.loadFailed.connect(self._on_load_failed)
        worker.promptStarted.connect(self._on_prompt_started)
        worker.textReady.connect(self._on_text)
        worker.answerFinished.connect(self._on_answer_finished)
        worker.answerFailed.connect(self._on_answer_failed)

        self.loaded: LoadedModel | None = None
        self.loading = False
        self.catalog: Catalog | None = None
        self.conversation_id: int | None = None
        self.pending: _PendingAnswer | None = None
        self.editing: Message | None = None

        self._build_widgets()
        self._build_actions()
        self._update_controls()

        self._egress_guard = egress_guard
        self._egress_bridge = _EgressBridge(self)
        self._egress_bridge.blocked.connect(self._on_egress_blocked)
        if egress_guard is not None:
            egress_guard.add_listener(self._egress_bridge)
            for attempt in egress_guard.blocked:
                self._on_egress_blocked(attempt.event, attempt.destination)

        conversations = self.store.conversations()
        if conversations:
            self.conversations.select(conversations[0].id)
        if not self.audit.available:
            self.show_notice(self.audit.problem)
        self.refresh_models()

    # -- layout ----------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.conversations = ConversationPanel(self.store)
        self.conversations.conversationSelected.connect(self.open_conversation)
        self.conversations.newRequested.connect(self.new_conversation)
        self.conversations.deleted.connect(self._on_conversation_deleted)
        self.conversations.renamed.connect(lambda _id: self._show_title())

        self.model_picker = QComboBox()
        self.model_picker.setMinimumContentsLength(64)
        self.model_picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_picker.setAccessibleName("Model")
        self.model_picker.setToolTip("The model that answers (Ctrl+M)")
        self.model_picker.activated.connect(self._on_model_chosen)

        self.notice = NoticeBar()
        self.chat_view = ChatView()
        self.chat_view.editRequested.connect(self.edit_last_message)
        self.input = MessageInput()
        self.input.submitted.connect(self.send)
        self.input.textChanged.connect(self._update_controls)
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self._send_or_stop)
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setToolTip("Write the last answer again (Ctrl+R)")
        self.regenerate_button.clicked.connect(self.regenerate)
        self.editing_label = QLabel()
        self.editing_label.setObjectName("editingLabel")
        self.editing_label.hide()

        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.regenerate_button)
        buttons.addStretch(1)
        input_row = QHBoxLayout()
        input_row.addWidget(self.input, 1)
        input_row.addLayout(buttons)

        chat_pane = QWidget()
        chat_layout = QVBoxLayout(chat_pane)
        chat_layout.addWidget(self.notice)
        chat_layout.addWidget(self.chat_view, 1)
        chat_layout.addWidget(self.editing_label)
        chat_layout.addLayout(input_row)

        splitter = QSplitter()
        splitter.addWidget(self.conversations)
        splitter.addWidget(chat_pane)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 840])
        self.setCentralWidget(splitter)

        toolbar = QToolBar("Model")
        toolbar.setObjectName("modelToolbar")
        toolbar.setMovable(False)
        toolbar.addWidget(QLabel("Model: "))
        toolbar.addWidget(self.model_picker)
        self.addToolBar(toolbar)
        self.status = StatusBar()
        self.setStatusBar(self.status)

    def _build_actions(self) -> None:
        def action(menu, text, slot, shortcut=None):
            act = QAction(text, self)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            menu.addAction(act)
            return act

        file_menu = self.menuBar().addMenu("&File")
        action(file_menu, "&New conversation", self.new_conversation, "Ctrl+N")
        action(file_menu, "Export as &Markdown…", lambda: self._ask_export("md"), "Ctrl+Shift+M")
        action(file_menu, "Export as &JSON…", lambda: self._ask_export("json"), "Ctrl+Shift+J")
        file_menu.addSeparator()
        action(file_menu, "&Quit", self.close, "Ctrl+Q")

        chat_menu = self.menuBar().addMenu("&Chat")
        self.stop_action = action(chat_menu, "&Stop answer", self.stop, "Esc")
        self.regenerate_action = action(chat_menu, "&Regenerate answer", self.regenerate, "Ctrl+R")
        self.edit_action = action(chat_menu, "&Edit last message", self.edit_last_message, "Ctrl+E")
        action(chat_menu, "&Copy last answer", self.copy_last_answer, "Ctrl+Shift+C")
        chat_menu.addSeparator()
        action(chat_menu, "Search conversations", self._focus_search, "Ctrl+F")
        action(chat_menu, "Rename conversation…", self.conversations.rename_current, "F2")
        action(chat_menu, "Delete conversation…", self.conversations.delete_current, "Ctrl+Delete")
        action(chat_menu, "Go to message box", self.input.setFocus, "Ctrl+L")

        model_menu = self.menuBar().addMenu("&Model")
        action(model_menu, "&Choose model", self._focus_model_picker, "Ctrl+M")
        action(model_menu, "&Import from a drive…", self.open_import_wizard, "Ctrl+I")
        action(model_menu, "&Refresh models", self.refresh_models, "F5")
        model_menu.addSeparator()
        action(model_menu, "&Settings…", self.open_settings, "Ctrl+,")

        audit_menu = self.menuBar().addMenu("&Audit")
        action(audit_menu, "Open the audit log &viewer…", self.open_audit_viewer, "Ctrl+Shift+A")
        action(audit_menu, "Export a &checkpoint…", self._ask_checkpoint)
        action(audit_menu, "Where the audit &key is kept", self._show_key_storage)

        help_menu = self.menuBar().addMenu("&Help")
        action(help_menu, "Where Strongroom keeps its files", self._show_paths)
        action(help_menu, "&About Strongroom", self._show_about)

    # -- state -----------------------------------------------------------------------------

    @property
    def generating(self) -> bool:
        return self.pending is not None

    @Slot()
    def _update_controls(self) -> None:
        self.send_button.setText("Stop" if self.generating else "Send")
        self.send_button.setToolTip("Stop the answer (Esc)" if self.generating
                                    else "Send the message (Enter)")
        self.send_button.setEnabled(self.generating or bool(self.input.toPlainText().strip()))
        messages = self.chat_view.messages
        can_regenerate = (not self.generating and self.loaded is not None and bool(messages))
        self.regenerate_button.setEnabled(can_regenerate)
        self.regenerate_action.setEnabled(can_regenerate)
        self.stop_action.setEnabled(self.generating or self.editing is not None)
        self.edit_action.setEnabled(not self.generating)
        self.chat_view.set_editing_enabled(not self.generating)

    def _show_title(self) -> None:
        if self.conversation_id is None:
            self.setWindowTitle("Strongroom")
        else:
            self.setWindowTitle(f"{self.store.conversation(self.conversation_id).title} — Strongroom")

    def show_notice(self, text: str, level: str = "error") -> None:
        self.notice.show_message(text, level)

    # -- models ----------------------------------------------------------------------------

    @Slot()
    def refresh_models(self) -> None:
        self.host.scan(self.workspace.model_catalog)

    @Slot(object)
    def _show_catalog(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.model_picker.clear()
        for entry in catalog.entries:
            self.model_picker.addItem(entry.summary(), str(entry.path))
            index = self.model_picker.count() - 1
            if entry.usable:
                self.model_picker.setItemData(index, _describe_entry(entry), Qt.ItemDataRole.ToolTipRole)
            else:
                self.model_picker.setItemData(index, entry.problem, Qt.ItemDataRole.ToolTipRole)
                self.model_picker.model().item(index).setEnabled(False)
        if catalog.notice:
            self.model_picker.addItem("No models available")
            self.model_picker.setEnabled(False)
            self.show_notice(catalog.notice, "info")
        else:
            self.model_picker.setEnabled(True)
        current = str(self.loaded.path) if self.loaded else self.settings["last_model"]
        usable = [e for e in catalog.entries if e.usable]
        chosen = next((e for e in usable if str(e.path) == current), None)
        if chosen is None and len(usable) == 1:
            chosen = usable[0]
        if chosen is not None:
            self.model_picker.setCurrentIndex(self.model_picker.findData(str(chosen.path)))
            if self.loaded is None and not self.loading:
                self.load_model(chosen.path)
        elif self.loaded is None:
            self.model_picker.setCurrentIndex(-1)
        self.catalogShown.emit(catalog)

    def _entry(self, path: Path) -> ModelEntry | None:
        entries = self.catalog.entries if self.catalog else []
        return next((e for e in entries if e.path == path), None)

    def model_name(self, path: Path) -> str:
        """The catalog's name for the model file at ``path``."""
        entry = self._entry(path)
        return entry.name if entry else path.stem

    @Slot(int)
    def _on_model_chosen(self, index: int) -> None:
        path = self.model_picker.itemData(index)
        if path and (self.loaded is None or str(self.loaded.path) != path):
            self.load_model(Path(path))

    def load_model(self, path: Path) -> None:
        if self.generating:
            self.stop()
        self.loading = True
        self.loaded = None
        self.status.show_loading(f"Loading {path.stem}", -1)
        self.host.load(path, LoadOptions.from_settings(self.settings.as_dict()),
                       self.workspace.store.sha256_of(path))
        self._update_controls()

    @Slot(str, float)
    def _on_load_progress(self, stage: str, fraction: float) -> None:
        self.status.show_loading(stage, fraction)

    @Slot(object)
    def _on_loaded(self, loaded: LoadedModel) -> None:
        self.loading = False
        self.loaded = loaded
        self.status.show_model(self.model_name(loaded.path), loaded.device_label, loaded.n_ctx)
        self.settings.update({"last_model": str(loaded.path)})
        self._record(self.audit.model_load, loaded.path, self.model_id(loaded.path), loaded.sha256,
                     loaded.device_label, loaded.n_ctx, loaded.fallback_reason)
        if loaded.fallback_reason:
            self.show_notice(loaded.fallback_reason, "warning")
        elif loaded.template_is_guess:
            self.show_notice(f"{loaded.path.name} has no chat template of its own; a generic "
                             "one is used, so answers may be odd.", "warning")
        self._update_controls()
        self.modelReady.emit(loaded)

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        self.loading = False
        self.loaded = None
        self.status.show_no_model()
        self.model_picker.setCurrentIndex(-1)
        self.show_notice(message)
        self._update_controls()
        self.modelFailed.emit(message)

    # -- conversations -----------------------------------------------------------------------

    @Slot()
    def new_conversation(self) -> None:
        if self.generating:
            self.stop()
        conversation = self.store.create_conversation()
        self.conversations.refresh()
        self.conversations.select(conversation.id)
        self.input.setFocus()

    @Slot(int)
    def open_conversation(self, conversation_id: int) -> None:
        if self.generating:
            self.stop()
        self._cancel_edit()
        self.conversation_id = conversation_id
        self._show_title()
        self.chat_view.clear()
        for message in self.store.messages(conversation_id):
            self.chat_view.add_message(message.role, message.content, _detail(message))
        self._update_controls()

    @Slot(int)
    def _on_conversation_deleted(self, conversation_id: int) -> None:
        if self.conversation_id == conversation_id:
            if self.generating:
                self.stop()
            self.conversation_id = None
            self._show_title()
            self.chat_view.clear()
            remaining = self.store.conversations()
            if remaining:
                self.conversations.select(remaining[0].id)
        self._update_controls()

    # -- sending and answering -----------------------------------------------------------------

    @Slot()
    def _send_or_stop(self) -> None:
        if self.generating:
            self.stop()
        else:
            self.send()

    @Slot()
    def send(self) -> None:
        text = self.input.toPlainText()
        if self.generating:
            return
        if not text.strip():
            self.show_notice("Type a message first.", "info")
            return
        if self.loaded is None:
            self.show_notice("The model is still loading; send again in a moment." if self.loading
                             else "Choose a model first (the Model list at the top).", "info")
            return
        try:
            self.audit.require()  # fail closed: no answer that the audit log cannot record
        except AuditUnavailable as error:
            self.show_notice(str(error))
            return
        if self.conversation_id is None:
            conversation = self.store.create_conversation()
            self.conversation_id = conversation.id
            self.conversations.refresh()
            self.conversations.select(conversation.id, emit=False)
        removed = []
        if self.editing is not None:
            removed = self._remove_from(self.editing.position)
            self._cancel_edit()
        self._start_answer(removed, text)

    @Slot()
    def regenerate(self) -> None:
        if self.generating or self.loaded is None or self.conversation_id is None:
            return
        try:
            self.audit.require()
        except AuditUnavailable as error:
            self.show_notice(str(error))
            return
        messages = self.store.messages(self.conversation_id)
        if not messages:
            return
        removed = self._remove_from(messages[-1].position) if messages[-1].role == "assistant" else []
        self._start_answer(removed)

    def _remove_from(self, position: int) -> list[Message]:
        removed = [m for m in self.store.messages(self.conversation_id) if m.position >= position]
        self.store.truncate(self.conversation_id, position)
        self.chat_view.remove_from(position)
        return removed

    def _start_answer(self, removed: list[Message], new_text: str | None = None) -> None:
        """Ask for an answer to the conversation (plus ``new_text``, the message being sent).

        The request goes to the engine first, so the model starts reading while the
        message is stored and shown.
        """
        history = [m.as_prompt() for m in self.store.messages(self.conversation_id)]
        system = self.settings["system_prompt"].strip()
        if system:
            history.insert(0, {"role": "system", "content": system})
        if new_text is not None:
            history.append({"role": "user", "content": new_text})
        sampling = SamplingOptions.from_settings(self.settings.as_dict())
        request_id = self.host.generate(history, sampling)
        sent = None
        if new_text is not None:
            sent = self.store.add_message(self.conversation_id, "user", new_text)
            self.chat_view.add_message("user", new_text)
            self.input.clear()
            self.notice.hide()
        widget = self.chat_view.add_message("assistant", "", "Waiting for the model…")
        self.pending = _PendingAnswer(request_id, self.conversation_id, widget, history,
                                      asdict(sampling), removed, sent)
        self.conversations.refresh()
        self._show_title()
        self._update_controls()

    @Slot()
    def stop(self) -> None:
        if self.generating:
            self.host.stop()
        elif self.editing is not None:
            self._cancel_edit()

    def _is_current(self, request_id: int) -> bool:
        return self.pending is not None and self.pending.request_id == request_id

    @Slot(int, int, int)
    def _on_prompt_started(self, request_id: int, prompt_tokens: int, dropped: int) -> None:
        if not self._is_current(request_id):
            return
        self.pending.widget.set_detail(
            f"Reading your message ({prompt_tokens:,} tokens)… this step cannot be stopped")
        if dropped:
            self.show_notice(
                f"This conversation is longer than the model can read at once: the {dropped} "
                "oldest messages were left out when writing this answer. The system prompt and "
                "your newest message were kept.", "warning")

    @Slot(int, str)
    def _on_text(self, request_id: int, text: str) -> None:
        if not self._is_current(request_id):
            return
        pending = self.pending
        pending.widget.append(text)
        if not pending.received_text:
            pending.received_text = True
            pending.widget.set_detail("Writing…")
            self.answerStarted.emit()

    @Slot(int, object)
    def _on_answer_finished(self, request_id: int, answer: Answer) -> None:
        if not self._is_current(request_id):
            return
        pending, self.pending = self.pending, None
        self.host.finished(request_id)
        model = self.model_name(self.loaded.path) if self.loaded else None
        if answer.text.strip():
            stored = self.store.add_message(pending.conversation_id, "assistant", answer.text,
                                            model=model, stats=answer.stats.as_dict())
            pending.widget.set_text(answer.text)
            pending.widget.set_detail(_detail(stored))
        else:
            self.chat_view.remove_from(self.chat_view.messages.index(pending.widget))
            if answer.stats.stopped:
                self.show_notice("Stopped before the model wrote anything.", "info")
        self.status.show_speed(answer.stats.tokens_per_second)
        self._record(self.audit.inference, pending.messages, answer.text, answer.stats.as_dict(),
                     self.model_id(self.loaded.path) if self.loaded else "unknown",
                     self.loaded.sha256 if self.loaded else None, pending.sampling,
                     self.settings["audit_log_text"], pending.conversation_id)
        self.conversations.refresh()
        self._update_controls()
        self.answerCompleted.emit(answer)

    @Slot(int, str)
    def _on_answer_failed(self, request_id: int, message: str) -> None:
        if not self._is_current(request_id):
            return
        pending, self.pending = self.pending, None
        self.host.finished(request_id)
        self._undo(pending)
        self.show_notice(message)
        self._update_controls()
        self.answerFailed.emit(message)

    def _undo(self, pending: _PendingAnswer) -> None:
        """Put the conversation back as it was before the failed answer was asked for."""
        first = min([m.position for m in pending.removed]
                    + ([pending.sent.position] if pending.sent else []), default=None)
        if first is not None:
            self.store.truncate(pending.conversation_id, first)
        for message in pending.removed:
            self.store.add_message(pending.conversation_id, message.role, message.content,
                                   message.model, message.stats)
        if pending.sent is not None and not self.input.toPlainText().strip():
            self.input.setPlainText(pending.sent.content)
        if self.conversation_id == pending.conversation_id:
            self.open_conversation(pending.conversation_id)
        self.conversations.refresh()

    # -- editing, copying, exporting ---------------------------------------------------------

    @Slot()
    def edit_last_message(self) -> None:
        if self.generating or self.conversation_id is None:
            return
        users = [m for m in self.store.messages(self.conversation_id) if m.role == "user"]
        if not users:
            return
        self.editing = users[-1]
        self.input.setPlainText(self.editing.content)
        self.input.setFocus()
        self.editing_label.setText("Editing your last message: Send replaces it and its answer; "
                                   "Esc cancels.")
        self.editing_label.show()
        self._update_controls()

    def _cancel_edit(self) -> None:
        if self.editing is not None:
            self.editing = None
            self.editing_label.hide()
            self.input.clear()
            self._update_controls()

    @Slot()
    def copy_last_answer(self) -> None:
        answers = [w for w in self.chat_view.messages if w.role == "assistant"]
        if answers:
            answers[-1].copy_to_clipboard()

    def _ask_export(self, kind: str) -> None:
        if self.conversation_id is None:
            self.show_notice("Open a conversation to export it.", "info")
            return
        title = self.store.conversation(self.conversation_id).title
        suggested = "".join(c if c.isalnum() or c in " -_" else "_" for c in title).strip() or "conversation"
        filters = "Markdown (*.md)" if kind == "md" else "JSON (*.json)"
        path, _ = QFileDialog.getSaveFileName(self, "Export conversation",
                                              str(Path.home() / f"{suggested}.{kind}"), filters)
        if path:
            self.export_conversation(Path(path), kind)

    def export_conversation(self, path: Path, kind: str) -> None:
        conversation = self.store.conversation(self.conversation_id)
        messages = self.store.messages(self.conversation_id)
        data = (export.to_markdown if kind == "md" else export.to_json)(conversation, messages).encode()
        try:
            write_atomic(path, data)
        except OSError as error:
            self.show_notice(f"The conversation could not be exported to {path}: {error.strerror}.")
            return
        self.show_notice(f"Exported to {path}.", "info")
        self._record(self.audit.chat_export, path, kind, conversation.id, data)

    # -- dialogs and small actions -----------------------------------------------------------

    @Slot()
    def open_import_wizard(self) -> ImportWizardDialog:
        wizard = ImportWizardDialog(self.workspace.store, self, auditor=self.audit)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.imported.connect(self.refresh_models)
        wizard.open()
        return wizard

    @Slot()
    def open_audit_viewer(self) -> AuditViewer:
        viewer = AuditViewer(self.workspace.paths.audit_log, self.audit, self)
        viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        viewer.show()
        return viewer

    def _ask_checkpoint(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export an audit checkpoint",
                                              str(Path.home() / "strongroom-checkpoint.json"),
                                              "Checkpoints (*.json)")
        if path:
            self.export_checkpoint(Path(path))

    def export_checkpoint(self, path: Path) -> None:
        if not self.audit.available:
            self.show_notice(self.audit.problem)
            return
        try:
            record = self.audit.log.checkpoint()
            write_atomic(path, (json.dumps(record, indent=2) + "\n").encode(), 0o644)
        except (OSError, AuditUnavailable) as error:
            self.show_notice(f"The checkpoint could not be written: {error}")
            return
        self.show_notice(f"Checkpoint of entry {record['seq']} saved to {path}. Keep it off this "
                         "computer; it lets an auditor show that nothing was cut from the log.", "info")

    def _show_key_storage(self) -> None:
        where = self.audit.log.key_storage if self.audit.available else self.audit.problem
        QMessageBox.information(self, "Audit key", f"The audit log's current key is kept in {where}.")

    @Slot()
    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings.as_dict(), self)
        if dialog.exec():
            self.apply_settings(dialog.values())

    def apply_settings(self, values: dict) -> None:
        try:
            changed = self.settings.update(values)
        except (ValueError, OSError) as error:
            self.show_notice(f"Settings were not saved: {error}")
            return
        if changed:
            self._record(self.audit.settings_change, changed)
        if self.loaded is not None and any(BY_NAME[name].reloads_model for name in changed):
            self.show_notice("Reloading the model with the new settings.", "info")
            self.load_model(self.loaded.path)

    def _focus_search(self) -> None:
        self.conversations.search_box.setFocus()
        self.conversations.search_box.selectAll()

    def _focus_model_picker(self) -> None:
        self.model_picker.setFocus()
        self.model_picker.showPopup()

    def _show_paths(self) -> None:
        lines = "\n".join(f"{name}: {where}" for name, where in self.workspace.paths.describe().items())
        QMessageBox.information(self, "Where Strongroom keeps its files", lines)

    def _show_about(self) -> None:
        QMessageBox.about(self, "About Strongroom",
                          f"Strongroom {__version__}\nA private AI workstation for isolated "
                          "machines. Everything stays on this computer.")

    @Slot(str, str)
    def _on_egress_blocked(self, call: str, destination: str) -> None:
        self.status.record_blocked(destination)
        self._record(self.audit.egress_blocked, call, destination)

    def _record(self, event, *args) -> bool:
        """Write an audit entry; if that fails, say so, and stop answering (fail closed)."""
        try:
            event(*args)
        except AuditUnavailable as error:
            self.audit.mark_broken(str(error))
            self.show_notice(str(error))
            return False
        return True

    def model_id(self, path: Path) -> str:
        """The model id the store recorded for ``path`` (e.g. org/model), else its name."""
        entry = self._entry(path)
        if entry is not None and entry.provenance:
            return str(entry.provenance.get("model_id") or entry.name)
        return self.model_name(path)

    # -- shutdown --------------------------------------------------------------------------

    def record_start(self) -> None:
        """Write app_start (app_stop follows when the window closes)."""
        if self.audit.available and self._record(self.audit.app_start, "window"):
            self._started = True

    def closeEvent(self, event: QCloseEvent) -> None:
        if getattr(self, "_started", False) and self.audit.available:
            self._record(self.audit.app_stop, "window")
            self._started = False
        if self._egress_guard is not None:
            self._egress_guard.remove_listener(self._egress_bridge)
        if not self.host.shutdown():
            log.error("the engine thread did not stop in time")
        super().closeEvent(event)


def _describe_entry(entry: ModelEntry) -> str:
    info = entry.info
    lines = [f"Architecture: {info.architecture}", f"Size: {human_size(info.file_size)}",
             f"Quantization: {info.quantization}",
             f"Trained context: {info.context_length or 'unknown'} tokens",
             f"Chat template: {'yes' if info.chat_template else 'no (a generic one is used)'}"]
    record = entry.provenance
    if record:
        lines.append(f"Model: {record.get('model_id')} @ {record.get('revision') or 'unknown revision'}")
        lines.append(f"Imported {record.get('imported_at')} by {record.get('imported_by')} from "
                     f"{(record.get('drive') or {}).get('label') or 'a drive'}")
        lines.append(f"Checked against the hub: {record.get('hub_check') or 'no'}")
    lines.append(str(entry.path))
    return "\n".join(lines)


def _detail(message: Message) -> str:
    if message.role != "assistant":
        return ""
    parts = [message.model or ""]
    stats = message.stats or {}
    if stats.get("completion_tokens"):
        parts.append(f"{stats['completion_tokens']} tokens")
    if stats.get("tokens_per_second"):
        parts.append(f"{stats['tokens_per_second']:.1f} tokens/s")
    if stats.get("stopped"):
        parts.append("stopped")
    if stats.get("dropped_messages"):
        parts.append(f"{stats['dropped_messages']} old messages left out")
    return " · ".join(p for p in parts if p)
