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
