"""The `strongroom` subcommands, one module per area; `strongroom.cli` parses and dispatches.

Commands are thin: they parse, call core, and print. Every command that records something
refuses, with the audit log's own message, when the log cannot be written.
"""

from __future__ import annotations

import sys

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130


def fail(message: str, code: int = EXIT_FAILURE) -> int:
    print(f"strongroom: {message}", file=sys.stderr)
    return code


def open_workspace(announce_new_key: bool = True):
    """The workspace (use it in a ``with`` block), opened as every command opens it. If this
    opened a new audit log, its verification key is shown now, once, on standard error:
    Strongroom does not keep it."""
    from strongroom.core.workspace import Workspace

    workspace = Workspace.open()
    log = workspace.audit.log
    if announce_new_key and log is not None and log.created_key_text:
        print(f"strongroom: started a new audit log, {log.path}.\n"
              f"AUDIT VERIFICATION KEY (shown once; Strongroom does not keep it):\n\n"
              f"    {log.created_key_text}\n\n"
              "Give it to the auditor or security officer, or print it and keep it safe, off this "
              "computer. With it, anyone can check that no entry was forged or rewritten.\n",
              file=sys.stderr)
        log.created_key_text = None
    return workspace
