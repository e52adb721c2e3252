"""Everything one Strongroom session works with, opened together: paths, settings,
conversations (encrypted; see `chats.open_conversations`), the model store, the audit log
and the trusted officer keys. A context manager::

    with Workspace.open() as workspace:
        ...

``Workspace.open(create=False)`` is for commands that only look (`strongroom verify`,
`trust list`, `models`, `store list`, `compliance`): it opens what exists and creates
nothing, so on a computer where Strongroom never ran there is then still no folder, key,
database or audit log. What does not exist yet is None (``chats``) or absent
(``audit.absent``).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from strongroom.core.audit.events import Auditor, AuditUnavailable
from strongroom.core.audit.writer import AuditLog
from strongroom.core.chats.conversation_store import ConversationStore
from strongroom.core.chats.database_key import DatabaseKeys
from strongroom.core.chats.open_conversations import (
    OpenedConversations,
    existing_conversations,
    open_conversations,
)
from strongroom.core.documents.indexing import Indexer
from strongroom.core.documents.library import Libraries
from strongroom.core.inference.embeddings import Embedder
from strongroom.core.offline import EgressGuard
from strongroom.core.os_login import user_name
from strongroom.core.paths import AppPaths, app_paths, ensure_private_dir
from strongroom.core.remote.servers import (
    DEFAULT_TIMEOUT_S,
    Server,
    ServerError,
    ServerList,
    read_ca_file,
)
from strongroom.core.secrets import SecretStore, open_secret_store
from strongroom.core.settings import Settings
from strongroom.core.store.catalog import Catalog, catalog_from_store
from strongroom.core.store.lifecycle import Lifecycle
from strongroom.core.store.model_store import ModelStore
from strongroom.core.transfer.trust import TrustStore

log = logging.getLogger(__name__)


@dataclass
class Workspace:
    paths: AppPaths
    settings: Settings
    chats: ConversationStore | None  # None only when opened with create=False and none exist
    store: ModelStore
    audit: Auditor
    secrets: SecretStore
    trust: TrustStore
    chats_recovery_text: str | None = None  # shown until the user confirms storing it
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))

    @classmethod
    def open(cls, paths: AppPaths | None = None, *, create: bool = True) -> "Workspace":
        """Open everything; with ``create=False``, only what already exists (see above)."""
        paths = paths or app_paths()
        if create:
            for folder in (paths.data_dir, paths.config_dir, paths.log_dir):
                ensure_private_dir(folder)
        settings = Settings(paths.settings_file)
        for problem in settings.problems:
            log.warning("%s", problem)
        store = ModelStore(paths.store_dir, create=create)
        if create:
            for leftover in store.clean_up():
                log.warning("Removed an unfinished import: %s", leftover)
        secrets = open_secret_store(paths.config_dir)
        audit = Auditor.open(AuditLog(paths.audit_log, secrets), create=create)
        if not audit.available and not audit.absent:
            log.error("%s", audit.problem)
        if not create and not existing_conversations(paths.conversations_db, secrets):
            workspace = cls(paths, settings, None, store, audit, secrets, TrustStore(secrets))
            workspace.allow_servers()
            return workspace
        try:
            opened = open_conversations(paths.conversations_db, secrets)
        except BaseException:
            audit.close()
            raise
        workspace = cls(paths, settings, opened.store, store, audit, secrets, TrustStore(secrets),
                        opened.recovery_text)
        workspace._record_key_events(opened)
        workspace.allow_servers()
        return workspace

    @property
    def servers(self) -> ServerList:
        """The firm's inference servers this workstation may use."""
        return ServerList(self.secrets)

    def add_server(self, name: str, url: str, *, ca_file: Path | None = None,
                   pin: str | None = None, api_key: str | None = None,
                   timeout_s: float = DEFAULT_TIMEOUT_S) -> Server:
        """Add an inference server (trusted by the firm's CA file or a pin), let the egress
        guard reach it, and record it. Raises ServerError or AuditUnavailable, having
        changed nothing, when it cannot be."""
        self.audit.require()  # a change that cannot be recorded is not made
        ca_pem = read_ca_file(ca_file) if ca_file is not None else None
        server = self.servers.add(name, url, ca_pem=ca_pem, pin=pin, api_key=api_key,
                                  timeout_s=timeout_s, added_by=user_name())
        self.allow_servers()
        self.audit.inference_server("added", server.name, url=server.url, trust=server.trust,
                                    api_key=bool(api_key), added_by=server.added_by)
        return server

    def remove_server(self, name: str) -> Server:
        """Remove an inference server and its API key; the guard no longer reaches it."""
        self.audit.require()
        server = self.servers.remove(name)
        self.allow_servers()
        self.audit.inference_server("removed", server.name, url=server.url)
        return server

    def allow_servers(self) -> None:
        """Let the egress guard (when one is on) connect to the configured servers, and
        to nothing else; call again after adding or removing one."""
        guard = EgressGuard.current()
        if guard is None:
            return
        try:
            configured = self.servers.servers()
        except ServerError as error:
            log.error("%s", error)
            configured = []
        guard.allow_servers((server.host, server.port) for server in configured)

    def _record_key_events(self, opened: OpenedConversations) -> None:
        events: list[tuple[str, dict[str, object]]] = []
        if opened.created_key:
            events.append(("key created", {"kept_in": self.secrets.kind}))
        if opened.migrated is not None:
            events.append(("plaintext database encrypted",
                           {"conversations": opened.migrated.conversations,
                            "messages": opened.migrated.messages}))
        for action, details in events:
            try:
                self.audit.conversations_key(action, **details)
            except AuditUnavailable as error:  # the window and commands say so when they act
                log.error("%s", error)

    def confirm_recovery_key_stored(self) -> None:
        """The user confirmed the conversations' recovery key is stored off this computer."""
        DatabaseKeys(self.secrets).confirm_stored()
        self.chats_recovery_text = None
        self.audit.conversations_key("recovery key confirmed stored")

    @property
    def lifecycle(self) -> Lifecycle:
        return Lifecycle(self.store, self.audit, clock=self.clock)

    def model_catalog(self) -> Catalog:
        return catalog_from_store(self.store)

    @functools.cached_property
    def libraries(self) -> Libraries:
        """The document libraries (kept in the conversations' encrypted database)."""
        if self.chats is None:
            raise RuntimeError("document libraries need the conversations' database, "
                               "which a workspace opened with create=False may lack")
        return Libraries(self.chats)

    def indexer(self) -> Indexer:
        return Indexer(self.libraries, self.audit)

    def load_embedder(self) -> Embedder | None:
        """The store's embedding model, loaded (and its bytes checked against the store's
        record), or None when the store has none: search is then by keywords alone.
        Raises EngineError when it is there but cannot be used."""
        identity = self.model_catalog().embedding_model()
        if identity is None:
            return None
        return Embedder.load(identity.path, identity.sha256, identity.name)

    def close(self) -> None:
        if self.chats is not None:
            self.chats.close()
        self.audit.close()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
