"""Asking for answers in the window: send, regenerate, edit and resend any message,
continue a stopped answer, stop, and switch between the alternatives kept.

`AnswerController` connects three things: the `ChatSession` (what the model is asked, the
conversation on disk, the audit record), the engine thread (`EngineHost`, which writes the
answer) and the chat pane (where it is shown). One answer is in flight at a time; a turn
that fails is taken back by the session, and the message goes back into the box.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QMessageBox

from strongroom.core.chats.conversation_store import Message
from strongroom.core.chats.session import ChatSession, Turn, TurnRefused
from strongroom.core.inference.engine import STOPPED_READING, Answer
from strongroom.ui.chat.chat_pane import ChatPane
from strongroom.ui.chat.message import MessageWidget
from strongroom.ui.common.engine_worker import EngineHost

EDITING_NOTE = ("Editing a message: Send asks again from there (what followed stays, "
                "under ‹ ›); Esc cancels.")


@dataclass
class _PendingAnswer:
    """The answer in flight: its engine request, its turn, and where it is shown."""

    request_id: int
    turn: Turn
    widget: MessageWidget
    received_text: bool = False
    received_chars: int = 0
    cut_off: bool = False  # stopped because the audit log's disk is nearly full
    stopping: bool = False  # Stop was asked


class AnswerController(QObject):
    """Signals:
        started(): the first text of an answer is on screen.
        completed(object): an answer was stored (`engine.Answer`).
        failed(str): an answer failed (the message shown).
        conversationChanged(int): a turn created or changed this conversation (its id).
        stateChanged(): answering or editing started or ended.
    """

    started = Signal()
    completed = Signal(object)
    failed = Signal(str)
    conversationChanged = Signal(int)
    stateChanged = Signal()

    def __init__(self, session: ChatSession, host: EngineHost, pane: ChatPane,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.host = host
        self.pane = pane
        self.pending: _PendingAnswer | None = None
        self.editing: Message | None = None
        # (conversation, library, server): passages agreed to be sent, once per conversation
        self._passages_agreed: set[tuple[int | None, str | None, str]] = set()
        worker = host.worker
        worker.promptStarted.connect(self._on_prompt_started)
        worker.promptRead.connect(self._on_prompt_read)
        worker.textReady.connect(self._on_text)
        worker.answerFinished.connect(self._on_finished)
        worker.answerFailed.connect(self._on_failed)

    @property
    def generating(self) -> bool:
        return self.pending is not None

    # -- asking -----------------------------------------------------------------------------

    @Slot()
    def send(self) -> None:
        if self.generating:
            return
        text = self.pane.input.toPlainText()
        try:
            turn = (self.session.prepare_resend(self.editing, text) if self.editing is not None
                    else self.session.prepare_send(text))
        except TurnRefused as refusal:
            # "Type a message first" and the like: gone once the person types
            self.pane.notice.show_message(str(refusal), refusal.level,
                                          until=self.pane.input.textChanged
                                          if refusal.level == "info" else None)
            return
        self._start(turn)

    @Slot()
    def regenerate(self) -> None:
        if self.generating or self.session.conversation_id is None:
            return
        try:
            turn = self.session.prepare_regenerate()
        except TurnRefused as refusal:
            self.pane.notice.show_message(str(refusal), refusal.level)
            return
        self._start(turn)

    def _passages_may_leave(self, turn: Turn) -> bool:
        """A question whose document passages would go to the firm's server asks first,
        once per conversation (and library, and server)."""
        server = turn.model.identity.server
        agreement = (turn.conversation_id, turn.library, server)
        if server is None or not turn.sources or agreement in self._passages_agreed:
            return True
        box = QMessageBox(QMessageBox.Icon.Question, "Send passages to the firm's server?",
                          f"The model answering is on the firm's server “{server}”. With this "
                          f"question, {len(turn.sources)} passage(s) from {turn.searched_in} "
                          "will be sent to it (over TLS), and to nowhere else. Send them?",
                          parent=self.pane.window())
        send = box.addButton("&Send them", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("&Don't send", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(send)
        box.exec()
        if box.clickedButton() is not send:
            self.pane.notice.show_message(
                "Not sent. To ask the server without your documents, choose “No documents” "
                "under Answer from; to keep them here, choose a model on this computer.", "info")
            return False
        self._passages_agreed.add(agreement)
        return True

    def _start(self, turn: Turn) -> None:
        """Send the turn to the engine first (the model starts reading at once), then store and
        show what it changes; if the session cannot begin it, the request is dropped."""
        if not self._passages_may_leave(turn):
            return
        request_id = self.host.generate(turn.messages, turn.sampling, turn.continue_text,
                                        turn.fewer_sources if turn.sources else None)
        try:
            self.session.begin(turn)
        except TurnRefused as refusal:
            self.host.stop()
            self.host.finished(request_id)
            self.pane.notice.show_message(str(refusal), refusal.level)
            return
        view = self.pane.chat_view
        if turn.removed:  # message positions are their places in the view
            view.remove_from(min(m.position for m in turn.removed))
        if turn.sent is not None:
            view.add_message("user", turn.sent.content)
            self.pane.input.clear()
            self.pane.notice.hide()
        self.cancel_edit()
        if turn.continue_text is not None:  # the stopped answer grows where it is
            widget = view.messages[-1]
            widget.set_detail("Continuing…")
        else:
            widget = view.add_message("assistant", "", "Waiting for the model…")
        view.set_editing_enabled(False)
        if turn.sources and turn.model.identity.server is not None:  # a new conversation's id
            self._passages_agreed.add((turn.conversation_id, turn.library, turn.model.identity.server))
        self.pending = _PendingAnswer(request_id, turn, widget)
        self.conversationChanged.emit(turn.conversation_id)
        self.stateChanged.emit()

    @Slot()
    def continue_answer(self) -> None:
        """Let the model go on writing the stopped answer at the end of the conversation."""
        if self.generating or self.session.conversation_id is None:
            return
        try:
            turn = self.session.prepare_continue()
        except TurnRefused as refusal:
            self.pane.notice.show_message(str(refusal), refusal.level)
            return
        self._start(turn)

    def can_continue(self) -> bool:
        messages = self.pane.chat_view.messages
        return (not self.generating and bool(messages) and messages[-1].role == "assistant"
                and messages[-1].stopped)

    @Slot(int, int)
    def switch_alternative(self, position: int, step: int) -> None:
        """Show the previous or next alternative at ``position`` and what follows it."""
        if self.generating:
            return
        self.cancel_edit()
        try:
            messages = self.session.switch_alternative(position, step)
        except TurnRefused as refusal:
            self.pane.notice.show_message(str(refusal), refusal.level)
            return
        had_keyboard = self.pane.chat_view.focused_message() is not None
        show_messages(self.pane, messages, self.session.alternatives())
        if had_keyboard:  # the message was drawn again: the keyboard stays on it
            self.pane.chat_view.focus_versions(position, step)
        self.conversationChanged.emit(self.session.conversation_id)
        self.stateChanged.emit()

    @Slot()
    def stop(self) -> None:
        """Stop the answer (it ends within one token), or cancel an edit."""
        if self.generating:
            self.host.stop()
            self.pending.stopping = True
            self.pending.widget.set_detail("Stopping…")  # not "Writing…" a moment longer
        elif self.editing is not None:
            self.cancel_edit(clear_box=True)

    # -- editing ------------------------------------------------------------------------------

    @Slot()
    def edit_last_message(self) -> None:
        users = [m.position for m in self.session.messages() if m.role == "user"]
        if users:
            self.edit_message(users[-1])

    @Slot(int)
    def edit_message(self, position: int) -> None:
        """Put the user message at ``position`` in the box; Send branches from there."""
        if self.generating:
            return
        message = next((m for m in self.session.messages() if m.position == position), None)
        if message is not None and message.role == "user":
            self.editing = message
            self.pane.input.setPlainText(message.content)
            self.pane.input.setFocus()
            self.pane.show_editing(EDITING_NOTE)
            self.pane.chat_view.mark_editing(position)
            self.stateChanged.emit()

    def cancel_edit(self, clear_box: bool = False) -> None:
        if self.editing is not None:
            self.editing = None
            self.pane.show_editing(None)
            self.pane.chat_view.mark_editing(None)
            if clear_box:
                self.pane.input.clear()
            self.stateChanged.emit()

    # -- what the engine reports ----------------------------------------------------------------

    def _is_current(self, request_id: int) -> bool:
        return self.pending is not None and self.pending.request_id == request_id

    @Slot(int, int, int)
    def _on_prompt_started(self, request_id: int, prompt_tokens: int, dropped: int) -> None:
        if not self._is_current(request_id):
            return
        self.pending.widget.set_detail(f"Reading your message ({prompt_tokens:,} tokens)… "
                                       "Stop (Esc) stops it")
        if dropped:
            self.pane.notice.show_message(
                f"This conversation is longer than the model can read at once: the {dropped} "
                "oldest messages were left out when writing this answer. The system prompt and "
                "your newest message were kept.", "warning")

    @Slot(int, int, int)
    def _on_prompt_read(self, request_id: int, read: int, total: int) -> None:
        if self._is_current(request_id) and not self.pending.received_text \
                and not self.pending.stopping:
            self.pending.widget.set_detail(f"Reading your message: {read:,} of {total:,} tokens… "
                                           "Stop (Esc) stops it")

    @Slot(int, str)
    def _on_text(self, request_id: int, text: str) -> None:
        if not self._is_current(request_id):
            return
        pending = self.pending
        pending.widget.append(text)
        pending.received_chars += len(text)
        if not pending.cut_off and not self.session.room_to_continue(pending.turn, pending.received_chars):
            pending.cut_off = True
            self.host.stop()
        if not pending.received_text:
            pending.received_text = True
            pending.widget.set_detail("Writing…")
            self.started.emit()

    @Slot(int, object)
    def _on_finished(self, request_id: int, answer: Answer) -> None:
        if not self._is_current(request_id):
            return
        pending, self.pending = self.pending, None
        self.host.finished(request_id)
        finished = self.session.finish(pending.turn, answer, cut_off=pending.cut_off)
        view = self.pane.chat_view
        if finished.message is not None:
            pending.widget.set_text(finished.message.content)
            show_stored_detail(pending.widget, finished.message)
        else:
            show_messages(self.pane, self.session.messages())  # what was there before, if anything
            if answer.stats.finish_reason == STOPPED_READING:
                self.pane.notice.show_message("Stopped while the model was reading your message: "
                                              "nothing was answered.", "info")
            elif answer.stats.stopped:
                self.pane.notice.show_message("Stopped before the model wrote anything.", "info")
        view.set_editing_enabled(True)
        view.show_alternatives(self.session.alternatives())
        if finished.audit_problem:
            self.pane.notice.show_message(finished.audit_problem)
        elif answer.stats.incomplete:  # the server's connection lost, or silent: the text is kept
            self.pane.notice.show_message(answer.stats.incomplete, "warning")
        self.conversationChanged.emit(pending.turn.conversation_id)
        self.stateChanged.emit()
        self.completed.emit(answer)

    @Slot(int, str)
    def _on_failed(self, request_id: int, message: str) -> None:
        if not self._is_current(request_id):
            return
        pending, self.pending = self.pending, None
        self.host.finished(request_id)
        turn = pending.turn
        audit_problem = self.session.fail(turn, message)
        if turn.sent is not None and not self.pane.input.toPlainText().strip():
            self.pane.input.setPlainText(turn.sent.content)
        if self.session.conversation_id in (turn.conversation_id, None):
            show_messages(self.pane, self.session.messages(), self.session.alternatives())
        self.pane.chat_view.set_editing_enabled(True)
        self.pane.notice.show_message(f"{message}\n{audit_problem}" if audit_problem else message)
        self.conversationChanged.emit(turn.conversation_id)
        self.stateChanged.emit()
        self.failed.emit(message)


def show_messages(pane: ChatPane, messages: list[Message],
                  alternatives: dict[int, tuple[int, int]] | None = None) -> None:
    """Show a conversation's stored messages in the chat view, replacing what it showed,
    with ‹ n/m › where ``alternatives`` ({position: (index, count)}) has them."""
    pane.chat_view.show_conversation(
        [(m.role, m.content, message_detail(m), was_stopped(m), sources_of(m)) for m in messages],
        alternatives)


def show_stored_detail(widget: MessageWidget, message: Message) -> None:
    widget.set_detail(message_detail(message))
    widget.stopped = was_stopped(message)
    widget.show_sources(sources_of(message))


def sources_of(message: Message) -> dict | None:
    """What an answer drawn from a library keeps of it (in its stats): the passages it was
    given, the library, and how many documents were searched; None for any other message."""
    stats = message.stats or {}
    sources = stats.get("sources")
    if not isinstance(sources, list):
        return None
    library = str(stats.get("library") or "")
    return {"sources": [s for s in sources if isinstance(s, dict)],
            "searched_in": str(stats.get("searched_in") or f"the library “{library}”"),
            "unknown_citations": [n for n in stats.get("unknown_citations") or []
                                  if isinstance(n, int)],
            "searched": stats.get("searched") if isinstance(stats.get("searched"), int) else 0}


def was_stopped(message: Message) -> bool:
    """An answer the user stopped (Continue can take it on)."""
    return bool((message.stats or {}).get("stopped"))


def message_detail(message: Message) -> str:
    """The line above an answer: model, tokens, speed, and whether it was stopped."""
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
    if stats.get("incomplete"):
        parts.append("incomplete: the server stopped sending")
    if stats.get("dropped_messages"):
        parts.append(f"{stats['dropped_messages']} old messages left out")
    return " · ".join(p for p in parts if p)
