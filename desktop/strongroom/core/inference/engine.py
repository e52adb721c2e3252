"""The inference engine: one loaded GGUF model and streamed chat answers from it.

An `Engine` wraps one llama.cpp model and context. It is not thread-safe: exactly one
thread creates it, uses it and closes it (the UI's engine worker does). Only `stop_event`
may be set from another thread: it is checked after every sampled token, so a stop takes
effect within one token's time. A long prompt is read in slices (llama.cpp cannot stop
inside one evaluation), each sized to take about `READ_SLICE_S`, with the tokens read so far
reported and the stop checked between slices; what was read stays in the model's cache.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

from strongroom.core.errors import StrongroomError
from strongroom.core.inference import llama_runtime
from strongroom.core.inference.chat_template import (
    CHATML_TEMPLATE,
    ChatTemplate,
    ChatTemplateError,
)
from strongroom.core.inference.context_window import (
    ContextOverflowError,
    FittedPrompt,
    fit_conversation,
)
from strongroom.core.inference.gguf_header import GGUFError, GGUFInfo, read_gguf_info
from strongroom.core.inference.identity import LoadedModel, ModelIdentity
from strongroom.core.inference.template_sandbox import RenderStopped, TemplateSandbox
from strongroom.core.settings import AUTO

log = logging.getLogger(__name__)

_READ_CHUNK = 16 * 1024 * 1024
READ_IN_SLICES_FROM = 128  # new prompt tokens; fewer are read in one go
READ_SLICE_S = 0.2  # each slice of a long prompt takes about this long, then a stop is seen
FIRST_SLICE = 32  # tokens, before the reading speed is known
STOPPED_READING = "stopped while reading"  # finish_reason of an answer stopped before its first token
# llama.cpp's compute buffers and runtime come on top of weights and KV cache.
_RUNTIME_OVERHEAD = 256 * 1024 * 1024


class EngineError(StrongroomError):
    """A failure the user can act on; the message is written for them."""


@dataclass(frozen=True)
class LoadOptions:
    context_length: int = 4096
    threads: int = 0  # 0: choose from the CPU count
    batch_size: int = 512
    gpu_layers: int = AUTO

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> "LoadOptions":
        return cls(values["context_length"], values["threads"], values["batch_size"],
                   values["gpu_layers"])


@dataclass(frozen=True)
class SamplingOptions:
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    max_tokens: int = 1024
    seed: int | None = None

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> "SamplingOptions":
        return cls(values["temperature"], values["top_p"], values["top_k"], values["min_p"],
                   values["repeat_penalty"], values["max_tokens"])


@dataclass(frozen=True)
class AnswerStats:
    prompt_tokens: int | None  # None: a server that did not report it
    completion_tokens: int
    time_to_first_token_s: float | None
    tokens_per_second: float | None
    total_s: float
    stopped: bool
    finish_reason: str  # "stop" (model ended), "length" (max tokens), "user" (stopped)
    dropped_messages: int
    # A remote answer that ended early (connection lost, server silent): why, in words.
    incomplete: str | None = None
    # A remote answer: the server's model name and certificate, as this answer saw them.
    server_model: str | None = None
    server_certificate: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    text: str
    stats: AnswerStats


ProgressCallback = Callable[[str, "float | None"], None]


def default_threads() -> int:
    """Generation threads: all usable CPUs on small machines, physical cores on larger ones."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    usable = usable or 1
    return usable if usable <= 4 else usable // 2


