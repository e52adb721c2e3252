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

Nothing a turn replaces is lost. Regenerating an answer, or editing any message of the
user, sets the old answer (or the old continuation from the edited message on) aside as an
alternative, which `switch_alternative` brings back; a regenerate that comes back empty
puts the old answer back. An answer the user stopped can be continued (`prepare_continue`):
the model goes on from the stopped text, and the stored answer grows by what it writes.

With a document library in use (`use_library`), and for any documents attached to the
conversation, each question is searched first: the passages found are given to the model
in the system message, numbered, and kept with the answer as its sources; the audit
entries name them by document hash and passage id. When nothing matches, the turn is
refused with the documents searched named, rather than letting the model guess.
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
from strongroom.core.documents.grounding import (
    fitting,
    grounded_system,
    passage_budget,
    unknown_citations,
)
from strongroom.core.documents.library import INDEXED, Libraries, Library
from strongroom.core.documents.retrieval import search
from strongroom.core.errors import StrongroomError
from strongroom.core.inference.engine import STOPPED_READING, Answer, SamplingOptions
from strongroom.core.inference.identity import LoadedModel, ModelIdentity
from strongroom.core.settings import Settings
from strongroom.core.units import human_list

Prompt = list[dict[str, str]]


CUT_OFF = ("The answer was cut off: the disk that holds the audit log is almost full, and "
           "Strongroom keeps room to record how every answer ends. Free some space.")


class TurnRefused(StrongroomError):
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
    new_text: str | None  # the message being sent, if any (None: regenerate or continue)
    replaces_from: int | None  # position from which stored messages are replaced
    removed: list[Message] = field(default_factory=list)  # replaced by this turn (set aside)
    sent: Message | None = None  # the user message stored for this turn
    title_set: bool = False  # the sent message gave the conversation its title
    started: dict | None = None  # the audit entry that recorded the answer starting
    created: bool = False  # `begin` started a new conversation for this turn
    set_aside_branch: int | None = None  # the alternative that holds what `removed` were
    continues: Message | None = None  # the stopped answer this turn continues, if any
    library: str | None = None  # the libraries whose passages the model is given, by name
    searched_in: str = ""  # the same for people: "the library “Casework”"
    sources: list[dict] = field(default_factory=list)  # those passages (`Passage.citation`)
    searched: int = 0  # how many documents the library's search went through
    grounded_on: str = ""  # the system prompt the passages were added to

    def fewer_sources(self) -> list[dict[str, str]] | None:
        """The prompt with its last passage left out, for an engine whose context it
        overflows (the passages' length was estimated); None when one passage is left.
        Called on the engine thread before the model reads anything."""
        if len(self.sources) <= 1:
            return None
        self.sources = self.sources[:-1]
        self.messages = [{"role": "system", "content": grounded_system(
            self.grounded_on, self.searched_in, self.sources)}, *self.messages[1:]]
        return self.messages

    @property
    def continue_text(self) -> str | None:
        """The stopped answer's text, for `Engine.chat(continue_text=...)`: the model goes on
        from it, and streams only what it adds. None for any other turn."""
        return self.continues.content if self.continues is not None else None

    @property
    def prompt_text(self) -> str:
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")


@dataclass(frozen=True)
class FinishedTurn:
    # The stored answer: None when the model wrote nothing (a continued answer is always
    # given: it holds the whole text, the stopped part and what was added).
    message: Message | None
    audit_problem: str | None = None  # the answer could not be recorded: show this
    # A regenerate that came back empty put the old answer back: the messages from its
    # position on, to show again.
    restored: list[Message] = field(default_factory=list)


