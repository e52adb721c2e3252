"""Checking the signatures a drive carries, against the workstation's trust policy.

Two kinds of signature can vouch for a model: its folder's ``model.sig`` (covering the
folder's files and manifests) and the drive's ``TRANSFER_MANIFEST.sig`` (covering the
transfer manifest, which lists every file on the drive). Each is checked against the
digests verification has just computed, never by reading the drive again.

- A signature that is malformed, does not hold for its key, or vouches for other bytes than
  the drive holds is always a failure: it is evidence of tampering.
- A signature by a key this workstation does not trust is a failure when the policy
  requires signatures, and a note otherwise.
- When the policy requires signatures, every model checked must be covered by a valid
  signature of a trusted key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from strongroom.core.transfer.file_checks import CheckReport
from strongroom.core.transfer.manifests import TRANSFER_MANIFEST
from strongroom.core.transfer.offered import Drive, DriveModel
from strongroom.core.transfer.signatures import (
    DRIVE_SIGNATURE,
    SIGNATURE_FILE,
    check_bundle,
    coverage_problems,
    shown_fingerprint,
)
from strongroom.core.transfer.trust import TrustedKey, TrustPolicy


@dataclass(frozen=True)
class SignatureVerdict:
    """One signature file, checked."""

    file: str  # relative to the drive root
    fingerprint: str | None
    signer: TrustedKey | None  # set when the signature is valid and its key trusted
    problem: str | None
    bundle: bytes

    @property
    def valid(self) -> bool:
        return self.signer is not None and self.problem is None

    def line(self) -> str:
        if self.valid:
            return f"SIGNED             {self.file}: by {self.signer.label}"
        return f"SIGNATURE          {self.file}: {self.problem}"

    def record(self, policy: TrustPolicy) -> dict:
        """What the store keeps of it (in a version's provenance)."""
        return {"file": self.file, "signer": self.signer.name if self.signer else None,
                "fingerprint": self.fingerprint,
                "bundle_sha256": hashlib.sha256(self.bundle).hexdigest(),
                "bundle": self.bundle.decode("utf-8", "replace"), "policy": policy.describe()}


def check_drive_signatures(drive: Drive, models: list[DriveModel], report: CheckReport,
                           policy: TrustPolicy) -> None:
    """Check every signature on ``drive`` that concerns ``models``; add the verdicts, and
    the failures the policy makes of them, to ``report``."""
    trusted = policy.public_keys()
    found = {r.path: r.actual_sha256 for r in report.results if r.ok and r.actual_sha256}
    drive_verdict = None
    if drive.signature is not None:
        drive_verdict = _check_drive_signature(drive, trusted, policy)
        report.signatures.append(drive_verdict)
    for model in models:
        verdict = None
        if model.signature is not None:
            verdict = _check_model_signature(model, found, trusted, policy)
            report.signatures.append(verdict)
        covering = [v for v in (verdict, _if_covers(drive_verdict, drive, model)) if v and v.valid]
        if covering:
            report.signers[model.name] = covering[0]
        elif policy.enforced:
            report.problems.append(_unsigned_problem(model, [v for v in (verdict, drive_verdict) if v]))
    for verdict in report.signatures:
        if verdict.problem is None:
            continue
        untrusted = verdict.fingerprint is not None and policy.key(verdict.fingerprint) is None
        if untrusted and not policy.enforced:
            report.notes.append(f"{verdict.file} is signed by a key this workstation does not "
                                f"trust ({shown_fingerprint(verdict.fingerprint)}); the signature "
                                "was not checked")
        elif not untrusted:
            report.problems.append(f"{verdict.file}: {verdict.problem}")
    if not policy.enforced and not policy.keys and (drive.signature or any(m.signature for m in models)):
        report.notes.append("no officer key is trusted on this workstation, so signatures are "
                            "not checked; `strongroom trust add` trusts one")


def _verdict(file: str, bundle: bytes, trusted: dict, policy: TrustPolicy,
             found: dict[str, str], where: str) -> SignatureVerdict:
    checked = check_bundle(bundle, trusted)
    if not checked.valid:
        return SignatureVerdict(file, checked.fingerprint, None, checked.problem, bundle)
    problems = coverage_problems(checked.digests, found, where)
    problem = None
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        problem = ("the signature does not vouch for what is on the drive: "
                   + "; ".join(problems[:3]) + more)
    signer = policy.key(checked.fingerprint)
    return SignatureVerdict(file, checked.fingerprint, signer if problem is None else None,
                            problem, bundle)


def _check_model_signature(model: DriveModel, found: dict[str, str], trusted: dict,
                           policy: TrustPolicy) -> SignatureVerdict:
    """The folder's files as verified, and its manifests as read, against model.sig."""
    in_folder = {name: found.get(model.drive_path(name)) for name in model.entries}
    for manifest in (model.json_manifest, model.checksums):
        if manifest is not None:
            in_folder[manifest.source.name] = manifest.raw_sha256
    missing = [name for name, digest in in_folder.items() if digest is None]
    file = model.drive_path(SIGNATURE_FILE)
    if missing:  # not verified (the report says why): nothing to compare with
        return SignatureVerdict(file, None, None, f"{len(missing)} of the files it should vouch "
                                                  "for did not verify", model.signature)
    prefix = f"{model.relative}/" if model.relative else ""
    return _verdict(file, model.signature, trusted, policy, in_folder, prefix)


def _check_drive_signature(drive: Drive, trusted: dict, policy: TrustPolicy) -> SignatureVerdict:
    if drive.transfer is None:
        return SignatureVerdict(DRIVE_SIGNATURE, None, None, f"there is no usable "
                                f"{TRANSFER_MANIFEST} for it to vouch for", drive.signature)
    # A file signed on its own appears in the statement as ".".
    return _verdict(DRIVE_SIGNATURE, drive.signature, trusted, policy,
                    {".": drive.transfer.raw_sha256}, f"{TRANSFER_MANIFEST} ")


def _if_covers(verdict: SignatureVerdict | None, drive: Drive,
               model: DriveModel) -> SignatureVerdict | None:
    """The drive's signature, if the transfer manifest it signs lists every file of the
    model (so that verification against it covers them all)."""
    if verdict is None:
        return None
    names = [model.drive_path(n) for n in model.entries]
    names += [model.drive_path(m) for m in model.manifest_files() if m != SIGNATURE_FILE]
    return verdict if all(n in drive.transfer_entries for n in names) else None


def _unsigned_problem(model: DriveModel, verdicts: list[SignatureVerdict]) -> str:
    where = model.relative or model.name
    rule = ("this workstation requires drives signed by a trusted officer key (`strongroom "
            "trust list` shows them)")
    if not verdicts:
        return f"{where} is not signed; {rule}"
    if any(v.fingerprint and v.problem and "does not trust" in v.problem for v in verdicts):
        fingerprints = ", ".join(sorted({shown_fingerprint(v.fingerprint) for v in verdicts
                                         if v.fingerprint}))
        return f"{where} is signed by a key this workstation does not trust ({fingerprints}); {rule}"
    return f"{where} has no valid signature by a trusted officer key; {rule}"
