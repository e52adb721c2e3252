"""`strongroom chat`: one answer on standard output, for scripts and quick checks."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from dataclasses import replace

from strongroom.commands import EXIT_OK, EXIT_USAGE, fail


def run(args: argparse.Namespace) -> int:
    from strongroom.core.engine import Engine, EngineError, LoadOptions, SamplingOptions
    from strongroom.core.workspace import Workspace

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        return fail("the prompt is empty: give the message to answer", EXIT_USAGE)
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
        return fail(str(error))
    try:
        answer = engine.chat(messages, sampling, threading.Event(),
                             lambda text: (sys.stdout.write(text), sys.stdout.flush()))
    except EngineError as error:
        return fail(str(error))
    except KeyboardInterrupt:
        return 130
    finally:
        engine.close()
    sys.stdout.write("\n")
    if args.stats:
        print(json.dumps(answer.stats.as_dict()), file=sys.stderr)
    return EXIT_OK
