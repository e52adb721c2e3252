"""The models the user can chat with, and how to describe each one in a line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from strongroom.core.gguf_info import GGUFError, GGUFInfo, read_gguf_info


@dataclass(frozen=True)
class ModelEntry:
    path: Path
    info: GGUFInfo | None
    problem: str | None = None  # why the file cannot be used, in plain words

    @property
    def name(self) -> str:
        return self.path.stem

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


def human_size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def human_count(n: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.0f}{unit}" if n / scale >= 10 else f"{n / scale:.1f}{unit}"
    return str(n)


def describe(path: Path) -> ModelEntry:
    try:
        return ModelEntry(path, read_gguf_info(path))
    except GGUFError as error:
        return ModelEntry(path, None, str(error))


def scan_folder(folder: Path) -> Catalog:
    """Every ``*.gguf`` file directly in ``folder``, sorted by name."""
    if not folder.is_dir():
        return Catalog([], f"There is no models folder yet ({folder}). "
                           "Put a .gguf model file there, then choose Refresh models.")
    paths = sorted(folder.glob("*.gguf"), key=lambda p: p.name.lower())
    entries = [describe(p) for p in paths if p.is_file()]
    if not entries:
        return Catalog([], f"No models found in {folder}. "
                           "Put a .gguf model file there, then choose Refresh models.")
    return Catalog(entries)
