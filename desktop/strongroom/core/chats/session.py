"""A chat session: one conversation with one model, run the same way by the window and by
`strongroom chat`.

The session decides what the model is asked (the system prompt, the conversation, the new
message), keeps the conversation on disk, and writes the audit record of every answer. It
never runs the model itself: the caller asks it for a `Turn`, hands the turn's messages to
the engine (on the engine thread in the window, in line in the command), calls `begin`
before the first token is shown, and reports back with `finish` or `fail`.

A turn is taken back whole by `fail`: the conversation is left exactly as it was before
(messages, and a title that the first message had set), and the message goes back to the
user.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from strongroom.core.audit.events import Auditor, AuditUnavailable
from strongroom.core.chats.conversation_store import (
    DEFAULT_TITLE,
    Conversation,
    ConversationStore,
    Message,
)
from strongroom.core.inference.engine import Answer, SamplingOptions
from strongroom.core.inference.identity import LoadedModel, ModelIdentity
from strongroom.core.settings import Settings

Prompt = list[dict[str, str]]


CUT_OFF = ("The answer was cut off: the disk that holds the audit log is almost full, and "
           "Strongroom keeps room to record how every answer ends. Free some space.")


class TurnRefused(Exception):
    """No answer will be asked for; the message says why, for the user. ``level`` is "info"
    for a refusal that only asks the user to do something first, "error" otherwise."""

    def __init__(self, message: str, level: str = "error"):
        super().__init__(message)
        self.level = level


@dataclass
class Turn:
    """One answer being asked for, and how to take back what asking for it changed."""

    conversation_id: int | None  # None: a new conversation, started by `begin`
    messages: Prompt  # what the model is asked: system prompt, conversation, new message
    sampling: SamplingOptions
    model: LoadedModel
    new_text: str | None  # the message being sent, if any (None: regenerate)
    replaces_from: int | None  # position from which stored messages are replaced
    removed: list[Message] = field(default_factory=list)  # replaced by this turn
    sent: Message | None = None  # the user message stored for this turn
    title_set: bool = False  # the sent message gave the conversation its title
    started: dict | None = None  # the audit entry that recorded the answer starting
    created: bool = False  # `begin` started a new conversation for this turn

    @property
    def prompt_text(self) -> str:
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")


@dataclass(frozen=True)
class FinishedTurn:
    message: Message | None  # the stored answer (None when the model wrote nothing)
    audit_problem: str | None = None  # the answer could not be recorded: show this


class ChatSession:
    def __init__(self, auditor: Auditor, settings: Settings,
                 conversations: ConversationStore | None = None):
        self.auditor = auditor
        self.settings = settings
        self.keeps_history = conversations is not None
        self.conversations = conversations or ConversationStore.in_memory()
        self.model: LoadedModel | None = None
        self.conversation_id: int | None = None

    # -- the model -----------------------------------------------------------------------------

    def use_model(self, loaded: LoadedModel) -> None:
        """The engine loaded ``loaded``; record it. Raises AuditUnavailable if that fails (and
        then nothing will be answered)."""
        self.model = loaded
        self.auditor.model_load(loaded)

    def model_refused(self, identity: ModelIdentity, reason: str) -> None:
        """The engine refused to load ``identity``; record why."""
        self.model = None
        self.auditor.model_load_refused(identity, reason)

    def forget_model(self) -> None:
        self.model = None

    # -- conversations -----------------------------------------------------------------------------

    def open(self, conversation_id: int) -> list[Message]:
        self.conversation_id = conversation_id
        return self.conversations.messages(conversation_id)

    def new_conversation(self) -> Conversation:
        """A conversation to start in: an unused one if there is one (never a pile of
        empty ones), else a new one."""
        conversation = (self.conversations.unused_conversation()
                        or self.conversations.create_conversation())
        self.conversation_id = conversation.id
        return conversation

    def close_conversation(self) -> None:
        self.conversation_id = None

    def messages(self) -> list[Message]:
        return [] if self.conversation_id is None else self.conversations.messages(self.conversation_id)

    # -- asking ----------------------------------------------------------------------------------

    def prepare_send(self, text: str, *, system: str | None = None,
                     sampling: SamplingOptions | None = None) -> Turn:
        """A turn that sends ``text`` at the end of the conversation."""
        if not text.strip():
            raise TurnRefused("Type a message first.", "info")
        model = self._ready()
        history = self.messages()
        return Turn(self.conversation_id, self._prompt(history, text, system),
                    sampling or self.sampling(), model, text, None)

    def prepare_regenerate(self, sampling: SamplingOptions | None = None) -> Turn:
        """A turn that writes the last answer again (or answers a last message left unanswered)."""
        model = self._ready()
        history = self.messages()
        if not history:
            raise TurnRefused("There is nothing to answer yet: send a message first.")
        replaces = history[-1].position if history[-1].role == "assistant" else None
        kept = [m for m in history if replaces is None or m.position < replaces]
        return Turn(self.conversation_id, self._prompt(kept, None, None),
                    sampling or self.sampling(), model, None, replaces)

    def prepare_resend(self, message: Message, text: str) -> Turn:
        """A turn that replaces ``message`` (a user message) and everything after it by ``text``."""
        if not text.strip():
            raise TurnRefused("Type a message first.", "info")
        model = self._ready()
        kept = [m for m in self.messages() if m.position < message.position]
        return Turn(self.conversation_id, self._prompt(kept, text, None), self.sampling(),
                    model, text, message.position)

    def begin(self, turn: Turn) -> None:
        """Record that the answer starts (sealed and fsynced) and store what the turn changes
        in the conversation; call before the first token of its answer is shown. Raises
        TurnRefused (and changes nothing) if it cannot begin."""
        store = self.conversations
        created = turn.conversation_id is None
        try:
            self.auditor.require()
            if not self.auditor.room_for_answer(self._recorded_chars(turn)):
                raise AuditUnavailable(
                    "The disk that holds the audit log is almost full: Strongroom keeps room to "
                    "record how every answer ends, so it will not start one now. Free some space.")
            if created:
                turn.conversation_id = self.new_conversation().id
                turn.created = True
            turn.started = self.auditor.answer_started(
                turn.prompt_text, turn.model, asdict(turn.sampling),
                turn.conversation_id if self.keeps_history else None, self._include_text)
        except AuditUnavailable as error:
            if created and turn.conversation_id is not None:
                store.delete(turn.conversation_id)
                turn.conversation_id = self.conversation_id = None
            raise TurnRefused(str(error)) from None
        if turn.replaces_from is not None:
            turn.removed = [m for m in store.messages(turn.conversation_id)
                            if m.position >= turn.replaces_from]
            store.truncate(turn.conversation_id, turn.replaces_from)
        if turn.new_text is not None:
            title_before = store.conversation(turn.conversation_id).title
            turn.sent = store.add_message(turn.conversation_id, "user", turn.new_text)
            turn.title_set = turn.sent.position == 0 and title_before == DEFAULT_TITLE

    def room_to_continue(self, turn: Turn, answer_chars: int) -> bool:
        """Whether the answer may go on: the entry that records its end, with its text when
        text is recorded, must still fit on the audit log's disk. When it no longer would,
        the caller stops the answer and `finish`es it as cut off."""
        return self.auditor.room_for_answer(self._recorded_chars(turn) + answer_chars
                                            if self._include_text else 0)

    def finish(self, turn: Turn, answer: Answer, cut_off: bool = False) -> FinishedTurn:
        """Store the answer (if the model wrote anything) and record how it ended."""
        stored = None
        if answer.text.strip():
            stored = self.conversations.add_message(
                turn.conversation_id, "assistant", answer.text, model=turn.model.identity.name,
                stats=answer.stats.as_dict())
        outcome = "cut off" if cut_off else "stopped" if answer.stats.stopped else "answered"
        reason = CUT_OFF if cut_off else None
        problem = self._record_end(turn, answer.text, answer.stats.as_dict(), outcome, reason)
        return FinishedTurn(stored, problem or (CUT_OFF if cut_off else None))

    def fail(self, turn: Turn, reason: str = "") -> str | None:
        """Take the turn back: the conversation is as it was before `begin`. The answer's
        failure is recorded; returns the audit log's problem if that could not be."""
        store = self.conversations
        positions = [m.position for m in turn.removed] + ([turn.sent.position] if turn.sent else [])
        if positions:
            store.truncate(turn.conversation_id, min(positions))
        for message in turn.removed:
            store.add_message(turn.conversation_id, message.role, message.content, message.model,
                              message.stats)
        if turn.title_set:
            store.reset_title(turn.conversation_id)
        if turn.created and not store.messages(turn.conversation_id):
            store.delete(turn.conversation_id)  # no empty conversation left by a refused message
            if self.conversation_id == turn.conversation_id:
                self.conversation_id = None
        return self._record_end(turn, "", {}, "failed", reason or "the answer could not be written")

    def interrupt(self, turn: Turn, partial_text: str) -> str | None:
        """The user interrupted the answer after reading ``partial_text`` (Ctrl+C)."""
        return self._record_end(turn, partial_text, {}, "interrupted", "interrupted by the user")

    def _record_end(self, turn: Turn, text: str, stats: dict, outcome: str, reason: str | None) -> str | None:
        if turn.started is None:
            return None
        try:
            self.auditor.answer_finished(turn.started, turn.prompt_text, text, stats, turn.model,
                                         outcome, reason, self._include_text)
        except AuditUnavailable as error:
            return str(error)
        return None

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def _include_text(self) -> bool:
        return bool(self.settings["audit_log_text"])

    def _recorded_chars(self, turn: Turn) -> int:
        return len(turn.prompt_text) if self._include_text else 0

    def _ready(self) -> LoadedModel:
        try:
            self.auditor.require()  # fail closed: no answer the audit log cannot record
        except AuditUnavailable as error:
            raise TurnRefused(str(error)) from None
        if self.model is None:
            raise TurnRefused("Choose a model first (the Model list at the top).", "info")
        return self.model

    def _prompt(self, history: list[Message], new_text: str | None, system: str | None) -> Prompt:
        system = self.settings["system_prompt"] if system is None else system
        messages = [{"role": "system", "content": system}] if system.strip() else []
        messages += [m.as_prompt() for m in history]
        if new_text is not None:
            messages.append({"role": "user", "content": new_text})
        return messages

    def sampling(self, **overrides: Any) -> SamplingOptions:
        """The sampling settings, with ``overrides`` (those not None) in their place."""
        sampling = SamplingOptions.from_settings(self.settings.as_dict())
        return replace(sampling, **{k: v for k, v in overrides.items() if v is not None})
