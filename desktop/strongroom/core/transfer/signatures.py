"""Officer signatures on model folders and drives, in the OpenSSF Model Signing (OMS) v1.0
format, made with the `model-signing` package (the reference implementation).

A security officer holds an elliptic-curve key pair (P-256). Signing a model folder writes
``model.sig`` inside it: a Sigstore bundle whose DSSE envelope carries an in-toto statement
listing every file of the folder (manifests included) with its SHA-256. Signing a drive
also signs its ``TRANSFER_MANIFEST.sha256`` (as a one-file model) into
``TRANSFER_MANIFEST.sig``. Both verify with the upstream tool::

    model_signing verify key MODEL_FOLDER --signature MODEL_FOLDER/model.sig --public_key officer.pub

A key's fingerprint is the SHA-256 of its public key in PEM form, which is also the key
hint OMS writes into every bundle: a signature names its signer's fingerprint, and the
workstation looks that up among the keys it trusts (`trust`).

Checking a signature never reads the model again: `check_bundle` returns the digests the
signer vouched for, and the caller compares them with the digests its own verification
computed (`coverage_problems`), so a signed drive is read once. It checks the bundle by the
specifications with `cryptography` (see its docstring for why not with model-signing); the
tests hold it to model-signing's own verifier, bundle for bundle.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from strongroom.core.errors import StrongroomError

SIGNATURE_FILE = "model.sig"  # upstream's default name, inside the signed folder
DRIVE_SIGNATURE = "TRANSFER_MANIFEST.sig"
# A bundle's or wheelhouse's checksum list, signed for `openssl dgst -verify` (the installer
# checks it before anything else from the folder is trusted).
DETACHED_SIGNATURE = "checksums.sha256.sig"
MAX_SIGNATURE_BYTES = 16 * 2**20  # a bundle listing 100,000 files is about 20 MB
PRIVATE_KEY_FILE = "officer-key.pem"
PUBLIC_KEY_FILE = "officer-key.pub.pem"
_CURVES = ("secp256r1", "secp384r1", "secp521r1")  # what OMS bundles support


class SigningError(StrongroomError):
    """A key or signature cannot be used; the message says what to do."""


# -- keys ----------------------------------------------------------------------------------------

def public_pem(public_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint_of(public_key) -> str:
    """The key's fingerprint: SHA-256 of its PEM form (the hint OMS bundles carry)."""
    return hashlib.sha256(public_pem(public_key)).hexdigest()


def shown_fingerprint(fingerprint: str) -> str:
    """A fingerprint as people compare it: groups of four, "1a2b 3c4d …"."""
    return " ".join(fingerprint[i:i + 4] for i in range(0, len(fingerprint), 4))


def load_public_key(pem: bytes, source: str):
    """The EC public key in ``pem`` (read from ``source``, named in errors)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as error:
        raise SigningError(f"{source} is not a public key in PEM form ({error}). The officer's "
                           f"public key file is the one named {PUBLIC_KEY_FILE}.") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in _CURVES:
        raise SigningError(f"{source} is not an elliptic-curve P-256, P-384 or P-521 public key, "
                           "the kinds OMS signatures use.")
    return key


def generate_key_pair(folder: Path, passphrase: bytes) -> tuple[Path, Path, str]:
    """A new P-256 key pair in ``folder``: the private key encrypted with ``passphrase``
    (readable by its owner only) and the public key. Returns both paths and the fingerprint.
    Existing key files are never overwritten."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    if len(passphrase) < 8:
        raise SigningError("The passphrase is shorter than 8 characters; choose a longer one.")
    folder.mkdir(parents=True, exist_ok=True)
    private_path, public_path = folder / PRIVATE_KEY_FILE, folder / PUBLIC_KEY_FILE
    for path in (private_path, public_path):
        if os.path.lexists(path):
            raise SigningError(f"{path} already exists; keys are never overwritten. Choose "
                               "another folder, or move the old key away first.")
    key = ec.generate_private_key(ec.SECP256R1())
    private_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(passphrase))
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_bytes)
    public_path.write_bytes(public_pem(key.public_key()))
    return private_path, public_path, fingerprint_of(key.public_key())


