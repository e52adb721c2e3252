"""`strongroom chats`: the encrypted conversations' key. Recovering access with the
recovery key, starting a fresh history (the old one kept aside), confirming the recovery
key is stored, and where things are."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from strongroom.commands import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, fail, open_workspace
from strongroom.commands.terminal import confirm


def _paths_and_secrets():
    from strongroom.core.paths import app_paths, ensure_private_dir
    from strongroom.core.secrets import open_secret_store

    paths = app_paths()
    ensure_private_dir(paths.config_dir)
    return paths, open_secret_store(paths.config_dir)


def _record(action: str) -> None:
    """The change, in the audit log (once the conversations open again)."""
    with open_workspace() as workspace:
        workspace.audit.conversations_key(action)


def recover(args: argparse.Namespace) -> int:
    from strongroom.core.chats.open_conversations import recover as recover_access

    if args.key_file is not None:
        try:
            text = args.key_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            return fail(f"{args.key_file} cannot be read ({getattr(error, 'strerror', error)})")
    elif sys.stdin.isatty():
        text = getpass.getpass("Conversations recovery key (SRCK-…): ")
    else:
        text = sys.stdin.read()
    paths, secrets = _paths_and_secrets()
    try:
        recover_access(paths.conversations_db, secrets, text)
    except ValueError as error:
        return fail(str(error), EXIT_USAGE)
    print(f"The conversations in {paths.conversations_db} open again; their key is kept in "
          f"{secrets.description}.")
    _record("recovered with the recovery key")
    return EXIT_OK


def start_fresh(args: argparse.Namespace) -> int:
    from strongroom.core.chats.database import ConversationStoreError
    from strongroom.core.chats.open_conversations import open_conversations
    from strongroom.core.chats.open_conversations import start_fresh as set_aside

    paths, secrets = _paths_and_secrets()
    try:
        opened = open_conversations(paths.conversations_db, secrets)
    except ConversationStoreError as error:
        problem = str(error)
    else:
        opened.store.close()
        return fail("the conversations open fine; nothing was set aside (delete conversations in "
                    "the window if that is what you want)")
    print(f"The conversations cannot be opened: {problem}")
    if not args.yes and not confirm("Keep that file aside, unread, and start an empty history?"):
        return fail("nothing was changed (answer yes, or pass --yes)")
    aside = set_aside(paths.conversations_db, secrets)
    if aside is not None:
        print(f"The old database is kept, unchanged, as {aside}. With its recovery key it can "
              "still be read: put it back in place and run `strongroom chats recover`.")
    with open_workspace() as workspace:
        workspace.audit.conversations_key("started fresh", set_aside=str(aside) if aside else None)
    return EXIT_OK


def recovery_key(args: argparse.Namespace) -> int:
    """Show the recovery key in full (asked for by name, so on any output) until it is
    confirmed stored; ``--stored`` confirms it."""
    from strongroom.commands import recovery_key_announcement

    with open_workspace(announce_new_key=False) as workspace:
        if workspace.chats_recovery_text is None:
            print("The conversations' recovery key was confirmed as stored. (It is shown only "
                  "until then; `strongroom chats recover` uses it.)")
            return EXIT_OK
        if not args.stored:
            print(recovery_key_announcement(workspace.paths.conversations_db,
                                            workspace.chats_recovery_text))
            return EXIT_OK
        workspace.confirm_recovery_key_stored()
    print("Noted: the recovery key is stored off this computer. It will not be shown again.")
    return EXIT_OK


def info(args: argparse.Namespace) -> int:
    from strongroom.core.chats.database import ConversationStoreError

    paths, secrets = _paths_and_secrets()
    print(f"Conversations: {paths.conversations_db} (encrypted with SQLCipher, AES-256)")
    print(f"Their key is kept in {secrets.description}")
    try:
        with open_workspace(announce_new_key=False) as workspace:
            count = len(workspace.chats.conversations())
            stored = workspace.chats_recovery_text is None
    except ConversationStoreError as error:
        print(f"They cannot be opened: {error}")
        return EXIT_FAILURE
    print(f"{count} conversation(s); recovery key {'confirmed stored' if stored else 'NOT yet confirmed as stored'}")
    return EXIT_OK


def add_parsers(commands) -> None:
    chats = commands.add_parser("chats", help="the encrypted conversations' key: recover, start fresh")
    actions = chats.add_subparsers(dest="chats_command", metavar="ACTION", required=True)
    get_back = actions.add_parser("recover", help="open the conversations again with the recovery key",
                                  epilog="example: strongroom chats recover --key-file /media/usb/recovery-key.txt")
    get_back.add_argument("--key-file", type=Path, help="a file holding the recovery key")
    get_back.set_defaults(handler=recover)
    fresh = actions.add_parser(
        "start-fresh", help="keep conversations that cannot be opened aside, and start empty",
        epilog="example: strongroom chats start-fresh")
    fresh.add_argument("--yes", action="store_true", help="do not ask")
    fresh.set_defaults(handler=start_fresh)
    key = actions.add_parser("recovery-key", help="show the recovery key until it is confirmed stored",
                             epilog="example: strongroom chats recovery-key --stored")
    key.add_argument("--stored", action="store_true", help="confirm it is stored off this computer")
    key.set_defaults(handler=recovery_key)
    actions.add_parser("info", help="where the conversations and their key are",
                       epilog="example: strongroom chats info").set_defaults(handler=info)