class ChatSession:
    def __init__(self, auditor: Auditor, settings: Settings,
                 conversations: ConversationStore | None = None,
                 libraries: Libraries | None = None):
        self.auditor = auditor
        self.settings = settings
        self.keeps_history = conversations is not None
        self.conversations = conversations or ConversationStore.in_memory()
        self.libraries = libraries
        self.library: Library | None = None  # answers draw on its documents
        self.embedder = None  # an `Embedder` for the libraries' vectors, when one is loaded
        self.model: LoadedModel | None = None
        self.conversation_id: int | None = None
        self._answering: set[int] = set()  # conversations with a turn begun and not ended

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

    def use_library(self, library: Library | None) -> None:
        """Answer from ``library``'s documents from now on (None: from the model alone)."""
        if library is not None and self.libraries is None:
            raise TurnRefused("Documents are kept with the conversations, which are not open.")
        self.library = library

    def searched_libraries(self) -> list[Library]:
        """What a question is searched in: the library in use, and the documents attached
        to the current conversation, if any."""
        if self.libraries is None:
            return []
        attached = (self.libraries.attached(self.conversation_id)
                    if self.conversation_id is not None and self.keeps_history else None)
        return [library for library in (self.library, attached) if library is not None]

    # -- conversations -----------------------------------------------------------------------------

    def open(self, conversation_id: int) -> list[Message]:
        """Make ``conversation_id`` the current conversation and return its messages. An
        answer a regenerate set aside when the program ended before the new one was written
        is put back first."""
        self.conversation_id = conversation_id
        if conversation_id not in self._answering:
            self.conversations.restore_interrupted(conversation_id)
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

    def alternatives(self) -> dict[int, tuple[int, int]]:
        """Where the current conversation has alternatives: {position: (index of the one
        shown, counting from 0, how many)} (see `ConversationStore.alternatives`)."""
        if self.conversation_id is None:
            return {}
        return self.conversations.alternatives(self.conversation_id)

    def switch_alternative(self, position: int, step: int) -> list[Message]:
        """Show the previous (``step`` -1) or next (+1) alternative at ``position``; the
        messages after it follow the alternative. Returns the conversation's messages.
        Refused while an answer is being written in it."""
        if self.conversation_id is None:
            return []
        if self.conversation_id in self._answering:
            raise TurnRefused("An answer is being written: wait for it, or stop it, before "
                              "showing another version.", "info")
        self.conversations.switch_alternative(self.conversation_id, position, step)
        return self.messages()

    # -- asking ----------------------------------------------------------------------------------

    def prepare_send(self, text: str, *, system: str | None = None,
                     sampling: SamplingOptions | None = None) -> Turn:
        """A turn that sends ``text`` at the end of the conversation."""
        if not text.strip():
            raise TurnRefused("Type a message first.", "info")
        model = self._ready()
        history = self.messages()
        sampling = sampling or self.sampling()
        return self._grounded(Turn(self.conversation_id, self._prompt(history, text, system),
                                   sampling, model, text, None), system)

    def prepare_regenerate(self, sampling: SamplingOptions | None = None) -> Turn:
        """A turn that writes the last answer again (or answers a last message left unanswered)."""
        model = self._ready()
        history = self.messages()
        if not history:
            raise TurnRefused("There is nothing to answer yet: send a message first.")
        replaces = history[-1].position if history[-1].role == "assistant" else None
        kept = [m for m in history if replaces is None or m.position < replaces]
        return self._grounded(Turn(self.conversation_id, self._prompt(kept, None, None),
                                   sampling or self.sampling(), model, None, replaces), None)

    def prepare_resend(self, message: Message, text: str) -> Turn:
        """A turn that replaces ``message`` (any user message of the conversation) and
        everything after it by ``text``; what it replaces is kept as an alternative."""
        if not text.strip():
            raise TurnRefused("Type a message first.", "info")
        model = self._ready()
        history = self.messages()
        if message.role != "user" or message not in history:  # not shown: another version
            raise TurnRefused("That message is no longer shown in this conversation; choose "
                              "it again to edit it.", "info")
        kept = [m for m in history if m.position < message.position]
        return self._grounded(Turn(self.conversation_id, self._prompt(kept, text, None),
                                   self.sampling(), model, text, message.position), None)

    def prepare_continue(self, sampling: SamplingOptions | None = None) -> Turn:
        """A turn that continues the last answer, which the user stopped: the model is asked
        with the conversation before it and goes on from its text (`Turn.continue_text`)."""
        model = self._ready()
        history = self.messages()
        last = history[-1] if history else None
        if last is None or last.role != "assistant" or not (last.stats or {}).get("stopped"):
            raise TurnRefused("Only an answer that was stopped can be continued, and the last "
                              "answer here was not stopped.", "info")
        turn = Turn(self.conversation_id, self._prompt(history[:-1], None, None),
                    sampling or self.sampling(), model, None, None)
        turn.continues = last
        cited = (last.stats or {}).get("sources")
        if cited:  # it goes on from the same passages
            turn.library, turn.sources = last.stats.get("library"), cited
            turn.searched_in = last.stats.get("searched_in") or f"the library “{turn.library}”"
            self._give_sources(turn, None)
        return turn

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
                turn.conversation_id if self.keeps_history else None, self._include_text,
                sources=_audited_sources(turn))
        except AuditUnavailable as error:
            if created and turn.conversation_id is not None:
                store.delete(turn.conversation_id)
                turn.conversation_id = self.conversation_id = None
            raise TurnRefused(str(error)) from None
        with store.transaction():  # an edit is set aside and replaced at once, or not at all
            if turn.replaces_from is not None:
                turn.removed = [m for m in store.messages(turn.conversation_id)
                                if m.position >= turn.replaces_from]
                turn.set_aside_branch = store.set_aside(turn.conversation_id, turn.replaces_from)
            if turn.new_text is not None:
                title_before = store.conversation(turn.conversation_id).title
                turn.sent = store.add_message(turn.conversation_id, "user", turn.new_text)
                turn.title_set = turn.sent.position == 0 and title_before == DEFAULT_TITLE
        self._answering.add(turn.conversation_id)

    def room_to_continue(self, turn: Turn, answer_chars: int) -> bool:
        """Whether the answer may go on: the entry that records its end, with its text when
        text is recorded, must still fit on the audit log's disk. When it no longer would,
        the caller stops the answer and `finish`es it as cut off."""
        return self.auditor.room_for_answer(self._recorded_chars(turn) + answer_chars
                                            if self._include_text else 0)

    def finish(self, turn: Turn, answer: Answer, cut_off: bool = False) -> FinishedTurn:
        """Store the answer (if the model wrote anything) and record how it ended. A
        regenerate that wrote nothing puts the old answer back (`FinishedTurn.restored`); a
        continued answer is stored whole, the stopped text with what was added."""
        self._answering.discard(turn.conversation_id)
        if turn.continues is not None:
            return self._finish_continue(turn, answer, cut_off)
        store = self.conversations
        stored, restored = None, []
        regenerate = turn.replaces_from is not None and turn.new_text is None
        if answer.text.strip():
            stats = answer.stats.as_dict()
            if turn.sources:  # shown under the answer, and given again if it is continued
                stats.update(library=turn.library, searched_in=turn.searched_in,
                             sources=turn.sources, searched=turn.searched,
                             unknown_citations=unknown_citations(answer.text, len(turn.sources)))
            with store.transaction():
                if regenerate:  # an old answer put back meanwhile (see `open`) stays an alternative
                    store.set_aside(turn.conversation_id, turn.replaces_from)
                stored = store.add_message(
                    turn.conversation_id, "assistant", answer.text, model=turn.model.identity.name,
                    stats=stats)
        elif regenerate and turn.set_aside_branch is not None:
            if store.restore_branch(turn.set_aside_branch):
                restored = [m for m in store.messages(turn.conversation_id)
                            if m.position >= turn.replaces_from]
        problem = self._record_end(turn, answer.text, answer.stats.as_dict(),
                                   self._outcome(answer, cut_off), self._why(answer, cut_off))
        return FinishedTurn(stored, problem or (CUT_OFF if cut_off else None), restored)

    def _finish_continue(self, turn: Turn, answer: Answer, cut_off: bool) -> FinishedTurn:
        """The stopped answer with what the model added (or, stopped again before it added
        anything, as it was)."""
        before = turn.continues
        text = before.content + answer.text
        stored = before
        if answer.text or not answer.stats.stopped:  # it wrote something, or it ended there
            old, new = before.stats or {}, answer.stats.as_dict()
            stats = {**old, **new,
                     "completion_tokens": old.get("completion_tokens", 0) + new["completion_tokens"],
                     "total_s": old.get("total_s", 0.0) + new["total_s"],
                     "time_to_first_token_s": old.get("time_to_first_token_s"),
                     "continued": old.get("continued", 0) + 1}
            if old.get("sources"):
                stats["unknown_citations"] = unknown_citations(text, len(old["sources"]))
            model = turn.model.identity.name
            if before.model and before.model != model:
                model = f"{before.model}, then {model}"
            stored = self.conversations.update_message(before, text, stats, model)
        problem = self._record_end(turn, text, answer.stats.as_dict(),
                                   self._outcome(answer, cut_off), self._why(answer, cut_off))
        return FinishedTurn(stored, problem or (CUT_OFF if cut_off else None))

    @staticmethod
    def _outcome(answer: Answer, cut_off: bool) -> str:
        if cut_off:
            return "cut off"
        if answer.stats.incomplete:  # a server's connection lost or silent mid-answer
            return "incomplete"
        if answer.stats.finish_reason == STOPPED_READING:
            return "stopped while reading the prompt"
        return "stopped" if answer.stats.stopped else "answered"

    @staticmethod
    def _why(answer: Answer, cut_off: bool) -> str | None:
        return CUT_OFF if cut_off else answer.stats.incomplete

    def fail(self, turn: Turn, reason: str = "") -> str | None:
        """Take the turn back: the conversation is as it was before `begin`. The answer's
        failure is recorded; returns the audit log's problem if that could not be."""
        store = self.conversations
        self._answering.discard(turn.conversation_id)
        if turn.set_aside_branch is not None:  # drops what the turn added, too
            store.restore_branch(turn.set_aside_branch)
        elif turn.sent is not None:
            store.truncate(turn.conversation_id, turn.sent.position)
        if turn.title_set:
            store.reset_title(turn.conversation_id)
        if turn.created and not store.messages(turn.conversation_id):
            store.delete(turn.conversation_id)  # no empty conversation left by a refused message
            if self.conversation_id == turn.conversation_id:
                self.conversation_id = None
        return self._record_end(turn, "", {}, "failed", reason or "the answer could not be written")

    def interrupt(self, turn: Turn, partial_text: str, stats: dict | None = None) -> str | None:
        """The user interrupted the answer after reading ``partial_text`` (Ctrl+C); ``stats``:
        what is known of its tokens (the prompt's, and the pieces streamed)."""
        self._answering.discard(turn.conversation_id)
        return self._record_end(turn, partial_text, stats or {}, "interrupted",
                                "interrupted by the user")

    def _record_end(self, turn: Turn, text: str, stats: dict, outcome: str, reason: str | None) -> str | None:
        if turn.started is None:
            return None
        try:
            self.auditor.answer_finished(turn.started, turn.prompt_text, text, stats, turn.model,
                                         outcome, reason, self._include_text,
                                         sources=_audited_sources(turn))
        except AuditUnavailable as error:
            return str(error)
        return None

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def _include_text(self) -> bool:
        return bool(self.settings["audit_log_text"])

    def _recorded_chars(self, turn: Turn) -> int:
        """The text the audit entries of ``turn`` hold besides the new part of the answer:
        the prompt, and the stopped text of a continued answer (recorded whole)."""
        if not self._include_text:
            return 0
        return len(turn.prompt_text) + len(turn.continue_text or "")

    def _ready(self) -> LoadedModel:
        try:
            self.auditor.require()  # fail closed: no answer the audit log cannot record
        except AuditUnavailable as error:
            raise TurnRefused(str(error)) from None
        if self.model is None:
            raise TurnRefused("Choose a model first (the Model list at the top).", "info")
        return self.model

    def _grounded(self, turn: Turn, system: str | None) -> Turn:
        """``turn`` with the passages of the library in use that bear on its question, or
        refused when none does (the model would only guess; the search is recorded)."""
        searched = self.searched_libraries()
        if not searched:
            return turn
        label = " + ".join(library.name for library in searched)
        question = turn.prompt_text
        embedder = self.embedder
        passages = search(self.libraries, searched, question,
                          embed=embedder.embed if embedder else None,
                          model_sha256=embedder.model_sha256 if embedder else None)
        if not passages:
            documents = [d for library in searched
                         for d in self.libraries.documents(library, INDEXED)]
            try:
                self.auditor.library_search(label, question, [d.sha256 for d in documents])
            except AuditUnavailable as error:
                raise TurnRefused(str(error)) from None
            raise TurnRefused(nothing_found(searched_in(searched), [d.name for d in documents],
                                            self.library is not None), "info")
        turn.library, turn.searched_in = label, searched_in(searched)
        turn.searched = sum(self.libraries.counts(library)[0] for library in searched)
        turn.sources = fitting(passages, passage_budget(turn.model.n_ctx, turn.sampling.max_tokens))
        if not turn.sources:
            raise TurnRefused(
                f"The model's context length ({turn.model.n_ctx:,} tokens) leaves no room for "
                "passages from the documents next to the answer. Raise the context length in "
                "Settings, or lower the longest answer.")
        self._give_sources(turn, system)
        return turn

    def _give_sources(self, turn: Turn, system: str | None) -> None:
        system = self.settings["system_prompt"] if system is None else system
        turn.grounded_on = system
        grounded = {"role": "system", "content": grounded_system(system, turn.searched_in,
                                                                 turn.sources)}
        has_system = bool(turn.messages) and turn.messages[0]["role"] == "system"
        turn.messages = [grounded, *turn.messages[1 if has_system else 0:]]

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


