"""A keyring backend for tests, selected with PYTHON_KEYRING_BACKEND.

It keeps secrets in a JSON file, so that the processes of one test share them: the file
named by $STRONGROOM_TEST_KEYRING, else one inside $STRONGROOM_HOME; with neither set, in
memory."""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    priority = 10  # keyring.core.recommended() accepts it as a real backend
    name = "test keyring"
    _memory: dict[str, str] = {}

    def _path(self) -> Path | None:
        where = os.environ.get("STRONGROOM_TEST_KEYRING")
        if where:
            return Path(where)
        home = os.environ.get("STRONGROOM_HOME")
        return Path(home) / "test-keyring.json" if home else None

    def _load(self) -> dict[str, str]:
        path = self._path()
        if path is None:
            return self._memory
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return {}

    def _save(self, data: dict[str, str]) -> None:
        path = self._path()
        if path is not None:  # replaced whole, so a reader never sees half a file
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(data))
            os.replace(temporary, path)

    @contextmanager
    def _changing(self):
        """One process at a time reads, changes and writes the file back (as a real
        keyring keeps each entry apart, no change is lost)."""
        path = self._path()
        if path is None:
            yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def get_password(self, service, username):
        return self._load().get(f"{service}/{username}")

    def set_password(self, service, username, password):
        with self._changing():
            data = self._load()
            data[f"{service}/{username}"] = password
            self._save(data)

    def delete_password(self, service, username):
        with self._changing():
            data = self._load()
            if data.pop(f"{service}/{username}", None) is None:
                raise PasswordDeleteError(username)
            self._save(data)
