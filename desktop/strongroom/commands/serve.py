"""`strongroom serve`: serve a verified model from the store to the workstations, over TLS
with an API key (llama.cpp's OpenAI-compatible server; see `core.remote.serving`)."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from strongroom.commands import EXIT_FAILURE, EXIT_OK, fail, open_workspace, setting_argument


def run(args: argparse.Namespace) -> int:
    from strongroom.core.audit.events import AuditUnavailable
    from strongroom.core.remote import serving

    try:
        import llama_cpp.server  # noqa: F401  (the server extra)
    except ImportError:
        return fail("the server part of llama.cpp is not installed here: install Strongroom "
                    "with its `server` extra (pip install 'strongroom[server]'), or use the "
                    "machine's own llama-server or vLLM (see packaging/server/README.md)")
    with open_workspace() as workspace:
        catalog = workspace.model_catalog()
        identity = catalog.find(args.model) or next(
            (e for e in catalog.embedding if e.name == args.model), None)
        if identity is None or identity.store_version is None:
            return fail(f"there is no model called {args.model!r} in the store; `strongroom "
                        "models` lists them (only imported, verified models are served)")
        try:
            workspace.audit.require()
            api_key, generated = serving.read_api_key(
                args.api_key_file, workspace.paths.config_dir / "serve-api-key")
            plan = serving.prepare(identity, args.listen, args.cert, args.key, api_key,
                                   args.context_length or workspace.settings["context_length"])
        except (serving.ServeError, AuditUnavailable) as error:
            return fail(str(error))
        try:
            return _serve(plan, workspace.audit, generated)
        finally:
            plan.close()


def _serve(plan, audit, generated: Path | None) -> int:
    from strongroom.core.remote import serving

    audit.model_serve("start", **plan.audit_fields())
    child = serving.start(plan)
    stopping = []

    def stop(signum, _frame) -> None:
        stopping.append(signal.Signals(signum).name)
        child.terminate()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        assert child.stdout is not None  # started with a pipe
        ready = child.stdout.readline().decode("utf-8", "replace").strip() == serving.READY
        if ready:
            print(f"Serving {plan.identity.name} (sha256 {plan.sha256}) at "
                  f"https://{plan.address}", flush=True)
            print(f"Certificate SHA-256 (the pin for `strongroom server add --pin`): "
                  f"{plan.certificate.fingerprint}", flush=True)
            if generated is not None:
                print(f"A new API key was written to {generated}: give it to the workstations "
                      "(strongroom server add … --api-key-stdin).", flush=True)
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if child.poll() is None:
            child.kill()
            child.wait()
    reason = (f"stopped by {stopping[0]}" if stopping else
              "the server did not start" if not ready else f"the server exited with code {code}")
    audit.model_serve("stop", model=plan.identity.name, model_sha256=plan.sha256,
                      listen=plan.address, reason=reason)
    if stopping:
        return EXIT_OK
    return fail(f"the server stopped: {reason}; its messages are above", EXIT_FAILURE)


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "serve", help="serve a verified model to the workstations (OpenAI-compatible, TLS, API key)",
        epilog="example: strongroom serve --model SmolLM2-135M-Instruct --listen 10.0.0.5:8443 "
               "--cert server.pem --key server.key --api-key-file api-key.txt")
    parser.add_argument("--model", required=True,
                        help="a model name from `strongroom models` (its active version is served)")
    parser.add_argument("--listen", required=True, metavar="HOST:PORT",
                        help="the address and port to listen on")
    parser.add_argument("--cert", required=True, type=Path, metavar="FILE",
                        help="the server's TLS certificate (PEM)")
    parser.add_argument("--key", required=True, type=Path, metavar="FILE",
                        help="the certificate's private key (PEM)")
    parser.add_argument("--api-key-file", type=Path, default=None, metavar="FILE",
                        help="the API key the workstations must send (without it a new one is "
                             "made and written to the config folder)")
    parser.add_argument("--context-length", type=setting_argument("context_length"),
                        default=None, help="tokens of conversation the model reads (default: "
                                           "from settings)")
    parser.set_defaults(handler=run)
