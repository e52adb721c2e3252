"""The engine's thread: one worker QObject that owns the model for its whole life.

`EngineWorker` lives on its own QThread and is the only code that touches the `Engine`
(create, use, close). The GUI talks to it through `EngineHost`, which only emits queued
signals; the one exception is stopping, which sets the request's `threading.Event`
directly because a queued "stop" slot would run only after the answer had finished.

Answer text is sent to the GUI in batches: at most one `textReady` per frame (~60 a
second), however fast the model writes.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from strongroom.core.inference.engine import (
    ChatEngine,
    Engine,
    EngineError,
    LoadOptions,
    SamplingOptions,
)
from strongroom.core.inference.identity import ModelIdentity
from strongroom.core.remote.engine import RemoteEngine
from strongroom.core.remote.servers import ServerError, ServerList

log = logging.getLogger(__name__)

FRAME_SECONDS = 1 / 60


@dataclass
class GenerationRequest:
    request_id: int
    messages: list[dict[str, str]]
    sampling: SamplingOptions
    stop_event: threading.Event = field(default_factory=threading.Event)
    continue_text: str | None = None  # a stopped answer the model goes on writing
    shrink: Callable[[], list | None] | None = None  # fewer passages, if the prompt overflows


class EngineWorker(QObject):
    """Runs on the engine thread. Never call its slots directly from the GUI thread.

    Signals:
        catalogReady(object): a `store.catalog.Catalog` after `scan`.
        loadProgress(str, float): stage text and fraction done (-1 when unknown).
        loaded(object): a `LoadedModel`.
        loadFailed(object, str): the `ModelIdentity` that could not be loaded, and why (for the user).
        promptStarted(int, int, int): request id, prompt tokens, messages dropped to fit.
        promptRead(int, int, int): request id, prompt tokens read so far, of how many.
        textReady(int, str): request id, new answer text since the last signal.
        answerFinished(int, object): request id, the `engine.Answer`.
        answerFailed(int, str): request id, why there is no answer, for the user.
    """

    catalogReady = Signal(object)
    loadProgress = Signal(str, float)
    loaded = Signal(object)
    loadFailed = Signal(object, str)
    promptStarted = Signal(int, int, int)
    promptRead = Signal(int, int, int)
    textReady = Signal(int, str)
    answerFinished = Signal(int, object)
    answerFailed = Signal(int, str)
    smokeTested = Signal(object, object)

    def __init__(self) -> None:
        super().__init__()
        self._engine: ChatEngine | None = None
        self.servers: ServerList | None = None  # the configured servers, for their models

    @Slot(object)
    def scan(self, scanner) -> None:
        self.catalogReady.emit(scanner())

    @Slot(object, object)
    def load(self, identity: ModelIdentity, options: LoadOptions) -> None:
        self._close_engine()
        try:
            if identity.server is not None:
                self._engine = self._connect(identity, options)
            else:
                self._engine = Engine.load(
                    identity.path, options,
                    progress=lambda stage, fraction: self.loadProgress.emit(
                        stage, -1.0 if fraction is None else fraction),
                    expected_sha256=identity.sha256,
                )
        except EngineError as error:
            self.loadFailed.emit(identity, str(error))
            return
        except Exception as error:  # never let the worker thread die silently
            log.exception("unexpected failure loading %s", identity.path)
            self.loadFailed.emit(identity, f"The model could not be loaded: {error}")
            return
        self.loaded.emit(self._engine.loaded_model(identity))

    def _connect(self, identity: ModelIdentity, options: LoadOptions) -> RemoteEngine:
        """A model on a configured server: its certificate, key and model checked."""
        self.loadProgress.emit(f"Connecting to {identity.server}", -1.0)
        if self.servers is None:
            raise EngineError("No inference server is configured on this workstation.")
        try:
            server = self.servers.get(identity.server)
        except ServerError as error:
            raise EngineError(str(error)) from None
        return RemoteEngine.connect(server, self.servers.api_key(server), identity.model_id,
                                    options.context_length)

    @Slot(object)
    def generate(self, request: GenerationRequest) -> None:
        if self._engine is None:
            self.answerFailed.emit(request.request_id, "No model is loaded. Choose a model first.")
            return
        pending: list[str] = []
        last_emit = [0.0]

        def on_text(text: str) -> None:
            pending.append(text)
            now = time.monotonic()
            if now - last_emit[0] >= FRAME_SECONDS:
                last_emit[0] = now
                self.textReady.emit(request.request_id, "".join(pending))
                pending.clear()

        def on_prompt_ready(prompt_tokens: int, dropped: int) -> None:
            self.promptStarted.emit(request.request_id, prompt_tokens, dropped)

        def on_reading(read: int, total: int) -> None:
            self.promptRead.emit(request.request_id, read, total)

        try:
            answer = self._engine.chat(request.messages, request.sampling, request.stop_event,
                                       on_text, on_prompt_ready,
                                       continue_text=request.continue_text,
                                       shrink=request.shrink, on_reading=on_reading)
        except EngineError as error:
            self.answerFailed.emit(request.request_id, str(error))
            return
        except Exception as error:
            log.exception("unexpected failure while answering")
            self.answerFailed.emit(request.request_id, f"The model failed while answering: {error}")
            return
        if pending:
            self.textReady.emit(request.request_id, "".join(pending))
        self.answerFinished.emit(request.request_id, answer)

    @Slot(object, object)
    def smoke_test(self, version, options: LoadOptions) -> None:
        """Load ``version`` beside the current model and run the smoke test on it."""
        from strongroom.core.store.smoke_test import run_smoke_test

        try:
            result = run_smoke_test(version, options)
        except Exception as error:  # never let the worker thread die silently
            log.exception("unexpected failure in the smoke test of %s", version.store_id)
            result = {"passed": False, "problems": [f"the test itself failed: {error}"]}
        self.smokeTested.emit(version, result)

    @Slot()
    def unload(self) -> None:
        self._close_engine()

    def _close_engine(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


class EngineHost(QObject):
    """The GUI thread's handle on the engine thread: starts it, sends it work, stops it."""

    _scanRequested = Signal(object)
    _loadRequested = Signal(object, object)
    _generateRequested = Signal(object)
    _unloadRequested = Signal()
    _smokeTestRequested = Signal(object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("strongroom-engine")
        self.worker = EngineWorker()
        self.worker.moveToThread(self.thread)
        self._scanRequested.connect(self.worker.scan)
        self._loadRequested.connect(self.worker.load)
        self._generateRequested.connect(self.worker.generate)
        self._unloadRequested.connect(self.worker.unload)
        self._smokeTestRequested.connect(self.worker.smoke_test)
        self.thread.finished.connect(self.worker.deleteLater)
        self._active: GenerationRequest | None = None
        self._next_id = 0
        self.thread.start()

    def scan(self, scanner) -> None:
        self._scanRequested.emit(scanner)

    def load(self, identity: ModelIdentity, options: LoadOptions) -> None:
        self._loadRequested.emit(identity, options)

    def generate(self, messages: list[dict[str, str]], sampling: SamplingOptions,
                 continue_text: str | None = None, shrink=None) -> int:
        """Ask for an answer; ``shrink`` as `Engine.chat` takes it (runs on the engine thread)."""
        self._next_id += 1
        self._active = GenerationRequest(self._next_id, list(messages), sampling,
                                         continue_text=continue_text, shrink=shrink)
        self._generateRequested.emit(self._active)
        return self._next_id

    def smoke_test(self, version, options: LoadOptions) -> None:
        self._smokeTestRequested.emit(version, options)

    def unload(self) -> None:
        self._unloadRequested.emit()

    def stop(self) -> None:
        """Ask the current answer to stop; it ends within one token, or one slice of the
        prompt while the model reads it."""
        if self._active is not None:
            self._active.stop_event.set()

    def finished(self, request_id: int) -> None:
        if self._active is not None and self._active.request_id == request_id:
            self._active = None

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop any answer, close the model on its own thread, end the thread."""
        if not self.thread.isRunning():
            return True
        self.stop()
        self._unloadRequested.emit()
        self.thread.quit()
        if not self.thread.wait(timeout_ms):
            return False
        # quit() can end the thread's loop before the queued unload runs (a model was
        # still loading): the thread is gone now, so the model is closed from here.
        self.worker._close_engine()
        return True
