"""The officer's side of signatures: signing a drive, a model folder or an app bundle, but
only once it verifies (a signature vouches for what the officer checked, never for bytes
nobody looked at).

A drive is signed folder by folder (each model's ``model.sig``) and then as a whole (its
transfer manifest, into ``TRANSFER_MANIFEST.sig``). Manifests are never rewritten, so a
drive made by the reference scripts keeps its own transfer manifest, now signed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from strongroom.core.transfer.drive import open_drive, verify_drive
from strongroom.core.transfer.manifests import TRANSFER_MANIFEST
from strongroom.core.transfer.signatures import (
    DRIVE_SIGNATURE,
    SigningError,
    fingerprint_of,
    load_private_key,
    sign_file,
    sign_folder,
)


@dataclass
class Signed:
    fingerprint: str
    files: list[Path] = field(default_factory=list)  # the signatures written


def sign_verified(target: Path, key_path: Path, passphrase: bytes | None,
                  transfer_manifest: bool = True) -> Signed:
    """Verify ``target`` (a drive, a model folder, a bundle), then sign each of its model
    folders and, with ``transfer_manifest``, the drive's transfer manifest."""
    key = load_private_key(key_path, passphrase)  # a wrong passphrase stops before anything
    drive = open_drive(target)
    if drive.kind != "transfer":
        raise SigningError(f"{target} is an Ollama models folder, which has no place for a "
                           "signature; prepare a drive from it with `strongroom prepare`.")
    report = verify_drive(drive)
    if not report.ok:
        first = (report.problems or [r.line() for r in report.failures()] or ["nothing to check"])[0]
        raise SigningError(f"{target} does not verify, so nothing was signed. First problem: "
                           f"{first}")
    signed = Signed(fingerprint_of(key.public_key()))
    for model in drive.models:
        folder = drive.root / model.relative if model.relative else drive.root
        signed.files.append(sign_folder(folder, key_path, passphrase))
    if transfer_manifest and drive.transfer is not None:
        signed.files.append(sign_file(drive.root / TRANSFER_MANIFEST, key_path, passphrase,
                                      drive.root / DRIVE_SIGNATURE))
    return signed
