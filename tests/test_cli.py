"""The `strongroom` command, run as a real subprocess."""

import json
import os
import subprocess
import sys

import pytest

from strongroom import __version__
from tests.conftest import REPO


def strongroom(*args, home, stdin=None, timeout=300):
    env = {**os.environ, "STRONGROOM_HOME": str(home.data_dir.parent)}
    return subprocess.run([sys.executable, "-m", "strongroom", *args], env=env, input=stdin, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def test_version(home):
    result = strongroom("--version", home=home)
    assert result.returncode == 0 and result.stdout.strip() == f"strongroom {__version__}"


@pytest.mark.model
def test_chat_streams_to_stdout(home, demo_model):
    result = strongroom("chat", "--model", str(demo_model), "--max-tokens", "24", "--seed", "3",
                        "--temperature", "0", "--stats", "Name a colour.", home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    stats = json.loads(result.stderr.strip().splitlines()[-1])
    assert 0 < stats["completion_tokens"] <= 24 and stats["prompt_tokens"] > 5
    # llama.cpp's own log lines went to the app log, not the terminal
    assert "llama" not in result.stderr.replace('"', "").lower().replace("tokens", "")
    assert "llama_context" in home.app_log.read_text()


@pytest.mark.model
def test_chat_reads_the_prompt_from_stdin(home, demo_model):
    result = strongroom("chat", "--model", str(demo_model), "--max-tokens", "8", "-",
                        home=home, stdin="Say hi.")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


@pytest.mark.parametrize("prompt", ["", "   "])
def test_chat_refuses_an_empty_prompt(home, demo_model, prompt):
    result = strongroom("chat", "--model", str(demo_model), prompt, home=home)
    assert result.returncode == 2
    assert "the prompt is empty" in result.stderr and result.stdout == ""


def test_chat_with_a_file_that_is_not_a_model(home, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello, these are my meeting notes")
    result = strongroom("chat", "--model", str(notes), "hi", home=home)
    assert result.returncode == 1
    assert "notes.txt: this is not a GGUF model file" in result.stderr
    missing = strongroom("chat", "--model", str(tmp_path / "gone.gguf"), "hi", home=home)
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_models_lists_the_store(home, stored_model):
    result = strongroom("models", home=home)
    assert result.returncode == 0
    assert "SmolLM2-135M-Instruct · 98.4 MB · Q4_1 · 8,192 ctx · 135M params" in result.stdout
    listed = json.loads(strongroom("models", "--json", home=home).stdout)
    assert [m["usable"] for m in listed] == [True]
    assert listed[0]["context_length"] == 8192 and listed[0]["path"] == str(stored_model)
    assert listed[0]["model_id"] == "SmolLM2-135M-Instruct"


def test_models_with_an_empty_store(home):
    result = strongroom("models", home=home)
    assert result.returncode == 0 and "No models have been imported yet" in result.stdout


def test_paths(home):
    result = strongroom("paths", home=home)
    assert result.returncode == 0 and str(home.store_dir) in result.stdout
    assert strongroom("paths", "store", home=home).stdout.strip() == str(home.store_dir)
    assert strongroom("paths", "nowhere", home=home).returncode == 2


@pytest.mark.model
def test_self_test_passes_and_answers(home, demo_model):
    result = strongroom("--self-test", "--model", str(demo_model), home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0].split()[-1] for line in lines[:-1]] == [
        "imports", "offline", "llama.cpp", "Qt", "model", "log"]
    assert all(line.startswith("OK") for line in lines[:-1]) and lines[-1] == "Self-test passed."


def test_self_test_reports_a_broken_audit_log(home):
    home.audit_log.parent.mkdir(parents=True)
    home.audit_log.write_text('{"prev_hash": "genesis", "entry_hash": "0"}\n')
    result = strongroom("--self-test", home=home)
    assert result.returncode == 1
    assert "FAILED  audit log: the audit log" in result.stdout and "is broken at line 1" in result.stdout
