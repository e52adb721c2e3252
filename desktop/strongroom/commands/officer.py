"""`strongroom officer` (the officer's key and signatures) and `strongroom trust` (which
officer keys this workstation accepts, and whether drives must be signed)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from strongroom.commands import EXIT_OK, EXIT_USAGE, fail, open_workspace
from strongroom.core.display import printable
from strongroom.core.errors import StrongroomError


class PassphraseError(StrongroomError):
    pass


def read_passphrase(passphrase_file: Path | None, twice: bool = False) -> bytes:
    """The passphrase from ``passphrase_file`` (its first line), else asked on the terminal
    (``twice`` to confirm a new one). It is never taken from the command line, where other
    users of the computer could read it."""
    if passphrase_file is not None:
        try:
            text = passphrase_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise PassphraseError(f"the passphrase file {passphrase_file} cannot be read "
                                  f"({getattr(error, 'strerror', None) or error})") from None
        if not text or not text[0]:
            raise PassphraseError(f"the passphrase file {passphrase_file} is empty")
        return text[0].encode("utf-8")
    if not sys.stdin.isatty():
        raise PassphraseError("the key's passphrase is asked on a terminal; in a script, give "
                              "it with --passphrase-file FILE")
    first = getpass.getpass("Passphrase for the signing key: ")
    if twice and getpass.getpass("The same passphrase again: ") != first:
        raise PassphraseError("the two passphrases differ; nothing was made")
    return first.encode("utf-8")


def keygen(args: argparse.Namespace) -> int:
    from strongroom.core.transfer.signatures import (
        generate_key_pair,
        shown_fingerprint,
    )

    try:
        passphrase = read_passphrase(args.passphrase_file, twice=True)
        private, public, fingerprint = generate_key_pair(args.out, passphrase)
    except OSError as error:
        return fail(f"the key cannot be written in {args.out} ({error.strerror})")
    print(f"Private key (keep it on this machine or a token; it signs drives): {private}")
    print(f"Public key (give it to each workstation's security officer): {public}")
    print(f"Fingerprint: {shown_fingerprint(fingerprint)}")
    print("On each workstation: strongroom trust add officer-key.pub.pem --name \"Your name\", "
          "and compare the fingerprint it shows with this one.")
    return EXIT_OK


def sign(args: argparse.Namespace) -> int:
    from strongroom.core.transfer.signatures import shown_fingerprint
    from strongroom.core.transfer.signing_drives import sign_verified

    try:
        passphrase = read_passphrase(args.passphrase_file)
        signed = sign_verified(args.path, args.key, passphrase)
    except OSError as error:
        return fail(f"a signature cannot be written ({error.strerror}: {error.filename})")
    for path in signed.files:
        print(f"signed: {printable(str(path))}")
    print(f"with the key {shown_fingerprint(signed.fingerprint)}")
    return EXIT_OK


# -- trust --------------------------------------------------------------------------------------

def trust_add(args: argparse.Namespace) -> int:
    """Trust an officer's key. The same key already trusted under the same name is not an
    error (nothing changes), so scripts may run it every time."""

    try:
        pem = args.public_key.read_bytes()
    except OSError as error:
        return fail(f"{args.public_key} cannot be read ({error.strerror})")
    with open_workspace() as workspace:
        present = workspace.trust.find(pem, str(args.public_key))
        if present is not None and present.name == args.name.strip():
            print(f"Already trusted: {present.label}; nothing was changed.")
            return EXIT_OK
        workspace.audit.require()  # a change of trust that cannot be recorded does not happen
        added = workspace.trust.add(pem, args.name, str(args.public_key), getpass.getuser(),
                                    demo=args.demo)
        workspace.audit.trust_change("key added", added.name, added.fingerprint,
                                     **({"demo": True} if args.demo else {}))
        policy = workspace.trust.policy()
    print(f"Trusted: {added.label}")
    print("Compare this fingerprint with the one the officer's `strongroom officer keygen` "
          "showed. If they differ, remove the key at once: `strongroom trust remove "
          f"{added.fingerprint[:16]}`.")
    print(f"Policy: {policy.describe()}")
    return EXIT_OK


def trust_list(args: argparse.Namespace) -> int:
    with open_workspace(create=False) as workspace:
        policy = workspace.trust.policy()
        where = workspace.secrets.description
    if args.json:
        print(json.dumps({
            "keys": [{"name": k.name, "fingerprint": k.fingerprint, "added": k.added,
                      "added_by": k.added_by, "demo": k.demo} for k in policy.keys],
            "require_signed": policy.require_signed, "enforced": policy.enforced,
            "policy": policy.describe(), "kept_in": where}, indent=2))
        return EXIT_OK
    if not policy.keys:
        print("No officer key is trusted on this workstation.")
    for key in policy.keys:
        demo = " (the setup's demo key: remove it on a real workstation)" if key.demo else ""
        print(f"{key.label}{demo}, added {printable(key.added)} by {printable(key.added_by)}")
    print(f"Policy: {policy.describe()}")
    print(f"Kept in {where}")
    return EXIT_OK


def trust_remove(args: argparse.Namespace) -> int:
    from strongroom.core.transfer.signatures import SigningError

    with open_workspace() as workspace:
        try:
            workspace.audit.require()
            removed = workspace.trust.remove(args.fingerprint)
            workspace.audit.trust_change("key removed", removed.name, removed.fingerprint)
        except SigningError as error:
            return fail(str(error), EXIT_USAGE)
        policy = workspace.trust.policy()
    print(f"No longer trusted: {removed.label}")
    print(f"Policy: {policy.describe()}")
    return EXIT_OK


def trust_require(args: argparse.Namespace) -> int:
    required = args.setting == "on"
    with open_workspace() as workspace:
        workspace.audit.require()
        workspace.trust.set_require_signed(required)
        workspace.audit.trust_change("signed drives required" if required else
                                     "unsigned drives allowed")
        policy = workspace.trust.policy()
    print(f"Policy: {policy.describe()}")
    return EXIT_OK


def add_parsers(commands) -> None:
    officer = commands.add_parser(
        "officer", help="(security officer) make a signing key; sign drives and folders")
    actions = officer.add_subparsers(dest="officer_command", metavar="ACTION", required=True)
    make = actions.add_parser("keygen", help="make a P-256 key pair for signing drives",
                              epilog="example: strongroom officer keygen --out /media/officer-usb")
    make.add_argument("--out", type=Path, required=True, help="the folder for the two key files")
    make.add_argument("--passphrase-file", type=Path,
                      help="read the new key's passphrase from this file (for scripts)")
    make.set_defaults(handler=keygen, connected=True)
    signing = actions.add_parser(
        "sign", help="verify, then sign, a drive, model folder or app bundle (OMS format)",
        epilog="example: strongroom officer sign /media/usb --key ~/keys/officer-key.pem")
    signing.add_argument("path", type=Path, help="the drive, model folder or bundle to sign")
    signing.add_argument("--key", type=Path, required=True, help="the private key file")
    signing.add_argument("--passphrase-file", type=Path, help="read the passphrase from this file")
    signing.set_defaults(handler=sign, connected=True)

    trust = commands.add_parser("trust", help="the officer keys this workstation accepts")
    verbs = trust.add_subparsers(dest="trust_command", metavar="ACTION", required=True)
    add = verbs.add_parser("add", help="trust an officer's public key",
                           epilog="example: strongroom trust add /media/usb/officer-key.pub.pem --name 'Alice Officer'")
    add.add_argument("public_key", type=Path, help="the officer's officer-key.pub.pem")
    add.add_argument("--name", required=True, help="whose key it is, as reviews will show it")
    add.add_argument("--demo", action="store_true",
                     help="mark it as a demo key whose private key is not kept safe (the "
                          "compliance check stays amber while it is trusted)")
    add.set_defaults(handler=trust_add)
    listing = verbs.add_parser("list", help="the trusted keys and the policy",
                               epilog="example: strongroom trust list --json")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=trust_list, read_only=True)
    remove = verbs.add_parser("remove", help="stop trusting a key",
                              epilog="example: strongroom trust remove 3f2a9c01")
    remove.add_argument("fingerprint", help="the start of its fingerprint (8 characters or more)")
    remove.set_defaults(handler=trust_remove)
    require = verbs.add_parser("require", help="whether drives must be signed by a trusted key",
                               epilog="example: strongroom trust require on")
    require.add_argument("setting", choices=("on", "off"),
                         help="on: unsigned drives are refused (once a key is trusted)")
    require.set_defaults(handler=trust_require)
