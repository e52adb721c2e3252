"""How soon Stop takes effect while the model writes, on the real engine and demo model.

Figure (issue: foundation, kept here since tests check only that a stop happens):
  - from Stop pressed (the event set) to the answer returned: median and worst (≤ 100 ms),
    against the baseline of one token's time in the same run (the stop is checked between
    tokens, so it should cost about one token at most).

    .venv/bin/python bench/bench_stop.py [--trials N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = REPO / ".cache" / "demo" / "SmolLM2-135M-Instruct.Q4_1.gguf"

from strongroom.core.offline import EgressGuard, apply_offline_environment  # noqa: E402

apply_offline_environment()
EgressGuard.install()

from strongroom.core.inference.engine import Engine, LoadOptions, SamplingOptions  # noqa: E402

QUESTION = [{"role": "user", "content": "Tell me a long story about the sea, trial {n}."}]
LIMIT_S = 0.100


def one_stop(engine: Engine, trial: int) -> tuple[float, float]:
    """(stop latency, seconds per token) for one answer stopped after 50 ms of writing."""
    stop, started = threading.Event(), threading.Event()
    pressed: list[float] = []

    def on_text(_text: str) -> None:
        started.set()

    def press_stop() -> None:
        started.wait(60)
        time.sleep(0.05)  # the person reads a few words first
        pressed.append(time.perf_counter())
        stop.set()

    presser = threading.Thread(target=press_stop)
    presser.start()
    messages = [{"role": "user", "content": QUESTION[0]["content"].format(n=trial)}]
    answer = engine.chat(messages, SamplingOptions(max_tokens=4000, temperature=0.8, seed=trial),
                         stop, on_text)
    returned = time.perf_counter()
    presser.join()
    per_token = 1 / answer.stats.tokens_per_second if answer.stats.tokens_per_second else 0.0
    return returned - pressed[0], per_token


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    if not DEMO_MODEL.is_file():
        print(f"the demo model is missing ({DEMO_MODEL}): run `make setup`", file=sys.stderr)
        return 1
    engine = Engine.load(DEMO_MODEL, LoadOptions(context_length=2048))
    try:
        results = [one_stop(engine, trial) for trial in range(args.trials)]
    finally:
        engine.close()
    latencies = [latency for latency, _ in results]
    token_time = statistics.median(per_token for _, per_token in results)
    median, worst = statistics.median(latencies), max(latencies)
    print(f"one token (baseline): {token_time * 1000:.1f} ms")
    print(f"stop latency: median {median * 1000:.1f} ms ({median / token_time:.2f} tokens), "
          f"worst {worst * 1000:.1f} ms ({worst / token_time:.2f} tokens) over {args.trials} "
          f"answers; limit {LIMIT_S * 1000:.0f} ms: {'met' if worst <= LIMIT_S else 'NOT met'}")
    return 0 if worst <= LIMIT_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
