"""Importing from an Ollama models folder: every blob is checked against its digest."""

import hashlib
import json

import pytest

from strongroom.core.store.model_store import ImportRefused, ModelStore
from strongroom.core.transfer.drive import open_drive, verify_drive
from strongroom.core.transfer.file_checks import Status

TEMPLATE = b"{{ .System }}\n{{ .Prompt }}"


def add_blob(root, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs" / f"sha256-{digest}").write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


@pytest.fixture
def ollama(tmp_path, demo_model):
    root = tmp_path / "ollama" / "models"
    (root / "blobs").mkdir(parents=True)
    manifest_dir = root / "manifests" / "registry.ollama.ai" / "library" / "smollm2"
    manifest_dir.mkdir(parents=True)
    model = add_blob(root, demo_model.read_bytes())
    template = add_blob(root, TEMPLATE)
    add_blob(root, b"another model's blob, not ours")
    document = {"schemaVersion": 2,
                "layers": [{"mediaType": "application/vnd.ollama.image.model", **model},
                           {"mediaType": "application/vnd.ollama.image.template", **template}]}
    (manifest_dir / "135m").write_text(json.dumps(document))
    return root, root / "blobs" / f"sha256-{model['digest'][7:]}"


def test_an_ollama_model_imports_with_its_template(ollama, tmp_path):
    root, _ = ollama
    drive = open_drive(root)
    assert drive.kind == "ollama"
    [model] = drive.models
    assert model.name == "smollm2-135m" and model.model_id == "smollm2:135m"
    assert verify_drive(drive).ok  # other models' blobs are not "extra" in an Ollama folder
    store = ModelStore(tmp_path / "store")
    result = store.import_model(drive, model)
    assert sorted(f["path"] for f in result.version.files) == ["smollm2-135m.gguf", "template"]
    assert (result.version.folder / "template").read_bytes() == TEMPLATE
    assert result.version.provenance["manifest"]["kind"] == "ollama"
    assert result.version.gguf_files() == [result.version.folder / "smollm2-135m.gguf"]


def test_a_blob_that_does_not_match_its_digest_is_refused(ollama, tmp_path):
    root, model_blob = ollama
    with open(model_blob, "r+b") as handle:
        handle.seek(1_000_000)
        handle.write(b"\x00\x01")
    drive = open_drive(root)
    report = verify_drive(drive)
    assert not report.ok
    assert [(r.path, r.status) for r in report.failures()] == [
        (model_blob.relative_to(root).as_posix(), Status.CHECKSUM_MISMATCH)]
    store = ModelStore(tmp_path / "store")
    with pytest.raises(ImportRefused, match="CHECKSUM MISMATCH.*blobs/sha256-"):
        store.import_model(drive, drive.models[0])
    assert store.versions() == []


def test_a_missing_blob_and_a_broken_manifest(ollama):
    root, model_blob = ollama
    model_blob.unlink()
    drive = open_drive(root)
    assert [r.status for r in verify_drive(drive).failures()] == [Status.MISSING]
    manifest = next((root / "manifests").rglob("135m"))
    manifest.write_text('{"layers": [{"digest": "md5:abc", "size": 3}]}')
    [model] = open_drive(root).models
    assert "layer 0 has no valid sha256 digest" in model.problems[0]


def test_a_3_gb_sparse_manifest_is_refused_unread(ollama):
    """A manifest is read through a capped reader: a 3 GB file (sparse, so cheap to make)
    is refused from its size alone, quickly and without reading it into memory."""
    import resource
    import time

    root, _ = ollama
    manifest = next((root / "manifests").rglob("135m"))
    with open(manifest, "r+b") as handle:
        handle.truncate(3 * 1024**3)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    [model] = open_drive(root).models
    assert time.monotonic() - started < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 100 * 1024  # KiB
    assert any("135m" in problem and "refused unread" in problem for problem in model.problems), \
        model.problems


def test_a_manifest_that_is_a_link_is_not_followed(ollama, tmp_path):
    root, _ = ollama
    manifest = next((root / "manifests").rglob("135m"))
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(manifest.read_bytes())
    manifest.unlink()
    manifest.symlink_to(elsewhere)
    drive = open_drive(root)
    problems = drive.problems + [p for m in drive.models for p in m.problems]
    assert any("not a regular file" in problem or "link" in problem for problem in problems), problems
