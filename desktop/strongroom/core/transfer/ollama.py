"""Reading an Ollama models folder as if it were a transfer drive.

Ollama keeps ``manifests/<registry>/<namespace>/<model>/<tag>`` (JSON listing layers by
digest) and ``blobs/sha256-<hex>``. Each layer's digest is its SHA-256, so every blob is
checked exactly as a file on a drive is: the model layer becomes ``<model>-<tag>.gguf`` in
the store, and the template, parameters and licence layers are kept beside it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from strongroom.core.transfer.manifests import Entry, Manifest, ManifestError, read_capped
from strongroom.core.transfer.offered import Drive, DriveModel, safe_model_name

DEFAULT_REGISTRY = "registry.ollama.ai"
_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")
_LAYER_NAMES = {
    "application/vnd.ollama.image.model": "{model}.gguf",
    "application/vnd.ollama.image.template": "template",
    "application/vnd.ollama.image.system": "system",
    "application/vnd.ollama.image.params": "params.json",
    "application/vnd.ollama.image.license": "license",
    "application/vnd.ollama.image.messages": "messages.json",
}


def looks_like_ollama(root: Path) -> bool:
    return (root / "manifests").is_dir() and (root / "blobs").is_dir()


MAX_MANIFESTS = 1000


def open_ollama(root: Path, label: str) -> Drive:
    drive = Drive(root, label, kind="ollama")
    manifests = []
    for folder, _dirs, files in os.walk(root / "manifests"):  # links are not followed
        manifests += [Path(folder) / name for name in files]
        if len(manifests) > MAX_MANIFESTS:
            drive.problems.append(f"{root}: more than {MAX_MANIFESTS} Ollama manifests; this is "
                                  "not a models folder Strongroom will read")
            return drive
    for path in sorted(manifests):
        drive.models.append(_read_manifest(root, path))
    if not drive.models:
        drive.problems.append(f"{root} looks like an Ollama models folder but has no manifests")
    return drive


def _model_names(root: Path, path: Path) -> tuple[str, str]:
    """(store name, model id) from manifests/<registry>/<namespace>/<model>/<tag>."""
    parts = path.relative_to(root / "manifests").parts
    registry, *namespace, model, tag = parts if len(parts) >= 3 else ("", "", *parts)
    namespace = "/".join(namespace)
    model_id = f"{namespace}/{model}:{tag}" if namespace and namespace != "library" else f"{model}:{tag}"
    if registry and registry != DEFAULT_REGISTRY:
        model_id = f"{registry}/{model_id}"
    return safe_model_name(f"{model}-{tag}"), model_id


def _read_manifest(root: Path, path: Path) -> DriveModel:
    import hashlib
    import json

    name, model_id = _model_names(root, path)
    model = DriveModel(name, "", owns_folder=False)
    try:
        raw = read_capped(path)  # refused unread when too large; never through a link
        document = json.loads(raw)
        layers = document.get("layers")
        if not isinstance(layers, list) or not layers:
            raise ManifestError(f"{path}: the Ollama manifest lists no layers")
        counts: dict[str, int] = {}
        for index, layer in enumerate(layers):
            if not isinstance(layer, dict):
                raise ManifestError(f"{path}: layer {index} is not an object")
            digest = _DIGEST.fullmatch(str(layer.get("digest", "")))
            size = layer.get("size")
            if digest is None or isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise ManifestError(f"{path}: layer {index} has no valid sha256 digest and size")
            pattern = _LAYER_NAMES.get(str(layer.get("mediaType")), "layer")
            base = pattern.format(model=name)
            counts[base] = counts.get(base, 0) + 1
            entry_name = base if counts[base] == 1 else f"{base}-{counts[base]}"
            model.entries[entry_name] = Entry(entry_name, digest.group(1), size)
            model.sources[entry_name] = f"blobs/sha256-{digest.group(1)}"
    except (OSError, ValueError, RecursionError) as error:
        model.problems.append(str(error) if isinstance(error, ManifestError)
                              else f"{path}: not a readable Ollama manifest ({error})")
        return model
    if not any(n.endswith(".gguf") for n in model.entries):
        model.problems.append(f"{path}: the Ollama manifest has no model layer")
    model.other_manifest = Manifest(path, "ollama", dict(model.entries),
                                    hashlib.sha256(raw).hexdigest(), model_id, path.name, raw=raw)
    model.listings.append((str(path.relative_to(root)), dict(model.entries)))
    return model
