"""`strongroom officer` and `strongroom trust`, run as real subprocesses: the officer's key,
signing from the stand-in hub and after the fact, the workstation's trust list (each change
an audit entry) and its policy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from strongroom.core.transfer.signatures import shown_fingerprint
from tests.helpers.cli import strongroom
from tests.helpers.officer import PASSPHRASE

HUB_REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"


@pytest.fixture
def officer(tmp_path, home):
    """A key made by `strongroom officer keygen`; returns (key folder, passphrase file,
    fingerprint as shown)."""
    passphrase = tmp_path / "passphrase.txt"
    passphrase.write_bytes(PASSPHRASE + b"\n")
    made = strongroom("officer", "keygen", "--out", str(tmp_path / "keys"),
                      "--passphrase-file", str(passphrase), home=home)
    assert made.returncode == 0, made.stderr
    shown = made.stdout.split("Fingerprint: ")[1].splitlines()[0]
    return tmp_path / "keys", passphrase, shown


def trust(home, keys: Path, name: str = "Alice Officer"):
    return strongroom("trust", "add", str(keys / "officer-key.pub.pem"), "--name", name, home=home)


def audit_events(home, event: str) -> list[dict]:
    lines = home.audit_log.read_text().splitlines()
    return [json.loads(line)["details"] for line in lines if json.loads(line)["event"] == event]


def test_keygen_trust_list_remove_are_shown_and_audited(officer, home):
    keys, _, fingerprint = officer
    added = trust(home, keys)
    assert added.returncode == 0, added.stderr
    assert f"Trusted: Alice Officer ({fingerprint})" in added.stdout
    assert "requires a trusted officer's signature" in added.stdout
    again = trust(home, keys, "Someone Else")
    assert again.returncode != 0 and "already trusted, as 'Alice Officer'" in again.stderr
    listed = strongroom("trust", "list", home=home)
    assert f"Alice Officer ({fingerprint})" in listed.stdout and "test keyring" in listed.stdout

    too_short = strongroom("trust", "remove", "abc", home=home)
    assert too_short.returncode == 2 and "at least 8 characters" in too_short.stderr
    removed = strongroom("trust", "remove", fingerprint.replace(" ", "")[:12], home=home)
    assert removed.returncode == 0 and "No longer trusted: Alice Officer" in removed.stdout
    assert "no officer key is trusted" in removed.stdout
    changes = audit_events(home, "trust_change")
    assert [c["action"] for c in changes] == ["key added", "key removed"]
    assert changes[0]["key_name"] == "Alice Officer"
    assert shown_fingerprint(changes[0]["fingerprint"]) == fingerprint


def test_a_wrong_passphrase_signs_nothing(officer, home, tmp_path, demo_drive):
    keys, _, _ = officer
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the passphrase\n")
    drive = tmp_path / "drive"
    shutil.copytree(demo_drive, drive)
    result = strongroom("officer", "sign", str(drive), "--key", str(keys / "officer-key.pem"),
                        "--passphrase-file", str(wrong), home=home)
    assert result.returncode == 1 and "passphrase does not open" in result.stderr
    assert not list(drive.rglob("*.sig"))


def test_a_signed_drive_from_the_stand_in_hub_imports_with_its_signer(officer, home, tmp_path,
                                                                       demo_model):
    from tests.helpers.standin_hub import StandInHub

    keys, passphrase, fingerprint = officer
    drive = tmp_path / "drive"
    with StandInHub() as hub:
        hub.add_repo(HUB_REPO, {"SmolLM2-135M-Instruct.Q4_1.gguf": demo_model,
                                "config.json": b'{"architectures": ["LlamaForCausalLM"]}'})
        prepared = strongroom("prepare", str(drive), "--repo", HUB_REPO, "--name", "smollm2",
                              "--sign", str(keys / "officer-key.pem"),
                              "--passphrase-file", str(passphrase),
                              home=tmp_path / "connected", env=hub.client_env(tmp_path / "hf"))
    assert prepared.returncode == 0, prepared.stderr
    assert "signed: " in prepared.stdout and (drive / "TRANSFER_MANIFEST.sig").is_file()

    assert trust(home, keys).returncode == 0
    imported = strongroom("import", str(drive), "--yes", home=home)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert f"Signed by Alice Officer ({fingerprint})" in imported.stdout
    assert "(the signer's claim)" in imported.stdout
    listed = strongroom("store", "list", home=home)
    assert f"signed by Alice Officer ({fingerprint})" in listed.stdout


def test_unsigned_and_wrongly_signed_drives_are_refused_under_the_policy(officer, home, tmp_path,
                                                                          demo_drive):
    keys, passphrase, _ = officer
    assert trust(home, keys).returncode == 0
    unsigned = strongroom("import", str(demo_drive), "--yes", home=home)
    assert unsigned.returncode == 1
    assert "SmolLM2-135M-Instruct is not signed" in unsigned.stdout + unsigned.stderr

    other = tmp_path / "other-officer"
    made = strongroom("officer", "keygen", "--out", str(other), "--passphrase-file",
                      str(passphrase), home=home)
    other_fingerprint = made.stdout.split("Fingerprint: ")[1].splitlines()[0]
    drive = tmp_path / "drive"
    shutil.copytree(demo_drive, drive)
    signed = strongroom("officer", "sign", str(drive), "--key", str(other / "officer-key.pem"),
                        "--passphrase-file", str(passphrase), home=home)
    assert signed.returncode == 0, signed.stderr
    refused = strongroom("import", str(drive), "--yes", home=home)
    assert refused.returncode == 1
    output = refused.stdout + refused.stderr
    assert "signed by a key this workstation does not trust" in output
    assert other_fingerprint in output
    assert not any(home.store_dir.joinpath("models").glob("*/*")) \
        if home.store_dir.joinpath("models").exists() else True
    assert strongroom("verify", str(drive), home=home).returncode == 1


def test_a_reference_made_drive_signed_after_the_fact_imports(officer, home, tmp_path, seed_drive):
    keys, passphrase, fingerprint = officer
    drive = tmp_path / "transfer_drive"
    shutil.copytree(seed_drive, drive)
    signed = strongroom("officer", "sign", str(drive), "--key", str(keys / "officer-key.pem"),
                        "--passphrase-file", str(passphrase), home=home)
    assert signed.returncode == 0, signed.stdout + signed.stderr
    assert signed.stdout.count("signed: ") == 3  # two model folders and the transfer manifest
    assert trust(home, keys).returncode == 0
    imported = strongroom("import", str(drive), "--yes", home=home)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert imported.stdout.count(f"Signed by Alice Officer ({fingerprint})") == 2


@pytest.fixture(scope="module")
def seed_drive(tmp_path_factory, demo_model) -> Path:
    from tests.helpers.seed_drives import make_seed_drive

    return make_seed_drive(tmp_path_factory.mktemp("seed"), demo_model)


def test_trusting_the_same_key_under_the_same_name_again_changes_nothing(officer, home):
    keys, _, fingerprint = officer
    assert trust(home, keys).returncode == 0
    again = trust(home, keys)
    assert again.returncode == 0, again.stderr
    assert f"Already trusted: Alice Officer ({fingerprint}); nothing was changed." in again.stdout
    assert [c["action"] for c in audit_events(home, "trust_change")] == ["key added"]
    listed = json.loads(strongroom("trust", "list", "--json", home=home).stdout)
    assert [(k["name"], k["demo"]) for k in listed["keys"]] == [("Alice Officer", False)]
    assert listed["enforced"] is True
    assert listed["keys"][0]["fingerprint"] == fingerprint.replace(" ", "")


def test_a_demo_key_keeps_compliance_amber_until_it_is_removed(officer, home):
    keys, _, fingerprint = officer
    added = strongroom("trust", "add", str(keys / "officer-key.pub.pem"), "--name", "Demo",
                       "--demo", home=home)
    assert added.returncode == 0, added.stderr
    assert "the setup's demo key" in strongroom("trust", "list", home=home).stdout
    report = json.loads(strongroom("compliance", "--json", home=home).stdout)
    [check] = [c for c in report["checks"] if c["id"] == "trust"]
    assert check["status"] == "amber" and "its private key sits in the Strongroom checkout" in check["reason"]
    strongroom("trust", "remove", fingerprint.replace(" ", "")[:16], home=home)
    strongroom("trust", "add", str(keys / "officer-key.pub.pem"), "--name", "Alice Officer",
               home=home)
    report = json.loads(strongroom("compliance", "--json", home=home).stdout)
    [check] = [c for c in report["checks"] if c["id"] == "trust"]
    assert check["status"] == "green"


def test_an_active_model_whose_signer_is_no_longer_trusted_is_amber(officer, home, tmp_path,
                                                                      demo_model):
    keys, passphrase, fingerprint = officer
    drive = tmp_path / "signed-drive"
    made = strongroom("prepare", str(drive), "--file", str(demo_model), "--name", "Signed",
                      "--sign", str(keys / "officer-key.pem"), "--passphrase-file",
                      str(passphrase), home=home)
    assert made.returncode == 0, made.stderr
    assert trust(home, keys).returncode == 0
    assert strongroom("import", str(drive), "--yes", home=home).returncode == 0
    promoted = strongroom("store", "promote", "Signed", "--override", home=home)
    assert promoted.returncode == 0, promoted.stderr

    def models_check() -> dict:
        report = json.loads(strongroom("compliance", "--json", home=home).stdout)
        return next(c for c in report["checks"] if c["id"] == "models")

    assert "no longer trusts" not in models_check()["reason"]
    strongroom("trust", "remove", fingerprint.replace(" ", "")[:16], home=home)
    check = models_check()
    assert check["status"] == "amber"
    assert "was signed by Alice Officer, whose key this workstation no longer trusts" in check["reason"]
