"""The `strongroom` subcommands, one module per area; `strongroom.cli` parses and dispatches.

Commands are thin: they parse, call core, and print. Every command that records something
refuses, with the audit log's own message, when the log cannot be written.
"""

from __future__ import annotations

import sys

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
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


_new_key: list[str] = []  # keys to show when the command ends (the audit's, the conversations')


def open_workspace(announce_new_key: bool = True):
    """The workspace (use it in a ``with`` block), opened as every command opens it. If this
    opened a new audit log, its verification key is shown when the command ends, as the last
    thing it prints (see `announce_new_key`): Strongroom does not keep it."""
    from strongroom.core.workspace import Workspace

    workspace = Workspace.open()
    log = workspace.audit.log
    if announce_new_key and log is not None and log.created_key_text:
        _new_key.append(key_announcement(log.path, log.created_key_text, log.fingerprint))
        log.created_key_text = None
    if announce_new_key and workspace.chats_recovery_text:  # before the audit key, shown only once
        _new_key.insert(0, recovery_key_announcement(workspace.paths.conversations_db,
                                                  workspace.chats_recovery_text))
    return workspace


def recovery_key_announcement(path, recovery_text: str) -> str:
    rule = "=" * 78
    return (f"{rule}\nYour conversations are encrypted: {path}\n"
            "CONVERSATIONS RECOVERY KEY (it is shown again until you confirm it is stored):\n\n"
            f"    {recovery_text}\n\n"
            "Write it down or print it, and keep it off this computer. With it, `strongroom\n"
            "chats recover` restores access on a new keyring or computer; without it and this\n"
            "computer's keyring, nobody can read the conversations. Once it is stored:\n"
            "    strongroom chats recovery-key --stored\n"
            f"{rule}")


def key_announcement(path, key_text: str, fingerprint: str) -> str:
    from strongroom.core.audit.keys import show_fingerprint

    rule = "=" * 78
    return (f"{rule}\nStrongroom started a new audit log: {path}\n"
            "AUDIT VERIFICATION KEY (shown only now; Strongroom does not keep it):\n\n"
            f"    {key_text}\n\n"
            f"Key fingerprint: {show_fingerprint(fingerprint)}\n"
            "Give it to the auditor or security officer, or print it, and keep it off this\n"
            "computer. With it, anyone can check that no entry was forged or rewritten.\n"
            f"{rule}")


def announce_new_key() -> None:
    """Show the keys the command created, after everything else it printed."""
    if _new_key:
        sys.stdout.flush()
        while _new_key:
            print("\n" + _new_key.pop(0), file=sys.stderr)
        sys.stderr.flush()
