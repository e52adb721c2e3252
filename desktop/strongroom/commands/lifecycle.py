"""`strongroom store smoke-test | promote | rollback | retire | remove | gc`: the reference
procedure for updating a model (test the new version, switch over, keep the old one to
roll back to, remove retired versions after the retention period), each step audited."""

from __future__ import annotations

import argparse
import sys

from strongroom.commands import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, fail, open_workspace
from strongroom.core.display import printable
from strongroom.core.store import lifecycle as lifecycle_rules
from strongroom.core.store.lifecycle import ACTIVE, STAGED


def _step(run):
    """Run one lifecycle step in a workspace whose audit log can record it."""

    def handler(args: argparse.Namespace) -> int:
        with open_workspace() as workspace:
            workspace.audit.require()
            return run(workspace, args)

    return handler


def version_problems(workspace):
    return lifecycle_rules.version_problems(workspace.store, workspace.paths.audit_log)


@_step
def smoke_test(workspace, args) -> int:
    from strongroom.core.inference.engine import LoadOptions
    from strongroom.core.store.smoke_test import describe, run_smoke_test

    version = workspace.lifecycle.find(args.name, args.version, default=STAGED).version
    print(f"Smoke-testing {version.store_id} (loading it, then three short prompts, or three "
          "sentences for an embedding model)…", flush=True)
    result = run_smoke_test(version, LoadOptions.from_settings(workspace.settings.as_dict()))
    workspace.lifecycle.record_smoke_test(version, result)
    for prompt in result["prompts"]:
        print(f"  {'ok    ' if prompt['ok'] else 'FAILED'} {prompt['prompt']} "
              f"({prompt['seconds']} s){'' if prompt['ok'] else ': ' + prompt['problem']}")
        if prompt.get("answer"):
            print(f"         answered: {printable(prompt['answer'], limit=200)}")
    print(f"{version.store_id}: {describe(result)}")
    return EXIT_OK if result["passed"] else EXIT_FAILURE


@_step
def promote(workspace, args) -> int:
    version = workspace.lifecycle.find(args.name, args.version, default=STAGED).version
    replaced = workspace.lifecycle.promote(version, verified=version_problems(workspace),
                                           override=args.override)
    print(f"{version.store_id} is now the active version of {version.name}"
          + (f"; {replaced.store_id} is kept as the previous version." if replaced else "."))
    return EXIT_OK


@_step
def rollback(workspace, args) -> int:
    now_active, rolled_back = workspace.lifecycle.rollback(args.name)
    print(f"{now_active.store_id} is the active version again; {rolled_back.store_id} is "
          "staged (retire it to have it removed).")
    return EXIT_OK


@_step
def retire(workspace, args) -> int:
    version = workspace.lifecycle.find(args.name, args.version).version
    workspace.lifecycle.retire(version)
    days = workspace.settings["retention_days"]
    print(f"{version.store_id} is retired; it is removed {days} days from now "
          "(`strongroom store gc`, or at the window's start).")
    return EXIT_OK


@_step
def remove(workspace, args) -> int:
    state = workspace.lifecycle.find(args.name, args.version)
    version = state.version
    if not args.yes:
        if not sys.stdin.isatty():
            return fail(f"removing {version.store_id} needs confirmation: add --yes", EXIT_USAGE)
        warning = " It is the ACTIVE version: chats by its name stop working." if state.state == ACTIVE else ""
        reply = input(f"Remove {version.store_id} ({state.state}) from the store?{warning} [y/N] ")
        if reply.strip().lower() not in ("y", "yes"):
            print("Nothing was removed.")
            return EXIT_FAILURE
    workspace.lifecycle.remove(version)
    print(f"{version.store_id} was removed; files other versions share were kept.")
    return EXIT_OK


@_step
def collect_garbage(workspace, args) -> int:
    days = workspace.settings["retention_days"]
    removed = workspace.lifecycle.collect_garbage(days)
    for version in removed:
        print(f"removed {version.store_id} (retired more than {days} days ago)")
    if not removed:
        print(f"Nothing to remove: no version was retired more than {days} days ago.")
    return EXIT_OK


def add_parsers(store_commands) -> None:
    testing = store_commands.add_parser(
        "smoke-test", help="load a version and check it answers a few fixed prompts",
        description="Loads the version (its bytes checked against the store), renders its chat "
                    "template and asks three short prompts; the result is kept with the version.",
        epilog="example: strongroom store smoke-test SmolLM2-135M-Instruct")
    testing.add_argument("name", help="the model's name, as `strongroom store list` shows it")
    testing.add_argument("version", nargs="?", help="the version (its first characters are "
                         "enough; default: the newest staged one)")
    testing.set_defaults(handler=smoke_test)

    promoting = store_commands.add_parser(
        "promote", help="make a version the one chats use; the current one is kept for rollback",
        epilog="example: strongroom store promote SmolLM2-135M-Instruct 3f2a")
    promoting.add_argument("name", help="the model's name")
    promoting.add_argument("version", nargs="?", help="default: the newest staged version")
    promoting.add_argument("--override", action="store_true",
                           help="promote although the smoke test failed or never ran (recorded)")
    promoting.set_defaults(handler=promote)

    rolling = store_commands.add_parser("rollback", help="make the previous version active again",
                                        epilog="example: strongroom store rollback SmolLM2-135M-Instruct")
    rolling.add_argument("name", help="the model's name")
    rolling.set_defaults(handler=rollback)

    retiring = store_commands.add_parser(
        "retire", help="schedule a version for removal after the retention period",
        epilog="example: strongroom store retire SmolLM2-135M-Instruct 3f2a")
    retiring.add_argument("name", help="the model's name")
    retiring.add_argument("version", help="the version (its first characters are enough)")
    retiring.set_defaults(handler=retire)

    removing = store_commands.add_parser("remove", help="remove a version from the store now",
                                         epilog="example: strongroom store remove SmolLM2-135M-Instruct 3f2a --yes")
    removing.add_argument("name", help="the model's name")
    removing.add_argument("version", help="the version (its first characters are enough)")
    removing.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    removing.set_defaults(handler=remove)

    collecting = store_commands.add_parser(
        "gc", help="remove versions retired longer ago than the retention period",
        epilog="example: strongroom store gc")
    collecting.set_defaults(handler=collect_garbage)



