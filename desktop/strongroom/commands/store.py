"""`strongroom models`, `store` and `paths`: what is installed, and where."""

from __future__ import annotations

import argparse
import json

from strongroom.commands import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, fail, lifecycle, open_workspace
from strongroom.commands.terminal import ProgressLine
from strongroom.core.display import printable
from strongroom.core.transfer.signatures import shown_fingerprint


def models(args: argparse.Namespace) -> int:
    with open_workspace(create=False) as workspace:
        catalog = workspace.model_catalog()
    if args.json:
        print(json.dumps([
            {"name": e.name, "role": e.role, "path": str(e.path), "usable": e.usable,
             "problem": e.problem,
             "model_id": e.model_id, "sha256": e.sha256, "store_version": e.store_version,
             **({"size_bytes": e.info.file_size, "quantization": e.info.quantization,
                 "architecture": e.info.architecture, "context_length": e.info.context_length,
                 "parameters": e.info.parameter_count} if e.info else {}),
             **({"revision": e.provenance.get("revision"),
                 "imported_at": e.provenance.get("imported_at")} if e.provenance else {})}
            for e in [*catalog.entries, *catalog.embedding]
        ], indent=2))
        return EXIT_OK
    if catalog.notice:
        print(catalog.notice)
    for entry in catalog.entries:
        print(printable(entry.summary() if entry.usable else f"{entry.name}: {entry.problem}"))
    for entry in catalog.embedding:
        print(printable(f"{entry.summary()} (embedding model: searches documents, not for chat)"))
    return EXIT_OK


def store_verify(args: argparse.Namespace) -> int:
    """Hash stored models again and compare them with their provenance records."""

    with open_workspace() as workspace:
        workspace.audit.require()
        versions = workspace.store.versions()
        if args.name:
            versions = [v for v in versions if v.name == args.name or
                        f"{v.name}/{v.version}" == args.name]
            if not versions:
                return fail(f"the store has no model {args.name!r}", EXIT_USAGE)
        from strongroom.core.audit.reader import import_records

        recorded = import_records(workspace.paths.audit_log) if workspace.paths.audit_log.is_file() else {}
        ok = True
        for version in versions:
            line = ProgressLine(f"Verifying {version.name}:")
            report = workspace.store.verify(version, recorded.get(version.store_id), on_progress=line)
            line.done()
            print(report.summary())
            workspace.audit.model_verify(f"store:{version.name}/{version.version}", report.ok,
                                         report.counts(),
                                         report.problems + [r.line() for r in report.failures()])
            ok &= report.ok
    return EXIT_OK if ok else EXIT_FAILURE


def store_list(args: argparse.Namespace) -> int:
    from strongroom.core.store.smoke_test import describe

    with open_workspace(create=False) as workspace:
        states = workspace.lifecycle.states()
    if args.json:
        print(json.dumps([{"name": s.version.name, "version": s.version.version,
                           "state": s.state, "since": s.since, "retired_at": s.retired_at,
                           "smoke_test": s.smoke_test, "folder": str(s.version.folder),
                           "provenance": s.version.provenance} for s in states], indent=2))
        return EXIT_OK
    if not states:
        print("The store is empty.")
    for state in states:
        v = state.version
        record = v.provenance
        drive = record.get("drive") if isinstance(record.get("drive"), dict) else {}
        shown = {key: printable(str(value)) for key, value in (
            ("model_id", record.get("model_id")), ("revision", record.get("revision")),
            ("commit", record.get("commit") or "unknown"), ("hub_check", record.get("hub_check")),
            ("imported_at", record.get("imported_at")), ("imported_by", record.get("imported_by")),
            ("drive", drive.get("label")))}
        signature = record.get("signature") if isinstance(record.get("signature"), dict) else {}
        if signature.get("signer"):
            signed = (f"signed by {printable(str(signature['signer']))} "
                      f"({shown_fingerprint(str(signature.get('fingerprint')))}); "
                      "origin as the signer states it")
        else:
            signed = "not signed; origin as the drive states it, unvouched"
        print(f"{v.name}/{v.version} [{state.state}; smoke test: {describe(state.smoke_test)}]: "
              f"{shown['model_id']} @ {shown['revision']} "
              f"(commit {shown['commit']}), hub check {shown['hub_check']}, "
              f"imported {shown['imported_at']} by {shown['imported_by']} from {shown['drive']}; "
              f"{signed}")
    return EXIT_OK


def paths(args: argparse.Namespace) -> int:
    from strongroom.core.paths import app_paths

    locations = app_paths().describe()
    if args.name:
        if args.name not in locations:
            return fail(f"no location called {args.name!r}; choose from {', '.join(locations)}",
                        EXIT_USAGE)
        print(locations[args.name])
        return EXIT_OK
    for name, where in locations.items():
        print(f"{name + ':':<15}{where}")
    return EXIT_OK


def add_parsers(commands) -> None:
    models_parser = commands.add_parser("models", help="list the models available to chat with",
                                        epilog="example: strongroom models --json")
    models_parser.add_argument("--json", action="store_true", help="machine-readable output")
    models_parser.set_defaults(handler=models, read_only=True)

    store_parser = commands.add_parser("store", help="the verified model store")
    store_commands = store_parser.add_subparsers(dest="store_command", metavar="ACTION",
                                                 required=True)
    listing = store_commands.add_parser("list", help="every stored version and its provenance",
                                        epilog="example: strongroom store list")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=store_list, read_only=True)
    verifying = store_commands.add_parser("verify", help="hash stored models again",
                                          epilog="example: strongroom store verify SmolLM2-135M-Instruct")
    verifying.add_argument("name", nargs="?", help="a model name (or name/version)")
    verifying.set_defaults(handler=store_verify)
    lifecycle.add_parsers(store_commands)

    paths_parser = commands.add_parser("paths", help="show where Strongroom keeps its files",
                                       epilog="example: strongroom paths store")
    paths_parser.add_argument("name", nargs="?", help="print only this location (e.g. store)")
    paths_parser.set_defaults(handler=paths, read_only=True)
