"""Interoperation with the reference OMS tool, both ways: a folder signed by the upstream
`model_signing` command verifies in Strongroom, and what Strongroom signs verifies with
`model_signing verify`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from strongroom.core.transfer.drive import open_drive, verify_drive
from strongroom.core.transfer.prepare import prepare_local, write_transfer_manifest
from strongroom.core.transfer.signatures import DRIVE_SIGNATURE, SIGNATURE_FILE
from strongroom.core.transfer.signing_drives import sign_verified
from tests.helpers.gguf_files import write_small_gguf
from tests.helpers.officer import PASSPHRASE, officer_key, trusting


def upstream(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "model_signing", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def drive(tmp_path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    write_small_gguf(source / "tiny.gguf")
    (source / "tokenizer").mkdir()
    (source / "tokenizer" / "tokenizer.json").write_text('{"model": {}}\n')
    drive = tmp_path / "drive"
    prepare_local(drive, "tiny", [source])
    write_transfer_manifest(drive)
    return drive


@pytest.fixture
def officer(tmp_path):
    return officer_key(tmp_path / "officer")


def unencrypted_copy(private: Path, target: Path) -> Path:
    """The key without its passphrase: model_signing 1.1.1's command line hands --password
    to `cryptography` as text, which refuses it, so it can only sign with a plain key."""
    from cryptography.hazmat.primitives import serialization

    from strongroom.core.transfer.signatures import load_private_key

    key = load_private_key(private, PASSPHRASE)
    target.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
    target.chmod(0o600)
    return target


def test_a_folder_signed_upstream_verifies_in_strongroom(drive, officer, tmp_path):
    private, public, _ = officer
    folder = drive / "models" / "tiny"
    plain_key = unencrypted_copy(private, tmp_path / "plain.pem")
    signed = upstream("sign", "key", str(folder), "--signature", str(folder / SIGNATURE_FILE),
                      "--private_key", str(plain_key))
    assert signed.returncode == 0, signed.stdout + signed.stderr
    report = verify_drive(open_drive(drive), trust=trusting(public))
    assert report.ok, report.summary()
    assert report.signers["tiny"].file == f"models/tiny/{SIGNATURE_FILE}"


def test_what_strongroom_signs_verifies_upstream(drive, officer):
    private, public, _ = officer
    sign_verified(drive, private, PASSPHRASE)
    folder = drive / "models" / "tiny"
    checked = upstream("verify", "key", str(folder), "--signature", str(folder / SIGNATURE_FILE),
                       "--public_key", str(public))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Verification succeeded" in checked.stdout
    whole = upstream("verify", "key", str(drive / "TRANSFER_MANIFEST.sha256"),
                     "--signature", str(drive / DRIVE_SIGNATURE), "--public_key", str(public))
    assert whole.returncode == 0, whole.stdout + whole.stderr


def test_upstream_refuses_what_strongroom_refuses(drive, officer):
    private, public, _ = officer
    sign_verified(drive, private, PASSPHRASE)
    folder = drive / "models" / "tiny"
    (folder / "tokenizer" / "tokenizer.json").write_text('{"model": {"evil": true}}\n')
    checked = upstream("verify", "key", str(folder), "--signature", str(folder / SIGNATURE_FILE),
                       "--public_key", str(public))
    assert checked.returncode != 0
    assert not verify_drive(open_drive(drive), trust=trusting(public)).ok


# -- the workstation's checker against model-signing's own verifier ---------------------------------

def _tampered_bundles(raw: bytes) -> dict[str, bytes]:
    import base64
    import json

    def edit(change):
        bundle = json.loads(raw)
        change(bundle)
        return json.dumps(bundle).encode()

    def statement_edit(change):
        def apply(bundle):
            statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
            change(statement)
            bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
        return edit(apply)

    def flip(bundle):
        signature = bytearray(base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"]))
        signature[-1] ^= 1
        bundle["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()

    return {
        "as signed": raw,
        "signature bit flipped": edit(flip),
        "a digest changed": statement_edit(
            lambda s: s["predicate"]["resources"][0].update(digest="0" * 64)),
        "a file dropped": statement_edit(lambda s: s["predicate"]["resources"].pop()),
        "payload type changed": edit(lambda b: b["dsseEnvelope"].update(payloadType="text/plain")),
        "no signature": edit(lambda b: b["dsseEnvelope"].update(signatures=[])),
    }


def test_the_workstation_checker_agrees_with_model_signing(drive, officer):
    """Bundle for bundle, `check_bundle` accepts exactly what model-signing's verifier
    accepts, and reads the same digests from it."""
    from model_signing._signing import sign_ec_key, sign_sigstore_pb

    from strongroom.core.transfer.signatures import check_bundle, load_public_key

    private, public, fingerprint = officer
    sign_verified(drive, private, PASSPHRASE)
    raw = (drive / "models" / "tiny" / SIGNATURE_FILE).read_bytes()
    trusted = {fingerprint: load_public_key(public.read_bytes(), str(public))}
    for name, bundle in _tampered_bundles(raw).items():
        path = drive / f"{name}.sig"
        path.write_bytes(bundle)
        try:
            manifest = sign_ec_key.Verifier(public).verify(sign_sigstore_pb.Signature.read(path))
            theirs = {str(d.identifier): d.digest.digest_hex for d in manifest.resource_descriptors()}
        except Exception:
            theirs = None
        ours = check_bundle(bundle, trusted)
        assert ours.valid == (theirs is not None), (name, ours.problem)
        if theirs is not None:
            assert ours.digests == theirs, name
