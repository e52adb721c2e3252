"""`strongroom prepare` on the connected side: from a (stand-in) hub and from local files."""

import json
import os
import subprocess
import sys

import pytest

from strongroom.core.transfer.drive import open_drive, verify_drive
from strongroom.core.transfer.prepare import (
    PrepareError,
    prepare_local,
    write_transfer_manifest,
)
from tests.helpers import REPO
from tests.helpers.standin_hub import StandInHub, git_blob_id

CONFIG = json.dumps({"architectures": ["LlamaForCausalLM"]}).encode()


def prepare_cli(hub, tmp_path, *args):
    env = hub.client_env(tmp_path / "hf-home")
    env["STRONGROOM_HOME"] = str(tmp_path / "home")
    return subprocess.run([sys.executable, "-m", "strongroom", "prepare", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture
def hub(demo_model):
    with StandInHub() as hub:
        hub.commit = hub.add_repo("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", {
            "SmolLM2-135M-Instruct.Q4_1.gguf": demo_model,
            "config.json": CONFIG,
            "README.md": b"# SmolLM2\n" * 300,
        })
        yield hub


def sha256sum_check(folder, manifest):
    return subprocess.run(["sha256sum", "-c", "--strict", manifest], cwd=folder,
                          capture_output=True, text=True)


def test_prepare_from_the_hub_checks_every_file(hub, tmp_path, demo_drive):
    drive = tmp_path / "drive"
    result = prepare_cli(hub, tmp_path, str(drive), "--repo", "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
                         "--include", "*.gguf", "*.json", "--name", "smollm2")
    assert result.returncode == 0, result.stderr
    folder = drive / "models" / "smollm2"
    assert sorted(p.name for p in folder.iterdir()) == [
        "SmolLM2-135M-Instruct.Q4_1.gguf", "airgap_manifest.json", "checksums.sha256", "config.json"]
    manifest = json.loads((folder / "airgap_manifest.json").read_text())
    assert manifest["model_id"] == "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
    assert manifest["revision"] == "main"
    assert manifest["source"]["resolved_commit"] == hub.commit
    assert manifest["files"]["SmolLM2-135M-Instruct.Q4_1.gguf"]["hub_check"] == "hub-lfs-sha256"
    assert manifest["files"]["config.json"]["hub_check"] == "hub-git-blob-id"
    assert manifest["files"]["config.json"]["size_bytes"] == len(CONFIG)
    assert sha256sum_check(folder, "checksums.sha256").returncode == 0
    assert sha256sum_check(drive, "TRANSFER_MANIFEST.sha256").returncode == 0
    metadata = (drive / "TRANSFER_METADATA.txt").read_text()
    assert "Models included: smollm2" in metadata and "File count: 4" in metadata
    assert not (drive / ".strongroom-partial").exists()
    assert verify_drive(open_drive(drive)).ok
    assert ("GET", "/api/models/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/revision/main") in hub.requests
    assert not any("agent-harnesses" in path or "telemetry" in path for _, path in hub.requests)

    # …and it comes in through the workstation's import, with the hub check recorded
    env = {**os.environ, "STRONGROOM_HOME": str(tmp_path / "workstation")}
    imported = subprocess.run([sys.executable, "-m", "strongroom", "import", str(drive), "--yes"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    listed = json.loads(subprocess.run([sys.executable, "-m", "strongroom", "store", "list", "--json"],
                                       cwd=REPO, env=env, capture_output=True, text=True).stdout)
    record = listed[0]["provenance"]
    assert record["commit"] == hub.commit
    assert record["hub_check"] == ["hub-git-blob-id", "hub-lfs-sha256"]


@pytest.mark.parametrize("lie", ["corrupt_files", "wrong_metadata"])
@pytest.mark.parametrize("filename", ["SmolLM2-135M-Instruct.Q4_1.gguf", "config.json"])
def test_a_download_that_does_not_match_the_hub_stops_the_model(hub, tmp_path, lie, filename):
    getattr(hub, lie).add(f"HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/{filename}")
    drive = tmp_path / "drive"
    result = prepare_cli(hub, tmp_path, str(drive), "--repo", "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
                         "--include", "*.gguf", "*.json")
    assert result.returncode == 1
    assert filename in result.stderr and "does not match what the hub records" in result.stderr
    assert "nothing was written for this model" in result.stderr
    assert not (drive / "models").exists() or list((drive / "models").iterdir()) == []
    assert not (drive / "TRANSFER_MANIFEST.sha256").exists()


def test_unknown_repository_and_pattern(hub, tmp_path):
    result = prepare_cli(hub, tmp_path, str(tmp_path / "d"), "--repo", "nobody/nothing")
    assert result.returncode == 1 and "could not describe nobody/nothing" in result.stderr
    result = prepare_cli(hub, tmp_path, str(tmp_path / "d"), "--repo",
                         "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", "--include", "*.safetensors")
    assert result.returncode == 1 and "No file of" in result.stderr


def test_rerunning_adds_models_and_updates_the_root_manifests(tmp_path, demo_model):
    drive = tmp_path / "drive"
    small = tmp_path / "notes.txt"
    small.write_text("tokenizer notes")
    prepare_local(drive, "first", [demo_model])
    first = write_transfer_manifest(drive)
    prepare_local(drive, "second", [small])
    second = write_transfer_manifest(drive)
    assert first.models == ["first"] and second.models == ["first", "second"]
    assert second.file_count == first.file_count + 3
    small.write_text("tokenizer notes, revised")
    prepare_local(drive, "second", [small])  # replaces the model folder whole
    write_transfer_manifest(drive)
    report = verify_drive(open_drive(drive))
    assert report.ok, report.summary()
    assert (drive / "models" / "second" / "notes.txt").read_text() == "tokenizer notes, revised"


def test_local_folders_are_copied_whole_and_links_refused(tmp_path):
    source = tmp_path / "model"
    (source / "sub").mkdir(parents=True)
    (source / "weights.bin").write_bytes(b"w" * 1000)
    (source / "sub" / "tokenizer.json").write_text("{}")
    drive = tmp_path / "drive"
    prepared = prepare_local(drive, "folder-model", [source])
    assert sorted(prepared.entries) == ["sub/tokenizer.json", "weights.bin"]
    os.symlink("/etc/passwd", source / "sneaky")
    with pytest.raises(PrepareError, match="sneaky is a symbolic link"):
        prepare_local(drive, "folder-model-2", [source])
    with pytest.raises(PrepareError, match="cannot be a model name"):
        prepare_local(drive, "../escape", [tmp_path / "model" / "weights.bin"])
    assert not (drive / "models" / "folder-model-2").exists()


def test_the_git_blob_id_is_gits(tmp_path):
    path = tmp_path / "hello"
    path.write_bytes(b"hello\n")
    from strongroom.core.transfer.prepare import git_blob_id as ours

    assert ours(path) == git_blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"
