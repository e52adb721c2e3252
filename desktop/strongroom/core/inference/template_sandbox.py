"""Rendering a model's own chat template where a hostile one cannot hang or exhaust the app.

Jinja's sandbox keeps a template away from Python's internals, but not from time and
memory: nested ``range(100000)`` loops run for hours, ``'x' * 10**10`` asks for 10 GB. So
a model's template is rendered by a child process (`strongroom _render-templates`,
started isolated by `core.isolated`) that holds the compiled template and answers one
render per request line. The parent waits for each answer under a time limit and the
caller's stop event; when either runs out the child is killed and started again on the
next render. The child's memory is limited, so a flood ends there as a refusal.

`check_template` is the import's check of the same kind, run inside the isolated header
check: the template must render sample conversations within a small budget.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from typing import Sequence

from strongroom.core.inference.chat_template import (
    ChatTemplate,
    ChatTemplateError,
    TemplateOverBudget,
    TemplateUnsafe,
)
from strongroom.core.isolated import start_isolated

CHILD_COMMAND = "_render-templates"  # `strongroom _render-templates`: the child's entry
RENDER_TIMEOUT_S = 5.0  # real templates render in milliseconds
START_TIMEOUT_S = 60.0  # the child imports Jinja first; a busy machine can be slow
CHILD_MEMORY_BYTES = 1024**3
CHILD_CPU_SECONDS = 24 * 3600  # the wall-clock limit per render is what bounds a render
IMPORT_CHECK_BUDGET_S = 2.0

_KINDS = {"error": ChatTemplateError, "unsafe": TemplateUnsafe, "budget": TemplateOverBudget}


class RenderStopped(Exception):
    """The caller's stop event was set while the template was rendering."""


class TemplateSandbox:
    """One child process rendering one template. Not thread-safe: the engine's thread
    uses it; `close` it when the model is unloaded."""

    def __init__(self, source: str, bos_token: str = "", eos_token: str = "",
                 timeout: float | None = None):
        self._load = {"op": "load", "source": source}
        self.bos_token, self.eos_token = bos_token, eos_token
        self.timeout = timeout or RENDER_TIMEOUT_S
        self._process: subprocess.Popen | None = None
        self._loaded = False
        self._pending = b""

    def start(self) -> None:
        """Start the child and hand it the template without waiting for it: called when
        the model loads, so the child's start overlaps llama.cpp's."""
        if self._process is None:
            self._process = start_isolated([CHILD_COMMAND], memory_bytes=CHILD_MEMORY_BYTES,
                                           cpu_seconds=CHILD_CPU_SECONDS)
            self._loaded = False
            try:
                self._send(self._load)
            except BrokenPipeError:
                pass  # found out, and said, at the first render

    def render(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True,
               stop_event: threading.Event | None = None) -> str:
        self.start()
        if not self._loaded:
            try:
                self._answer(START_TIMEOUT_S, stop_event, "be read")
            except ChatTemplateError:
                self.close()  # the next render starts again and says the same
                raise
            self._loaded = True
        request = {"op": "render", "messages": [dict(m) for m in messages],
                   "add_generation_prompt": add_generation_prompt,
                   "bos": self.bos_token, "eos": self.eos_token}
        try:
            self._send(request)
        except BrokenPipeError:
            pass  # the child has died; _answer says how
        return self._answer(self.timeout, stop_event, "render this conversation")["text"]

    def close(self) -> None:
        if self._process is not None:
            process, self._process = self._process, None
            process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                stream.close()
        self._pending = b""

    # -- talking to the child ---------------------------------------------------------------

    def _send(self, request: dict) -> None:
        self._process.stdin.write(json.dumps(request).encode() + b"\n")
        self._process.stdin.flush()

    def _answer(self, timeout: float, stop_event: threading.Event | None, doing: str) -> dict:
        line = self._read_line(timeout, stop_event, doing)
        if line is None:  # the child died: a memory limit, or a crash in Jinja
            status = self._process.wait()
            self.close()
            raise TemplateOverBudget(
                f"the process rendering the model's chat template ended (exit status "
                f"{status}) while trying to {doing}; the template uses more memory than "
                "any real one, or crashed the renderer")
        reply = json.loads(line)
        if "text" in reply or reply.get("ok"):
            return reply
        raise _KINDS.get(reply.get("kind"), ChatTemplateError)(reply["error"])

    def _read_line(self, timeout: float, stop_event: threading.Event | None,
                   doing: str) -> bytes | None:
        """The child's next line; None at its end. Kills the child when ``timeout`` passes
        (TemplateOverBudget), ``stop_event`` is set (RenderStopped), or anything else
        interrupts the wait (Ctrl+C): a child left rendering would spin for hours."""
        try:
            return self._wait_for_line(time.monotonic() + timeout, timeout, stop_event, doing)
        except BaseException:
            self.close()
            raise

    def _wait_for_line(self, deadline: float, timeout: float,
                       stop_event: threading.Event | None, doing: str) -> bytes | None:
        stdout = self._process.stdout
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while b"\n" not in self._pending:
                if stop_event is not None and stop_event.is_set():
                    raise RenderStopped()
                if time.monotonic() >= deadline:
                    raise TemplateOverBudget(
                        f"the model's chat template took longer than {timeout:g} s to "
                        f"{doing} and was stopped; real templates take milliseconds")
                if selector.select(min(deadline - time.monotonic(), 0.05)):
                    chunk = os.read(stdout.fileno(), 1 << 20)
                    if not chunk:
                        return None
                    self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line


