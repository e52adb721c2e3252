"""The audit log: verifying a million entries, appending with fsync, opening the viewer.

Figures (issue: audit log):
  - verify 1,000,000 entries with the key: ≤ 3 s, and ≥ 5× faster than a straightforward
    line-by-line verifier (json.loads, json.dumps, hash, MAC), measured on the same file
  - append with fsync: p50 and p99 latency, over 2,000 appends
  - viewer: first rows of the 1,000,000-entry log shown ≤ 1 s

The log is written with the same `audit_format.seal` the app uses, without fsync (that
part is measured separately), with realistic inference entries.

    .venv/bin/python bench/bench_audit.py [--entries N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from strongroom.core.audit import format as fmt  # noqa: E402
from strongroom.core.audit.verifier import verify_log  # noqa: E402
from strongroom.core.audit.writer import AuditLog  # noqa: E402
from strongroom.core.secrets import SecretStore  # noqa: E402

SAMPLING = {"temperature": 0.7, "top_p": 0.95, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1,
            "max_tokens": 1024, "seed": None}


def write_big_log(path: Path, entries: int) -> str:
    root = fmt.new_root_key()
    key, epoch, previous = root, 0, fmt.GENESIS
    with open(path, "wb") as out:
        batch = []
        for seq in range(entries):
            if seq and seq % 10_000 == 0:
                key, epoch = fmt.evolve(key), epoch + 1
            prompt = hashlib.sha256(b"prompt %d" % seq).hexdigest()
            entry = {
                "seq": seq, "timestamp": f"2026-11-{1 + seq * 28 // entries:02d}T09:00:00.000000+00:00",
                "event": "inference", "user_id": "dr.jones",
                "details": {"prompt_sha256": prompt, "response_sha256": hashlib.sha256(b"%d" % seq).hexdigest(),
                            "prompt_tokens": 412, "completion_tokens": 188, "ttft_ms": 84.2,
                            "model_sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                            "sampling": SAMPLING, "stopped": False, "finish_reason": "stop",
                            "dropped_messages": 0, "conversation": 12},
                "prompt_hash": prompt, "response_tokens": 188, "latency_ms": 2210.4,
                "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct", "prev_hash": previous,
            }
            entry, line = fmt.seal(entry, key, epoch)
            previous = entry[fmt.HASH_FIELD]
            batch.append(line)
            if len(batch) == 20_000:
                out.write(b"".join(batch))
                batch = []
        out.write(b"".join(batch))
    return fmt.key_to_text(root)


def straightforward_verify(path: Path, key_text: str) -> bool:
    """The obvious verifier: parse each line, re-serialise, hash, compare, check the MAC."""
    root = fmt.key_from_text(key_text)
    keys: dict[int, bytes] = {}
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
            if epoch not in keys:
                keys[epoch] = fmt.epoch_key(root, epoch)
            if fmt.mac(keys[epoch], entry) != mac:
                ok = False
            previous = stated
    return ok


def append_latencies(folder: Path, count: int) -> list[float]:
    log = AuditLog(folder / "append.log", SecretStore("file", "bench", folder / "secrets")).open()
    times = []
    for n in range(count):
        started = time.perf_counter()
        log.append("inference", {"n": n, "prompt_tokens": 400, "completion_tokens": 180},
                   prompt_hash=hashlib.sha256(b"%d" % n).hexdigest(), response_tokens=180,
                   latency_ms=2000.0, model_id="demo")
        times.append(time.perf_counter() - started)
    log.close()
    return times


def viewer_first_rows(path: Path) -> float:
    from PySide6.QtCore import QEventLoop, QTimer
    from strongroom.ui.app import create_application
    from strongroom.ui.audit_viewer import AuditViewer

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
    assert first == "inference", first
    return shown


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="strongroom-bench-audit-"))
    path = folder / "audit.log"
    try:
        print(f"writing {args.entries:,} entries…", file=sys.stderr)
        key = write_big_log(path, args.entries)
        verify_log(path, key)  # warm the page cache
        ours = []
        for _ in range(args.runs):
            started = time.perf_counter()
            report = verify_log(path, key)
            ours.append(time.perf_counter() - started)
            assert report.ok and report.entries == args.entries
        started = time.perf_counter()
        assert straightforward_verify(path, key)
        naive = time.perf_counter() - started
        unkeyed = min(timed_unkeyed(path) for _ in range(args.runs))
        latencies = sorted(append_latencies(folder, 2000))
        p50 = statistics.median(latencies) * 1000
        p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
        first_rows = viewer_first_rows(path)
        best = statistics.median(ours)
        print(f"audit benchmark: {args.entries:,} entries, {path.stat().st_size / 1e6:.0f} MB, "
              f"{os.cpu_count()} CPUs")
        print(f"  verify with key (median of {args.runs}): {best:.2f} s   (target ≤ 3 s); without key {unkeyed:.2f} s")
        print(f"  straightforward verifier: {naive:.2f} s   speed-up {naive / best:.1f}×   (target ≥ 5×)")
        print(f"  append with fsync: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        print(f"  viewer: first rows shown after {first_rows * 1000:.0f} ms   (target ≤ 1000 ms)")
    finally:
        for leftover in folder.rglob("*"):
            if leftover.is_file():
                leftover.unlink()
    return 0


def timed_unkeyed(path: Path) -> float:
    started = time.perf_counter()
    verify_log(path)
    return time.perf_counter() - started


if __name__ == "__main__":
    raise SystemExit(main())