def load_private_key(path: Path, passphrase: bytes | None):
    """The private key at ``path``, opened with ``passphrase``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise SigningError(f"The signing key {path} cannot be read ({error.strerror}).") from None
    try:
        key = serialization.load_pem_private_key(data, passphrase or None)
    except TypeError:
        raise SigningError(f"The signing key {path} is protected by a passphrase; give it "
                           "(asked on the terminal, or --passphrase-file).") from None
    except ValueError:
        raise SigningError(f"The passphrase does not open the signing key {path} (or the file "
                           "is not a private key). Nothing was signed.") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name not in _CURVES:
        raise SigningError(f"{path} is not an elliptic-curve private key; make one with "
                           "`strongroom officer keygen`.")
    return key


# -- signing -------------------------------------------------------------------------------------

def _signer(key_path: Path, passphrase: bytes | None):
    try:
        from model_signing import signing
    except ImportError:  # the workstation bundle leaves the signing side out
        raise SigningError("This installation cannot sign: signing runs on the connected "
                           "machine, from a source or wheelhouse install of Strongroom.") from None
    load_private_key(key_path, passphrase)  # a clear message for a wrong passphrase or file
    return signing.Config().use_elliptic_key_signer(private_key=key_path, password=passphrase)


def _hashing(ignored: Iterable[str] = ()):
    from model_signing import hashing  # _signer has found it present

    # Git files are signed too: whatever Strongroom imports must be covered.
    return hashing.Config().set_ignored_paths(paths=list(ignored), ignore_git_paths=False)


def sign_folder(folder: Path, key_path: Path, passphrase: bytes | None) -> Path:
    """Sign every file in ``folder`` (manifests included; other signatures are not content)
    into ``folder/model.sig``."""
    signature = Path(folder) / SIGNATURE_FILE
    partial = signature.with_name(SIGNATURE_FILE + ".partial")
    _signer(key_path, passphrase).set_hashing_config(
        _hashing([SIGNATURE_FILE, partial.name, DETACHED_SIGNATURE])).sign(Path(folder), partial)
    os.replace(partial, signature)
    return signature


def sign_file(path: Path, key_path: Path, passphrase: bytes | None, signature: Path) -> Path:
    """Sign the single file ``path`` into ``signature`` (the drive's transfer manifest)."""
    partial = signature.with_name(signature.name + ".partial")
    _signer(key_path, passphrase).set_hashing_config(_hashing()).sign(Path(path), partial)
    os.replace(partial, signature)
    return signature


def detached_signature(data: bytes, key_path: Path, passphrase: bytes | None) -> bytes:
    """A DER ECDSA-SHA256 signature over ``data``, the form `openssl dgst -sha256 -verify`
    checks (the installer checks the wheelhouse's checksum list with it)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    return load_private_key(key_path, passphrase).sign(data, ec.ECDSA(hashes.SHA256()))


# -- checking ------------------------------------------------------------------------------------

@dataclass
class BundleCheck:
    """What a signature file says, once checked against the trusted keys."""

    fingerprint: str | None = None  # the signer's key, as the bundle names it
    valid: bool = False  # signed by that key, which is trusted, and well formed
    digests: dict[str, str] = field(default_factory=dict)  # path -> sha256, when valid
    problem: str | None = None  # why it is not valid


# The OMS v1.0 bundle, as model-signing writes and reads it (its key-based signer).
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"


def _statement(raw: bytes) -> tuple[str | None, bytes, bytes]:
    """(key hint, signed payload, DER signature) from a bundle; ValueError when it is not
    one. Only what a key-signed OMS bundle holds is accepted."""
    import base64
    import json

    bundle = json.loads(raw)
    if not isinstance(bundle, dict) or bundle.get("mediaType") != BUNDLE_MEDIA_TYPE:
        raise ValueError(f"its mediaType is not {BUNDLE_MEDIA_TYPE}")
    material = bundle.get("verificationMaterial")
    key = material.get("publicKey") if isinstance(material, dict) else None
    if not isinstance(key, dict):
        raise ValueError("it has no verificationMaterial.publicKey (a certificate-signed or "
                         "Sigstore bundle is not an officer-key signature)")
    envelope = bundle.get("dsseEnvelope")
    if not isinstance(envelope, dict) or envelope.get("payloadType") != PAYLOAD_TYPE:
        raise ValueError(f"it has no DSSE envelope of type {PAYLOAD_TYPE}")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1 or not isinstance(signatures[0], dict):
        raise ValueError("its envelope must carry exactly one signature")
    payload = base64.b64decode(envelope.get("payload", ""), validate=True)
    signature = base64.b64decode(signatures[0].get("sig", ""), validate=True)
    hint = key.get("hint")
    return (hint if isinstance(hint, str) else None), payload, signature


def _pae(payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature is over."""
    return b"DSSEv1 %d %s %d %s" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload), payload)


