"""`strongroom models`, `store` and `paths`, run as real subprocesses."""

import json

from tests.helpers.cli import strongroom


def test_models_lists_the_store(home, stored_model):
    result = strongroom("models", home=home)
    assert result.returncode == 0
    assert "SmolLM2-135M-Instruct · 98.4 MB · Q4_1 · 8,192 ctx · 135M params" in result.stdout
    listed = json.loads(strongroom("models", "--json", home=home).stdout)
    assert [m["usable"] for m in listed] == [True]
    assert listed[0]["context_length"] == 8192 and listed[0]["path"] == str(stored_model)
    assert listed[0]["model_id"] == "SmolLM2-135M-Instruct"



def test_models_with_an_empty_store(home):
    result = strongroom("models", home=home)
    assert result.returncode == 0 and "No models have been imported yet" in result.stdout



def test_paths(home):
    result = strongroom("paths", home=home)
    assert result.returncode == 0 and str(home.store_dir) in result.stdout
    assert strongroom("paths", "store", home=home).stdout.strip() == str(home.store_dir)
    assert strongroom("paths", "nowhere", home=home).returncode == 2


def test_text_from_a_drive_is_shown_escaped(home, tmp_path):
    """A drive's model_id, revision and commit are the sender's words: escape codes, a
    right-to-left override and a forged line in them are shown as visible escapes by
    `import` and `store list`, never passed to the terminal."""
    from strongroom.core.transfer.prepare import prepare_local, write_transfer_manifest
    from tests.helpers.gguf_files import write_small_gguf

    source = tmp_path / "source"
    source.mkdir()
    write_small_gguf(source / "tiny.gguf", context_length=1024)
    drive = tmp_path / "drive"
    prepare_local(drive, "tiny", [source])
    manifest = drive / "models" / "tiny" / "airgap_manifest.json"
    document = json.loads(manifest.read_text())
    document["model_id"] = "org/tiny\x1b[8m concealed\x1b[0m"
    document["revision"] = "main\nAll 45 files verified"
    document["source"] = {"kind": "hub", "resolved_commit": "abc\u202edef\x9b31m"}
    manifest.write_text(json.dumps(document))
    (drive / "models" / "tiny" / "checksums.sha256").unlink()
    write_transfer_manifest(drive)

    for arguments in (("import", str(drive), "--yes"), ("store", "list"), ("models",)):
        result = strongroom(*arguments, home=home)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        invisible = {hex(ord(c)) for c in output
                     if (ord(c) < 32 and c != "\n") or 127 <= ord(c) < 160 or c == "\u202e"}
        assert not invisible, f"{arguments}: {sorted(invisible)} reached the terminal:\n{output!r}"
        assert "All 45 files verified" not in output.splitlines()
    listed = strongroom("store", "list", home=home).stdout
    assert "\\x1b[8m" in listed and "\\u202e" in listed, listed
