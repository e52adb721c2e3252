"""Getting a secret off this computer: onto removable media, or onto paper.

A key shown once (the audit verification key) must end up somewhere this computer is not.
`removable_folders` offers the mounted drives; `is_off_this_computer` refuses a place on
the same file system as the app's own folders; `print_text` sends text to the printer with
the system's ``lp`` on its standard input, so it is never written to a file here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

MOUNT_BASES = ("/media", "/run/media", "/mnt")


def removable_folders(bases: tuple[str, ...] = MOUNT_BASES) -> list[Path]:
    """Mounted folders under the usual places for removable drives (two levels deep)."""
    found = []
    for base in map(Path, bases):
        try:
            candidates = [p for p in base.iterdir() if p.is_dir()]
        except OSError:
            continue
        for candidate in candidates:
            if os.path.ismount(candidate):
                found.append(candidate)
                continue
            try:
                found += [p for p in candidate.iterdir() if p.is_dir() and os.path.ismount(p)]
            except OSError:
                continue
    return sorted(found)


def is_off_this_computer(target: Path, *local_folders: Path) -> bool:
    """Whether ``target`` (a file to write, or a folder) lies on another file system than
    each of ``local_folders`` (the home folder, the app's data) — a drive that can be
    taken away."""
    folder = target if target.is_dir() else target.parent
    try:
        device = os.stat(folder).st_dev
    except OSError:
        return False
    for local in local_folders:
        try:
            if os.stat(local).st_dev == device:
                return False
        except OSError:
            continue
    return True


def printer_command() -> list[str] | None:
    path = shutil.which("lp")
    return [path, "-t", "Strongroom audit key", "-"] if path else None


def print_text(text: str) -> str | None:
    """Print ``text``; return why it could not be printed, or None."""
    command = printer_command()
    if command is None:
        return "There is no printing system (lp) on this computer."
    try:
        result = subprocess.run(command, input=text, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"The printer could not be reached ({error})."
    if result.returncode != 0:
        return f"The printer refused the page: {(result.stderr or result.stdout).strip()[:300]}"
    return None
