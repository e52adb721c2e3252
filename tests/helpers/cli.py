"""Running the `strongroom` command as a real subprocess, on a test's own home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO


def strongroom(*args: str, home, stdin: str | None = None, timeout: float = 300,
               env: dict | None = None) -> subprocess.CompletedProcess:
    """`strongroom ARGS` with STRONGROOM_HOME at ``home`` (a folder, or the `home` fixture's
    AppPaths); text output captured."""
    root = home.data_dir.parent if hasattr(home, "data_dir") else Path(home)
    environment = {**os.environ, "STRONGROOM_HOME": str(root), **(env or {})}
    return subprocess.run([sys.executable, "-m", "strongroom", *args], env=environment,
                          input=stdin, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def strongroom_on_terminal(*args: str, home, timeout: float = 300) -> subprocess.CompletedProcess:
    """`strongroom ARGS` with its standard error on a pseudo-terminal (as when a person runs
    it), standard output captured apart; the terminal's text is returned as ``stderr``."""
    import pty
    import select

    root = home.data_dir.parent if hasattr(home, "data_dir") else Path(home)
    environment = {**os.environ, "STRONGROOM_HOME": str(root)}
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen([sys.executable, "-m", "strongroom", *args], env=environment,
                                   cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=terminal)
    finally:
        os.close(terminal)
    shown = bytearray()
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], timeout)
            if not ready:
                process.kill()
                raise TimeoutError(f"strongroom {' '.join(args)} did not finish")
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed with the last process holding it
                break
            if not chunk:
                break
            shown += chunk
        stdout = process.stdout.read().decode()
        process.wait(timeout)
    finally:
        process.stdout.close()
        os.close(controller)
    return subprocess.CompletedProcess(args, process.returncode, stdout,
                                       shown.decode().replace("\r\n", "\n"))
