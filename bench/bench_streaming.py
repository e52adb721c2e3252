"""Streaming through the app versus a raw llama-cpp-python loop, in one process.

Figures (issue: foundation):
  - tokens/s through the engine worker and the GUI ÷ tokens/s of a raw streaming loop (≥ 0.97)
  - time to first token on screen, app − raw (≤ 15 ms)
  - longest GUI event-loop stall while an answer streams (≤ 30 ms)

Both sides use the same model file, context, threads and greedy sampling, and run
alternately so machine noise hits both. The raw loop runs on the app's engine thread:
llama.cpp's OpenMP thread pool belongs to the calling thread, and two pools on one
machine slow each other down (by a third on 2 cores), which would distort both sides. Every trial uses a new prompt so neither side
gets a prompt-cache hit. The stall is measured in separate app trials with a 1 ms timer
on the GUI thread (the timer costs CPU, so it is off while throughput is measured).

    .venv/bin/python bench/bench_streaming.py [--trials N] [--tokens N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = REPO / ".cache" / "demo" / "SmolLM2-135M-Instruct.Q4_1.gguf"

from strongroom.core.offline import EgressGuard, apply_offline_environment  # noqa: E402

apply_offline_environment()
EgressGuard.install()

from PySide6.QtCore import (  # noqa: E402
    QElapsedTimer,
    QEventLoop,
    QObject,
    QTimer,
    Signal,
    Slot,
    qInstallMessageHandler,
)
from strongroom.core.inference import llama_runtime  # noqa: E402
from strongroom.core.inference.engine import default_threads  # noqa: E402
from strongroom.core.paths import app_paths  # noqa: E402
from strongroom.core.workspace import Workspace  # noqa: E402
from strongroom.ui.app import create_application  # noqa: E402
from strongroom.ui.main_window import MainWindow  # noqa: E402

N_CTX = 2048
SYSTEM = "You are a helpful assistant."


def import_demo_model(home: Path) -> None:
    """Bring the demo model into the bench's own store the way a user does: drive, import."""
    from strongroom.core.store.model_store import ModelStore
    from strongroom.core.transfer.drive import open_drive
    from strongroom.core.transfer.prepare import prepare_local, write_transfer_manifest

    drive = home / "drive"
    prepare_local(drive, "SmolLM2-135M-Instruct", [DEMO_MODEL])
    write_transfer_manifest(drive)
    opened = open_drive(drive)
    ModelStore(app_paths().store_dir).import_model(opened, opened.models[0])


def prompt(trial: int) -> str:
    return f"Story {trial}: write a long, detailed story about a lighthouse keeper named Ada."


def raw_trial(llm, trial: int, max_tokens: int) -> tuple[float, float, int]:
    """(time to first token, tokens/s, tokens) for llama-cpp-python on its own."""
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt(trial)}]
    started = time.perf_counter()
    first = last = None
    chunks = 0
    for chunk in llm.create_chat_completion(
            messages, max_tokens=max_tokens, temperature=0.0, top_p=0.95, top_k=40, min_p=0.05,
            repeat_penalty=1.1, stream=True):
        if chunk["choices"][0]["delta"].get("content"):
            last = time.perf_counter()
            first = first or last
            chunks += 1
    return first - started, (chunks - 1) / (last - first), chunks


class RawRunner(QObject):
    """Runs the raw loop on a given thread (the engine's) and reports each result."""

    done = Signal(object)

    @Slot(object)
    def run(self, job) -> None:
        self.done.emit(job())


class RawSide(QObject):
    _run = Signal(object)

    def __init__(self, thread):
        super().__init__()
        self.runner = RawRunner()
        self.runner.moveToThread(thread)
        self._run.connect(self.runner.run)
        self.runner.done.connect(self._store)
        self._result = None

    @Slot(object)
    def _store(self, result):
        self._result = result

    def call(self, job):
        """Run ``job`` on the runner's thread and wait for its result."""
        self._result = None
        loop = QEventLoop()
        self.runner.done.connect(loop.quit)
        self._run.emit(job)
        loop.exec()
        self.runner.done.disconnect(loop.quit)
        return self._result


