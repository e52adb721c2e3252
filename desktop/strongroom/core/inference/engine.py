"""The inference engine: one loaded GGUF model and streamed chat answers from it.

An `Engine` wraps one llama.cpp model and context. It is not thread-safe: exactly one
thread creates it, uses it and closes it (the UI's engine worker does). Only `stop_event`
may be set from another thread: it is checked after every sampled token, so a stop takes
effect within one token's time. Reading the prompt (prompt evaluation) cannot be
interrupted by llama.cpp; callers are told when it starts so they can say so.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from strongroom.core.inference import llama_runtime
from strongroom.core.inference.chat_template import CHATML_TEMPLATE, ChatTemplate, ChatTemplateError
from strongroom.core.inference.context_window import ContextOverflowError, FittedPrompt, fit_conversation
from strongroom.core.inference.gguf_header import GGUFError, GGUFInfo, read_gguf_info
from strongroom.core.settings import AUTO

log = logging.getLogger(__name__)

_READ_CHUNK = 16 * 1024 * 1024
# llama.cpp's compute buffers and runtime come on top of weights and KV cache.
_RUNTIME_OVERHEAD = 256 * 1024 * 1024


class EngineError(Exception):
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
    prompt_tokens: int
    completion_tokens: int
    time_to_first_token_s: float | None
    tokens_per_second: float | None
    total_s: float
    stopped: bool
    finish_reason: str  # "stop" (model ended), "length" (max tokens), "user" (stopped)
    dropped_messages: int

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


class Engine:
    """A loaded model. Create with `Engine.load`; close with `close`."""

    def __init__(self, llm, info: GGUFInfo, options: LoadOptions, gpu_layers: int,
                 fallback_reason: str | None, model_sha256: str | None = None):
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
        self._template = ChatTemplate(info.chat_template or CHATML_TEMPLATE, bos, eos)
        self._eos_text = eos

    # -- loading -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | str, options: LoadOptions = LoadOptions(),
             progress: ProgressCallback | None = None,
             memory_available: Callable[[], int | None] = available_memory_bytes,
             known_sha256: str | None = None) -> "Engine":
        """Load the GGUF at ``path``. Its SHA-256 (for the audit log) is ``known_sha256``
        when the store already vouches for it, else computed while the file is read."""
        path = Path(path)
        report = progress or (lambda stage, fraction: None)
        report("Checking the model file", None)
        try:
            info = read_gguf_info(path)
        except GGUFError as error:
            raise EngineError(f"This file cannot be used as a model. {error}") from None

        n_ctx = min(options.context_length, info.context_length or options.context_length)
        llama_cpp = llama_runtime.llama_module()
        offload = options.gpu_layers != 0 and llama_cpp.llama_supports_gpu_offload()
        requested_layers = (-1 if options.gpu_layers == AUTO else options.gpu_layers) if offload else 0
        if not offload:
            check_memory(info, n_ctx, memory_available())

        sha256 = _read_with_progress(path, info.file_size, report, hash_it=known_sha256 is None)
        sha256 = known_sha256 or sha256
        report("Starting llama.cpp", None)
        llama_runtime.take_recent_errors()
        fallback_reason = None
        try:
            llm = _create_llama(path, options, n_ctx, requested_layers)
        except Exception as error:
            if requested_layers == 0:
                raise EngineError(_load_failure_message(path, error)) from None
            fallback_reason = (f"The GPU could not load this model ({_last_error(error)}); "
                               "it runs on the CPU instead, which is slower.")
            log.warning("GPU load of %s failed, falling back to CPU: %s", path, error)
            check_memory(info, n_ctx, memory_available())
            report("Starting llama.cpp on the CPU", None)
            try:
                llm = _create_llama(path, options, n_ctx, 0)
            except Exception as cpu_error:
                raise EngineError(_load_failure_message(path, cpu_error)) from None
            requested_layers = 0
        layers = info.block_count + 1 if requested_layers == -1 else requested_layers
        engine = cls(llm, info, options, min(layers, info.block_count + 1), fallback_reason, sha256)
        log.info("Loaded %s: n_ctx=%d, gpu_layers=%d", path, engine.n_ctx, engine.gpu_layers)
        return engine

    @property
    def device_label(self) -> str:
        return f"GPU ({self.gpu_layers} layers)" if self.gpu_layers else "CPU"

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    # -- prompts ---------------------------------------------------------------------------

    def _tokenize_messages(self, messages: Sequence[dict[str, str]]) -> list[int]:
        text = self._template.render(messages, add_generation_prompt=True)
        add_bos = self._add_bos and not (self._bos_text and text.startswith(self._bos_text))
        return self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def fit(self, messages: Sequence[dict[str, str]], max_tokens: int) -> FittedPrompt:
        """The prompt tokens for ``messages``, dropping old turns to leave room for the answer."""
        answer_room = min(max_tokens, self.n_ctx // 2)
        try:
            return fit_conversation(messages, self._tokenize_messages, self.n_ctx - answer_room)
        except ChatTemplateError as error:
            raise EngineError(f"This model cannot hold a conversation: {error}.") from None

    # -- answering -------------------------------------------------------------------------

    def chat(self, messages: Sequence[dict[str, str]], sampling: SamplingOptions,
             stop_event: threading.Event, on_text: Callable[[str], None],
             on_prompt_ready: Callable[[int, int], None] | None = None) -> Answer:
        """Stream an answer to ``messages`` through ``on_text``; return it with its figures.

        ``on_prompt_ready(prompt_tokens, dropped_messages)`` is called before the model
        starts reading the prompt.
        """
        if self._llm is None:
            raise EngineError("The model has been closed; load it again.")
        started = time.perf_counter()
        try:
            prompt = self.fit(messages, sampling.max_tokens)
        except ContextOverflowError as error:
            raise EngineError(str(error)) from None
        if on_prompt_ready is not None:
            on_prompt_ready(len(prompt.tokens), prompt.dropped_messages)

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
            if first_token_at is None:
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
        rate = None
        if first_token_at is not None and last_token_at > first_token_at and generated > 1:
            rate = (generated - 1) / (last_token_at - first_token_at)
        stats = AnswerStats(
            prompt_tokens=len(prompt.tokens),
            completion_tokens=generated,
            time_to_first_token_s=None if first_token_at is None else first_token_at - started,
            tokens_per_second=rate,
            total_s=ended - started,
            stopped=stopped,
            finish_reason=finish_reason,
            dropped_messages=prompt.dropped_messages,
        )
        return Answer("".join(pieces), stats)


def _create_llama(path: Path, options: LoadOptions, n_ctx: int, gpu_layers: int):
    llama_cpp = llama_runtime.llama_module()
    threads = options.threads or default_threads()
    return llama_cpp.Llama(
        model_path=str(path),
        n_ctx=n_ctx,
        n_batch=min(options.batch_size, n_ctx),
        n_threads=threads,
        n_threads_batch=max(threads, os.cpu_count() or threads),
        n_gpu_layers=gpu_layers,
        verbose=False,
    )


def _read_with_progress(path: Path, size: int, report: ProgressCallback,
                        hash_it: bool) -> str | None:
    """Read the file once so llama.cpp maps it from the page cache, reporting bytes read
    (and hashing them, if asked). Returns the SHA-256 when hashed.

    This is the part of a load that takes time on a cold disk, and the only part that
    can report real progress (llama-cpp-python exposes no load progress callback).
    """
    digest = hashlib.sha256() if hash_it else None
    done = 0
    with open(path, "rb", buffering=0) as model_file:
        buffer = bytearray(_READ_CHUNK)
        view = memoryview(buffer)
        while True:
            n = model_file.readinto(view)
            if not n:
                break
            done += n
            if digest is not None:
                digest.update(view[:n])
            report("Reading the model file", min(done / size, 1.0) if size else 1.0)
    return digest.hexdigest() if digest is not None else None


def _last_error(error: Exception) -> str:
    """The most specific reason llama.cpp logged for ``error``."""
    lines = llama_runtime.take_recent_errors()
    reasons = [line.rsplit("error loading model: ", 1)[-1] for line in lines
               if "error loading model: " in line]
    return reasons[-1] if reasons else (lines[-1] if lines else str(error))


def _load_failure_message(path: Path, error: Exception) -> str:
    return (f"llama.cpp could not load {path.name}: {_last_error(error)}. The file may be "
            "damaged, or made for a newer llama.cpp than this version of Strongroom.")
