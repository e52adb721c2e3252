"""`strongroom prepare`, `verify` and `import`: transfer drives from both sides of the gap."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from strongroom.commands import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    fail,
    open_workspace,
)
from strongroom.commands.terminal import ProgressLine, confirm
from strongroom.core.progress import Cancelled
from strongroom.core.units import human_size


def prepare(args: argparse.Namespace) -> int:
    """Connected side: put a model on the drive, then rewrite the drive's root manifests."""
    from strongroom.commands.officer import read_passphrase
    from strongroom.core.transfer.manifests import TRANSFER_MANIFEST
    from strongroom.core.transfer.prepare import (
        PrepareError,
        prepare_from_hub,
        prepare_local,
        write_transfer_manifest,
    )
    from strongroom.core.transfer.signatures import (
        DRIVE_SIGNATURE,
        SigningError,
        load_private_key,
        sign_file,
        sign_folder,
    )

    drive = args.drive.resolve()
    sources = [*(args.file or []), *(args.dir or [])]
    if bool(args.repo) == bool(sources):
        return fail("give either --repo ID, or --file/--dir with local model files", EXIT_USAGE)
    passphrase = None
    if args.sign:
        # the key is opened first: a wrong passphrase must not cost a download
        passphrase = read_passphrase(args.passphrase_file)
        load_private_key(args.sign, passphrase)
    line = ProgressLine("Copying" if sources else "Checking downloads:")
    try:
        if args.repo:
            prepared = prepare_from_hub(drive, args.repo, args.revision, args.include, args.name,
                                        on_progress=line)
        else:
            name = args.name or sources[0].name.split(".")[0]
            prepared = prepare_local(drive, name, sources, args.model_id, on_progress=line)
        line.done()
        print(f"models/{prepared.name}: {len(prepared.entries)} file(s), "
              f"{human_size(sum(e.size or 0 for e in prepared.entries.values()))}")
        if args.sign:
            print(f"signed: {sign_folder(prepared.folder, args.sign, passphrase)}")
        line = ProgressLine("Writing the transfer manifest:")
        summary = write_transfer_manifest(drive, on_progress=line)
        line.done()
        if args.sign:
            print("signed: " + str(sign_file(drive / TRANSFER_MANIFEST, args.sign, passphrase,
                                              drive / DRIVE_SIGNATURE)))
    except (PrepareError, SigningError) as error:
        line.done()
        return fail(str(error))
    except (Cancelled, KeyboardInterrupt):
        line.done()
        return fail("cancelled; the drive was left as it was before this run", EXIT_INTERRUPTED)
    print(f"{drive}: {summary.file_count} files, {human_size(summary.total_bytes)}, models: "
          f"{', '.join(summary.models)}")
    print(f"TRANSFER_MANIFEST.sha256 sha256 {summary.manifest_sha256}")
    return EXIT_OK


