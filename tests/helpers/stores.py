"""Stores made for tests the way users make them: a small model prepared onto a drive and
imported."""

from __future__ import annotations

from pathlib import Path

from strongroom.core.store.model_store import ModelStore
from strongroom.core.transfer.drive import open_drive
from strongroom.core.transfer.prepare import prepare_local
from tests.helpers.gguf_files import write_small_gguf


def store_with_small_model(tmp_path_factory, name: str,
                           extra_files: dict[str, str] | None = None) -> Path:
    """A store holding one imported model called ``name`` (a small GGUF, plus
    ``extra_files``); returns the store's folder."""
    source = tmp_path_factory.mktemp(f"{name}-source")
    write_small_gguf(source / f"{name}.gguf", context_length=1024)
    for filename, text in (extra_files or {}).items():
        (source / filename).write_text(text)
    drive = tmp_path_factory.mktemp(f"{name}-drive")
    prepare_local(drive, name, [source])
    root = tmp_path_factory.mktemp(f"{name}-store") / "store"
    opened = open_drive(drive)
    ModelStore(root).import_model(opened, opened.models[0])
    return root