class AppProbe:
    """Sends through the real window and watches the GUI thread while it streams."""

    def __init__(self, window: MainWindow):
        self.window = window
        self.clock = QElapsedTimer()
        self.ticker = QTimer()
        self.ticker.setInterval(1)
        self.ticker.timeout.connect(self._tick)
        self.last_tick = 0
        self.longest_stall_ms = 0.0

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed()
        if self.last_tick:
            self.longest_stall_ms = max(self.longest_stall_ms, (now - self.last_tick) / 1e6 - 1)
        self.last_tick = now

    def trial(self, trial: int, watch_stalls: bool = False) -> tuple[float, float, int, float]:
        window = self.window
        window.new_conversation()
        marks: dict[str, float] = {}
        loop = QEventLoop()

        def started():
            marks["first"] = time.perf_counter()

        def finished(answer):
            marks["last"] = time.perf_counter()
            marks["tokens"] = answer.stats.completion_tokens
            loop.quit()

        window.answerStarted.connect(started)
        window.answerCompleted.connect(finished)
        self.longest_stall_ms, self.last_tick = 0.0, 0
        self.clock.start()
        if watch_stalls:
            self.ticker.start()
        window.input.setPlainText(prompt(trial))
        gui_cpu = time.thread_time()
        marks["sent"] = time.perf_counter()
        window.send()
        loop.exec()
        self.gui_share = (time.thread_time() - gui_cpu) / (time.perf_counter() - marks["sent"])
        self.ticker.stop()
        window.answerStarted.disconnect(started)
        window.answerCompleted.disconnect(finished)
        tokens = int(marks["tokens"])
        rate = (tokens - 1) / (marks["last"] - marks["first"])
        return marks["first"] - marks["sent"], rate, tokens, self.longest_stall_ms


def wait(signal, timeout_ms=120_000):
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)


def _quiet_offscreen_warnings(_kind, _context, message: str) -> None:
    if "propagateSizeHints" not in message:  # the offscreen platform says this on every show
        print(message, file=sys.stderr)


def main() -> int:
    qInstallMessageHandler(_quiet_offscreen_warnings)
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--tokens", type=int, default=256)
    args = parser.parse_args()
    if not DEMO_MODEL.is_file():
        print(f"missing {DEMO_MODEL}: run `make setup` first", file=sys.stderr)
        return 1

    home = tempfile.mkdtemp(prefix="strongroom-bench-")
    os.environ["STRONGROOM_HOME"] = home
    import_demo_model(Path(home))

    threads = default_threads()
    llama_cpp = llama_runtime.llama_module()

    create_application([sys.argv[0]])
    workspace = Workspace.open()
    workspace.settings.update({"context_length": N_CTX, "max_tokens": args.tokens,
                               "temperature": 0.0, "top_p": 0.95, "top_k": 40, "min_p": 0.05,
                               "repeat_penalty": 1.1, "system_prompt": SYSTEM, "threads": threads,
                               "batch_size": 512})
    window = MainWindow(workspace)
    window.show()
    wait(window.modelReady)
    probe = AppProbe(window)
    raw_side = RawSide(window.host.thread)
    raw = raw_side.call(lambda: llama_cpp.Llama(
        str(DEMO_MODEL), n_ctx=N_CTX, n_batch=512, n_threads=threads,
        n_threads_batch=max(threads, os.cpu_count() or threads), verbose=False))

    raw_side.call(lambda: raw_trial(raw, -1, 16))  # warm both sides once
    probe.trial(-1)
    raws, apps, stalls, gui_shares = [], [], [], []
    for trial in range(args.trials):
        raws.append(raw_side.call(lambda trial=trial: raw_trial(raw, trial, args.tokens)))
        apps.append(probe.trial(trial))
        gui_shares.append(probe.gui_share)
    for trial in range(args.trials, args.trials + 3):
        stalls.append(probe.trial(trial, watch_stalls=True)[3])
    raw_side.call(raw.close)
    window.close()
    workspace.close()

    raw_rate = statistics.median(r[1] for r in raws)
    app_rate = statistics.median(a[1] for a in apps)
    raw_ttft = statistics.median(r[0] for r in raws) * 1000
    app_ttft = statistics.median(a[0] for a in apps) * 1000
    stall = max(stalls)
    print(f"streaming benchmark: {args.trials} trials × {args.tokens} tokens, "
          f"{threads} threads, model {DEMO_MODEL.name}")
    print(f"  raw loop        {raw_rate:7.1f} tokens/s   first token {raw_ttft:6.1f} ms")
    print(f"  app (worker+GUI){app_rate:7.1f} tokens/s   first token {app_ttft:6.1f} ms")
    print(f"  tokens/s ratio app/raw: {app_rate / raw_rate:.3f}   (target ≥ 0.97)")
    print(f"  time to first token app − raw: {app_ttft - raw_ttft:+.1f} ms   (target ≤ 15 ms)")
    print(f"  longest GUI stall while streaming: {stall:.1f} ms   (target ≤ 30 ms)")
    print(f"  GUI thread CPU while streaming: {statistics.median(gui_shares) * 100:.1f}% of a core")
    print(f"  tokens per answer: raw {[r[2] for r in raws]}, app {[a[2] for a in apps]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
