"""`strongroom compliance [--json | --html FILE]`: the workstation's security posture, each
item green, amber or red with its reason (see `core.compliance`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from strongroom.commands import EXIT_FAILURE, EXIT_OK, fail, open_workspace


def compliance(args: argparse.Namespace) -> int:
    from strongroom.core.atomic import write_atomic
    from strongroom.core.compliance import RED, build_report
    from strongroom.core.offline import EgressGuard

    with open_workspace(create=False) as workspace:
        report = build_report(workspace, EgressGuard.current())
        if args.html:
            try:
                write_atomic(Path(args.html), report.as_html().encode("utf-8"), 0o600)
            except OSError as error:
                return fail(f"the report could not be written to {args.html}: {error.strerror}")
            report.record_saved(workspace.audit, Path(args.html), "html")
            print(f"Report written to {args.html}.")
    if args.json:
        print(report.as_json(), end="")
    elif not args.html:
        print(report.as_text())
    return EXIT_FAILURE if report.counts[RED] else EXIT_OK


def add_parsers(commands) -> None:
    parser = commands.add_parser(
        "compliance", help="the workstation's security posture, for a sign-off",
        description="Checks the offline switches, the network guard and interfaces, FIPS mode, "
                    "where keys live, the signature policy, conversation encryption, the audit "
                    "log's last validation and checkpoint, and the models in use. Exits 1 when "
                    "any item is red.",
        epilog="example: strongroom compliance --html /media/usb/workstation-7.html")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--html", metavar="FILE", help="also write the report as a web page")
    parser.set_defaults(handler=compliance, read_only=True)
