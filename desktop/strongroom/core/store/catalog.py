"""The models the user can chat with (those in the verified store), each described in a line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from strongroom.core.inference.gguf_header import GGUFError, GGUFInfo, read_gguf_info
from strongroom.core.units import human_count, human_size

if TYPE_CHECKING:
    from strongroom.core.store.model_store import ModelStore


@dataclass(frozen=True)
class ModelEntry:
    path: Path
    info: GGUFInfo | None
    problem: str | None = None  # why the file cannot be used, in plain words
    label: str | None = None  # how to name it; the file name without .gguf by default
    provenance: dict | None = None  # where it came from, for stored models

    @property
    def name(self) -> str:
        return self.label or self.path.stem

    @property
    def usable(self) -> bool:
        return self.info is not None

    def summary(self) -> str:
        """Name, size, quantization and context length on one line."""
        if self.info is None:
            return f"{self.name} — cannot be used"
        parts = [self.name, human_size(self.info.file_size), self.info.quantization]
        if self.info.context_length:
            parts.append(f"{self.info.context_length:,} ctx")
        if self.info.parameter_count:
            parts.append(f"{human_count(self.info.parameter_count)} params")
        return " · ".join(parts)


@dataclass(frozen=True)
class Catalog:
    entries: list[ModelEntry]
    notice: str | None = None  # shown when there is nothing to choose


def describe(path: Path, label: str | None = None, provenance: dict | None = None) -> ModelEntry:
    try:
        return ModelEntry(path, read_gguf_info(path), None, label, provenance)
    except GGUFError as error:
        return ModelEntry(path, None, str(error), label, provenance)


NO_MODELS = ("No models have been imported yet. Choose Model → Import from a drive… (Ctrl+I) "
             "to bring one in from a verified transfer drive.")


def catalog_from_store(store: "ModelStore") -> Catalog:
    """Every loadable GGUF of every stored version, named after its model."""
    versions = store.versions()
    names = [v.name for v in versions]
    entries = []
    for version in versions:
        files = version.gguf_files()
        for path in files:
            label = version.name if len(files) == 1 else f"{version.name}/{path.stem}"
            if names.count(version.name) > 1:
                label += f" ({version.version[:8]})"
            entries.append(describe(path, label, version.provenance))
    return Catalog(sorted(entries, key=lambda e: e.name.lower()), None if entries else NO_MODELS)
