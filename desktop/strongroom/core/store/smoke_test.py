"""The smoke test a model version passes before it is promoted: it loads (its bytes
hashed against the store's record), renders its own chat template, and answers each of a
few fixed prompts with non-empty text within a time limit. Its speed is recorded. An
embedding model instead embeds three sentences and must place the two that mean the same
closer together than the unrelated one.

The result is a plain dict, kept with the version's state (`lifecycle`) and shown in the
model manager (the answers too: an officer judges them, not only their length) and by
`strongroom store smoke-test`.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import numpy as np

from strongroom.core.display import printable
from strongroom.core.inference.embeddings import Embedder
from strongroom.core.inference.engine import Engine, EngineError, LoadOptions, SamplingOptions
from strongroom.core.inference.identity import identify_file
from strongroom.core.store.model_store import StoredVersion

PROMPTS = (
    "Say hello in one short sentence.",
    "What is the capital of France? Answer in one word.",
    "Write one sentence about the sea.",
)
TIME_LIMIT_S = 60.0  # per prompt
MAX_TOKENS = 32
ANSWER_KEPT = 400  # characters of each answer kept with the result, for people to read


def smoke_test(engine: Engine, time_limit_s: float = TIME_LIMIT_S) -> dict:
    """Ask ``engine`` each prompt; the result says what passed and what did not."""
    answers, problems = [], []
    tokens, seconds = 0, 0.0
    if engine.template_is_guess:
        problems.append("the model has no chat template of its own")
    for prompt in PROMPTS:
        stop = threading.Event()
        timer = threading.Timer(time_limit_s, stop.set)
        timer.start()
        started = time.perf_counter()
        try:
            answer = engine.chat([{"role": "user", "content": prompt}],
                                 SamplingOptions(temperature=0.0, max_tokens=MAX_TOKENS, seed=0),
                                 stop, lambda _text: None)
        except EngineError as error:
            answer, problem = None, str(error)
        else:
            problem = None
        finally:
            timer.cancel()
        elapsed = time.perf_counter() - started
        if problem is None and stop.is_set():
            problem = f"no complete answer within {time_limit_s:.0f} s"
        elif problem is None and not answer.text.strip():
            problem = "the answer was empty"
        if answer is not None:
            tokens += answer.stats.completion_tokens
            seconds += answer.stats.total_s
        answers.append({"prompt": prompt, "ok": problem is None, "seconds": round(elapsed, 2),
                        "answer_characters": len(answer.text) if answer else 0,
                        "answer": answer.text[:ANSWER_KEPT] if answer else None,
                        "problem": problem})
        if problem:
            problems.append(f"{prompt!r}: {problem}")
    return _result(not problems, problems, engine.model_sha256, answers,
                   round(tokens / seconds, 1) if seconds > 0 else None)


def run_smoke_test(version: StoredVersion, options: LoadOptions,
                   time_limit_s: float = TIME_LIMIT_S) -> dict:
    """Load the version's model (checked against the store's record) and smoke-test it."""
    files = version.gguf_files()
    if not files:
        return _result(False, ["the version holds no model file a chat can load"])
    path = files[0]
    expected = version.sha256_of(path.relative_to(version.folder).as_posix())
    if identify_file(path).role == "embedding":
        return embedding_smoke_test(path, expected)
    try:
        engine = Engine.load(path, options,
                             expected_sha256=version.sha256_of(path.relative_to(version.folder).as_posix()))
    except (EngineError, OSError) as error:
        return _result(False, [f"it did not load: {error}"])
    try:
        return smoke_test(engine, time_limit_s)
    finally:
        engine.close()


# Two sentences that mean the same in other words, and one about something else: any
# working embedding model puts the first two much closer together.
ALIKE = ("The tenant must pay the rent every month.", "Rent is due monthly from the lessee.")
UNRELATED = "The patient was given warfarin after the operation."


def embedding_smoke_test(path, expected_sha256: str | None) -> dict:
    """Load an embedding model and check that its vectors are sound and mean something."""
    try:
        embedder = Embedder.load(path, expected_sha256)
    except (EngineError, OSError) as error:
        return _result(False, [f"it did not load: {error}"])
    try:
        started = time.perf_counter()
        first, second, other = embedder.embed_many([*ALIKE, UNRELATED])
        seconds = time.perf_counter() - started
    except Exception as error:  # llama.cpp's own failure, whatever its type
        return _result(False, [f"it could not embed a sentence: {error}"], embedder.model_sha256)
    finally:
        embedder.close()
    problems = []
    if not all(np.isfinite(v).all() and abs(float(np.linalg.norm(v)) - 1) < 1e-3
               for v in (first, second, other)):
        problems.append("its vectors are not finite unit vectors")
    elif float(first @ second) <= float(first @ other) + 0.1:
        problems.append("it does not place sentences that mean the same closer together than "
                        "unrelated ones")
    answers = [{"prompt": " / ".join(ALIKE), "ok": not problems, "seconds": round(seconds, 2),
                "answer_characters": 0, "problem": problems[0] if problems else None}]
    return _result(not problems, problems, embedder.model_sha256, answers, None)


def _result(passed: bool, problems: list[str], model_sha256: str | None = None,
            answers: list[dict] = (), tokens_per_second: float | None = None) -> dict:
    return {"passed": passed, "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "model_sha256": model_sha256, "tokens_per_second": tokens_per_second,
            "prompts": list(answers), "problems": problems}


def describe(result: dict | None) -> str:
    """One line for people: 'passed, 41.2 tokens/s (2026-11-30)' or why it failed; safe
    to print (the result is read from a file a local user could have edited)."""
    if result is None:
        return "not tested"
    when = printable(str(result.get("at", ""))[:10])
    if result.get("passed"):
        speed = result.get("tokens_per_second")
        shown = f", {speed} tokens/s" if isinstance(speed, (int, float)) and speed else ""
        return f"passed{shown} ({when})"
    problems = result.get("problems")
    first = problems[0] if isinstance(problems, list) and problems else "failed"
    return f"failed ({when}): {printable(str(first))}"
