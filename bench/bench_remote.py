"""Answers from an inference server through Strongroom's remote engine versus a raw
streaming client, both against the same `strongroom serve`, in one run.

Figures (issue: inference server):
  - tokens/s through `RemoteEngine.chat` ÷ tokens/s of a raw client (≥ 0.97)
  - time to first token, Strongroom − raw (≤ 20 ms)

One `strongroom serve` runs on 127.0.0.1 with the demo model (SmolLM2-135M-Instruct,
imported into a fresh store in a temporary folder), a certificate from a test CA and an
API key file. The raw client is the standard library alone: `http.client.HTTPSConnection`
with an SSL context trusting the test CA, POST /v1/chat/completions with "stream": true,
reading the server-sent events line by line. Strongroom's side is `RemoteEngine.connect`
once (the model list), then `RemoteEngine.chat` per answer, timed from the caller's side:
from the call to the first `on_text`, and on_text pieces/s after it.

Each answer, on both sides, opens a new TCP connection and TLS handshake (the remote engine
does that by design, to check the certificate again for every answer), so both times to
first token include them. Both send the same request body (same prompt, temperature 0,
fixed seed, same max_tokens), so the server generates the same tokens. The two sides
alternate in rounds, raw first in even rounds and Strongroom first in odd ones (ABBA), so
drift and order effects hit both alike. The egress guard is on, as in the app, with the
server allowed. Client and server share this machine's cores: client-side CPU work slows
the server's generation here, which a separate server machine would not feel.

    .venv/bin/python bench/bench_remote.py [--rounds N] [--tokens N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from strongroom.core.inference.engine import SamplingOptions  # noqa: E402
from strongroom.core.offline import EgressGuard, apply_offline_environment  # noqa: E402
from strongroom.core.paths import AppPaths  # noqa: E402
from strongroom.core.remote.engine import RemoteEngine  # noqa: E402
from strongroom.core.remote.servers import Server  # noqa: E402
from strongroom.core.store.model_store import ModelStore  # noqa: E402
from strongroom.core.transfer.drive import open_drive  # noqa: E402
from strongroom.core.transfer.prepare import prepare_local, write_transfer_manifest  # noqa: E402
from tests.helpers import DEMO_MODEL  # noqa: E402
from tests.helpers.serving import Served, free_port, start_serve  # noqa: E402
from tests.helpers.tls import make_ca  # noqa: E402

MODEL = "SmolLM2-135M-Instruct"
API_KEY = "bench-api-key-0123456789abcdef"
SYSTEM = "You are a helpful assistant."
PROMPT = ("Write a short, plain explanation of how a tenant gives notice to end a lease, "
          "and what the landlord must do with the deposit afterwards.")
SEED = 1234
TOKENS_RATIO_TARGET = 0.97
TTFT_TARGET_MS = 20.0
# The server's audit key goes to the tests' keyring (a file in the temporary home), never
# to this user's real keyring.
SERVE_ENV = {"PYTHON_KEYRING_BACKEND": "tests.helpers.memory_keyring.MemoryKeyring"}


@dataclass
class Trial:
    ttft_s: float
    tokens_per_s: float
    pieces: int
    text: str
    cpu_s: float  # this process's CPU time for the answer (the client's own work)


def make_home(root: Path) -> None:
    """The demo model imported into a fresh store under ``root``, as users import models."""
    drive = root.parent / "drive"
    prepare_local(drive, MODEL, [DEMO_MODEL])
    write_transfer_manifest(drive)
    opened = open_drive(drive)
    paths = AppPaths(root / "data", root / "config", root / "logs")
    ModelStore(paths.store_dir).import_model(opened, opened.models[0])


def request_body(sampling: SamplingOptions) -> dict:
    """The body the remote engine sends (engine.RemoteEngine._stream), for the raw client."""
    return {"model": MODEL, "messages": messages(), "stream": True,
            "stream_options": {"include_usage": True}, "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature, "top_p": sampling.top_p,
            "top_k": sampling.top_k, "min_p": sampling.min_p,
            "repeat_penalty": sampling.repeat_penalty, "seed": sampling.seed}


def messages() -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]


def rate(times: list[float]) -> float:
    if len(times) < 2 or times[-1] <= times[0]:
        return float("nan")
    return (len(times) - 1) / (times[-1] - times[0])


# -- the two clients ---------------------------------------------------------------------------

def raw_trial(port: int, context: ssl.SSLContext, body: bytes) -> Trial:
    """A new HTTPSConnection per answer; times from before connecting."""
    cpu = time.process_time()
    started = time.perf_counter()
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=120)
    try:
        connection.request("POST", "/v1/chat/completions", body=body, headers={
            "Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json",
            "Accept": "text/event-stream"})
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"raw client: HTTP {response.status}: {response.read()[:300]!r}")
        times: list[float] = []
        pieces: list[str] = []
        while line := response.readline():
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            event = json.loads(data)
            for choice in event.get("choices") or []:
                text = (choice.get("delta") or {}).get("content")
                if text:
                    times.append(time.perf_counter())
                    pieces.append(text)
    finally:
        connection.close()
    return Trial(times[0] - started, rate(times), len(times), "".join(pieces).lstrip(" "),
                 time.process_time() - cpu)


def strongroom_trial(engine: RemoteEngine, sampling: SamplingOptions) -> Trial:
    times: list[float] = []
    pieces: list[str] = []

    def on_text(text: str) -> None:
        times.append(time.perf_counter())
        pieces.append(text)

    cpu = time.process_time()
    started = time.perf_counter()
    answer = engine.chat(messages(), sampling, threading.Event(), on_text)
    if answer.stats.finish_reason not in ("stop", "length"):
        raise RuntimeError(f"Strongroom: the answer ended with {answer.stats.finish_reason}: "
                           f"{answer.stats.incomplete}")
    return Trial(times[0] - started, rate(times), len(times), "".join(pieces),
                 time.process_time() - cpu)


# -- the run -----------------------------------------------------------------------------------

def spread(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    return (f"median {statistics.median(values) * scale:7.{digits}f}   "
            f"min {min(values) * scale:7.{digits}f}   max {max(values) * scale:7.{digits}f}")


def measure(served: Served, ca_pem: Path, rounds: int, tokens: int, load_before: float) -> None:
    port = int(served.url.rsplit(":", 1)[1])
    sampling = SamplingOptions(temperature=0.0, max_tokens=tokens, seed=SEED)
    body = json.dumps(request_body(sampling)).encode("utf-8")
    context = ssl.create_default_context(cafile=str(ca_pem))  # loads the test CA alone
    server = Server("bench", served.url, ca_pem.read_text(encoding="ascii"), None, 120.0)
    EgressGuard.install().allow_servers([(server.host, server.port)])
    engine = RemoteEngine.connect(server, API_KEY, MODEL)

    # Warm-up, not counted: the first answer of each side (prompt cache, page cache, imports).
    raw_trial(port, context, body)
    strongroom_trial(engine, sampling)

    raw: list[Trial] = []
    ours: list[Trial] = []
    for index in range(rounds):
        if index % 2 == 0:
            raw.append(raw_trial(port, context, body))
            ours.append(strongroom_trial(engine, sampling))
        else:
            ours.append(strongroom_trial(engine, sampling))
            raw.append(raw_trial(port, context, body))

    same_text = all(t.text == raw[0].text for t in raw + ours)
    # The verdict uses the rounds' paired figures: a round's two answers are seconds apart,
    # so a change in the machine's load hits both; the ratio of the overall medians mixes
    # answers taken minutes apart and is shown beside it as a check.
    ratios = [o.tokens_per_s / r.tokens_per_s for r, o in zip(raw, ours, strict=True)]
    deltas_ms = [(o.ttft_s - r.ttft_s) * 1000 for r, o in zip(raw, ours, strict=True)]
    ratio = statistics.median(ratios)
    delta_ms = statistics.median(deltas_ms)
    ratio_of_medians = (statistics.median(t.tokens_per_s for t in ours)
                        / statistics.median(t.tokens_per_s for t in raw))
    delta_of_medians_ms = (statistics.median(t.ttft_s for t in ours)
                           - statistics.median(t.ttft_s for t in raw)) * 1000
    ratio_ok = ratio >= TOKENS_RATIO_TARGET
    ttft_ok = delta_ms <= TTFT_TARGET_MS
    unsure = (ratio_ok != (ratio_of_medians >= TOKENS_RATIO_TARGET)
              or ttft_ok != (delta_of_medians_ms <= TTFT_TARGET_MS))

    print(f"{MODEL} served by `strongroom serve` on {served.url} (TLS, test CA, API key); "
          f"{rounds} rounds × each client, alternating (ABBA), after one warm-up answer each.")
    print(f"Same request on both sides: temperature 0, seed {SEED}, max_tokens {tokens}; "
          f"{raw[0].pieces} content pieces per answer (raw), {ours[0].pieces} (Strongroom); "
          f"identical text every time: {'yes' if same_text else 'NO'}.")
    print("Every answer opens a new TCP connection and TLS handshake on both sides (a new "
          "HTTPSConnection per raw answer; the remote engine connects per answer by design), "
          "so both times to first token include them.")
    print()
    print("  tokens/s (content pieces − 1) / (last − first):")
    print(f"    raw http.client:         {spread([t.tokens_per_s for t in raw])}")
    print(f"    Strongroom RemoteEngine: {spread([t.tokens_per_s for t in ours])}")
    print("  time to first content token, ms (from the call, connection included):")
    print(f"    raw http.client:         {spread([t.ttft_s for t in raw], 1000)}")
    print(f"    Strongroom RemoteEngine: {spread([t.ttft_s for t in ours], 1000)}")
    print("  client CPU time per answer, ms (this process; it competes with the server here):")
    print(f"    raw http.client:         {spread([t.cpu_s for t in raw], 1000)}")
    print(f"    Strongroom RemoteEngine: {spread([t.cpu_s for t in ours], 1000)}")
    print()
    print(f"  tokens/s Strongroom ÷ raw, median of the rounds' ratios: {ratio:.3f}   target ≥ "
          f"{TOKENS_RATIO_TARGET:.2f}   {'PASS' if ratio_ok else 'FAIL'}")
    print(f"      rounds: min {min(ratios):.3f}, max {max(ratios):.3f}; "
          f"ratio of the two medians: {ratio_of_medians:.3f}")
    print(f"  TTFT Strongroom − raw, median of the rounds' differences: {delta_ms:+.1f} ms   "
          f"target ≤ {TTFT_TARGET_MS:.0f} ms   {'PASS' if ttft_ok else 'FAIL'}")
    print(f"      rounds: min {min(deltas_ms):+.1f}, max {max(deltas_ms):+.1f}; "
          f"difference of the two medians: {delta_of_medians_ms:+.1f} ms")
    print()
    print(f"  Noise: client and server share this machine's {os.cpu_count()} cores; the rounds' "
          "spread above is the scale of what one run can tell apart.")
    print(f"  Load average (1 min): {load_before:.2f} when the benchmark began, "
          f"{os.getloadavg()[0]:.2f} at its end (its own server and client make about 1-2)."
          + (" Other work was running when it began: these figures are unreliable."
             if busy(load_before) else ""))
    if unsure:
        print("  The paired and the overall figures disagree on a target: the run was too "
              "noisy to decide; run it again on a quiet machine, or with more --rounds.")


def busy(load: float) -> bool:
    """Whether the machine was busy with other work before the benchmark started."""
    return load > 0.5 * (os.cpu_count() or 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=12, help="answers per client (default 12)")
    parser.add_argument("--tokens", type=int, default=128, help="max_tokens (default 128)")
    args = parser.parse_args()
    if not DEMO_MODEL.is_file():
        print(f"The demo model {DEMO_MODEL} is missing: run `make setup` first.", file=sys.stderr)
        return 1
    apply_offline_environment()
    load_before = os.getloadavg()[0]

    def terminate(signum, _frame) -> None:
        raise SystemExit(128 + signum)  # so that the finally clauses stop the server

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even where started ignoring it
    served: Served | None = None
    with tempfile.TemporaryDirectory(prefix="strongroom-bench-remote-") as folder:
        work = Path(folder)
        try:
            make_home(work / "home")
            ca = make_ca(work / "ca", "Bench Test CA")
            issued = ca.issue(work / "tls")
            key_file = work / "api-key"
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as out:
                out.write(API_KEY + "\n")
            served = start_serve(work / "home", MODEL, "127.0.0.1", free_port(), issued.cert,
                                 issued.key, key_file, extra_env=SERVE_ENV)
            measure(served, ca.pem, args.rounds, args.tokens, load_before)
        finally:
            if served is not None:
                try:
                    served.stop()
                except subprocess.TimeoutExpired:  # still there after 30 s: none may outlive the bench
                    served.process.kill()
                    served.process.wait()
    return 0  # a missed target is reported above (FAIL), as the other benchmarks do


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("interrupted; the server was stopped", file=sys.stderr)
        raise SystemExit(130) from None
