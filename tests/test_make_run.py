"""The README's `make run`, as a newcomer runs it: on a fresh home it ends in a store whose
demo model is active and answers, and it does so again and again, on a busy machine, and
after being interrupted at any step. Each run ends with the self-test instead of the
window (`make run RUN_ARGS=--self-test`), whose model check answers with the store's active
version; the demo key and drives are made in the test's own folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.helpers import REPO
from tests.helpers.cli import strongroom

MODEL_ANSWERED = "OK      model: SmolLM2-135M-Instruct (the store's active version):"


def make_run(home, cache, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "run", "RUN_ARGS=--self-test"], cwd=REPO,
                          env=environment(home, cache), capture_output=True, text=True,
                          timeout=timeout)


def environment(home, cache) -> dict:
    return {**os.environ, "STRONGROOM_HOME": str(home.data_dir.parent),
            "STRONGROOM_DEMO_CACHE": str(cache)}


def assert_ready(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[demo] ready" in result.stderr and "Self-test passed." in result.stdout
    assert MODEL_ANSWERED in result.stdout


def states(home) -> dict[str, str]:
    listed = json.loads(strongroom("store", "list", "--json", home=home).stdout)
    return {f"{s['name']}": s["state"] for s in listed}


def lifecycle_events(home) -> list[tuple[str, str]]:
    entries = [json.loads(line) for line in home.audit_log.read_text().splitlines()]
    return [(e["details"]["model"], e["details"]["action"]) for e in entries
            if e["event"] == "model_lifecycle"]


def test_make_run_twice_on_one_home_ends_in_a_model_that_answers(home, tmp_path):
    cache = tmp_path / "demo-cache"
    first = make_run(home, cache)
    assert_ready(first)
    assert "SmolLM2-135M-Instruct: drive made, imported, smoke test passed, promoted" in first.stderr
    assert states(home) == {"SmolLM2-135M-Instruct": "active", "all-MiniLM-L6-v2": "active"}
    # each promotion is recorded like any officer's, after its smoke test
    assert lifecycle_events(home) == [
        (name, action) for name in ("SmolLM2-135M-Instruct", "all-MiniLM-L6-v2")
        for action in ("staged", "smoke tested", "promoted")]
    trusted = json.loads(strongroom("trust", "list", "--json", home=home).stdout)["keys"]
    assert [k["demo"] for k in trusted] == [True]
    compliance = json.loads(strongroom("compliance", "--json", home=home).stdout)
    [signatures] = [c for c in compliance["checks"] if c["id"] == "trust"]
    assert signatures["status"] == "amber" and "demo officer key is trusted" in signatures["reason"]

    second = make_run(home, cache)
    assert_ready(second)
    assert "SmolLM2-135M-Instruct: already imported, active" in second.stderr
    assert "Traceback" not in second.stdout + second.stderr
    assert len(lifecycle_events(home)) == 6  # nothing tested or promoted twice
    # the keys are left for the window to show: never printed where nobody reads them
    assert "SRAK-" not in first.stdout + first.stderr + second.stdout + second.stderr


def test_make_run_on_a_busy_machine(home, tmp_path):
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        assert_ready(make_run(home, tmp_path / "demo-cache"))
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


@pytest.mark.parametrize("moment", [
    "[demo] SmolLM2-135M-Instruct: making its signed transfer drive…",
    "[demo] SmolLM2-135M-Instruct: importing…",
    "[demo] SmolLM2-135M-Instruct: smoke test…",
    "[demo] all-MiniLM-L6-v2: promoting…",
])
def test_make_run_interrupted_with_ctrl_c_completes_when_run_again(home, tmp_path, moment):
    """Ctrl+C reaches every process of the terminal's foreground group at once, as here."""
    cache = tmp_path / "demo-cache"
    run = subprocess.Popen(["make", "-s", "run", "RUN_ARGS=--self-test"], cwd=REPO,
                           env=environment(home, cache), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        seen = []
        for line in run.stderr:
            seen.append(line)
            if line.startswith(moment):
                os.killpg(run.pid, signal.SIGINT)
                break
        run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    assert any(line.startswith(moment) for line in seen), "".join(seen)
    assert run.returncode != 0
    again = make_run(home, cache)
    assert_ready(again)
    assert not list(cache.glob("*.partial"))
