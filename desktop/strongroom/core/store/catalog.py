"""The models the user can chat with, and the embedding models document search uses: every
loadable GGUF of the verified store's active versions, each as a `ModelIdentity` built
once from the store's record."""

from __future__ import annotations

from dataclasses import dataclass

from strongroom.core.inference.identity import ModelIdentity, identify_file
from strongroom.core.store.lifecycle import ACTIVE, STAGED, Lifecycle, LifecycleError
from strongroom.core.store.model_store import ModelStore, StoredVersion

NO_MODELS = ("No models have been imported yet. Choose Model → Import from a drive… (Ctrl+I) "
             "to bring one in from a verified transfer drive.")


@dataclass(frozen=True)
class Catalog:
    entries: list[ModelIdentity]  # the models that chat
    notice: str | None = None  # shown when there is nothing to choose
    staged: tuple[str, ...] = ()  # models with a version waiting to be tested and promoted
    embedding: tuple[ModelIdentity, ...] = ()  # the models that write vectors, for documents

    def embedding_model(self) -> ModelIdentity | None:
        """The embedding model the document libraries use: the first active one by name."""
        return next((e for e in self.embedding if e.usable), None)

    def usable(self) -> list[ModelIdentity]:
        return [e for e in self.entries if e.usable]

    def find(self, name_or_path: str) -> ModelIdentity | None:
        """The model called ``name_or_path`` (as listed), or stored at that path."""
        return next((e for e in self.entries
                     if e.name == name_or_path or str(e.path) == name_or_path), None)


def catalog_from_store(store: ModelStore) -> Catalog:
    """Every loadable GGUF of each model's active version, named after its model. Staged,
    previous and retired versions are not offered for chat (the model manager shows them)."""
    try:
        states = Lifecycle(store).states()
    except LifecycleError as error:
        return Catalog([], str(error))
    entries = []
    for state in states:
        if state.state != ACTIVE:
            continue
        version = state.version
        files = version.gguf_files()
        for path in files:
            label = version.name if len(files) == 1 else f"{version.name}/{path.stem}"
            entries.append(_identify_stored(version, path, label))
    embedding = tuple(e for e in entries if e.role == "embedding")
    entries = [e for e in entries if e.role != "embedding"]
    staged = sorted({s.version.name for s in states if s.state == STAGED})
    notice = None if entries else NO_MODELS
    if staged:
        notice = (f"Imported and waiting to be tested and promoted: {', '.join(staged)}. Choose "
                  "Model → Manage models… (or run `strongroom store smoke-test NAME VERSION` "
                  "and `strongroom store promote NAME VERSION`).")
    return Catalog(sorted(entries, key=lambda e: e.name.lower()), notice, tuple(staged),
                   tuple(sorted(embedding, key=lambda e: e.name.lower())))


def _identify_stored(version: StoredVersion, path, label: str) -> ModelIdentity:
    inside = path.relative_to(version.folder).as_posix()
    record = version.provenance
    return identify_file(
        path, name=label, model_id=str(record.get("model_id") or label),
        sha256=version.sha256_of(inside), store_version=f"{version.name}/{version.version}",
        provenance=record)
