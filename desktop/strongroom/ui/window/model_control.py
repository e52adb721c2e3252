"""Which model answers: the store's chat models and the servers' in the model list, the one
chosen loaded on the engine thread (the last one used, at start), and what the window says
while it loads, when it cannot, and when the store has none to offer. A part of the main
window kept in its own file (`MainWindow.models`)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot

from strongroom.core.audit.events import AuditUnavailable
from strongroom.core.inference.engine import LoadOptions
from strongroom.core.inference.identity import LoadedModel, ModelIdentity
from strongroom.core.remote.servers import ServerError
from strongroom.core.store.catalog import NO_MODELS, Catalog
from strongroom.ui.models.remote_models import RemoteModels


class ModelControl(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window_ = window
        self.loading: ModelIdentity | None = None
        self.catalog: Catalog | None = None
        worker = window.host.worker
        worker.catalogReady.connect(self._show_catalog)
        worker.loadProgress.connect(self._on_load_progress)
        worker.loaded.connect(self._on_loaded)
        worker.loadFailed.connect(self._on_load_failed)
        worker.servers = window.workspace.servers
        self.remote_models = RemoteModels(window.workspace.servers, window.workspace.audit, self)
        self.remote_models.found.connect(self._show_remote_models)
        window.model_picker.chosen.connect(self._on_model_chosen)

    @Slot()
    def refresh(self) -> None:
        self.window_.host.scan(self.window_.workspace.model_catalog)
        self.remote_models.scan()
        try:
            servers = self.window_.workspace.servers.servers()
        except ServerError:
            servers = []
        self.window_.status.show_servers([f"{s.name} ({s.url})" for s in servers])
        self.window_.chat_view.show_servers([s.name for s in servers])

    @Slot(list)
    def _show_remote_models(self, entries: list) -> None:
        """The servers' models came (after the store's): list them, and load the last model
        used if it is one of them."""
        if self.catalog is None:
            return  # shown with the catalog
        self.window_.model_picker.show_catalog(self.catalog, entries)
        usable = [e for e in entries if e.usable]
        if usable:
            self.window_.chat_view.show_ready(True)
        current = self.loading or (self.window_.loaded.identity if self.window_.loaded else None)
        if current is None:
            current = next((e for e in usable if e.name == self.window_.settings["last_model"]), None)
            if current is not None:
                self.load(current)
        self.window_.model_picker.select(current)

    @Slot(object)
    def _show_catalog(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.window_.model_picker.show_catalog(catalog, self.remote_models.entries)
        self.window_.documents.refresh()
        if self.window_.session.library is not None:  # an embedding model may have come in
            self.window_.documents.load_embedder()
        ready = bool(catalog.usable()) or any(e.usable for e in self.remote_models.entries)
        self.window_.chat_view.show_ready(ready, waiting_to_promote=bool(catalog.staged))
        said_by_empty_state = not ready and (catalog.staged or catalog.notice == NO_MODELS)
        if catalog.notice and not said_by_empty_state:
            self.window_.show_notice(catalog.notice, "info", lasting=True)
        usable = catalog.usable() + [e for e in self.remote_models.entries if e.usable]
        current = self.window_.loaded.identity if self.window_.loaded else catalog.find(self.window_.settings["last_model"])
        chosen = current if current in usable else (usable[0] if len(usable) == 1 else None)
        # A loaded version that is no longer offered (another was promoted, or it was
        # rolled back) gives way to the one that is.
        outdated = self.window_.loaded is not None and self.window_.loaded.identity not in usable
        if chosen is not None:
            self.window_.model_picker.select(chosen)
            if (self.window_.loaded is None or outdated) and self.loading is None:
                self.load(chosen)
        elif self.window_.loaded is None or outdated:
            if outdated:
                self.unload()
            self.window_.model_picker.select(None)
        self.window_.catalogShown.emit(catalog)

    @Slot(object)
    def _on_model_chosen(self, identity: ModelIdentity) -> None:
        if self.window_.loaded is None or self.window_.loaded.identity != identity:
            self.load(identity)

    def load(self, identity: ModelIdentity) -> None:
        if self.window_.generating:
            self.window_.stop()
        self.loading = identity
        self.window_.settings.use_model(identity.name)  # its preset, if it has one
        self.window_.session.forget_model()
        self.window_.status.show_loading(f"Loading {identity.name}", -1)
        self.window_.host.load(identity, LoadOptions.from_settings(self.window_.settings.as_dict()))
        self.window_._update_controls()

    def unload(self) -> None:
        """Close the loaded model (it is about to be removed from the store)."""
        if self.window_.generating:
            self.window_.stop()
        self.window_.session.forget_model()
        self.window_.host.unload()
        self.window_.status.show_no_model()
        self.window_.show_passages_destination()
        self.window_.model_picker.select(None)
        self.window_._update_controls()

    @Slot(str, float)
    def _on_load_progress(self, stage: str, fraction: float) -> None:
        self.window_.status.show_loading(stage, fraction)

    @Slot(object)
    def _on_loaded(self, loaded: LoadedModel) -> None:
        self.loading = None
        trained = loaded.identity.info.context_length if loaded.identity.info else None
        self.window_.status.show_model(loaded.identity.name, loaded.device_label, loaded.n_ctx, trained)
        # By name: the next start loads whichever version of it is active then.
        self.window_.settings.update({"last_model": loaded.identity.name})
        try:
            self.window_.session.use_model(loaded)
        except AuditUnavailable as error:
            self.window_.show_notice(str(error))
        self.window_.show_passages_destination()
        if loaded.fallback_reason:
            self.window_.show_notice(loaded.fallback_reason, "warning")
        elif loaded.template_is_guess:
            self.window_.show_notice(f"{loaded.identity.path.name} has no chat template of its own; a "
                             "generic one is used, so answers may be odd.", "warning")
        self.window_._update_controls()
        self.window_.modelReady.emit(loaded)

    @Slot(object, str)
    def _on_load_failed(self, identity: ModelIdentity, message: str) -> None:
        self.loading = None
        self.window_.status.show_no_model()
        self.window_.model_picker.select(None)
        try:
            self.window_.session.model_refused(identity, message)
        except AuditUnavailable:
            pass  # the load failure is what the user needs to read; the log's problem shows next
        self.window_.show_notice(message, lasting=True)
        self.window_._update_controls()
        self.window_.modelFailed.emit(message)

    def stop(self) -> None:
        """No more asking the servers (the window is closing)."""
        self.remote_models.stop()
