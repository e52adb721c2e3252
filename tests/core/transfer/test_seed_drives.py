"""Drives made with the reference document's own commands verify and import in Strongroom,
and what Strongroom writes passes the reference document's own checks."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.helpers.seed_drives import (
    make_seed_drive,
    seed_download_and_verify_manifest,
    seed_verify_manifest,
)


@pytest.fixture(scope="module")
def seed_drive(tmp_path_factory, demo_model) -> Path:
    return make_seed_drive(tmp_path_factory.mktemp("seed"), demo_model)


def strongroom(*args, home):
    env = {**os.environ, "STRONGROOM_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "strongroom", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


def test_a_seed_made_drive_verifies_with_honest_notes(seed_drive, tmp_path):
    result = strongroom("verify", str(seed_drive), home=tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"records paths under '{seed_drive}/'" in result.stdout
    # The reference pipes `find` into `sort > TRANSFER_MANIFEST.sha256`: whether find meets
    # the manifest sort is creating is a race, so the drive may or may not list it.
    lists_itself = "/TRANSFER_MANIFEST.sha256\n" in (seed_drive / "TRANSFER_MANIFEST.sha256").read_text()
    assert ("TRANSFER_MANIFEST.sha256 lists itself" in result.stdout) == lists_itself
    assert "records paths under 'models/gguf/smollm2/'" in result.stdout
    assert "All 7 files verified" in result.stdout
    report = json.loads(strongroom("verify", "--json", str(seed_drive), home=tmp_path / "home").stdout)
    assert report["ok"] and report["counts"] == {"OK": 7}


def test_a_seed_made_drive_imports(seed_drive, tmp_path):
    home = tmp_path / "home"
    result = strongroom("import", str(seed_drive), "--yes", home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smollm2-snapshot: imported" in result.stdout and "smollm2: imported" in result.stdout
    listed = json.loads(strongroom("store", "list", "--json", home=home).stdout)
    by_name = {v["name"]: v["provenance"] for v in listed}
    assert by_name["smollm2-snapshot"]["model_id"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert by_name["smollm2-snapshot"]["manifest"]["kind"] == "json"
    assert by_name["smollm2"]["manifest"]["kind"] == "sha256sum"
    # the same bytes arrived twice under two names: stored once
    blobs = list((home / "data" / "store" / "blobs").iterdir())
    assert len([b for b in blobs if b.stat().st_size == 98362432]) == 1


def test_a_seed_made_drive_imports_through_the_wizard(seed_drive, tmp_path):
    from strongroom.core.store.import_workflow import ImportWorkflow, Step
    from strongroom.core.store.model_store import ModelStore

    wizard = ImportWorkflow(ModelStore(tmp_path / "store"), drive_finder=lambda: [])
    assert wizard.choose_drive(seed_drive) is None
    wizard.advance()
    wizard.choose_models(["smollm2"])
    wizard.advance()
    assert wizard.run_verify().ok
    wizard.advance()
    [item] = wizard.review()
    assert any("only checksums.sha256 describes this model" in w for w in item.warnings)
    wizard.advance()
    [result] = wizard.run_import()
    assert wizard.advance() is Step.DONE and not result.already_present


def test_a_tampered_seed_drive_is_refused(seed_drive, tmp_path):
    import shutil

    drive = tmp_path / "copy"
    shutil.copytree(seed_drive, drive)
    with open(drive / "pip_cache" / "example-1.0-py3-none-any.whl", "a") as handle:
        handle.write("x")
    result = strongroom("verify", str(drive), home=tmp_path / "home")
    assert result.returncode == 1
    assert "CHECKSUM MISMATCH  pip_cache/example-1.0-py3-none-any.whl" in result.stdout


def test_strongroom_drives_pass_the_reference_checks(demo_drive):
    folder = demo_drive / "models" / "SmolLM2-135M-Instruct"
    assert seed_verify_manifest(folder)
    for where, manifest in ((demo_drive, "TRANSFER_MANIFEST.sha256"), (folder, "checksums.sha256")):
        result = subprocess.run(["sha256sum", "--check", "--quiet", manifest], cwd=where)
        assert result.returncode == 0


def test_a_gguf_only_checksum_file_beside_a_complete_manifest_is_no_disagreement(tmp_path, demo_model):
    """The reference GGUF script appends the GGUF's checksum to checksums.sha256 in a folder
    whose airgap_manifest.json lists every file: that is a subset, not a disagreement."""
    from strongroom.core.transfer.drive import open_drive, verify_drive

    model = tmp_path / "drive" / "models" / "smollm2"
    model.mkdir(parents=True)
    (model / "model.gguf").write_bytes(demo_model.read_bytes())
    (model / "config.json").write_text("{}")
    seed_download_and_verify_manifest("HuggingFaceTB/SmolLM2-135M-Instruct", model)
    digest = hashlib.sha256((model / "model.gguf").read_bytes()).hexdigest()
    (model / "checksums.sha256").write_text(f"{digest}  ./models/smollm2/model.gguf\n")
    report = verify_drive(open_drive(tmp_path / "drive"))
    assert report.ok, report.summary()
    assert any("lists 1 of the model's" in n for n in report.notes)
    # the same file listed with another checksum is a disagreement
    (model / "checksums.sha256").write_text(f"{'0' * 64}  ./models/smollm2/model.gguf\n")
    report = verify_drive(open_drive(tmp_path / "drive"))
    assert not report.ok and any("disagree about 'model.gguf'" in p for p in report.problems)


def test_the_reference_procedure_verifies_at_another_mount_point(tmp_path, demo_model):
    """Made at /mnt/transfer_drive (absolute paths, here without the manifest's own line),
    verified where the officer's desktop mounts it."""
    from strongroom.core.transfer.drive import open_drive, verify_drive

    drive = tmp_path / "media" / "officer" / "USBDRIVE"
    model = drive / "models" / "smollm2"
    model.mkdir(parents=True)
    (model / "model.gguf").write_bytes(demo_model.read_bytes())
    digest = hashlib.sha256((model / "model.gguf").read_bytes()).hexdigest()
    (model / "checksums.sha256").write_text(f"{digest}  model.gguf\n")
    sums_digest = hashlib.sha256((model / "checksums.sha256").read_bytes()).hexdigest()
    (drive / "TRANSFER_MANIFEST.sha256").write_text(
        f"{digest}  /mnt/transfer_drive/models/smollm2/model.gguf\n"
        f"{sums_digest}  /mnt/transfer_drive/models/smollm2/checksums.sha256\n")
    report = verify_drive(open_drive(drive))
    assert report.ok, report.summary()
    assert any("records paths under '/mnt/transfer_drive/'" in n for n in report.notes)
    # anything else absolute stays an unsafe path
    (drive / "TRANSFER_MANIFEST.sha256").write_text(
        (drive / "TRANSFER_MANIFEST.sha256").read_text() + f"{digest}  /etc/shadow\n")
    report = verify_drive(open_drive(drive))
    assert any(r.status.value == "UNSAFE PATH" and r.path == "/etc/shadow" for r in report.results)
