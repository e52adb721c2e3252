"""Where Strongroom keeps secrets (the audit log's current key): the OS keyring, or a file.

A keyring backend counts only if `keyring.core.recommended` says it is a real one. On a
headless Linux box there is none (keyring's `fail.Keyring`), and a plaintext file backend
that a third-party package might install silently is not trusted either; then secrets go
to files readable only by this user (0600) in the config folder, and `description` says so,
so the compliance view can show which of the two holds the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strongroom.core.atomic import write_atomic

SERVICE = "strongroom"


@dataclass
class SecretStore:
    kind: str  # "keyring" or "file"
    description: str
    folder: Path = Path()  # for files
    _backend: Any = None  # for the keyring

    def get(self, name: str) -> str | None:
        if self.kind == "keyring":
            return self._backend.get_password(SERVICE, name)
        try:
            return (self.folder / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def set(self, name: str, value: str, durable: bool = True) -> None:
        """Store ``value``; with ``durable=False`` a file is replaced atomically but not
        fsynced (for a record that may lag after a crash, written very often)."""
        if self.kind == "keyring":
            self._backend.set_password(SERVICE, name, value)
        else:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(self.folder / name, value.encode("utf-8"), 0o600, durable=durable)

    def delete(self, name: str) -> None:
        if self.kind == "keyring":
            try:
                self._backend.delete_password(SERVICE, name)
            except Exception:  # keyring raises PasswordDeleteError for a missing entry
                pass
        else:
            try:
                os.unlink(self.folder / name)
            except FileNotFoundError:
                pass


def open_secret_store(config_dir: Path) -> SecretStore:
    import keyring
    import keyring.core

    backend = keyring.get_keyring()
    if keyring.core.recommended(backend):
        name = getattr(backend, "name", type(backend).__name__)
        return SecretStore("keyring", f"the system keyring ({name})", _backend=backend)
    folder = config_dir / "secrets"
    return SecretStore("file", f"a file readable only by this user ({folder}); no system "
                               "keyring is available on this computer", folder)
