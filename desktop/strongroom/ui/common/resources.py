"""Finding the files in `resources/` (style, icons) from a checkout or a bundle."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path | None:
    """The resources folder: $STRONGROOM_RESOURCES, the bundle's copy, or the source tree's."""
    candidates = []
    if os.environ.get("STRONGROOM_RESOURCES"):
        candidates.append(Path(os.environ["STRONGROOM_RESOURCES"]))
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / "resources")
    package = Path(__file__).resolve().parents[2]  # desktop/strongroom (or site-packages/strongroom)
    candidates.append(package / "_resources")
    candidates.append(package.parents[1] / "resources")
    return next((c for c in candidates if c.is_dir()), None)


def resource(name: str) -> Path | None:
    folder = resources_dir()
    path = folder / name if folder else None
    return path if path is not None and path.is_file() else None
