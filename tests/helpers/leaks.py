"""Looking for text that must not be on disk readable: in a folder tree, and in the OS
temporary folders."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def files_holding(marker: str, *folders: Path, since: float = 0.0) -> list[str]:
    needle = marker.encode()
    found = []
    pending = [Path(folder) for folder in folders]
    while pending:  # iterative, links not followed: any depth, no loops
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    if since and entry.stat(follow_symlinks=False).st_mtime < since:
                        continue
                    if needle in Path(entry.path).read_bytes():
                        found.append(entry.path)
            except OSError:
                continue
    return found


def temporary_folders() -> list[Path]:
    """The OS temporary folders, without pytest's own (which hold the test homes)."""
    folders = []
    for base in {Path(tempfile.gettempdir()), Path("/var/tmp")}:
        folders += [p for p in base.iterdir() if p.is_dir() and not p.name.startswith("pytest-of-")
                    and not p.is_symlink()] if base.is_dir() else []
    return folders
