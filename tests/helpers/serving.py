"""`strongroom serve` as a real subprocess on a test's home: started, waited for (its
"Serving … at" line, read with a timeout), and stopped or killed."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import REPO
from tests.helpers.tls import Issued, TestCA

API_KEY = "test-api-key-0123456789abcdef"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@dataclass
class Served:
    process: subprocess.Popen
    url: str
    lines: list[str] = field(default_factory=list)  # what it printed on stdout
    _reader: threading.Thread | None = None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        if self._reader is not None:
            self._reader.join(timeout)
        self.process.stdout.close()
        self.process.stderr.close()
        return code

    @property
    def child_pid(self) -> int:
        """The llama.cpp server process (`strongroom serve`'s child)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return int(children.split()[0])


def start_serve(home_root: Path, model: str, host: str, port: int, cert: Path, key: Path,
                api_key_file: Path, timeout: float = 120, prefix: list[str] | None = None,
                extra_env: dict | None = None) -> Served:
    """`strongroom serve` running and ready (the model loaded), or a failure naming what it
    printed. ``prefix`` runs it through another command (e.g. nsenter)."""
    env = {**os.environ, "STRONGROOM_HOME": str(home_root), **(extra_env or {})}
    command = [*(prefix or []), sys.executable, "-m", "strongroom", "serve", "--model", model,
               "--listen", f"{host}:{port}", "--cert", str(cert), "--key", str(key),
               "--api-key-file", str(api_key_file), "--context-length", "1024"]
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    served = Served(process, f"https://{host}:{port}", _reader=reader)
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            served.stop(signal.SIGKILL)
            raise AssertionError(f"strongroom serve did not start within {timeout} s") from None
        if line is None:
            code = process.wait(timeout)
            errors = process.stderr.read()
            served.stop()
            raise AssertionError(f"strongroom serve exited ({code}): {errors}")
        served.lines.append(line)
        if line.startswith("Certificate SHA-256"):
            return served


@dataclass
class Firm:
    """The firm's side: its CA, its server's certificate, the running server."""

    ca: TestCA
    issued: Issued
    served: Served
    api_key: str = API_KEY

    @property
    def url(self) -> str:
        return self.served.url
