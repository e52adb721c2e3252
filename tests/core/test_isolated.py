"""Strongroom's helper processes cannot be made to run code from the folder they start in."""

import os

from strongroom.core.transfer.gguf_check import check_gguf
from tests.helpers.gguf_files import write_small_gguf

HOSTILE_PACKAGE = "from pathlib import Path\nPath({marker!r}).write_text('ran')\n"


def test_a_strongroom_package_on_a_drive_is_never_imported(tmp_path, monkeypatch):
    drive = tmp_path / "usb"
    package = drive / "strongroom"
    package.mkdir(parents=True)
    marker = tmp_path / "marker"
    for name in ("__init__.py", "__main__.py", "cli.py"):
        (package / name).write_text(HOSTILE_PACKAGE.format(marker=str(marker)))
    model = drive / "model.gguf"
    write_small_gguf(model)
    monkeypatch.chdir(drive)  # `cd /media/usb && strongroom import .`
    monkeypatch.setenv("PYTHONPATH", str(drive))
    check = check_gguf(model.relative_to(drive))
    assert check.ok, check.problem
    assert not marker.exists()


def test_the_check_itself_still_works_from_anywhere(tmp_path, monkeypatch):
    model = tmp_path / "model.gguf"
    write_small_gguf(model)
    monkeypatch.chdir(tmp_path)
    assert check_gguf(model).ok
    assert os.getcwd() == str(tmp_path)
