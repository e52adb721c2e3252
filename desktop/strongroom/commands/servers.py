"""`strongroom server add/list/remove/test`: the firm's inference servers this workstation
may send prompts to. Adding and removing are audit entries; the API key is read from
standard input, never the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from strongroom.commands import EXIT_OK, EXIT_USAGE, fail, open_workspace
from strongroom.core.display import printable


def add(args: argparse.Namespace) -> int:
    if (args.ca is None) == (args.pin is None):
        return fail("say how the server's certificate is trusted: --ca FILE (the firm's CA) "
                    "or --pin SHA256 (the certificate's fingerprint), one of the two", EXIT_USAGE)
    api_key = None
    if args.api_key_stdin:
        api_key = sys.stdin.readline().strip()
        if not api_key:
            return fail("--api-key-stdin was given, but standard input held no key")
    with open_workspace() as workspace:
        server = workspace.add_server(args.name, args.url, ca_file=args.ca, pin=args.pin,
                                      api_key=api_key, timeout_s=args.timeout)
    print(f"Added {server.name}: {server.url}, trusting {server.trust}.")
    print(f"Check it now: strongroom server test {server.name}")
    return EXIT_OK


def list_servers(args: argparse.Namespace) -> int:
    from strongroom.core.remote.servers import ca_subjects

    with open_workspace() as workspace:
        servers = workspace.servers.servers()
        keys = {s.name: workspace.servers.api_key(s) is not None for s in servers}
    if args.json:
        print(json.dumps([{"name": s.name, "url": s.url, "trust": "pin" if s.pin else "ca",
                           "pin": s.pin, "ca_subjects": None if s.pin else ca_subjects(s.ca_pem),
                           "api_key": keys[s.name], "timeout_s": s.timeout_s,
                           "added": s.added, "added_by": s.added_by} for s in servers], indent=2))
        return EXIT_OK
    if not servers:
        print("No inference server is configured: answers come from models on this computer.")
        return EXIT_OK
    for server in servers:
        key = "an API key" if keys[server.name] else "no API key"
        print(f"{server.name}  {server.url}\n    trusts {server.trust}; {key}; "
              f"added {server.added} by {printable(server.added_by)}")
    return EXIT_OK


def remove(args: argparse.Namespace) -> int:
    with open_workspace() as workspace:
        server = workspace.remove_server(args.name)
    print(f"Removed {server.name} ({server.url}); prompts can no longer be sent to it.")
    return EXIT_OK


def test(args: argparse.Namespace) -> int:
    from strongroom.core.audit.events import AuditUnavailable
    from strongroom.core.inference.engine import EngineError
    from strongroom.core.remote.engine import probe, smoke_answer

    with open_workspace() as workspace:
        try:
            server = workspace.servers.get(args.name)
            workspace.audit.require()
            api_key = workspace.servers.api_key(server)
            report = probe(server, api_key)
            answer = smoke_answer(server, api_key, report)
            workspace.audit.inference_server(
                "tested", server.name, url=server.url,
                certificate_sha256=report.certificate.fingerprint,
                models=[m.id for m in report.models][:20],
                test_answer={"model": report.models[0].id,
                             "completion_tokens": answer.stats.completion_tokens,
                             "server_model": answer.stats.server_model})
        except EngineError as error:
            try:  # the failed attempt is recorded too
                workspace.audit.server_attempt_failed(server.name, server.url, str(error), "test")
            except AuditUnavailable:
                pass  # the server's problem is what the officer needs to read
            return fail(str(error))
    first_ms = (None if answer.stats.time_to_first_token_s is None
                else round(answer.stats.time_to_first_token_s * 1000, 1))
    certificate = report.certificate
    if args.json:
        print(json.dumps({"name": server.name, "url": server.url,
                          "certificate": {"subject": certificate.subject,
                                          "issuer": certificate.issuer,
                                          "sha256": certificate.fingerprint,
                                          "not_after": certificate.not_after.isoformat()},
                          "models": [m.id for m in report.models],
                          "round_trip_ms": round(report.round_trip_s * 1000, 1),
                          "test_answer": {"model": report.models[0].id,
                                          "tokens": answer.stats.completion_tokens,
                                          "first_token_ms": first_ms}}, indent=2))
        return EXIT_OK
    print(f"{server.name} ({server.url}) answered over TLS.")
    print(f"Certificate: {printable(certificate.subject)}, issued by {printable(certificate.issuer)}, "
          f"valid until {certificate.not_after:%Y-%m-%d}")
    print(f"SHA-256 fingerprint: {certificate.fingerprint}")
    names = ", ".join(printable(m.id, limit=100) for m in report.models) or "none"
    print(f"Models offered: {names}")
    print(f"Round trip: {report.round_trip_s * 1000:.1f} ms")
    print(f"Test answer from {printable(report.models[0].id, limit=100)}: "
          f"{answer.stats.completion_tokens} tokens, the first after {first_ms} ms")
    return EXIT_OK


def add_parsers(commands) -> None:
    server = commands.add_parser(
        "server", help="the firm's inference servers this workstation may use",
        epilog="example: strongroom server add firm-gpu https://10.0.0.5:8443 --ca firm-ca.pem "
               "--api-key-stdin < key.txt")
    actions = server.add_subparsers(dest="action", metavar="ACTION", required=True)

    adding = actions.add_parser(
        "add", help="allow answers from a server (HTTPS; trusted by the firm's CA or a pin)",
        epilog="example: strongroom server add firm-gpu https://10.0.0.5:8443 --pin "
               "3f1a…(64 hex digits) --api-key-stdin < key.txt")
    adding.add_argument("name", help="what the window and the commands call it")
    adding.add_argument("url", help="its address: https://host:port")
    adding.add_argument("--ca", type=Path, metavar="FILE",
                        help="the firm's CA certificate (PEM) that signed the server's certificate")
    adding.add_argument("--pin", metavar="SHA256",
                        help="the SHA-256 fingerprint of the server's certificate (its DER bytes)")
    adding.add_argument("--api-key-stdin", action="store_true",
                        help="read the server's API key from standard input (kept in the "
                             "secret store)")
    adding.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                        help="give up when the server says nothing for this long (default 120)")
    adding.set_defaults(handler=add)

    listing = actions.add_parser("list", help="the configured servers and how each is trusted",
                                 epilog="example: strongroom server list --json")
    listing.add_argument("--json", action="store_true", help="print them as JSON")
    listing.set_defaults(handler=list_servers)

    removing = actions.add_parser("remove", help="stop using a server (its API key is deleted)",
                                  epilog="example: strongroom server remove firm-gpu")
    removing.add_argument("name", help="the server's name (`strongroom server list`)")
    removing.set_defaults(handler=remove)

    testing = actions.add_parser(
        "test", help="connect: the certificate's subject and fingerprint, the models, the "
                     "round-trip time, and a short test answer", epilog="example: strongroom server test firm-gpu")
    testing.add_argument("name", help="the server's name (`strongroom server list`)")
    testing.add_argument("--json", action="store_true", help="print the report as JSON")
    testing.set_defaults(handler=test)
