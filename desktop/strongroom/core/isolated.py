"""Running Strongroom's own helper processes so that nothing around them can act through them.

The app starts child processes for work that must not be able to harm it (checking a GGUF
header that may be hostile, rendering a model's own chat template). Each child is this installation's Python in isolated mode
(``-I``: no current folder or user site on the module path, no ``PYTHON*`` variables), in a
neutral working folder, with a minimal environment and limits on memory and CPU time, and
it is killed if the app goes away first. A drive that carries a ``strongroom/`` package,
run from ``cd /media/usb``, is never imported.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys

NEUTRAL_FOLDER = "/"
MINIMAL_ENVIRONMENT = {"PATH": os.defpath, "LC_ALL": "C.UTF-8", "PYTHONSAFEPATH": "1"}


def strongroom_command(*args: str) -> list[str]:
    """The command line that runs this Strongroom installation with ``args``, isolated."""
    if getattr(sys, "frozen", False):  # the bundle's executable is the whole app
        return [sys.executable, *args]
    return [sys.executable, "-I", "-m", "strongroom", *args]


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def _limits(memory_bytes: int, cpu_seconds: int):
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if _LIBC is not None:  # the child dies with the thread that started it, even by SIGKILL
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    return limit


def run_isolated(args: list[str], *, timeout: float, memory_bytes: int,
                 cpu_seconds: int, input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run ``strongroom ARGS`` as an isolated, limited child, with ``input`` on its standard
    input; its output comes back as text. Raises TimeoutExpired."""
    raw = subprocess.run(strongroom_command(*args), capture_output=True, timeout=timeout,
                         preexec_fn=_limits(memory_bytes, cpu_seconds), cwd=NEUTRAL_FOLDER,
                         env=dict(MINIMAL_ENVIRONMENT), input=input,
                         stdin=subprocess.DEVNULL if input is None else None)
    return subprocess.CompletedProcess(raw.args, raw.returncode,
                                       raw.stdout.decode("utf-8", "replace"),
                                       raw.stderr.decode("utf-8", "replace"))


def start_isolated(args: list[str], *, memory_bytes: int, cpu_seconds: int) -> subprocess.Popen:
    """Start ``strongroom ARGS`` as an isolated, limited child that the caller talks to
    through its standard input and output (binary pipes); its errors are discarded."""
    return subprocess.Popen(strongroom_command(*args), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            preexec_fn=_limits(memory_bytes, cpu_seconds),
                            cwd=NEUTRAL_FOLDER, env=dict(MINIMAL_ENVIRONMENT))