def searched_in(libraries: list[Library]) -> str:
    """Where a question was searched, for people: "the library “Casework”", "this
    conversation's documents", or both."""
    return " and ".join(f"the library “{library.name}”" if library.conversation_id is None
                        else library.label for library in libraries)


def nothing_found(where: str, searched: list[str], library_chosen: bool = True) -> str:
    """What the user is told when no passage found in ``where`` bears on the question
    (``library_chosen``: a library was chosen, which "No documents" turns off)."""
    alone = (" Choose “No documents” under Answer from to ask the model alone."
             if library_chosen else "")
    if not searched:
        return (f"There are no documents that could be read yet in {where}, so there is "
                f"nothing to answer from. Add documents (Documents…).{alone}")
    names = human_list(searched, 8)
    return (f"Nothing in {where} matches your question, so no answer was "
            f"asked for: the model would only guess. Searched {len(searched)} "
            f"document{'s' if len(searched) != 1 else ''}: {names}. Try other words.{alone}")


def _audited_sources(turn: Turn) -> dict | None:
    """The answer's sources as the audit log keeps them: which documents and passages,
    never their text."""
    if not turn.sources:
        return None
    return {"library": turn.library,
            "documents": sorted({c["sha256"] for c in turn.sources}),
            "passages": [c["chunk"] for c in turn.sources]}
