"""A real X display for tests (Xvfb, 1366×768, with the openbox window manager, so windows
get the focus as on a desktop) and the real app on it (`x11_app`), typed into with xdotool:
real X key events, not Qt's test events.

`XApp.ask` evaluates an expression in the app (see `x11_app`); `XApp.wait_for` asks until
the answer is true or the time is up (the app's own state is what the test waits on)."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import REPO

SCREEN = (1366, 768)
NEEDED = ("Xvfb", "openbox", "xdotool")


def missing_tools() -> list[str]:
    return [tool for tool in NEEDED if shutil.which(tool) is None]


class XServer:
    """Xvfb and openbox, started on a free display number; `stop` ends both."""

    def __init__(self, screen: tuple[int, int] = SCREEN):
        read_end, write_end = os.pipe()
        self.xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{screen[0]}x{screen[1]}x24",
             "-nolisten", "tcp", "-noreset"], pass_fds=(write_end,),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write_end)
        with os.fdopen(read_end) as reported:
            ready, _, _ = select.select([reported], [], [], 30)
            number = reported.readline().strip() if ready else ""
        if not number:
            self.xvfb.kill()
            self.xvfb.wait()
            raise RuntimeError("Xvfb did not start")
        self.display = f":{number}"
        self.wm = subprocess.Popen(["openbox", "--sm-disable"], env=self.env(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def env(self) -> dict:
        return {**os.environ, "DISPLAY": self.display}

    def _tool(self, *command: str) -> subprocess.CompletedProcess:
        return subprocess.run(command, env=self.env(), capture_output=True, text=True, timeout=60)

    def key(self, *keys: str) -> None:
        """Press keys as a person does (xdotool names: "Return", "alt+s", "shift+F10")."""
        done = self._tool("xdotool", "key", "--clearmodifiers", "--delay", "60", *keys)
        assert done.returncode == 0, done.stderr

    def type(self, text: str) -> None:
        done = self._tool("xdotool", "type", "--clearmodifiers", "--delay", "25", text)
        assert done.returncode == 0, done.stderr

    def screenshot(self, path: Path) -> None:
        """The whole screen as a PNG (ImageMagick's import), for a person to look at."""
        if shutil.which("import"):
            self._tool("import", "-window", "root", str(path))

    def stop(self) -> None:
        for process in (self.wm, self.xvfb):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class XApp:
    """The real app on ``server``'s display with STRONGROOM_HOME at ``home``."""

    def __init__(self, server: XServer, home: Path, env: dict | None = None):
        self.server = server
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.x11_app"], cwd=REPO,
            env={**server.env(), "STRONGROOM_HOME": str(home), "QT_QPA_PLATFORM": "xcb",
                 **(env or {})},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def ask(self, expression: str, timeout: float = 30):
        """The value of ``expression`` in the app now (see `x11_app`)."""
        self.process.stdin.write(expression.replace("\n", " ") + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"the app did not answer {expression!r}")
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the app ended: {self.process.stderr.read()[-3000:]}")
        reply = json.loads(line)
        if "error" in reply:
            raise AssertionError(f"{expression!r}: {reply['error']}")
        return reply["value"]

    def wait_for(self, expression: str, timeout: float = 60):
        """Ask until the answer is true; return it (fails with the last answer)."""
        deadline = time.monotonic() + timeout
        answer = None
        while time.monotonic() < deadline:
            try:
                answer = self.ask(expression)
            except (AttributeError, AssertionError) as error:  # not there yet
                answer = error
            else:
                if answer:
                    return answer
            time.sleep(0.05)  # the app's state is what is waited on; this paces the asking
        raise AssertionError(f"never true: {expression!r} (last: {answer!r})")

    def key(self, *keys: str) -> None:
        self.server.key(*keys)

    def type(self, text: str) -> None:
        self.server.type(text)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.ask("quit", timeout=30)
                self.process.wait(30)
            except (TimeoutError, RuntimeError, BrokenPipeError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            stream.close()