def _hash_for(public_key):
    from cryptography.hazmat.primitives import hashes

    return {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[public_key.curve.key_size]


def _signed_digests(payload: bytes) -> dict[str, str]:
    """The files and SHA-256 digests an in-toto statement of model-signing vouches for;
    ValueError when the statement is not one Strongroom can check file by file."""
    import json

    statement = json.loads(payload)
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise ValueError(f"its statement is not an in-toto {STATEMENT_TYPE}")
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise ValueError(f"its statement is not a {PREDICATE_TYPE} (an older model-signing "
                         "format?); sign it again")
    predicate = statement.get("predicate") or {}
    method = predicate.get("serialization") or {}
    if method.get("method") != "files" or method.get("hash_type") != "sha256":
        raise ValueError(f"it was made with {method.get('method')!r} hashing by "
                         f"{method.get('hash_type')!r}; Strongroom checks signatures made file "
                         "by file with SHA-256 (model_signing's default)")
    digests: dict[str, str] = {}
    whole = hashlib.sha256()
    for resource in predicate.get("resources") or []:
        name, digest = resource.get("name"), resource.get("digest")
        if resource.get("algorithm") != "sha256" or not isinstance(name, str) or name in digests:
            raise ValueError(f"its entry for {name!r} is not a single sha256 digest")
        value = bytes.fromhex(digest)
        if len(value) != 32:
            raise ValueError(f"its digest for {name!r} is not a SHA-256")
        whole.update(value)
        digests[name] = digest.lower()
    subjects = statement.get("subject")
    if not (isinstance(subjects, list) and len(subjects) == 1
            and (subjects[0].get("digest") or {}).get("sha256") == whole.hexdigest()):
        raise ValueError("its subject digest does not match the files it lists")
    return digests


def check_bundle(raw: bytes, trusted: dict[str, object]) -> BundleCheck:
    """Check the signature bundle ``raw`` against ``trusted`` ({fingerprint: public key}).
    Never raises for a bad bundle: the problem is in the result.

    This reads what model-signing's key-based signer writes, by the OMS and DSSE
    specifications, with `cryptography` alone: importing model-signing costs half a second
    per verification, more than checking a signature takes (the tests check that both
    accept and refuse the same bundles)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        hint, payload, signature = _statement(raw)
    except Exception as error:  # hostile bytes: any parser failure is the file's
        return BundleCheck(problem=f"it is not an OMS signature bundle ({_first_line(error)})")
    fingerprint = hint if hint is not None and len(hint) == 64 else None
    if fingerprint is None:
        return BundleCheck(problem="it does not name its signer's key (a key hint), so it cannot "
                                   "be matched to a trusted officer key; sign it again")
    key = trusted.get(fingerprint)
    if key is None:
        return BundleCheck(fingerprint, problem=f"it is signed by a key this workstation does not "
                                                f"trust ({shown_fingerprint(fingerprint)})")
    try:
        key.verify(signature, _pae(payload), ec.ECDSA(_hash_for(key)))
    except InvalidSignature:
        return BundleCheck(fingerprint, problem=f"the signature does not hold for key "
                                                f"{shown_fingerprint(fingerprint)}; the signed "
                                                "content was changed, or the signature forged")
    try:
        return BundleCheck(fingerprint, True, _signed_digests(payload))
    except Exception as error:
        return BundleCheck(fingerprint, problem=f"{_first_line(error)}")


def coverage_problems(signed: dict[str, str], found: dict[str, str], where: str) -> list[str]:
    """Where the files ``found`` ({path: sha256} as verified) differ from what was signed:
    a file the signature does not cover, a file whose bytes are not the signed ones, a
    signed file that is not there."""
    problems = []
    for path, digest in sorted(found.items()):
        if path not in signed:
            problems.append(f"{where}{path} is not covered by the signature")
        elif signed[path] != digest:
            problems.append(f"{where}{path} is not the file that was signed (signed "
                            f"{signed[path][:16]}…, found {digest[:16]}…)")
    problems += [f"{where}{path} was signed but is not here"
                 for path in sorted(set(signed) - set(found))]
    return problems


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
