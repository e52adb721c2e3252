"""The `strongroom` command: no arguments starts the window; subcommands work headless.

Workstation-side commands switch the process offline (environment and egress guard)
before anything else is imported.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from pathlib import Path

from strongroom import __version__

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="strongroom",
        description="A private AI workstation for isolated machines. "
                    "Without a command, opens the Strongroom window.",
    )
    parser.add_argument("--version", action="version", version=f"strongroom {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    chat = commands.add_parser("chat", help="answer one prompt with a local model, on stdout")
    chat.add_argument("prompt", help="the message to answer ('-' reads it from standard input)")
    chat.add_argument("--model", required=True, type=Path, help="path of a .gguf model file")
    chat.add_argument("--system", default=None, help="system prompt (default: from settings)")
    chat.add_argument("--max-tokens", type=int, default=None)
    chat.add_argument("--temperature", type=float, default=None)
    chat.add_argument("--context-length", type=int, default=None)
    chat.add_argument("--seed", type=int, default=None, help="fix the sampler for repeatable answers")
    chat.add_argument("--stats", action="store_true",
                      help="print token counts and speed to standard error")

    models = commands.add_parser("models", help="list the models available to chat with")
    models.add_argument("--json", action="store_true", help="machine-readable output")

    paths = commands.add_parser("paths", help="show where Strongroom keeps its files")
    paths.add_argument("name", nargs="?", help="print only this location (e.g. models)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    from strongroom.core.offline import EgressGuard, apply_offline_environment

    apply_offline_environment()
    guard = EgressGuard.install()

    from strongroom.core.app_log import configure_file_logging
    from strongroom.core.paths import app_paths

    paths = app_paths()
    try:
        configure_file_logging(paths.app_log)
    except OSError as error:
        print(f"strongroom: cannot write the app log {paths.app_log}: {error.strerror}",
              file=sys.stderr)
        return EXIT_FAILURE

    if args.command is None:
        from strongroom.ui.app import run_gui

        return run_gui(egress_guard=guard)
    handler = {"chat": _chat, "models": _models, "paths": _paths}[args.command]
    return handler(args)


def _fail(message: str, code: int = EXIT_FAILURE) -> int:
    print(f"strongroom: {message}", file=sys.stderr)
    return code


def _chat(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from strongroom.core.engine import Engine, EngineError, LoadOptions, SamplingOptions
    from strongroom.core.workspace import Workspace

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        return _fail("the prompt is empty: give the message to answer", EXIT_USAGE)
    workspace = Workspace.open()
    try:
        values = workspace.settings.as_dict()
    finally:
        workspace.close()
    load_options = LoadOptions.from_settings(values)
    if args.context_length:
        load_options = replace(load_options, context_length=args.context_length)
    sampling = SamplingOptions.from_settings(values)
    overrides = {"max_tokens": args.max_tokens, "temperature": args.temperature, "seed": args.seed}
    sampling = replace(sampling, **{k: v for k, v in overrides.items() if v is not None})
    system = values["system_prompt"] if args.system is None else args.system

    messages = ([{"role": "system", "content": system}] if system.strip() else [])
    messages.append({"role": "user", "content": prompt})
    try:
        engine = Engine.load(args.model, load_options)
    except EngineError as error:
        return _fail(str(error))
    stop = threading.Event()
    try:
        answer = engine.chat(messages, sampling, stop,
                             lambda text: (sys.stdout.write(text), sys.stdout.flush()))
    except EngineError as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        return 130
    finally:
        engine.close()
    sys.stdout.write("\n")
    if args.stats:
        print(json.dumps(answer.stats.as_dict()), file=sys.stderr)
    return EXIT_OK


def _models(args: argparse.Namespace) -> int:
    from strongroom.core.model_catalog import scan_folder
    from strongroom.core.paths import app_paths

    catalog = scan_folder(app_paths().models_dir)
    if args.json:
        print(json.dumps([
            {"path": str(e.path), "name": e.name, "usable": e.usable, "problem": e.problem,
             **({"size_bytes": e.info.file_size, "quantization": e.info.quantization,
                 "architecture": e.info.architecture, "context_length": e.info.context_length,
                 "parameters": e.info.parameter_count} if e.info else {})}
            for e in catalog.entries
        ], indent=2))
        return EXIT_OK
    if catalog.notice:
        print(catalog.notice)
    for entry in catalog.entries:
        print(entry.summary() if entry.usable else f"{entry.name}: {entry.problem}")
    return EXIT_OK


def _paths(args: argparse.Namespace) -> int:
    from strongroom.core.paths import app_paths

    locations = app_paths().describe()
    if args.name:
        if args.name not in locations:
            return _fail(f"no location called {args.name!r}; choose from {', '.join(locations)}",
                         EXIT_USAGE)
        print(locations[args.name])
        return EXIT_OK
    for name, where in locations.items():
        print(f"{name + ':':<15}{where}")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
