"""`strongroom chat`: one answer on standard output, for scripts and quick checks."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from strongroom.commands import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    fail,
    open_workspace,
    setting_argument,
)


def run(args: argparse.Namespace) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        return fail("the prompt is empty: give the message to answer", EXIT_USAGE)
    with open_workspace() as workspace:
        return _answer(args, prompt, workspace)


def _answer(args: argparse.Namespace, prompt: str, workspace) -> int:
    from strongroom.core.chats.session import ChatSession

    if args.server is None and args.model is None:
        return fail("say which model answers: --model NAME (a model on this computer), or "
                    "--server NAME (a configured inference server)", 2)
    identity = None if args.server else _identify(workspace, args.model)
    if identity is None and not args.server:
        return fail(_not_usable(workspace, args.model))
    session = ChatSession(workspace.audit, workspace.settings,
                          libraries=workspace.libraries if args.library else None)
    workspace.audit.require()  # fail closed: no answer the audit log cannot record
    if args.library:
        problem = _use_library(session, workspace, args.library)
        if problem:
            return fail(problem)
    opened = _open_engine(args, workspace, session, identity)
    if isinstance(opened, int):
        return opened
    engine, identity = opened
    try:
        return _AnswerOnTerminal(args, session).ask(prompt, engine, identity)
    finally:
        engine.close()
        if session.embedder is not None:
            session.embedder.close()


def _open_engine(args: argparse.Namespace, workspace, session, identity):
    """The engine that answers, with its model's identity; or the exit code of a refusal
    (recorded in the audit log, as the window records it)."""
    from dataclasses import replace

    from strongroom.core.audit.events import AuditUnavailable
    from strongroom.core.inference.engine import Engine, EngineError, LoadOptions

    load_options = LoadOptions.from_settings(workspace.settings.as_dict())
    if args.context_length:
        load_options = replace(load_options, context_length=args.context_length)
    try:
        if args.server:
            engine = _connect(workspace, args.server, args.model, load_options.context_length)
            return engine, engine.identity()
        return (Engine.load(identity.path, load_options, expected_sha256=identity.sha256),
                identity)
    except EngineError as error:
        try:  # a stored model that would not load, or a server that could not be used
            if identity is not None and identity.sha256 is not None:
                session.model_refused(identity, str(error))
            elif args.server:
                server = _server_or_none(workspace, args.server)
                if server is not None:
                    workspace.audit.server_attempt_failed(server.name, server.url, str(error),
                                                          "chat")
        except AuditUnavailable:
            pass  # the refusal itself is what is reported
        return fail(str(error))


class _AnswerOnTerminal:
    """One answer streamed to standard output, recorded as the window records one: begun
    before the first token, finished, failed or interrupted (Ctrl+C) with what came."""

    def __init__(self, args: argparse.Namespace, session) -> None:
        self.args = args
        self.session = session
        self.turn = None
        self.streamed: list[str] = []
        self.read: dict = {}  # the prompt's tokens, once the model begins reading it
        self.stop = threading.Event()
        self.on_terminal = sys.stderr.isatty()

    def ask(self, prompt: str, engine, identity) -> int:
        from strongroom.core.chats.session import TurnRefused
        from strongroom.core.inference.engine import EngineError

        args, session = self.args, self.session
        try:
            session.use_model(engine.loaded_model(identity))
            self.turn = turn = session.prepare_send(
                prompt, system=args.system, sampling=session.sampling(
                    max_tokens=args.max_tokens, temperature=args.temperature, seed=args.seed))
            session.begin(turn)  # recorded (and fsynced) before the first token is printed
            answer = engine.chat(turn.messages, turn.sampling, self.stop, self._show,
                                 self._prompt_read,
                                 shrink=turn.fewer_sources if turn.sources else None,
                                 on_reading=self._reading)
            if not args.json:
                sys.stdout.write("\n")
            finished = session.finish(turn, answer, cut_off=self.stop.is_set())
        except TurnRefused as error:
            if args.json and args.library and error.level == "info":  # nothing found
                print(json.dumps({"answer": None, "library": args.library, "sources": [],
                                  "message": str(error)}, indent=2))
                return EXIT_OK
            return fail(str(error))
        except EngineError as error:
            started = self.turn is not None and self.turn.started
            problem = session.fail(self.turn, str(error)) if started else None
            return fail(str(error) + (f"\n{problem}" if problem else ""))
        except KeyboardInterrupt:
            return self._interrupted()
        if finished.audit_problem:
            return fail(finished.audit_problem)
        if answer.stats.incomplete:  # the server's connection was lost: what came is kept
            return fail(answer.stats.incomplete)
        self._print_end(turn, answer)
        return EXIT_OK

    def _prompt_read(self, tokens: int, dropped: int) -> None:
        self.read.update(prompt_tokens=tokens, dropped_messages=dropped)

    def _reading(self, done: int, total: int) -> None:
        """A long prompt is read in slices (Ctrl+C stops between them): say how far."""
        if self.on_terminal:
            end = "\r" + " " * 60 + "\r" if done >= total - 1 else ""
            sys.stderr.write(f"\rReading the prompt: {done:,} of {total:,} tokens{end}")
            sys.stderr.flush()

    def _show(self, text: str) -> None:
        self.streamed.append(text)
        if not self.args.json:
            sys.stdout.write(text)
            sys.stdout.flush()
        if not self.session.room_to_continue(self.turn, len(self.streamed) * 16):
            self.stop.set()  # cut off: the audit log must keep room to record the answer's end

    def _interrupted(self) -> int:
        if self.turn is not None and self.turn.started:
            sys.stdout.write("\n")
            # One streamed piece is one token (llama.cpp's pieces, and the servers').
            problem = self.session.interrupt(self.turn, "".join(self.streamed), {
                **self.read, "completion_tokens": len(self.streamed),
                "finish_reason": "interrupted"})
            if problem:
                fail(problem)
        return EXIT_INTERRUPTED

    def _print_end(self, turn, answer) -> None:
        if self.args.json:
            print(json.dumps({"answer": answer.text, "library": turn.library,
                              "sources": [_source_json(c) for c in turn.sources],
                              "stats": answer.stats.as_dict()}, indent=2))
        elif turn.sources:
            print("\nSources:")
            for citation in turn.sources:
                print(f"[{citation['number']}] {citation['document']}, {citation['place']} "
                      f"(sha256 {citation['sha256'][:16]}…, passage {citation['chunk']})")
        if self.args.stats:
            print(json.dumps(answer.stats.as_dict()), file=sys.stderr)


def _connect(workspace, server_name: str, model: str | None, context_length: int):
    """The remote engine for ``model`` (None: the server's first) on a configured server."""
    from strongroom.core.inference.engine import EngineError
    from strongroom.core.remote.engine import RemoteEngine
    from strongroom.core.remote.servers import ServerError

    try:
        server = workspace.servers.get(server_name)
    except ServerError as error:
        raise EngineError(str(error)) from None
    return RemoteEngine.connect(server, workspace.servers.api_key(server), model, context_length)


def _server_or_none(workspace, name: str):
    from strongroom.core.remote.servers import ServerError

    try:
        return workspace.servers.get(name)
    except ServerError:
        return None  # not configured: nothing was attempted


def _use_library(session, workspace, name: str) -> str | None:
    """Answer from library ``name``, searched with the store's embedding model if it has
    one; the problem, in words, if that cannot be."""
    from strongroom.core.documents.library import LibraryError
    from strongroom.core.inference.engine import EngineError

    try:
        session.use_library(workspace.libraries.get(name))
        session.embedder = workspace.load_embedder()
    except LibraryError as error:
        return str(error)
    except EngineError as error:
        return f"the store's embedding model cannot be used: {error}"
    return None


def _source_json(citation: dict) -> dict:
    """A source as `chat --json` lists it: which document, where, and which passage."""
    return {"number": citation["number"], "document": citation["document"],
            "sha256": citation["sha256"], "page": citation["page"], "place": citation["place"],
            "chunk": citation["chunk"], "score": citation["score"], "text": citation["text"]}


def _not_usable(workspace, name: str) -> str:
    """Why there is no model ``name`` to chat with: it is not in the store, or no version
    of it is active yet (then the two commands that make it usable)."""
    from strongroom.core.display import printable
    from strongroom.core.store.lifecycle import LifecycleError

    try:
        states = [s for s in workspace.lifecycle.states() if s.version.name == name]
    except LifecycleError as error:
        return str(error)
    shown = printable(name)
    if not states:
        return (f"there is no model called {shown!r} in the store, and no such file; "
                "`strongroom models` lists the models you can use")
    listed = ", ".join(f"{s.version.version[:8]} ({s.state})" for s in states)
    if any(s.state == "staged" for s in states):
        return (f"{shown} is in the store but not yet usable: its version is staged, waiting to "
                f"be tested and promoted ({listed}). To make it usable:\n"
                f"    strongroom store smoke-test {shown}\n"
                f"    strongroom store promote {shown}")
    return (f"{shown} is in the store but no version of it is active ({listed}); "
            "`strongroom store list` shows them and `strongroom store promote` makes one active")


def _identify(workspace, model: str):
    """The model to load: a name from the store, a stored file, or a file elsewhere."""
    from strongroom.core.inference.identity import identify_file

    catalog = workspace.model_catalog()
    found = catalog.find(model)
    if found is not None:
        return found
    path = Path(model)
    if not path.exists():
        if "/" in model or model.endswith(".gguf"):
            return identify_file(path)  # its problem ("does not exist") is reported at load
        return None
    resolved = path.resolve()
    stored = next((e for e in catalog.entries if e.path.resolve() == resolved), None)
    return stored or identify_file(path)


def add_parser(commands) -> None:
    chat_parser = commands.add_parser(
        "chat", help="answer one prompt with a local model (or a configured server's), on stdout",
        epilog='example: strongroom chat --model SmolLM2-135M-Instruct --library Contracts '
               '"Which clauses limit liability?"')
    chat_parser.add_argument("prompt", help="the message to answer ('-' reads standard input)")
    chat_parser.add_argument("--model", default=None,
                             help="a model name from `strongroom models` (its active version), "
                                  "or a .gguf file; with --server, a model the server offers "
                                  "(default: its first)")
    chat_parser.add_argument("--server", default=None, metavar="NAME",
                             help="answer with a model on this configured inference server "
                                  "(`strongroom server list`)")
    chat_parser.add_argument("--system", default=None, help="system prompt (default: from settings)")
    chat_parser.add_argument("--max-tokens", type=setting_argument("max_tokens"), default=None,
                             help="the longest answer, in tokens (16 to 32768; default: from settings)")
    chat_parser.add_argument("--temperature", type=setting_argument("temperature"), default=None,
                             help="0 always picks the likeliest word; up to 2 (default: from settings)")
    chat_parser.add_argument("--context-length", type=setting_argument("context_length"),
                             default=None, help="tokens of conversation the model reads (256 to "
                             "262144, capped at what the model was trained on)")
    chat_parser.add_argument("--seed", type=int, default=None,
                             help="fix the sampler for repeatable answers")
    chat_parser.add_argument("--library", default=None, metavar="NAME",
                             help="answer from this document library's passages, and list the "
                                  "sources (`strongroom library list` names the libraries)")
    chat_parser.add_argument("--json", action="store_true",
                             help="print the answer and its sources as JSON (nothing streamed)")
    chat_parser.add_argument("--stats", action="store_true",
                             help="print token counts and speed to standard error")
    chat_parser.set_defaults(handler=run)
