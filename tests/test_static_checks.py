"""The static checks hold for the whole tree: ruff (pyflakes, bugbear, import order) and
mypy on the typed part (see ``[tool.mypy]`` in pyproject.toml), so `make test` catches what
they catch, as CI does."""

import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO

TOOLS = Path(sys.executable).parent


def test_ruff_finds_nothing():
    result = subprocess.run([str(TOOLS / "ruff"), "check", "--no-cache", "."], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_mypy_finds_nothing(tmp_path):
    result = subprocess.run([str(TOOLS / "mypy"), "--cache-dir", str(tmp_path / "cache")],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Success" in result.stdout
