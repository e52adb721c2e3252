"""The application log file: where Strongroom's own diagnostics and llama.cpp's log lines go.

The terminal stays for the user's output (answers from `strongroom chat`, reports from
`strongroom verify`); diagnostics go to a rotating file in the log directory.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_installed_handler: logging.Handler | None = None


def configure_file_logging(log_file: Path, level: int = logging.INFO) -> logging.Handler:
    """Send all `logging` records at ``level`` and above to ``log_file`` (rotated at 5 MB)."""
    global _installed_handler
    root = logging.getLogger()
    if _installed_handler is not None:
        root.removeHandler(_installed_handler)
        _installed_handler.close()
    log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=5_000_000, backupCount=3, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    _installed_handler = handler
    return handler