def verify(args: argparse.Namespace) -> int:
    """Check a drive against its manifests and signatures. It only reads: on a computer
    with no audit log yet it creates none (the result then says it was not recorded)."""
    import os

    from strongroom.core.transfer.drive import open_drive, verify_drive

    if not os.path.lexists(args.path):
        return fail(f"{args.path} does not exist: check the path, and that the drive is mounted",
                    EXIT_USAGE)
    with open_workspace(create=False) as workspace:
        recorded = not workspace.audit.absent
        if recorded:
            workspace.audit.require()  # a check that cannot be recorded does not happen
        policy = workspace.trust.policy()
        drive = open_drive(args.path)
        line = ProgressLine("Verifying")
        try:
            report = verify_drive(drive, args.model or None, on_progress=line, trust=policy)
        except KeyError as error:
            line.done()
            return fail(error.args[0], EXIT_USAGE)
        except (Cancelled, KeyboardInterrupt):
            line.done()
            return fail("cancelled", EXIT_INTERRUPTED)
        line.done()
        print(report.as_json() if args.json else report.summary())
        if recorded:
            workspace.audit.drive_verified(drive.root, report)
    if not recorded:
        print("strongroom: this check was not recorded: there is no audit log on this computer "
              "yet.", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILURE


def import_(args: argparse.Namespace) -> int:
    """Verify and import the drive's models (all, or --model); nothing on any failure. The
    steps are the import wizard's, from `strongroom.core.store.import_workflow`."""
    from strongroom.core.store.import_workflow import ImportWorkflow, Step

    with open_workspace() as workspace:
        workspace.audit.require()  # an import that cannot be recorded does not happen
        policy = workspace.trust.policy()
        workflow = ImportWorkflow(workspace.store, drive_finder=lambda: [], auditor=workspace.audit,
                                  trust=policy)
        problem = workflow.choose_drive(args.drive)
        if problem:
            return fail(problem)
        try:
            workflow.choose_models(args.model or [m.name for m in workflow.offered()])
        except KeyError as error:
            return fail(error.args[0], EXIT_USAGE)

        workflow.advance_to(Step.VERIFY)
        line = ProgressLine("Verifying")
        try:
            report = workflow.run_verify(line)
        except (Cancelled, KeyboardInterrupt):
            line.done()
            return fail("cancelled; nothing was imported", EXIT_INTERRUPTED)
        line.done()
        print(report.summary())
        if workflow.step is Step.FAILED:
            return fail(workflow.failure or "the import failed")

        workflow.advance_to(Step.REVIEW)
        for item in workflow.review():
            print("\n".join(item.lines()))
        if not args.yes and not confirm(f"Import {len(workflow.selected)} model(s) into the store?"):
            return fail("not imported (answer yes, or pass --yes to import without asking)")

        workflow.advance_to(Step.IMPORT)
        line = ProgressLine("Importing")
        try:
            workflow.run_import(line)
        except KeyboardInterrupt:
            line.done()
            return fail("cancelled; nothing of the model being imported was stored",
                        EXIT_INTERRUPTED)
        line.done()
        for result in workflow.imported:
            where = result.version.folder
            if result.already_present:
                print(f"{result.version.name}: already in the store ({where})")
            else:
                print(f"{result.version.name}: imported into {where} "
                      f"({human_size(result.new_bytes)} new)")
        if workflow.step is Step.FAILED:
            return fail(workflow.failure or "the import failed")
    return EXIT_OK


def add_parsers(commands) -> None:
    prepare_parser = commands.add_parser(
        "prepare", help="(connected machine) put a model on a transfer drive, with manifests",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the example stays whole
        epilog="example: strongroom prepare /media/usb \\\n"
               "             --repo bartowski/Llama-3.2-3B-Instruct-GGUF \\\n"
               "             --include '*Q4_K_M.gguf' --name llama-3.2-3b")
    prepare_parser.add_argument("drive", type=Path, help="the drive (or folder) to write")
    prepare_parser.add_argument("--repo", help="a hub repository, e.g. org/model-GGUF")
    prepare_parser.add_argument("--revision", default="main", help="branch, tag or commit (default main)")
    prepare_parser.add_argument("--include", nargs="+", metavar="PATTERN",
                                help="only files matching these patterns, e.g. '*Q4_K_M.gguf'")
    prepare_parser.add_argument("--file", type=Path, action="append", help="a local model file")
    prepare_parser.add_argument("--dir", type=Path, action="append", help="a local model folder")
    prepare_parser.add_argument("--name", help="the model's folder name on the drive")
    prepare_parser.add_argument("--model-id", help="the model id to record (local files)")
    prepare_parser.add_argument("--sign", type=Path, metavar="KEY",
                                help="sign the model folder and the drive with this officer key")
    prepare_parser.add_argument("--passphrase-file", type=Path,
                                help="(with --sign) read the key's passphrase from this file")
    prepare_parser.set_defaults(handler=prepare, connected=True)

    verify_parser = commands.add_parser(
        "verify", help="check a drive, model folder or bundle against its manifests",
        epilog="example: strongroom verify /media/usb --json")
    verify_parser.add_argument("path", type=Path, help="the drive, model folder, bundle or wheelhouse")
    verify_parser.add_argument("--model", action="append", help="only this model (repeatable)")
    verify_parser.add_argument("--json", action="store_true", help="a JSON report for scripts")
    verify_parser.set_defaults(handler=verify, read_only=True)

    import_parser = commands.add_parser(
        "import", help="verify a drive and import its models into the store",
        epilog="example: strongroom import /media/usb --model llama-3.2-3b --yes")
    import_parser.add_argument("drive", type=Path, help="the transfer drive (its mounted folder)")
    import_parser.add_argument("--model", action="append", help="only this model (repeatable)")
    import_parser.add_argument("--yes", action="store_true", help="do not ask before importing")
    import_parser.set_defaults(handler=import_)
