"""Officer signatures (OMS v1.0): a drive signed by a trusted officer key imports with its
signer shown; an unsigned drive, a signature by an unknown key, and every way of making a
signature vouch for other bytes are refused, naming the signature and the key."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from strongroom.core.store.import_workflow import ImportWorkflow, Step
from strongroom.core.store.model_store import ModelStore
from strongroom.core.transfer.drive import open_drive, verify_drive
from strongroom.core.transfer.manifests import sha256sum_text
from strongroom.core.transfer.prepare import prepare_local, write_transfer_manifest
from strongroom.core.transfer.signatures import (
    DRIVE_SIGNATURE,
    SIGNATURE_FILE,
    SigningError,
    load_private_key,
    shown_fingerprint,
    sign_folder,
)
from strongroom.core.transfer.signing_drives import sign_verified
from strongroom.core.transfer.trust import TrustPolicy
from tests.helpers.gguf_files import write_small_gguf
from tests.helpers.officer import PASSPHRASE, officer_key, trusting

MODEL = "models/tiny"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """The officer's key pair and an attacker's."""
    officer = officer_key(tmp_path_factory.mktemp("officer"))
    attacker = officer_key(tmp_path_factory.mktemp("attacker"))
    return officer, attacker


@pytest.fixture(scope="module")
def signed_drive(tmp_path_factory, keys) -> Path:
    source = tmp_path_factory.mktemp("source")
    write_small_gguf(source / "tiny.gguf")
    (source / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}\n')
    drive = tmp_path_factory.mktemp("signed") / "drive"
    prepare_local(drive, "tiny", [source], model_id="org/tiny")
    write_transfer_manifest(drive)
    (private, _, _), _ = keys
    sign_verified(drive, private, PASSPHRASE)
    return drive


@pytest.fixture
def drive(tmp_path, signed_drive) -> Path:
    copy = tmp_path / "drive"
    shutil.copytree(signed_drive, copy)
    return copy


@pytest.fixture
def officer(keys):
    return keys[0]


@pytest.fixture
def policy(keys) -> TrustPolicy:
    return trusting(keys[0][1])


def verified(drive: Path, policy: TrustPolicy):
    return verify_drive(open_drive(drive), trust=policy)


def workflow_import(drive: Path, store: Path, policy: TrustPolicy) -> ImportWorkflow:
    workflow = ImportWorkflow(ModelStore(store), drive_finder=lambda: [], trust=policy)
    assert workflow.choose_drive(drive) is None
    workflow.choose_models([model.name for model in workflow.offered()])  # even those with problems
    workflow.advance_to(Step.VERIFY)
    workflow.run_verify()
    if workflow.step is not Step.FAILED:
        workflow.advance_to(Step.IMPORT)
        workflow.run_import()
    return workflow


def rewrite_consistently(drive: Path, change) -> None:
    """What an attacker with the drive does: change the model, then rewrite every manifest
    so that they all agree with the new bytes (and claim a hub check and a commit)."""
    folder = drive / MODEL
    change(folder)
    manifest = json.loads((folder / "airgap_manifest.json").read_text())
    files = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name not in ("airgap_manifest.json", "checksums.sha256", SIGNATURE_FILE):
            data = path.read_bytes()
            files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data),
                           "hub_check": "hub-lfs-sha256"}
    manifest["files"] = files
    manifest["source"] = {"kind": "hub", "resolved_commit": "f" * 40}
    (folder / "airgap_manifest.json").write_text(json.dumps(manifest))
    (folder / "checksums.sha256").write_text(sha256sum_text({n: f["sha256"] for n, f in files.items()}))
    write_transfer_manifest(drive)


# -- the good path ---------------------------------------------------------------------------------

def test_a_signed_drive_verifies_and_imports_with_its_signer(drive, policy, officer, tmp_path):
    report = verified(drive, policy)
    assert report.ok, report.summary()
    assert [v.file for v in report.signatures] == [DRIVE_SIGNATURE, f"{MODEL}/{SIGNATURE_FILE}"]
    assert all(v.valid and v.signer.name == "Alice Officer" for v in report.signatures)
    assert f"SIGNED             {MODEL}/{SIGNATURE_FILE}: by Alice Officer" in report.summary()

    workflow = workflow_import(drive, tmp_path / "store", policy)
    assert workflow.step is Step.IMPORT and workflow.imported, workflow.failure
    [review] = [line for line in workflow.review()[0].lines() if "Signed by" in line]
    assert f"Signed by Alice Officer ({shown_fingerprint(officer[2])})" in review
    assert "requires a trusted officer's signature" in review
    assert any("commit not recorded (the signer's claim)" in line for line in workflow.review()[0].lines())
    record = workflow.imported[0].version.provenance["signature"]
    assert record["signer"] == "Alice Officer" and record["fingerprint"] == officer[2]
    assert record["file"] == f"{MODEL}/{SIGNATURE_FILE}"
    assert json.loads(record["bundle"])["dsseEnvelope"]
    assert record["policy"] == "this workstation requires a trusted officer's signature"


def test_the_signature_is_not_copied_as_a_model_file(drive, policy, tmp_path):
    workflow = workflow_import(drive, tmp_path / "store", policy)
    stored = workflow.imported[0].version
    assert sorted(f["path"] for f in stored.files) == ["config.json", "tiny.gguf"]


def test_without_a_trusted_key_signatures_are_noted_not_required(drive, officer):
    report = verified(drive, TrustPolicy())
    assert report.ok
    assert any("does not trust" in note and shown_fingerprint(officer[2]) in note for note in report.notes)
    unsigned = drive.parent / "unsigned"
    shutil.copytree(drive, unsigned)
    (unsigned / DRIVE_SIGNATURE).unlink()
    (unsigned / MODEL / SIGNATURE_FILE).unlink()
    assert verified(unsigned, TrustPolicy()).ok


def test_a_signature_on_the_drive_alone_covers_its_models(drive, policy):
    (drive / MODEL / SIGNATURE_FILE).unlink()
    report = verified(drive, policy)
    assert report.ok, report.summary()
    assert report.signers["tiny"].file == DRIVE_SIGNATURE


def test_a_signature_on_the_model_alone_covers_it(drive, policy):
    (drive / DRIVE_SIGNATURE).unlink()
    report = verified(drive, policy)
    assert report.ok, report.summary()
    assert report.signers["tiny"].file == f"{MODEL}/{SIGNATURE_FILE}"


def test_a_lone_model_folder_verifies_by_its_signature(drive, policy):
    report = verified(drive / MODEL, policy)
    assert report.ok, report.summary()
    assert report.signers["tiny"].valid


# -- refusals ----------------------------------------------------------------------------------------

def refused(drive: Path, policy: TrustPolicy, tmp_path: Path, *expected: str) -> str:
    """Verification fails and the import workflow refuses, each saying ``expected``; the
    store stays empty."""
    report = verified(drive, policy)
    assert not report.ok, report.summary()
    summary = report.summary()
    for text in expected:
        assert text in summary, summary
    store = tmp_path / "refused-store"
    workflow = workflow_import(drive, store, policy)
    assert workflow.step is Step.FAILED
    assert not any((store / "models").glob("*/*")) if (store / "models").exists() else True
    return summary


def test_an_unsigned_drive_is_refused_when_signatures_are_required(drive, policy, tmp_path):
    (drive / DRIVE_SIGNATURE).unlink()
    (drive / MODEL / SIGNATURE_FILE).unlink()
    refused(drive, policy, tmp_path, f"{MODEL} is not signed", "requires drives signed")


def test_unsigned_is_accepted_when_the_officer_turns_the_policy_off(drive, keys, tmp_path):
    (drive / DRIVE_SIGNATURE).unlink()
    (drive / MODEL / SIGNATURE_FILE).unlink()
    relaxed = trusting(keys[0][1], require=False)
    assert verified(drive, relaxed).ok
    workflow = workflow_import(drive, tmp_path / "store", relaxed)
    assert workflow.imported
    assert workflow.imported[0].version.provenance["signature"] == {
        "signer": None, "policy": relaxed.describe()}


def test_the_attack_in_the_issue_rewritten_weights_and_manifests_is_refused(drive, policy, tmp_path):
    """Weights rewritten, every manifest made to agree, a fake hub check and commit: the
    checksums all hold, and the signatures do not."""
    def evil_weights(folder):
        write_small_gguf(folder / "tiny.gguf", context_length=999)

    rewrite_consistently(drive, evil_weights)
    summary = refused(drive, policy, tmp_path, "tiny.gguf is not the file that was signed",
                      "airgap_manifest.json is not the file that was signed")
    assert "TRANSFER_MANIFEST.sig" in summary


def test_a_drive_re_signed_with_another_key_is_refused_naming_it(drive, keys, policy, tmp_path):
    _, (attacker_private, _, attacker_fingerprint) = keys
    rewrite_consistently(drive, lambda folder: (folder / "config.json").write_text("{}\n"))
    sign_verified(drive, attacker_private, PASSPHRASE)
    refused(drive, policy, tmp_path, "signed by a key this workstation does not trust",
            shown_fingerprint(attacker_fingerprint))


def test_an_added_file_is_not_covered(drive, policy, tmp_path):
    rewrite_consistently(drive, lambda folder: (folder / "extra.py").write_text("import os\n"))
    (drive / DRIVE_SIGNATURE).unlink()
    refused(drive, policy, tmp_path, f"{MODEL}/extra.py is not covered by the signature")


def test_a_removed_file_was_signed_but_is_not_here(drive, policy, tmp_path):
    rewrite_consistently(drive, lambda folder: (folder / "config.json").unlink())
    (drive / DRIVE_SIGNATURE).unlink()
    refused(drive, policy, tmp_path, f"{MODEL}/config.json was signed but is not here")


def test_a_signature_copied_from_another_model_does_not_hold(drive, officer, policy, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.txt").write_text("another model\n")
    sign_folder(other, officer[0], PASSPHRASE)
    shutil.copy(other / SIGNATURE_FILE, drive / MODEL / SIGNATURE_FILE)
    (drive / DRIVE_SIGNATURE).unlink()
    refused(drive, policy, tmp_path, f"{MODEL}/config.json is not covered by the signature")


@pytest.mark.parametrize("damage, says", [
    (lambda raw: b"not json at all", "it is not an OMS signature bundle"),
    (lambda raw: _without_hint(raw), "does not name its signer's key"),
    (lambda raw: _flip_signature(raw), "the signature does not hold"),
    (lambda raw: _swap_payload(raw), "the signature does not hold"),
    (lambda raw: raw[: len(raw) // 2], "it is not an OMS signature bundle"),
])
def test_a_damaged_signature_is_refused_even_without_the_policy(drive, policy, keys, tmp_path,
                                                                  damage, says):
    signature = drive / MODEL / SIGNATURE_FILE
    signature.write_bytes(damage(signature.read_bytes()))
    refused(drive, policy, tmp_path, f"{MODEL}/{SIGNATURE_FILE}: ", says)
    relaxed = trusting(keys[0][1], require=False)
    assert not verified(drive, relaxed).ok  # evidence of tampering, whatever the policy


def _without_hint(raw: bytes) -> bytes:
    bundle = json.loads(raw)
    del bundle["verificationMaterial"]["publicKey"]["hint"]
    return json.dumps(bundle).encode()


def _flip_signature(raw: bytes) -> bytes:
    import base64

    bundle = json.loads(raw)
    signature = bytearray(base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"]))
    signature[10] ^= 1
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()
    return json.dumps(bundle).encode()


def _swap_payload(raw: bytes) -> bytes:
    """The statement edited to vouch for other digests, the signature left as it was."""
    import base64

    bundle = json.loads(raw)
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    for resource in statement["predicate"]["resources"]:
        resource["digest"] = "0" * 64
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    return json.dumps(bundle).encode()


def test_a_signature_that_is_a_link_is_refused(drive, policy, tmp_path):
    signature = drive / MODEL / SIGNATURE_FILE
    elsewhere = tmp_path / "elsewhere.sig"
    shutil.copy(signature, elsewhere)
    signature.unlink()
    signature.symlink_to(elsewhere)
    refused(drive, policy, tmp_path, "the signature", "not a regular file")


def test_a_huge_signature_is_refused_unread(drive, policy, tmp_path):
    with open(drive / MODEL / SIGNATURE_FILE, "r+b") as handle:
        handle.truncate(64 * 2**20)  # sparse
    refused(drive, policy, tmp_path, "refused unread")


def test_a_rewritten_transfer_manifest_breaks_the_drive_signature(drive, policy, tmp_path):
    with open(drive / "TRANSFER_MANIFEST.sha256", "a") as handle:
        handle.write(f"{'0' * 64}  notes.txt\n")
    (drive / "notes.txt").write_text("")
    (drive / MODEL / SIGNATURE_FILE).unlink()
    refused(drive, policy, tmp_path, f"{DRIVE_SIGNATURE}: the signature does not vouch",
            "TRANSFER_MANIFEST.sha256 . is not the file that was signed")


# -- keys ------------------------------------------------------------------------------------------

def test_the_private_key_is_encrypted_and_private(officer):
    private, public, fingerprint = officer
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert b"ENCRYPTED" in private.read_bytes()
    with pytest.raises(SigningError, match="protected by a passphrase"):
        load_private_key(private, None)
    with pytest.raises(SigningError, match="passphrase does not open"):
        load_private_key(private, b"wrong passphrase")
    assert fingerprint == hashlib.sha256(public.read_bytes()).hexdigest()


def test_keys_are_never_overwritten(officer):
    from strongroom.core.transfer.signatures import generate_key_pair

    with pytest.raises(SigningError, match="never overwritten"):
        generate_key_pair(officer[0].parent, PASSPHRASE)


def test_a_drive_that_does_not_verify_is_not_signed(drive, officer):
    (drive / MODEL / "config.json").write_text("changed\n")
    with pytest.raises(SigningError, match="does not verify, so nothing was signed"):
        sign_verified(drive, officer[0], PASSPHRASE)


def test_the_bundle_names_the_key_by_its_fingerprint(drive, officer):
    bundle = json.loads((drive / MODEL / SIGNATURE_FILE).read_text())
    assert bundle["verificationMaterial"]["publicKey"]["hint"] == officer[2]
