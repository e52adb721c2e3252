"""`strongroom chat`: one answer on standard output, for scripts and quick checks."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from dataclasses import asdict, replace

from strongroom.commands import EXIT_OK, EXIT_USAGE, fail, open_workspace


def run(args: argparse.Namespace) -> int:

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        return fail("the prompt is empty: give the message to answer", EXIT_USAGE)
    workspace = open_workspace()
    try:
        return _answer(args, prompt, workspace)
    finally:
        workspace.close()


def _answer(args: argparse.Namespace, prompt: str, workspace) -> int:
    from strongroom.core.audit.writer import AuditUnavailable
    from strongroom.core.inference.engine import Engine, EngineError, LoadOptions, SamplingOptions

    audit = workspace.audit
    try:
        audit.require()  # fail closed: no answer the audit log cannot record
    except AuditUnavailable as error:
        return fail(str(error))
    values = workspace.settings.as_dict()
    load_options = LoadOptions.from_settings(values)
    if args.context_length:
        load_options = replace(load_options, context_length=args.context_length)
    sampling = SamplingOptions.from_settings(values)
    overrides = {"max_tokens": args.max_tokens, "temperature": args.temperature, "seed": args.seed}
    sampling = replace(sampling, **{k: v for k, v in overrides.items() if v is not None})
    system = values["system_prompt"] if args.system is None else args.system

    messages = ([{"role": "system", "content": system}] if system.strip() else [])
    messages.append({"role": "user", "content": prompt})
    model_id = _model_id(workspace, args.model)
    try:
        engine = Engine.load(args.model, load_options,
                             known_sha256=workspace.store.sha256_of(args.model))
    except EngineError as error:
        return fail(str(error))
    try:
        audit.model_load(args.model, model_id, engine.model_sha256, engine.device_label,
                         engine.n_ctx, engine.fallback_reason)
        answer = engine.chat(messages, sampling, threading.Event(),
                             lambda text: (sys.stdout.write(text), sys.stdout.flush()))
        sys.stdout.write("\n")
        audit.inference(messages, answer.text, answer.stats.as_dict(), model_id,
                        engine.model_sha256, asdict(sampling), values["audit_log_text"])
    except (EngineError, AuditUnavailable) as error:
        return fail(str(error))
    except KeyboardInterrupt:
        return 130
    finally:
        engine.close()
    if args.stats:
        print(json.dumps(answer.stats.as_dict()), file=sys.stderr)
    return EXIT_OK


def _model_id(workspace, path) -> str:
    """The model id recorded when the file was imported, else the file's name."""
    found = workspace.store.provenance_of(path)
    return str(found[0].get("model_id") or path.stem) if found else path.stem
