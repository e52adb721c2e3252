"""`strongroom audit`: create, inspect, checkpoint and verify the audit log."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from strongroom.commands import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, fail, open_workspace
from strongroom.core.audit.keys import show_fingerprint


def _read_key(args: argparse.Namespace) -> str | None:
    """The key given: --key, --key - (standard input), or --key-file (the page Strongroom
    saved or printed, or a file holding only the key)."""
    if args.key_file:
        text = args.key_file.read_text(encoding="utf-8")
        return next((word for word in text.split() if word.upper().startswith("SRAK-")), text.strip())
    if args.key == "-":
        return sys.stdin.readline().strip()
    return args.key


def init(args: argparse.Namespace) -> int:
    """Start the audit log if there is none. Its verification key is shown once: here on a
    terminal, or with --show-key-once (on any output, since it was asked for)."""
    from strongroom.commands import key_announcement, queue_key_notices

    with open_workspace(announce_new_key=False) as workspace:
        audit = workspace.audit
        if not audit.available:
            return fail(audit.problem)
        pending = audit.pending_key()
        if pending and args.show_key_once:
            fingerprint = audit.log.fingerprint
            audit.key_shown("command")
            print(key_announcement(audit.log.path, pending, fingerprint))
            return EXIT_OK
        if pending:
            print(f"The audit log is {audit.log.path}.")
            queue_key_notices(workspace, sys.stderr.isatty())
            return EXIT_OK
        shown = audit.log.key_display()
        print(f"The audit log already exists: {audit.log.path}. Its verification key (fingerprint "
              f"{show_fingerprint(audit.log.fingerprint)}) was shown once"
              + (f", {shown.describe()}," if shown else "")
              + " and is not kept on this computer. If it was lost, `strongroom audit new-log "
              "--reason \"verification key lost\"` starts a new log with a new key.")
    return EXIT_OK


def new_log(args: argparse.Namespace) -> int:
    """Close the log for good and start a new one with a new verification key."""
    from strongroom.commands import queue_key_notices
    from strongroom.commands.terminal import confirm

    with open_workspace(announce_new_key=False) as workspace:
        audit = workspace.audit
        if not audit.available:
            return fail(audit.problem)
        if not args.yes and not confirm(
                f"Close the audit log {audit.log.path} for good and start a new one with a new "
                "verification key?"):
            return fail("nothing was changed (answer yes, or pass --yes)", EXIT_USAGE)
        old = audit.start_new_log(args.reason)
        print(f"The old log is kept, unchanged but for a last entry saying why, as {old}. The "
              f"new log {audit.log.path} begins by naming it (its size and SHA-256).")
        queue_key_notices(workspace, sys.stderr.isatty())
    return EXIT_OK


def info(args: argparse.Namespace) -> int:
    with open_workspace() as workspace:
        audit = workspace.audit
        if not audit.available:
            return fail(audit.problem)
        head = audit.log.head
        print(f"audit log:       {audit.log.path}")
        print(f"entries:         {head.seq + 1:,}")
        print(f"key fingerprint: {show_fingerprint(audit.log.fingerprint)} (the audit verification "
              "key an auditor holds must have this fingerprint)")
        print(f"current epoch:   {audit.log.epoch} (its key changes every day, and every "
              f"{audit.log.entries_per_epoch:,} entries)")
        print(f"key kept in:     {audit.log.key_storage}")
    return EXIT_OK


def checkpoint(args: argparse.Namespace) -> int:
    with open_workspace() as workspace:
        try:
            record = workspace.audit.export_checkpoint(args.out)
        except OSError as error:
            return fail(f"the checkpoint could not be written to {args.out}: {error.strerror}")
    print(f"Checkpoint of seq {record['seq']} written to {args.out}. Keep it off this computer.")
    return EXIT_OK


def verify(args: argparse.Namespace) -> int:
    """Validate a log; exit 0 when everything checked holds, 1 when it does not, 2 for a
    usage error (including a key that is not this log's). It runs even when this computer's
    log cannot be written (it is how a broken log is examined); the result then says it was
    not recorded. On this computer's own log it also checks what the key and head kept here
    can check."""
    from strongroom.core.audit.events import AuditUnavailable
    from strongroom.core.audit.kept import read_local_evidence
    from strongroom.core.audit.verifier import read_checkpoint, verify_log

    with open_workspace() as workspace:
        path = args.log or workspace.paths.audit_log
        own_log = Path(path).resolve() == workspace.paths.audit_log.resolve()
        try:
            key = _read_key(args)
            checkpoint = read_checkpoint(args.checkpoint) if args.checkpoint else None
            local = read_local_evidence(workspace.paths.audit_log, workspace.secrets) if own_log else None
            report = verify_log(path, key, checkpoint, local=local,
                                key_storage=workspace.secrets.description if local else None)
        except (ValueError, OSError) as error:
            message = str(error) if isinstance(error, ValueError) else f"{error.filename}: {error.strerror}"
            if args.json:
                print(json.dumps({"ok": False, "error": message}))
            return fail(message, EXIT_USAGE)
        try:
            workspace.audit.audit_verify(path, report)
            not_recorded = None
        except AuditUnavailable as error:
            not_recorded = str(error)
    print(report.as_json() if args.json else report.summary())
    if not_recorded:
        print(f"strongroom: this validation was not recorded in the audit log. {not_recorded}",
              file=sys.stderr)
    if report.key_problem:
        return EXIT_USAGE
    return EXIT_OK if report.ok else EXIT_FAILURE


def asked(args: argparse.Namespace) -> int:
    """"Was this prompt asked?" Lists the entries whose prompt digest is that of the text."""
    from strongroom.core.audit import keys
    from strongroom.core.audit.reader import (
        EntryFilter,
        LineIndex,
        PromptSearch,
        filter_rows,
        last_epoch,
    )

    text = sys.stdin.read().rstrip("\n") if args.prompt == "-" else args.prompt
    with open_workspace() as workspace:
        path = args.log or workspace.paths.audit_log
    try:
        key = _read_key(args)
        root = keys.key_from_text(key) if key else None
        index = LineIndex(path)
    except (ValueError, OSError) as error:
        return fail(str(error) if isinstance(error, ValueError) else f"{path}: {error.strerror}",
                    EXIT_USAGE)
    try:
        index.build()
        rows = filter_rows(index, EntryFilter(prompt=PromptSearch(text, root, last_epoch(index))))
        found = [index.entry(row) | {"line": row + 1} for row in rows]
        first = index.entry(0) if len(index) else {}
    finally:
        index.close()
    keyed = isinstance(first.get("details"), dict) and first["details"].get("format_version", 1) >= 2
    if args.json:
        print(json.dumps({"asked": bool(found), "entries": [
            {k: e.get(k) for k in ("line", "seq", "timestamp", "event", "user_id", "model_id")}
            for e in found], "searched_keyed_digests": root is not None}, indent=2))
    else:
        for entry in found:
            print(f"line {entry['line']}: {entry.get('timestamp')} {entry.get('event', 'inference')} "
                  f"by {entry.get('user_id')} with {entry.get('model_id')}")
        print(f"{len(found)} entr{'y' if len(found) == 1 else 'ies'} record this prompt."
              if found else "No entry records this prompt.")
        if keyed and root is None:
            print("note: this log keeps keyed digests of prompts; without the audit verification "
                  "key only entries in the reference form were searched. Give --key to search it all.")
    return EXIT_OK if found else EXIT_FAILURE


def view(args: argparse.Namespace) -> int:
    """The auditor's window, on this computer's log or any other."""
    with open_workspace() as workspace:
        path = args.log or workspace.paths.audit_log
        if not path.is_file():
            return fail(f"there is no audit log at {path}")
        return args.open_viewer(path, workspace.audit)


def add_parsers(commands, open_viewer) -> None:
    """The `audit` actions; ``open_viewer(log path, auditor) -> exit status`` opens the window."""
    audit = commands.add_parser("audit", help="the tamper-evident audit log")
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)

    starting = actions.add_parser(
        "init", help="create the audit log; show its verification key once",
        description="Starts the audit log if there is none. Its verification key is shown once, "
                    "on a terminal; where it was not (the log was started by a script, or the "
                    "output was not a terminal), --show-key-once shows it, then it is no "
                    "longer kept.",
        epilog="example: strongroom audit init --show-key-once")
    starting.add_argument("--show-key-once", action="store_true",
                          help="print the verification key if nobody has seen it yet, on any "
                               "output (then it is gone from this computer)")
    starting.set_defaults(handler=init)
    replacing = actions.add_parser(
        "new-log", help="(security officer) close the log for good and start a new one",
        description="For a lost verification key: the log gets a last entry saying why and is "
                    "kept aside, unchanged otherwise; a new log with a new key begins by naming "
                    "it (size and SHA-256).",
        epilog='example: strongroom audit new-log --reason "verification key lost" --yes')
    replacing.add_argument("--reason", required=True, help="why, as the logs will record it")
    replacing.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    replacing.set_defaults(handler=new_log)
    actions.add_parser("info", help="where the log and its key are",
                       epilog="example: strongroom audit info").set_defaults(handler=info)

    cp = actions.add_parser("checkpoint", help="export the log's head, to keep off this computer",
                            epilog="example: strongroom audit checkpoint --out /media/usb/checkpoint.json")
    cp.add_argument("--out", type=Path, required=True,
                    help="where to write it (a removable drive, not this computer)")
    cp.set_defaults(handler=checkpoint)

    check = actions.add_parser(
        "verify", help="validate the chain, MACs, seals and a checkpoint",
        description="Validate an audit log. Exit status: 0 when everything checked holds, 1 when "
                    "the log is broken (the first break is named), 2 for a usage error such as a "
                    "key that is not this log's.",
        epilog="example: strongroom audit verify --key-file /media/usb/audit-key.txt "
               "--checkpoint /media/usb/checkpoint.json --json")
    check.add_argument("log", nargs="?", type=Path, help="a log file (default: this computer's)")
    check.add_argument("--key", help="the audit verification key ('-' reads it from standard input)")
    check.add_argument("--key-file", type=Path, help="a file holding the key")
    check.add_argument("--checkpoint", type=Path, help="a checkpoint file from `audit checkpoint`")
    check.add_argument("--json", action="store_true", help="a JSON report for scripts")
    check.set_defaults(handler=verify)

    ask = actions.add_parser(
        "asked", help="was this prompt asked? (exit 0: yes, 1: no)",
        epilog="example: echo 'Does patient X have HIV?' | strongroom audit asked - --key-file key.txt")
    ask.add_argument("prompt", help="the prompt's exact text ('-' reads it from standard input, "
                                    "which keeps it out of the shell's history)")
    ask.add_argument("log", nargs="?", type=Path, help="a log file (default: this computer's)")
    ask.add_argument("--key", help="the audit verification key ('-' reads it from standard input)")
    ask.add_argument("--key-file", type=Path, help="a file holding the key")
    ask.add_argument("--json", action="store_true", help="a JSON answer for scripts")
    ask.set_defaults(handler=asked)

    viewer = actions.add_parser("view", help="open the audit log viewer",
                                epilog="example: strongroom audit view /media/usb/audit.log")
    viewer.add_argument("log", nargs="?", type=Path, help="a log file (default: this computer's)")
    viewer.set_defaults(handler=view, open_viewer=open_viewer)
