"""The `strongroom` subcommands, one module per area; `strongroom.cli` parses and dispatches.

Commands are thin: they parse, call core, and print. Every command that records something
refuses, with the audit log's own message, when the log cannot be written. A failure core
explains (a `StrongroomError`: the audit log cannot be written, a key is refused) is left
to rise: `cli.main` prints its message as one line and exits with its code.
"""

from __future__ import annotations

import sys

# The commands import the exit codes from here.
from strongroom.core.errors import EXIT_FAILURE, EXIT_USAGE  # noqa: F401

EXIT_OK = 0
EXIT_INTERRUPTED = 130


def setting_argument(name: str):
    """An argparse type for a value of the setting ``name``: checked against the same
    bounds as the settings dialog, with the same words when it is out of them."""
    import argparse

    from strongroom.core.settings import BY_NAME

    setting = BY_NAME[name]

    def parse(text: str):
        try:
            number = float(text) if setting.type is float else int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{setting.label} must be a number, not "
                                             f"{text!r}") from None
        try:
            return setting.coerce(number)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = setting.label  # argparse names the argument's type by it
    return parse


def fail(message: str, code: int = EXIT_FAILURE) -> int:
    print(f"strongroom: {message}", file=sys.stderr)
    return code


_new_key: list[str] = []  # what to say about keys when the command ends


def open_workspace(announce_new_key: bool = True, create: bool = True):
    """The workspace (use it in a ``with`` block), opened as every command opens it. Keys a
    person must take away are spoken of when the command ends, as the last thing it prints
    (see `queue_key_notices`). Commands that only look pass ``create=False``: they then
    create nothing (see `Workspace.open`)."""
    from strongroom.core.workspace import Workspace

    workspace = Workspace.open(create=create)
    if announce_new_key:
        queue_key_notices(workspace, sys.stderr.isatty())
    return workspace


def queue_key_notices(workspace, terminal: bool) -> None:
    """What the command says about keys at its end. On a ``terminal``, the audit
    verification key once (then it is no longer kept) and the conversations' recovery key
    in full the first time; after that, and where nobody may be reading (a script, a pipe,
    a log file), one line that says where to get them."""
    from strongroom.core.audit.events import AuditUnavailable
    from strongroom.core.chats.database_key import DatabaseKeys

    audit, recovery = workspace.audit, workspace.chats_recovery_text
    if recovery:
        keys = DatabaseKeys(workspace.secrets)
        if terminal and not keys.shown_in_full():
            _new_key.append(recovery_key_announcement(workspace.paths.conversations_db, recovery))
            keys.mark_shown_in_full()
        else:
            _new_key.append("Reminder: the conversations' recovery key is not yet confirmed as "
                            "stored off this computer; `strongroom chats recovery-key` shows it.")
    pending = audit.pending_key() if audit.available else None
    if pending and terminal:
        fingerprint = audit.log.fingerprint
        try:
            audit.key_shown("terminal")
        except AuditUnavailable as error:
            _new_key.append(f"(That the key was shown could not be recorded: {error})")
        _new_key.append(key_announcement(audit.log.path, pending, fingerprint))
    elif pending:
        _new_key.append(
            f"Strongroom keeps an audit log ({audit.log.path}) whose verification key nobody has "
            "seen yet: run `strongroom audit init --show-key-once` on a terminal, or open the "
            "window, to see it once and take it away.")


def recovery_key_announcement(path, recovery_text: str) -> str:
    rule = "=" * 78
    return (f"{rule}\nYour conversations are encrypted: {path}\n"
            "CONVERSATIONS RECOVERY KEY (shown in full this once; `strongroom chats "
            "recovery-key`\nshows it again until you confirm it is stored):\n\n"
            f"    {recovery_text}\n\n"
            "Write it down or print it, and keep it off this computer. With it, `strongroom\n"
            "chats recover` restores access on a new keyring or computer; without it and this\n"
            "computer's keyring, nobody can read the conversations. Once it is stored:\n"
            "    strongroom chats recovery-key --stored\n"
            f"{rule}")


def key_announcement(path, key_text: str, fingerprint: str) -> str:
    from strongroom.core.audit.keys import show_fingerprint

    rule = "=" * 78
    return (f"{rule}\nStrongroom keeps a tamper-evident audit log: {path}\n"
            "AUDIT VERIFICATION KEY (shown only now; Strongroom no longer keeps it):\n\n"
            f"    {key_text}\n\n"
            f"Key fingerprint: {show_fingerprint(fingerprint)}\n"
            "Give it to the auditor or security officer, or print it, and keep it off this\n"
            "computer. With it, anyone can check that no entry was forged or rewritten. If it\n"
            "is lost: `strongroom audit new-log` starts a new log with a new key.\n"
            f"{rule}")


def announce_new_key() -> None:
    """Say what the command has to say about keys, after everything else it printed."""
    if _new_key:
        sys.stdout.flush()
        while _new_key:
            print("\n" + _new_key.pop(0), file=sys.stderr)
        sys.stderr.flush()
