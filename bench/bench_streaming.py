"""Streaming through the app versus a raw llama-cpp-python loop, in one process.

Figures (issue: foundation):
  - tokens/s through the engine worker and the GUI ÷ tokens/s of a raw streaming loop (≥ 0.97)
  - time to first token on screen, app − raw (≤ 15 ms)
  - longest GUI event-loop stall while an answer streams (≤ 30 ms)

With ``--code`` (issue: desktop), each answer is asked for code (so it streams fenced,
highlighted code blocks) at the end of a 200-message conversation that the window opens
first, and the raw loop gets the same 200 messages:
  - tokens/s app ÷ raw (≥ 0.97) and the longest GUI stall (≤ 16 ms) with highlighting on
  - opening the 200-message conversation: click to laid out and painted (≤ 150 ms)

Both sides use the same model file, context, threads and greedy sampling, and run
alternately so machine noise hits both. The raw loop runs on the app's engine thread:
llama.cpp's OpenMP thread pool belongs to the calling thread, and two pools on one
machine slow each other down (by a third on 2 cores), which would distort both sides. Every trial uses a new prompt so neither side
gets a prompt-cache hit. The stall is measured in separate app trials with a 1 ms timer
on the GUI thread (the timer costs CPU, so it is off while throughput is measured).

    .venv/bin/python bench/bench_streaming.py [--trials N] [--tokens N] [--code]
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
from strongroom.ui.window.main_window import MainWindow  # noqa: E402

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


def prompt(trial: int, code: bool = False) -> str:
    if code:
        return (f"Task {trial}: write a long Python module for a library catalogue, with many "
                "functions, each in its own ```python code block with comments, and explain each.")
    return f"Story {trial}: write a long, detailed story about a lighthouse keeper named Ada."


def history(trial: int, messages: int) -> list[dict[str, str]]:
    """A conversation of ``messages`` short turns, every fifth answer holding code (short,
    so that the model reads it in seconds: the window's cost is in the number of
    messages, the model's in their length)."""
    turns = []
    for i in range(messages // 2):
        turns.append({"role": "user", "content": f"Q{trial}.{i}: sort?"})
        answer = f"Use `sorted` ({i})."
        if i % 5 == 0:
            answer += "\n\n```python\nxs = sorted(xs)\n```\n"
        turns.append({"role": "assistant", "content": answer})
    return turns


def raw_trial(llm, trial: int, max_tokens: int, earlier: list[dict[str, str]] = (),
              code: bool = False) -> tuple[float, float, int]:
    """(time to first token, tokens/s, tokens) for llama-cpp-python on its own."""
    messages = [{"role": "system", "content": SYSTEM}, *earlier,
                {"role": "user", "content": prompt(trial, code)}]
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

    def open_time_ms(self, conversation_id: int) -> float:
        """Select a conversation in the list as a click does; the time until its messages
        are laid out and painted (the first event-loop pass after the posted layout and
        paint events)."""
        loop = QEventLoop()
        started = time.perf_counter()
        self.window.conversations.select(conversation_id)
        QTimer.singleShot(0, loop.quit)
        loop.exec()
        self.window.chat_view.widget().repaint()
        return (time.perf_counter() - started) * 1000

    def trial(self, trial: int, watch_stalls: bool = False, conversation: int | None = None,
              code: bool = False) -> tuple[float, float, int, float]:
        window = self.window
        if conversation is None:
            window.new_conversation()
        else:
            self.last_open_ms = self.open_time_ms(conversation)
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
        window.input.setPlainText(prompt(trial, code))
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
    parser.add_argument("--code", action="store_true",
                        help="answers with code, in a 200-message conversation")
    args = parser.parse_args()
    if args.code and args.tokens == 256:
        args.tokens = 2000
    n_ctx = 8192 if args.code else N_CTX
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
    workspace.settings.update({"context_length": n_ctx, "max_tokens": args.tokens,
                               "temperature": 0.0, "top_p": 0.95, "top_k": 40, "min_p": 0.05,
                               "repeat_penalty": 1.1, "system_prompt": SYSTEM, "threads": threads,
                               "batch_size": 512})
    window = MainWindow(workspace)
    window.show()
    wait(window.modelReady)
    probe = AppProbe(window)
    raw_side = RawSide(window.host.thread)
    raw = raw_side.call(lambda: llama_cpp.Llama(
        str(DEMO_MODEL), n_ctx=n_ctx, n_batch=512, n_threads=threads,
        n_threads_batch=max(threads, os.cpu_count() or threads), verbose=False))

    messages = 200 if args.code else 0
    conversations = {}  # trial: a conversation of its own, so no prompt is a cache hit
    for trial in range(-1, args.trials + 3):
        conversation = workspace.chats.create_conversation(f"Bench {trial}")
        for message in history(trial, messages):
            workspace.chats.add_message(conversation.id, message["role"], message["content"])
        conversations[trial] = conversation.id if args.code else None
    window.conversations.refresh()

    raw_side.call(lambda: raw_trial(raw, -1, 16))  # warm both sides once, briefly
    workspace.settings.update({"max_tokens": 16})
    probe.trial(-1)
    workspace.settings.update({"max_tokens": args.tokens})
    raws, apps, stalls, gui_shares, opens = [], [], [], [], []
    for trial in range(args.trials):
        raws.append(raw_side.call(lambda trial=trial: raw_trial(
            raw, trial, args.tokens, history(trial, messages), args.code)))
        apps.append(probe.trial(trial, conversation=conversations[trial], code=args.code))
        gui_shares.append(probe.gui_share)
        if args.code:
            opens.append(probe.last_open_ms)
    for trial in range(args.trials, args.trials + 3):
        stalls.append(probe.trial(trial, watch_stalls=True, conversation=conversations[trial],
                                  code=args.code)[3])
        if args.code:
            opens.append(probe.last_open_ms)
    with_code = [workspace.chats.messages(c)[-1].content.count("```") // 2
                 for c in conversations.values() if c is not None]
    raw_side.call(raw.close)
    window.close()
    workspace.close()

    raw_rate = statistics.median(r[1] for r in raws)
    app_rate = statistics.median(a[1] for a in apps)
    raw_ttft = statistics.median(r[0] for r in raws) * 1000
    app_ttft = statistics.median(a[0] for a in apps) * 1000
    stall = max(stalls)
    print(f"streaming benchmark: {args.trials} trials × {args.tokens} tokens, "
          f"{threads} threads, model {DEMO_MODEL.name}"
          + (f", code answers after {messages} messages" if args.code else ""))
    print(f"  raw loop        {raw_rate:7.1f} tokens/s   first token {raw_ttft:6.1f} ms")
    print(f"  app (worker+GUI){app_rate:7.1f} tokens/s   first token {app_ttft:6.1f} ms")
    print(f"  tokens/s ratio app/raw: {app_rate / raw_rate:.3f}   (target ≥ 0.97)")
    print(f"  time to first token app − raw: {app_ttft - raw_ttft:+.1f} ms   (target ≤ 15 ms)")
    print(f"  longest GUI stall while streaming: {stall:.1f} ms   "
          f"(target ≤ {16 if args.code else 30} ms)")
    if args.code:
        print(f"  opening the {messages}-message conversation: median "
              f"{statistics.median(opens):.0f} ms, longest {max(opens):.0f} ms   (target ≤ 150 ms)")
        print(f"  code blocks per answer: {with_code}")
    print(f"  GUI thread CPU while streaming: {statistics.median(gui_shares) * 100:.1f}% of a core")
    print(f"  tokens per answer: raw {[r[2] for r in raws]}, app {[a[2] for a in apps]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
