"""What a drive offers: its models, their manifests and entries, and what was noticed while
reading them. The readers (`drive` for transfer drives and model folders, `ollama` for
Ollama folders) fill these in; verification and import work from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from strongroom.core.transfer.manifests import Entry, Manifest


@dataclass
class DriveModel:
    name: str
    relative: str  # folder relative to the drive root ("" for a lone model folder)
    json_manifest: Manifest | None = None
    checksums: Manifest | None = None
    entries: dict[str, Entry] = field(default_factory=dict)  # relative to the model folder
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Where each entry really is, relative to the drive root, when that is not simply
    # `relative/name` (an Ollama model's files are blobs named by digest).
    sources: dict[str, str] = field(default_factory=dict)
    other_manifest: Manifest | None = None  # a manifest of another kind (Ollama)
    owns_folder: bool = True  # everything in `relative` belongs to this model
    # What each manifest says: (its file name, its entries by path in the model folder).
    listings: list[tuple[str, dict[str, Entry]]] = field(default_factory=list)
    signature: bytes | None = None  # the folder's model.sig, as read (capped, never a link)
    # Signature files in the folder (model.sig; an app bundle's checksums.sha256.sig too):
    # they describe the model, and are not part of it.
    signature_files: list[str] = field(default_factory=list)

    def claims_for(self, name: str) -> list[tuple[str, Entry]]:
        """What every manifest of this model says about the file ``name``."""
        return [(self.drive_path(label) if label in self.manifest_files() else label, entries[name])
                for label, entries in self.listings if name in entries]

    @property
    def manifest(self) -> Manifest | None:
        """The manifest that defines the model: the JSON one when there is one."""
        return self.json_manifest or self.checksums or self.other_manifest

    @property
    def model_id(self) -> str:
        return (self.manifest.model_id if self.manifest else None) or self.name

    @property
    def revision(self) -> str | None:
        return self.manifest.revision if self.manifest else None

    @property
    def total_size(self) -> int | None:
        sizes = [e.size for e in self.entries.values()]
        return None if None in sizes else sum(sizes)

    def drive_path(self, name: str) -> str:
        if name in self.sources:
            return self.sources[name]
        return f"{self.relative}/{name}" if self.relative else name

    def manifest_files(self) -> list[str]:
        """The files in the folder that describe the model rather than belong to it."""
        names = [m.source.name for m in (self.json_manifest, self.checksums) if m is not None]
        return names + self.signature_files

    @property
    def extra_scan(self) -> list[str]:
        """Folders (relative to the drive root) where an unlisted file is a failure."""
        return [self.relative] if self.owns_folder else []


@dataclass
class Drive:
    root: Path
    label: str
    kind: str = "transfer"  # or "ollama": an Ollama models folder
    models: list[DriveModel] = field(default_factory=list)
    transfer: Manifest | None = None
    transfer_entries: dict[str, Entry] = field(default_factory=dict)  # relative to the root
    metadata: str | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    signature: bytes | None = None  # TRANSFER_MANIFEST.sig, as read

    def model(self, name: str) -> DriveModel:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(f"This drive has no model called {name!r}; it offers: "
                       + (", ".join(m.name for m in self.models) or "nothing"))


def safe_model_name(name: str) -> str:
    """The folder name a model from a drive gets in the store: letters, digits and -_.+ only."""
    cleaned = "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name).strip("._")
    return cleaned or "model"