def serve() -> int:
    """The child process: answer load and render requests, one JSON line each, until the
    parent closes its end."""
    template: ChatTemplate | None = None
    for line in sys.stdin.buffer:
        request = json.loads(line)
        try:
            if request["op"] == "load":
                template = ChatTemplate(request["source"])
                reply = {"ok": True}
            else:
                template.bos_token, template.eos_token = request["bos"], request["eos"]
                reply = {"text": template.render(request["messages"],
                                                 request["add_generation_prompt"])}
        except ChatTemplateError as error:
            kind = next(name for name, kind in _KINDS.items() if type(error) is kind)
            reply = {"error": str(error), "kind": kind}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


# -- the import's check ---------------------------------------------------------------------

SAMPLE_CONVERSATIONS = (
    [{"role": "user", "content": "Hello."}],
    [{"role": "system", "content": "You are a careful assistant."},
     {"role": "user", "content": "Summarise this letter."}],
    [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "4."},
     {"role": "user", "content": "And 3 + 3?"}],
)


class _OutOfTime(BaseException):
    """Raised by the timer; a BaseException so that no template-level handler catches it."""


def check_template(source: str, budget_s: float = IMPORT_CHECK_BUDGET_S) -> str | None:
    """Why the template cannot be accepted (it overruns its budget of time, memory or
    output on ordinary conversations, or tries to leave the sandbox), or None.

    Only for a process of its own whose main thread this is (the isolated header check):
    the time limit is a timer signal. A template that merely refuses a sample (say, one
    with a system message) or has a syntax error is accepted here; chatting with it
    reports that, and nothing on the workstation is at risk.
    """

    def out_of_time(_signum, _frame):
        raise _OutOfTime()

    previous = signal.signal(signal.SIGALRM, out_of_time)
    signal.setitimer(signal.ITIMER_REAL, budget_s)
    try:
        template = ChatTemplate(source, "<s>", "</s>")
        for messages in SAMPLE_CONVERSATIONS:
            try:
                template.render(messages)
            except (TemplateOverBudget, TemplateUnsafe):
                raise
            except ChatTemplateError:
                continue
        return None
    except (TemplateOverBudget, TemplateUnsafe) as error:
        return str(error)
    except ChatTemplateError:
        return None
    except _OutOfTime:
        return (f"the model's chat template took longer than {budget_s:g} s to render a "
                "three-message conversation; real templates take milliseconds")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