def available_memory_bytes() -> int | None:
    """Memory the system can give us without swapping (Linux MemAvailable), if known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: int) -> str:
    return f"{n / 1024**3:.1f} GB"


def tokens_per_second(tokens: int, first_at: float | None, last_at: float | None) -> float | None:
    """How fast an answer was written: the tokens after the first, over the time from the
    first to the last (None with fewer than two, or no time between them)."""
    if first_at is None or last_at is None or last_at <= first_at or tokens < 2:
        return None
    return (tokens - 1) / (last_at - first_at)


def changed_since_import(path: Path, sha256: str, recorded: str, refused: str) -> str:
    """Why a stored model file whose bytes no longer hash to the store's record is refused
    (``refused``: what Strongroom will not do with it, "load", "use", "serve")."""
    return (f"{path.name} is not the file that was imported: its bytes hash to {sha256}, but "
            f"the store recorded {recorded}. It was changed on this computer after the "
            f"import, so Strongroom will not {refused} it. Import the model again from its "
            "verified drive, and tell your security officer.")


def check_memory(info: GGUFInfo, n_ctx: int, available: int | None) -> None:
    """Refuse a CPU load that cannot fit in memory, before llama.cpp tries."""
    if available is None:
        return
    needed = info.file_size + info.kv_cache_bytes(n_ctx) + _RUNTIME_OVERHEAD
    if needed > available:
        raise EngineError(
            f"{info.path.name} needs about {_gib(needed)} of memory to run, but only "
            f"{_gib(available)} is free. Close other programs, lower the context length in "
            "Settings, or choose a smaller model (a smaller quantization of the same model works)."
        )


class ChatEngine(Protocol):
    """What the chat session, the window's engine thread and `strongroom chat` need from an
    engine: `Engine` (a model on this computer) and `remote.engine.RemoteEngine` (a model
    on the firm's inference server)."""

    n_ctx: int

    def loaded_model(self, identity: ModelIdentity) -> LoadedModel: ...

    def chat(self, messages: Sequence[dict[str, str]], sampling: SamplingOptions,
             stop_event: threading.Event, on_text: Callable[[str], None],
             on_prompt_ready: Callable[[int, int], None] | None = None, *,
             continue_text: str | None = None,
             shrink: Callable[[], Sequence[dict[str, str]] | None] | None = None,
             on_reading: Callable[[int, int], None] | None = None) -> Answer: ...

    def close(self) -> None: ...


class Engine:
    """A loaded model. Create with `Engine.load`; close with `close`."""

    def __init__(self, llm, info: GGUFInfo, options: LoadOptions, gpu_layers: int,
                 fallback_reason: str | None, model_sha256: str | None = None,
                 template: "ChatTemplate | TemplateSandbox | None" = None):
        self._llm = llm
        self.info = info
        self.model_sha256 = model_sha256
        self.options = options
        self.gpu_layers = gpu_layers
        self.fallback_reason = fallback_reason
        self.n_ctx = llm.n_ctx()
        bos = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() >= 0 else ""
        eos = llm._model.token_get_text(llm.token_eos()) if llm.token_eos() >= 0 else ""
        self._add_bos = bool(info.metadata.get("tokenizer.ggml.add_bos_token", False))
        self._bos_text = bos
        self.template_is_guess = info.chat_template is None
        self._template = template or _template_for(info)
        self._template.bos_token, self._template.eos_token = bos, eos
        self._eos_text = eos

    # -- loading -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | str, options: LoadOptions = LoadOptions(),
             progress: ProgressCallback | None = None,
             memory_available: Callable[[], int | None] = available_memory_bytes,
             expected_sha256: str | None = None) -> "Engine":
        """Load the GGUF at ``path`` and hash the bytes llama.cpp loads, both at once.

        The file is opened once; the header check, llama.cpp and the hash all read that
        open file (not the path again), so what is hashed is what is loaded. With
        ``expected_sha256`` (the store's record) a different hash refuses the load.
        """
        path = Path(path)
        report = progress or (lambda stage, fraction: None)
        report("Checking the model file", None)
        with OpenModel(path) as model_file:
            try:
                info = read_gguf_info(model_file.load_path, display_path=path)
            except GGUFError as error:
                raise EngineError(f"This file cannot be used as a model. {error}") from None
            n_ctx = min(options.context_length, info.context_length or options.context_length)
            llama_cpp = llama_runtime.llama_module()
            offload = options.gpu_layers != 0 and llama_cpp.llama_supports_gpu_offload()
            requested_layers = (-1 if options.gpu_layers == AUTO else options.gpu_layers) if offload else 0
            if not offload:
                check_memory(info, n_ctx, memory_available())

            template = _template_for(info)  # its process starts while llama.cpp loads
            try:
                llm, requested_layers, fallback_reason, sha256 = _load_and_hash(
                    model_file, path, info, options, n_ctx, requested_layers,
                    memory_available, report)
            except BaseException:
                _close_template(template)
                raise
        if expected_sha256 is not None and sha256 != expected_sha256:
            llm.close()
            _close_template(template)
            raise EngineError(changed_since_import(path, sha256, expected_sha256, "load"))
        layers = info.block_count + 1 if requested_layers == -1 else requested_layers
        engine = cls(llm, info, options, min(layers, info.block_count + 1), fallback_reason, sha256,
                     template)
        log.info("Loaded %s: n_ctx=%d, gpu_layers=%d", path, engine.n_ctx, engine.gpu_layers)
        return engine

    @property
    def device_label(self) -> str:
        return f"GPU ({self.gpu_layers} layers)" if self.gpu_layers else "CPU"

    def loaded_model(self, identity: ModelIdentity) -> LoadedModel:
        """What this load of ``identity`` is, for the window and the audit log."""
        return LoadedModel(identity, self.device_label, self.n_ctx, self.fallback_reason,
                           self.template_is_guess, self.model_sha256)

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None
        _close_template(self._template)

    # -- prompts ---------------------------------------------------------------------------

    def _tokenize_messages(self, messages: Sequence[dict[str, str]],
                           stop_event: threading.Event | None = None,
                           continue_text: str | None = None) -> list[int]:
        text = self._template.render(messages, add_generation_prompt=True, stop_event=stop_event)
        add_bos = self._add_bos and not (self._bos_text and text.startswith(self._bos_text))
        # An answer being continued follows the start of the answer, as if the model had
        # just written it (one text, so no second BOS and the usual merges at the join).
        text += continue_text or ""
        return self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def fit(self, messages: Sequence[dict[str, str]], max_tokens: int,
            stop_event: threading.Event | None = None,
            continue_text: str | None = None) -> FittedPrompt:
        """The prompt tokens for ``messages`` (followed by ``continue_text``, the start of
        the answer, when one is continued), dropping old turns to leave room for the answer.
        Raises RenderStopped when ``stop_event`` is set while the template renders."""
        answer_room = min(max_tokens, self.n_ctx // 2)
        try:
            return fit_conversation(
                messages, lambda m: self._tokenize_messages(m, stop_event, continue_text),
                self.n_ctx - answer_room)
        except ChatTemplateError as error:
            raise EngineError(f"This model cannot hold a conversation: {error}.") from None

    # -- answering -------------------------------------------------------------------------

    def chat(self, messages: Sequence[dict[str, str]], sampling: SamplingOptions,
             stop_event: threading.Event, on_text: Callable[[str], None],
             on_prompt_ready: Callable[[int, int], None] | None = None, *,
             continue_text: str | None = None,
             shrink: Callable[[], Sequence[dict[str, str]] | None] | None = None,
             on_reading: Callable[[int, int], None] | None = None) -> Answer:
        """Stream an answer to ``messages`` through ``on_text``; return it with its figures.

        ``on_prompt_ready(prompt_tokens, dropped_messages)`` is called before the model
        starts reading the prompt, and ``on_reading(tokens_read, prompt_tokens)`` after each
        slice of a long one (a stop while it reads ends the answer there, with no text and
        the finish reason `STOPPED_READING`). With ``continue_text`` (the text of an answer that was
        stopped; ``messages`` end before it), the model goes on from that text, and the
        answer streamed and returned is only what it adds. When even the system message
        and the newest message overflow the context, ``shrink()`` (if given) offers a
        shorter prompt (fewer document passages), until it offers none.
        """
        if self._llm is None:
            raise EngineError("The model has been closed; load it again.")
        started = time.perf_counter()
        while True:
            try:
                prompt = self.fit(messages, sampling.max_tokens, stop_event, continue_text)
                break
            except ContextOverflowError as error:
                shorter = shrink() if shrink is not None else None
                if shorter is None:
                    raise EngineError(str(error)) from None
                messages = shorter
            except RenderStopped:  # stopped before the model read anything
                return Answer("", AnswerStats(0, 0, None, None, time.perf_counter() - started,
                                              True, "user", 0))
        if on_prompt_ready is not None:
            on_prompt_ready(len(prompt.tokens), prompt.dropped_messages)
        if not self._read_prompt(prompt.tokens, stop_event, on_reading):
            return Answer("", AnswerStats(len(prompt.tokens), 0, None, None,
                                          time.perf_counter() - started, True, STOPPED_READING,
                                          prompt.dropped_messages))

        llm = self._llm
        if sampling.seed is not None:
            llm.set_seed(sampling.seed)
        is_end_of_turn = llama_runtime.end_of_turn_check(llm)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        max_tokens = min(sampling.max_tokens, self.n_ctx - len(prompt.tokens))
        pieces: list[str] = []
        first_token_at = last_token_at = None
        generated = 0
        finish_reason = "user"  # unless the loop below ends otherwise
        tokens = llm.generate(
            prompt.tokens,
            temp=sampling.temperature,
            top_p=sampling.top_p,
            top_k=sampling.top_k,
            min_p=sampling.min_p,
            repeat_penalty=sampling.repeat_penalty,
            # Checked after every sampled token: a stop takes effect within one token.
            stopping_criteria=llama_runtime.llama_module().StoppingCriteriaList(
                [lambda _ids, _logits: stop_event.is_set()]),
        )
        for token in tokens:
            if is_end_of_turn(token):
                finish_reason = "stop"
                break
            generated += 1
            text = decoder.decode(llm.detokenize([token]))
            if first_token_at is None and not continue_text:
                text = text.lstrip(" ")  # word-initial tokens carry the space before the word
            if text:
                last_token_at = time.perf_counter()
                if first_token_at is None:
                    first_token_at = last_token_at
                pieces.append(text)
                on_text(text)
            if generated >= max_tokens:
                finish_reason = "length"
                break
        tokens.close()
        tail = decoder.decode(b"", final=True)
        if tail:
            pieces.append(tail)
            on_text(tail)
        ended = time.perf_counter()

        stopped = finish_reason == "user"
        stats = AnswerStats(
            prompt_tokens=len(prompt.tokens),
            completion_tokens=generated,
            time_to_first_token_s=None if first_token_at is None else first_token_at - started,
            tokens_per_second=tokens_per_second(generated, first_token_at, last_token_at),
            total_s=ended - started,
            stopped=stopped,
            finish_reason=finish_reason,
            dropped_messages=prompt.dropped_messages,
        )
        return Answer("".join(pieces), stats)


    def _read_prompt(self, tokens: list[int], stop_event: threading.Event,
                     on_reading: Callable[[int, int], None] | None) -> bool:
        """Read the prompt's tokens that the model does not hold yet, but its last (which
        `Llama.generate` reads, for the logits it samples from), in slices; False when
        stopped. What the model holds from an earlier answer is kept up to the first token
        that differs, as `Llama.generate` keeps it."""
        llm = self._llm
        target = len(tokens) - 1
        held = min(llm.n_tokens, target)
        common = 0
        if held > 0:
            same = llm.input_ids[:held] == tokens[:held]
            common = held if same.all() else int(same.argmin())
        if target - common < READ_IN_SLICES_FROM:
            return True  # short: `generate` reads it at once
        llm.n_tokens = common  # `Llama.eval` drops what the cache holds after this
        position, step = common, FIRST_SLICE
        while position < target:
            if stop_event.is_set():
                return False
            end = min(position + step, target)
            began = time.perf_counter()
            llm.eval(tokens[position:end])
            seconds = time.perf_counter() - began
            position = end
            if on_reading is not None:
                on_reading(position, len(tokens))
            if seconds > 0:  # the next slice takes about READ_SLICE_S at this speed
                step = max(8, min(int(step / seconds * READ_SLICE_S), llm.n_batch))
        return not stop_event.is_set()


def _load_and_hash(model_file: "OpenModel", path: Path, info: GGUFInfo, options: LoadOptions,
                   n_ctx: int, requested_layers: int, memory_available, report: ProgressCallback):
    """llama.cpp loads the open file while another thread hashes it.
    Returns (llm, layers requested, fallback reason, sha256)."""
    hashing = BackgroundHash(model_file.fd, info.file_size, report)
    try:
        llm, requested_layers, fallback_reason = _start_llama(
            model_file.load_path, path, info, options, n_ctx, requested_layers,
            memory_available, report)
    except BaseException:
        hashing.cancel()
        raise
    try:
        return llm, requested_layers, fallback_reason, hashing.result()
    except BaseException:
        llm.close()
        raise


def _template_for(info: GGUFInfo) -> "ChatTemplate | TemplateSandbox":
    """The built-in template (trusted, rendered here) or the model's own (untrusted:
    rendered in a limited child process, started now)."""
    if info.chat_template is None:
        return ChatTemplate(CHATML_TEMPLATE)
    sandbox = TemplateSandbox(info.chat_template)
    sandbox.start()
    return sandbox


def _close_template(template) -> None:
    if isinstance(template, TemplateSandbox):
        template.close()


def _create_llama(load_path: str, options: LoadOptions, n_ctx: int, gpu_layers: int):
    llama_cpp = llama_runtime.llama_module()
    threads = options.threads or default_threads()
    return llama_cpp.Llama(
        model_path=load_path,
        n_ctx=n_ctx,
        n_batch=min(options.batch_size, n_ctx),
        n_threads=threads,
        n_threads_batch=max(threads, os.cpu_count() or threads),
        n_gpu_layers=gpu_layers,
        verbose=False,
    )


def _start_llama(load_path: str, path: Path, info: GGUFInfo, options: LoadOptions, n_ctx: int,
                 requested_layers: int, memory_available, report: ProgressCallback):
    """Create the Llama object, on the GPU if asked and possible, else on the CPU (saying why).
    Returns (llm, layers requested, fallback reason)."""
    report("Starting llama.cpp", None)
    llama_runtime.take_recent_errors()
    try:
        return _create_llama(load_path, options, n_ctx, requested_layers), requested_layers, None
    except Exception as error:
        if requested_layers == 0:
            raise EngineError(_load_failure_message(path, error)) from None
        fallback_reason = (f"The GPU could not load this model ({_last_error(error)}); "
                           "it runs on the CPU instead, which is slower.")
        log.warning("GPU load of %s failed, falling back to CPU: %s", path, error)
    check_memory(info, n_ctx, memory_available())
    report("Starting llama.cpp on the CPU", None)
    try:
        return _create_llama(load_path, options, n_ctx, 0), 0, fallback_reason
    except Exception as cpu_error:
        raise EngineError(_load_failure_message(path, cpu_error)) from None


class OpenModel:
    """The model file, opened once. ``load_path`` names that open file for llama.cpp
    (/proc/self/fd/N), so a file swapped in under the same name after the open is never
    loaded. A split model (…-00001-of-000NN.gguf) is loaded by its path: llama.cpp finds
    the other parts beside it."""

    def __init__(self, path: Path):
        self.path = path
        self.fd = -1
        self.load_path = str(path)

    def __enter__(self) -> "OpenModel":
        try:
            # O_NONBLOCK: opening a FIFO must not hang waiting for a writer.
            self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            raise EngineError(f"This file cannot be used as a model. {self.path}: the file "
                              "does not exist") from None
        except OSError as error:
            raise EngineError(f"This file cannot be used as a model. {self.path}: it cannot "
                              f"be opened ({error.strerror})") from None
        os.set_blocking(self.fd, True)
        by_fd = f"/proc/self/fd/{self.fd}"
        if os.path.exists(by_fd) and not _SPLIT_PART.search(self.path.name):
            self.load_path = by_fd
        return self

    def __exit__(self, *_exc) -> None:
        os.close(self.fd)


_SPLIT_PART = re.compile(r"-\d{5}-of-\d{5}\.gguf$")


class BackgroundHash:
    """Hashes the open model file on its own thread while llama.cpp loads it, reporting the
    bytes read (the only real progress a load has: llama-cpp-python exposes no callback).
    Reading it also brings the file into the page cache, which llama.cpp maps."""

    def __init__(self, fd: int, size: int, report: ProgressCallback):
        self._fd, self._size, self._report = fd, size, report
        self._cancel = threading.Event()
        self._digest: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="strongroom-model-hash")
        self._thread.start()

    def _run(self) -> None:
        try:
            digest = hashlib.sha256()
            buffer = bytearray(_READ_CHUNK)
            view = memoryview(buffer)
            done = 0
            while not self._cancel.is_set():
                n = os.preadv(self._fd, [view], done)
                if not n:
                    break
                digest.update(view[:n])  # releases the GIL: llama.cpp loads meanwhile
                done += n
                self._report("Loading and checking the model file",
                             min(done / self._size, 1.0) if self._size else 1.0)
            self._digest = digest.hexdigest()
        except BaseException as error:  # handed to the loading thread in result()
            self._error = error

    def cancel(self) -> None:
        self._cancel.set()
        self._thread.join()

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise EngineError(f"The model file could not be read ({self._error}).")
        return self._digest


def _last_error(error: Exception) -> str:
    """The most specific reason llama.cpp logged for ``error``."""
    lines = llama_runtime.take_recent_errors()
    reasons = [line.rsplit("error loading model: ", 1)[-1] for line in lines
               if "error loading model: " in line]
    return reasons[-1] if reasons else (lines[-1] if lines else str(error))


def _load_failure_message(path: Path, error: Exception) -> str:
    return (f"llama.cpp could not load {path.name}: {_last_error(error)}. The file may be "
            "damaged, or made for a newer llama.cpp than this version of Strongroom.")
