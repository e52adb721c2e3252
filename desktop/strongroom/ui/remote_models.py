"""The models the configured inference servers offer, for the model list: each server is
asked on a background thread (a server that is down must not hold up the models on this
computer), and one that cannot be used is listed, disabled, with the reason."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, Signal, Slot

from strongroom.core.inference.engine import EngineError
from strongroom.core.inference.identity import ModelIdentity, remote_identity
from strongroom.core.remote.engine import probe
from strongroom.core.remote.servers import ServerError, ServerList
from strongroom.ui.background import BackgroundTask


def offered_models(servers: ServerList) -> list[ModelIdentity]:
    """Every model every configured server offers; a server that cannot be asked gives one
    entry with its problem (so the list says why it is missing)."""
    try:
        configured = servers.servers()
    except ServerError as error:
        return [replace(remote_identity("?", "servers"), problem=str(error))]
    found = []
    for server in configured:
        try:
            report = probe(server, servers.api_key(server))
        except EngineError as error:
            found.append(replace(remote_identity(server.name, "(unavailable)"), problem=str(error)))
            continue
        found += [remote_identity(server.name, model.id) for model in report.models]
    return found


class RemoteModels(QObject):
    """Signals:
        found(list): the servers' models (`ModelIdentity`s, `server` set), after `scan`.
    """

    found = Signal(list)

    def __init__(self, servers: ServerList, parent: QObject | None = None):
        super().__init__(parent)
        self.servers = servers
        self.entries: list[ModelIdentity] = []
        self._task: BackgroundTask | None = None
        self._again = False

    def scan(self) -> None:
        if self._task is not None:  # asked again meanwhile: once more when this one ends
            self._again = True
            return
        if not self.servers.servers():
            self._show([])
            return
        self._task = BackgroundTask(lambda _report, _cancel: offered_models(self.servers), self)
        self._task.finished.connect(self._show)
        self._task.failed.connect(lambda _message: self._show([]))
        self._task.start()

    @Slot(object)
    def _show(self, entries: list) -> None:
        self._task = None
        self.entries = entries
        self.found.emit(entries)
        if self._again:
            self._again = False
            self.scan()

    def stop(self) -> None:
        if self._task is not None:
            self._task.stop()
            self._task = None
