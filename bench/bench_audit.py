"""The audit log: verifying a million entries, appending with fsync, opening the viewer, and
what hashing the loaded model costs a load.

Figures (issue: the audit log keeps every promise):
  - verify 1,000,000 entries with the key: ≤ 1.0 s on 2 cores, and ≥ 10× the straightforward
    verifier (parse each line, re-serialise, hash, HMAC, link) on the same file; the floor,
    hashing the file once on two threads, is printed beside it
  - append with fsync, two entries per answer (started and finished): p99 ≤ 2 ms per entry
  - viewer: first rows of the 1,000,000-entry log shown (≤ 1 s)
  - model load with hashing ÷ the same load by llama.cpp alone: the demo model and a 2 GB file

The log is written by the app's own writer (`AuditLog`), as answers: an inference_started and
an inference entry each, over 28 days, so its epochs close daily or every 10,000 entries.
Only while it is generated are fsync and the kept head made free (the append figure is
measured separately, with both).

    .venv/bin/python bench/bench_audit.py [--entries N] [--skip-models]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from strongroom.core.audit import format as fmt  # noqa: E402
from strongroom.core.audit import keys  # noqa: E402
from strongroom.core.audit.verifier import verify_log  # noqa: E402
from strongroom.core.audit.writer import AuditLog  # noqa: E402
from strongroom.core.secrets import SecretStore  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = REPO / ".cache" / "demo" / "SmolLM2-135M-Instruct.Q4_1.gguf"
SAMPLING = {"temperature": 0.7, "top_p": 0.95, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1,
            "max_tokens": 1024, "seed": None}
MODEL = {"model": "SmolLM2-135M-Instruct", "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
         "store_version": "SmolLM2-135M-Instruct/9f0c3a5e1b2d4c6f", "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
         "recorded_sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
         "model_sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"}


class _MemoryKeyring:
    """Keeps the key and head in memory while the big log is generated."""

    def __init__(self):
        self.values = {}

    def get_password(self, service, name):
        return self.values.get(name)

    def set_password(self, service, name, value):
        self.values[name] = value

    def delete_password(self, service, name):
        self.values.pop(name, None)


class _Clock:
    def __init__(self, entries: int, days: int = 28):
        self.now = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)
        self.step = timedelta(days=days) / entries

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def write_big_log(path: Path, entries: int) -> str:
    """``entries`` entries written by the app's writer, as answers (two entries each)."""
    log = AuditLog(path, SecretStore("keyring", "memory", _backend=_MemoryKeyring()),
                   user="dr.jones", clock=_Clock(entries))
    with mock.patch("os.fsync", lambda fd: None):
        log.open()
        for n in range((entries - 1) // 2):
            prompt = f"prompt number {n}"
            started = log.append(fmt.STARTED, {**MODEL, "sampling": SAMPLING, "conversation": 12},
                                 model_id=MODEL["model_id"],
                                 digests={"prompt_hash": prompt, "details.prompt_digest": prompt})
            log.append(fmt.FINISHED, {"outcome": "answered", "prompt_tokens": 412,
                                      "completion_tokens": 188, "ttft_ms": 84.2, "finish_reason": "stop",
                                      "dropped_messages": 0, "started_hash": started["entry_hash"]},
                       started_seq=started["seq"], response_tokens=188, latency_ms=2210.4,
                       model_id=MODEL["model_id"],
                       digests={"prompt_hash": prompt, "details.response_digest": f"answer {n}"})
    log.close()
    return log.created_key_text


def straightforward_verify(path: Path, key_text: str) -> bool:
    """The obvious verifier: parse each line, re-serialise, hash, HMAC with the epoch's key,
    check the link."""
    root = keys.key_from_text(key_text)
    epoch_keys: dict[int, keys.Hmac] = {}
    previous = fmt.GENESIS
    ok = True
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            entry = json.loads(line)
            stated = entry.pop(fmt.HASH_FIELD)
            if hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest() != stated:
                ok = False
            if entry["prev_hash"] != previous:
                ok = False
            mac = entry.pop(fmt.MAC_FIELD)
            epoch = entry[fmt.EPOCH_FIELD]
            if epoch not in epoch_keys:
                key = root
                for _ in range(epoch):
                    key = keys.evolve(key)
                epoch_keys[epoch] = keys.Hmac(key)
            if fmt.entry_mac(epoch_keys[epoch], entry) != mac:
                ok = False
            previous = stated
    return ok


def hashing_floor(path: Path) -> float:
    """Seconds to SHA-256 the whole file once, on two threads (what any verifier must do)."""
    size = path.stat().st_size

    def part(start: int, end: int) -> None:
        digest = hashlib.sha256()
        with open(path, "rb", buffering=0) as handle:
            handle.seek(start)
            position = start
            while position < end:
                chunk = handle.read(min(4 << 20, end - position))
                digest.update(chunk)
                position += len(chunk)

    started = time.perf_counter()
    threads = [threading.Thread(target=part, args=(0, size // 2)),
               threading.Thread(target=part, args=(size // 2, size))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def append_latencies(folder: Path, answers: int) -> list[float]:
    """Each entry's append time, with fsync and the head kept in a file, as on this machine."""
    log = AuditLog(folder / "append.log", SecretStore("file", "bench", folder / "secrets")).open()
    times = []
    for n in range(answers):
        started_at = time.perf_counter()
        started = log.append(fmt.STARTED, {**MODEL, "sampling": SAMPLING, "conversation": 3},
                             model_id=MODEL["model_id"], digests={"prompt_hash": f"p{n}"})
        times.append(time.perf_counter() - started_at)
        started_at = time.perf_counter()
        log.append(fmt.FINISHED, {"outcome": "answered", "completion_tokens": 180},
                   started_seq=started["seq"], response_tokens=180, latency_ms=2000.0,
                   model_id=MODEL["model_id"], digests={"prompt_hash": f"p{n}"})
        times.append(time.perf_counter() - started_at)
    log.close()
    return times


def viewer_first_rows(path: Path) -> float:
    from PySide6.QtCore import QEventLoop, QTimer

    from strongroom.ui.app import create_application
    from strongroom.ui.audit.viewer import AuditViewer

    create_application([sys.argv[0]])
    started = time.perf_counter()
    viewer = AuditViewer(path)
    viewer.show()
    loop = QEventLoop()
    viewer.indexed.connect(loop.quit)
    QTimer.singleShot(30_000, loop.quit)
    loop.exec()
    viewer.table.viewport().repaint()  # the first rows, read and painted
    shown = time.perf_counter() - started
    first = viewer.model.data(viewer.model.index_of(0, 4))
    viewer.close()
    assert first == "audit log created", first  # the first entry, its event in words
    return shown


def model_loads(folder: Path) -> list[tuple[str, float, float]]:
    """(file, llama.cpp's load alone, Engine.load hashing alongside) for the demo model and a
    2 GB file (the demo model followed by padding llama.cpp never reads)."""
    from strongroom.core.inference import llama_runtime
    from strongroom.core.inference.engine import Engine, LoadOptions

    llama_cpp = llama_runtime.llama_module()
    big = folder / "two-gb.gguf"
    with open(DEMO_MODEL, "rb") as source, open(big, "wb") as out:
        while chunk := source.read(1 << 24):
            out.write(chunk)
        block = os.urandom(1 << 24)
        while out.tell() < 2 * 1024**3:
            out.write(block)
    figures = []
    for path in (DEMO_MODEL, big):
        path.read_bytes() if path.stat().st_size < 1 << 30 else None
        raw, ours = [], []
        for _ in range(3):
            started = time.perf_counter()
            llm = llama_cpp.Llama(model_path=str(path), n_ctx=512, verbose=False)
            raw.append(time.perf_counter() - started)
            llm.close()
            started = time.perf_counter()
            engine = Engine.load(path, LoadOptions(context_length=512))
            ours.append(time.perf_counter() - started)
            engine.close()
        figures.append((path.name, statistics.median(raw), statistics.median(ours)))
    big.unlink()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-models", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="strongroom-bench-audit-"))
    path = folder / "audit.log"
    try:
        print(f"writing {args.entries:,} entries with the app's writer…", file=sys.stderr)
        key = write_big_log(path, args.entries)
        verify_log(path, key)  # warm the page cache
        ours = []
        for _ in range(args.runs):
            started = time.perf_counter()
            report = verify_log(path, key)
            ours.append(time.perf_counter() - started)
            assert report.ok and report.entries >= args.entries - 1, report.summary()
        floor = min(hashing_floor(path) for _ in range(args.runs))
        unkeyed = min(timed(lambda: verify_log(path)) for _ in range(args.runs))
        started = time.perf_counter()
        assert straightforward_verify(path, key)
        naive = time.perf_counter() - started
        latencies = sorted(append_latencies(folder, 1000))
        p50 = statistics.median(latencies) * 1000
        p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
        first_rows = viewer_first_rows(path)
        best = statistics.median(ours)
        epochs = report.counts.get(fmt.EPOCH_CLOSED, 0)
        print(f"audit benchmark: {report.entries:,} entries ({epochs} closed epochs), "
              f"{path.stat().st_size / 1e6:.0f} MB, {os.cpu_count()} CPUs")
        print(f"  verify with key (median of {args.runs}): {best:.2f} s   (target ≤ 1.0 s); "
              f"hashing the file once on two threads: {floor:.2f} s (÷ {best / floor:.2f})")
        print(f"  verify without key: {unkeyed:.2f} s")
        print(f"  straightforward verifier: {naive:.2f} s   speed-up {naive / best:.1f}×   (target ≥ 10×)")
        print(f"  append with fsync, two entries per answer: p50 {p50:.2f} ms, p99 {p99:.2f} ms per entry"
              "   (target p99 ≤ 2 ms)")
        print(f"  viewer: first rows shown after {first_rows * 1000:.0f} ms   (target ≤ 1000 ms)")
        if not args.skip_models and DEMO_MODEL.is_file():
            for name, raw, hashed in model_loads(folder):
                print(f"  model load, {name}: llama.cpp alone {raw:.2f} s, with hashing {hashed:.2f} s "
                      f"(÷ {hashed / raw:.2f})")
    finally:
        for leftover in sorted(folder.rglob("*"), reverse=True):
            leftover.unlink() if leftover.is_file() else leftover.rmdir()
        folder.rmdir()
    return 0


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


if __name__ == "__main__":
    raise SystemExit(main())
