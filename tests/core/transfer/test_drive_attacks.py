"""Attacks on the officer's workflow that are not one damaged file: code carried on the
drive, a drive of ten thousand files, a manifest swapped after it was read."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

from strongroom.core.store.model_store import ModelStore
from strongroom.core.transfer.drive import open_drive
from strongroom.core.transfer.prepare import prepare_local, write_transfer_manifest
from tests.helpers import REPO
from tests.helpers.gguf_files import write_small_gguf

STRONGROOM = Path(sys.executable).parent / "strongroom"  # the command the officer types


def officer_runs(*args: str, cwd: Path, home: Path, open_files: int | None = None):
    """`strongroom ARGS` as the installed command, from ``cwd``, optionally with a limit on
    open files (to show the count stays bounded)."""

    def limit() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    # PYTHONPATH: the tests' in-memory keyring lives in this repository, not on the drive.
    return subprocess.run([str(STRONGROOM), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, preexec_fn=limit,
                          env={**os.environ, "STRONGROOM_HOME": str(home), "PYTHONPATH": str(REPO)})


def small_drive(tmp_path: Path, files: int = 0) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    write_small_gguf(source / "tiny.gguf")
    if files:
        many = source / "many"
        many.mkdir()
        for index in range(files):
            (many / f"part-{index:05d}.txt").write_text(f"{index}\n")
    drive = tmp_path / "drive"
    prepare_local(drive, "tiny", [source])
    return drive


def test_code_on_the_drive_never_runs_even_when_the_drive_lists_it(tmp_path):
    """`cd /media/usb && strongroom import . --yes` with a `strongroom` package on the drive,
    listed in the transfer manifest so that the drive verifies: the import goes through,
    and the drive's package is never imported (the header check runs isolated, from /)."""
    drive = small_drive(tmp_path)
    mark = tmp_path / "code-from-the-drive-ran"
    package = drive / "strongroom"
    package.mkdir()
    for name in ("__init__.py", "__main__.py", "cli.py"):
        (package / name).write_text(f"open({str(mark)!r}, 'w').write('ran')\n")
    write_transfer_manifest(drive)

    verified = officer_runs("verify", ".", cwd=drive, home=tmp_path / "home")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    imported = officer_runs("import", ".", "--yes", cwd=drive, home=tmp_path / "home")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "tiny" in imported.stdout
    assert not mark.exists(), "code from the drive ran"


def test_a_drive_of_ten_thousand_files_verifies_with_few_open_files(tmp_path):
    drive = small_drive(tmp_path, files=10_000)
    write_transfer_manifest(drive)
    result = officer_runs("verify", str(drive), cwd=tmp_path, home=tmp_path / "home",
                          open_files=64)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "10,00" in result.stdout and "verified" in result.stdout, result.stdout[-500:]


def test_the_provenance_keeps_the_manifest_that_was_verified(tmp_path):
    """The manifest is swapped for a link to a forged one after the drive was read: the
    store records the bytes it verified against, not whatever the drive holds later."""
    drive_path = small_drive(tmp_path)
    manifest = drive_path / "models" / "tiny" / "airgap_manifest.json"
    verified_bytes = manifest.read_bytes()
    drive = open_drive(drive_path)
    forged = tmp_path / "forged.json"
    forged.write_text(verified_bytes.decode().replace('"model_id": "tiny"', '"model_id": "forged"'))
    manifest.unlink()
    manifest.symlink_to(forged)

    result = ModelStore(tmp_path / "store").import_model(drive, drive.models[0])
    recorded = result.version.provenance["manifest"]
    assert recorded["content"].encode() == verified_bytes
    assert "forged" not in recorded["content"]
    assert result.version.provenance["model_id"] == "tiny"
