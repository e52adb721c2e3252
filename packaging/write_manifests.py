"""Writes airgap_manifest.json and checksums.sha256 for a folder (the bundle, the wheelhouse),
and with --sign, the officer's signatures over it: checksums.sha256.sig (a detached
ECDSA signature the installer checks with openssl) and model.sig (an OMS signature over
every file, which `strongroom verify` checks against the workstation's trusted keys).

    .venv/bin/python packaging/write_manifests.py FOLDER --model-id ID --revision REV --kind KIND \\
        [--sign KEY --passphrase-file FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from strongroom.core.transfer.manifests import CHECKSUMS
from strongroom.core.transfer.prepare import write_folder_manifests
from strongroom.core.transfer.signatures import (
    DETACHED_SIGNATURE,
    SigningError,
    detached_signature,
    fingerprint_of,
    load_private_key,
    shown_fingerprint,
    sign_folder,
)
from strongroom.core.units import human_size


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--model-id", required=True)
    parser.add_argument("--revision", required=True)
    parser.add_argument("--kind", required=True, help="what the folder is, for the manifest")
    parser.add_argument("--sign", type=Path, metavar="KEY", help="the officer's private key")
    parser.add_argument("--passphrase-file", type=Path, help="the key's passphrase (first line)")
    args = parser.parse_args()
    entries = write_folder_manifests(args.folder, args.model_id, args.revision, {"kind": args.kind})
    total = sum(e.size for e in entries.values())
    print(f"{args.folder}: {len(entries)} files, {human_size(total)}; manifests written")
    if args.sign:
        try:
            sign(args)
        except (SigningError, OSError, IndexError) as error:
            print(f"{args.folder}: NOT SIGNED: {error}")
            return 1
    return 0


def sign(args: argparse.Namespace) -> None:
    """The detached signature over the checksum list first, then model.sig over the folder
    (which leaves the other signature out: a signature is not content)."""
    passphrase = (args.passphrase_file.read_text(encoding="utf-8").splitlines()[0].encode()
                  if args.passphrase_file else None)
    key = load_private_key(args.sign, passphrase)
    checksums = (args.folder / CHECKSUMS).read_bytes()
    (args.folder / DETACHED_SIGNATURE).write_bytes(detached_signature(checksums, args.sign, passphrase))
    sign_folder(args.folder, args.sign, passphrase)
    print(f"{args.folder}: signed by {shown_fingerprint(fingerprint_of(key.public_key()))}")


if __name__ == "__main__":
    raise SystemExit(main())
