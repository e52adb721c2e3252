"""Importing llama-cpp-python on Strongroom's terms.

Two behaviours of the library are wrong for a desktop app and are corrected here, once,
before any model is loaded:

* Importing it installs a log callback that prints llama.cpp's lines to the terminal.
  We register our own callback that forwards them to `logging` (the app log file).
  llama.cpp calls it from its own threads, and a line can arrive in pieces
  (level CONT), so pieces are joined under a lock before a record is made.
* With ``verbose=False`` the `Llama` class redirects file descriptors 1 and 2 of the
  whole process to /dev/null while a model loads, swallowing the app's own output from
  every other thread. We load with ``verbose=False`` (no prints) and replace that
  redirection with a no-op, since our callback already captures the logs.

The import is slow (numpy, the shared libraries), so it happens lazily, in the engine's
worker thread, never at app start.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
from collections import deque
from types import ModuleType

log = logging.getLogger("strongroom.llama_cpp")

# ggml_log_level: the values llama.cpp really uses (the table shipped in
# llama_cpp/_logger.py is out of date).
_GGML_LEVELS = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING,
                4: logging.ERROR}
_GGML_CONT = 5

_lock = threading.Lock()
_state = {"module": None, "pending": "", "level": logging.INFO}
_callback_ref = None  # llama.cpp keeps a raw pointer: the ctypes object must stay alive
_recent_errors: deque[str] = deque(maxlen=20)


def _forward(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    piece = text.decode("utf-8", errors="replace")
    with _lock:
        if level != _GGML_CONT:
            _state["level"] = _GGML_LEVELS.get(level, logging.INFO)
        buffered = _state["pending"] + piece
        *lines, _state["pending"] = buffered.split("\n")
        record_level = _state["level"]
    for line in lines:
        if line.strip():
            log.log(record_level, "%s", line.rstrip())
            if record_level >= logging.ERROR:
                _recent_errors.append(line.strip())


def take_recent_errors() -> list[str]:
    """llama.cpp's error lines since the last call: its exceptions rarely say more than "failed"."""
    with _lock:
        lines = list(_recent_errors)
        _recent_errors.clear()
    return lines


class _NoRedirect(contextlib.nullcontext):
    """Stands in for llama_cpp's suppress_stdout_stderr(disable=...)."""

    def __init__(self, disable: bool = True):
        super().__init__()


def llama_module() -> ModuleType:
    """Import llama_cpp (once), route its logs to `logging`, stop its fd redirection."""
    global _callback_ref
    with _lock:
        if _state["module"] is not None:
            return _state["module"]
    import llama_cpp
    import llama_cpp._internals
    import llama_cpp.llama

    for module in (llama_cpp.llama, llama_cpp._internals):
        if not hasattr(module, "suppress_stdout_stderr"):
            raise RuntimeError(
                f"{module.__name__} no longer has suppress_stdout_stderr: "
                "strongroom.core.inference.llama_runtime must be updated for this llama-cpp-python"
            )
        module.suppress_stdout_stderr = _NoRedirect
    _callback_ref = llama_cpp.llama_log_callback(_forward)
    llama_cpp.llama_log_set(_callback_ref, ctypes.c_void_p(0))
    with _lock:
        _state["module"] = llama_cpp
    log.info("llama.cpp system info: %s", llama_cpp.llama_print_system_info().decode().strip())
    return llama_cpp


def supports_gpu_offload() -> bool:
    return bool(llama_module().llama_supports_gpu_offload())


def end_of_turn_check(llm):
    """A function telling whether a token ends the model's turn (end of text, end of turn)."""
    llama_cpp = llama_module()
    vocab = llm._model.vocab  # the Llama class has no public accessor for it
    return lambda token: bool(llama_cpp.llama_vocab_is_eog(vocab, token))
