"""The models the configured inference servers offer, for the model list: each server is
asked on a background thread (a server that is down must not hold up the models on this
computer), and one that cannot be used is listed, disabled, with the reason."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, Signal, Slot

from strongroom.core.audit.events import AuditUnavailable
from strongroom.core.inference.engine import EngineError
from strongroom.core.inference.identity import ModelIdentity, remote_identity
from strongroom.core.remote.engine import probe
from strongroom.core.remote.servers import ServerError, ServerList
from strongroom.ui.common.background import Tasks


def offered_models(servers: ServerList, on_failure=None) -> list[ModelIdentity]:
    """Every model every configured server offers; a server that cannot be asked gives one
    entry with its problem (so the list says why it is missing), and is told to
    ``on_failure(server, problem)`` (the window records it)."""
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
            if on_failure is not None:
                on_failure(server, str(error))
            continue
        found += [remote_identity(server.name, model.id) for model in report.models]
    return found


class RemoteModels(QObject):
    """Signals:
        found(list): the servers' models (`ModelIdentity`s, `server` set), after `scan`.
    """

    found = Signal(list)

    def __init__(self, servers: ServerList, auditor=None, parent: QObject | None = None):
        super().__init__(parent)
        self.servers = servers
        self.auditor = auditor  # records a server that could not be asked
        self.entries: list[ModelIdentity] = []
        self.tasks = Tasks(self)
        self._again = False

    def scan(self) -> None:
        if self.tasks.busy:  # asked again meanwhile: once more when this one ends
            self._again = True
            return
        if not self.servers.servers():
            self._show([])
            return
        self.tasks.call(lambda: offered_models(self.servers, self._record_failure), self._show,
                        lambda _message: self._show([]))

    def _record_failure(self, server, problem: str) -> None:
        """(On the task's thread: the audit log takes entries from any thread.)"""
        if self.auditor is None:
            return
        try:
            self.auditor.server_attempt_failed(server.name, server.url, problem, "listing models")
        except AuditUnavailable:
            pass  # the window says so when it next needs the log

    @Slot(object)
    def _show(self, entries: list) -> None:
        self.entries = entries
        self.found.emit(entries)
        if self._again:
            self._again = False
            self.scan()

    def stop(self) -> None:
        self.tasks.stop()
