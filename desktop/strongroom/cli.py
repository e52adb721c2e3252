"""The `strongroom` command: no arguments opens the window; subcommands work headless.

Workstation-side commands switch the process offline (environment and egress guard)
before anything else is imported. Only `prepare`, which runs on the connected machine,
may reach a model hub, and even it sends no telemetry.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from strongroom import __version__
from strongroom.commands import EXIT_FAILURE, announce_new_key, fail


def _build_parser() -> argparse.ArgumentParser:
    from strongroom.commands import (
        audit,
        chat,
        compliance,
        conversations,
        drive,
        library,
        officer,
        serve,
        servers,
        store,
    )

    parser = argparse.ArgumentParser(
        prog="strongroom",
        description="A private AI workstation for isolated machines. "
                    "Without a command, opens the Strongroom window.",
    )
    parser.add_argument("--version", action="version", version=f"strongroom {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation (modules, offline guard, llama.cpp, Qt, "
                             "the store's active model answering, audit log) and exit")
    parser.add_argument("--model", dest="self_test_model", type=Path, metavar="GGUF",
                        help="(with --self-test) answer with this model file instead")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    chat.add_parser(commands)
    conversations.add_parsers(commands)
    drive.add_parsers(commands)
    library.add_parsers(commands)
    officer.add_parsers(commands)
    store.add_parsers(commands)
    compliance.add_parsers(commands)
    servers.add_parsers(commands)
    serve.add_parser(commands)
    audit.add_parsers(commands, open_viewer=_open_audit_viewer)
    return parser


def _open_audit_viewer(log_path: Path, auditor) -> int:
    """`strongroom audit view`: the auditor's window (the commands never import the UI)."""
    from strongroom.ui.app import run_audit_viewer

    return run_audit_viewer(log_path, auditor)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from strongroom.core.documents import reading
    from strongroom.core.inference import template_sandbox
    from strongroom.core.transfer import gguf_check

    if argv[:1] == [gguf_check.CHILD_COMMAND]:  # the isolated header check's child process
        return gguf_check.main(argv[1:])
    if argv[:1] == [template_sandbox.CHILD_COMMAND]:  # a model's template, rendered apart
        return template_sandbox.serve()
    if argv[:1] == [reading.CHILD_COMMAND]:  # a document's text, read apart from the app
        return reading.main(argv[1:])
    if argv[:1] == ["_serve-model"]:  # `strongroom serve`'s server, on a verified model
        from strongroom.core.remote import serving

        return serving.serve_child(argv[1:])
    args = _build_parser().parse_args(argv)

    guard = None
    if getattr(args, "connected", False):
        os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
        for switch in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):  # either one blocks the hub
            os.environ.pop(switch, None)
    else:
        from strongroom.core.offline import EgressGuard, apply_offline_environment

        apply_offline_environment()
        guard = EgressGuard.install()

    from strongroom.core.app_log import configure_file_logging
    from strongroom.core.paths import app_paths

    paths = app_paths()
    looks_only = args.self_test or getattr(args, "read_only", False)
    try:
        # A command that only looks writes nothing where Strongroom never ran, its log included.
        if not looks_only or paths.app_log.parent.is_dir():
            configure_file_logging(paths.app_log)
    except OSError as error:
        print(f"strongroom: cannot write the app log {paths.app_log}: {error.strerror}",
              file=sys.stderr)
        return EXIT_FAILURE

    if args.self_test:
        from strongroom.self_test import run_self_test

        return 0 if run_self_test(args.self_test_model) else EXIT_FAILURE
    if args.command is None:
        from strongroom.ui.app import run_gui

        return run_gui(egress_guard=guard)
    from strongroom.core.errors import StrongroomError

    try:
        return args.handler(args)
    except StrongroomError as error:  # explained in its message: one line, and its exit code
        return fail(str(error), error.exit_code)
    finally:
        announce_new_key()  # a key the command created is the last thing printed


if __name__ == "__main__":
    raise SystemExit(main())
