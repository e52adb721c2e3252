"""`strongroom chat` and the audit log: the answer's start is recorded before its first token
is printed, and its end however it ends (a kill, Ctrl+C, a disk that fills up); a stored
model whose bytes changed is not loaded."""

import json
import os
import resource
import signal
import subprocess
import sys

import pytest

from strongroom.core.audit import format as fmt
from strongroom.core.audit.verifier import verify_log
from tests.helpers import REPO
from tests.helpers.cli import strongroom

pytestmark = pytest.mark.model
# At temperature 0 this story runs to the token limit (about 14,000 characters); sampled,
# it often ends after a few hundred words, before a signal sent mid-answer arrives.
LONG = ("--max-tokens", "3000", "--temperature", "0", "Write a very long story about the sea.")


def entries(home):
    return [json.loads(line) for line in home.audit_log.read_bytes().splitlines()]


def start_chat(home, *args, limit_bytes: int | None = None) -> subprocess.Popen:
    def limit():
        # As from a terminal: Python keeps SIGINT ignored when its parent ignored it, and
        # something in a long test run can leave the test process ignoring it.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, resource.RLIM_INFINITY))

    return subprocess.Popen([sys.executable, "-m", "strongroom", "chat", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit,
                            env={**os.environ, "STRONGROOM_HOME": str(home.data_dir.parent)})


def first_output(process: subprocess.Popen) -> bytes:
    """Block until the answer's first bytes reach stdout (read straight from the pipe)."""
    data = os.read(process.stdout.fileno(), 1)
    assert data, process.stderr.read().decode()
    return data


def key_of(result_stdout: str) -> str:
    return next(word for word in result_stdout.split() if word.startswith("SRAK-"))


def test_a_kill_mid_answer_leaves_a_started_answer_not_tampering(home, stored_model):
    key = key_of(strongroom("audit", "init", "--show-key-once", home=home).stdout)
    chat = start_chat(home, "--model", "SmolLM2-135M-Instruct", *LONG)
    try:
        first_output(chat)
        # The first token is on stdout: the answer's start is already in the log.
        assert entries(home)[-1]["event"] == fmt.STARTED
        chat.send_signal(signal.SIGKILL)
    finally:
        chat.wait(timeout=60)
        chat.stdout.close()
        chat.stderr.close()
    report = verify_log(home.audit_log, key)
    assert report.ok, report.summary()
    started = entries(home)[-1]
    assert report.unfinished == [(started["seq"] + 1, started["seq"])]
    assert "started and never finished" in report.summary()
    after = strongroom("audit", "verify", "--key", key, home=home)  # the app opens it as usual
    assert after.returncode == 0, after.stdout + after.stderr


def test_ctrl_c_mid_answer_records_it_as_interrupted(home, stored_model):
    key = key_of(strongroom("audit", "init", "--show-key-once", home=home).stdout)
    chat = start_chat(home, "--model", "SmolLM2-135M-Instruct", *LONG)
    try:
        first_output(chat)
        chat.send_signal(signal.SIGINT)
        assert chat.wait(timeout=60) == 130
    finally:
        chat.stdout.close()
        chat.stderr.close()
    started, finished = entries(home)[-2:]
    assert started["event"] == fmt.STARTED and finished["event"] == fmt.FINISHED
    assert finished["details"]["outcome"] == "interrupted" and finished["started_seq"] == started["seq"]
    # what is known of its tokens is recorded: the prompt's, and those written before Ctrl+C
    assert finished["details"]["prompt_tokens"] > 0
    assert finished["details"]["completion_tokens"] > 0 and finished["response_tokens"] > 0
    assert finished["details"]["finish_reason"] == "interrupted"
    report = verify_log(home.audit_log, key)
    assert report.ok and report.unfinished == []


def test_a_disk_filling_up_cuts_the_answer_off_and_keeps_the_log_whole(home, stored_model):
    """With the text recorded, the room the finished entry needs grows with the answer: when
    the log's file can grow no further, the answer stops there and its end is recorded."""
    key = key_of(strongroom("audit", "init", "--show-key-once", home=home).stdout)
    home.settings_file.write_text(json.dumps({"audit_log_text": True}))
    room = 64 * 1024 + 6 * 2000  # the finished entry's reserve, and about 2,000 characters
    limit = home.audit_log.stat().st_size + room
    chat = start_chat(home, "--model", "SmolLM2-135M-Instruct", *LONG, limit_bytes=limit)
    out, err = chat.communicate(timeout=600)
    assert chat.returncode == 1, err.decode()
    assert b"The answer was cut off: the disk that holds the audit log is almost full" in err
    started, finished = entries(home)[-2:]
    assert finished["details"]["outcome"] == "cut off" and finished["started_seq"] == started["seq"]
    from strongroom.core.audit.keys import key_from_text
    from strongroom.core.audit.sealed_text import unseal

    assert unseal(key_from_text(key), finished["details"]["response_sealed"]).strip()
    assert len(out) < 3000 * 8  # it stopped well before its 3,000 tokens
    assert verify_log(home.audit_log, key).ok


def test_no_answer_starts_when_its_end_could_not_be_recorded(home, stored_model):
    from strongroom.core.workspace import Workspace

    with Workspace.open(home) as workspace:  # a log larger than the other files the chat writes
        for n in range(100):
            workspace.audit.app_start(f"test {n}")
    before = home.audit_log.read_bytes()
    limit = home.audit_log.stat().st_size + 2000
    chat = start_chat(home, "--model", "SmolLM2-135M-Instruct", "Hello?", limit_bytes=limit)
    out, err = chat.communicate(timeout=300)
    assert chat.returncode == 1 and out == b""  # not a token was printed
    assert b"No space left on device" in err or b"almost full" in err
    assert home.audit_log.read_bytes()[:len(before)] == before
    assert not any(e["event"] == fmt.STARTED for e in entries(home))


def test_a_stored_model_changed_in_place_is_not_loaded(home, stored_model):
    key = key_of(strongroom("audit", "init", "--show-key-once", home=home).stdout)
    data = bytearray(stored_model.read_bytes())
    data[-1] ^= 0xFF  # one weight of the last tensor
    os.chmod(stored_model.parent, 0o755)
    stored_model.unlink()  # (its blob is shared with other tests' stores: write a new file)
    stored_model.write_bytes(data)
    result = strongroom("chat", "--model", "SmolLM2-135M-Instruct", "Hello?", home=home)
    assert result.returncode == 1 and result.stdout == ""
    assert "is not the file that was imported" in result.stderr
    refused = entries(home)[-1]
    assert refused["event"] == "model_load" and refused["details"]["outcome"] == "refused"
    assert verify_log(home.audit_log, key).ok


def test_an_edited_provenance_record_is_found_by_store_verify(home, stored_model):
    """The attacker overwrites the model and edits provenance.json to match it: the files
    then agree with the record, but the record no longer matches its import's entry."""
    import hashlib

    drive = home.data_dir.parent.parent / "drive"  # imported the app's way, so it is recorded
    from strongroom.core.transfer.prepare import prepare_local, write_transfer_manifest

    prepare_local(drive, "Edited", [stored_model])
    write_transfer_manifest(drive)
    assert strongroom("import", str(drive), "--yes", home=home).returncode == 0
    assert strongroom("store", "verify", "Edited", home=home).returncode == 0
    version = next((home.store_dir / "models" / "Edited").iterdir())
    provenance = version / "provenance.json"
    os.chmod(version, 0o755)
    os.chmod(provenance, 0o644)
    record = json.loads(provenance.read_text())
    record["imported_by"] = "someone else"
    provenance.write_text(json.dumps(record, indent=2))
    result = strongroom("store", "verify", "Edited", home=home)
    assert result.returncode == 1
    assert "provenance.json of Edited/" in result.stdout and "was changed after the import" in result.stdout
    assert hashlib.sha256(provenance.read_bytes()).hexdigest() in result.stdout


def test_ctrl_c_while_the_prompt_is_read_is_honoured_then(home, stored_model):
    """On a terminal, a long prompt's reading is shown as it goes (in slices); Ctrl+C then
    stops it between two slices, nothing is answered, and the interruption is recorded
    with the prompt's tokens and no answer tokens."""
    import pty

    strongroom("audit", "init", home=home)
    clauses = " ".join(f"Clause {i}: the tenant pays the rent on day {i % 28 + 1}."
                       for i in range(200))
    controller, terminal = pty.openpty()
    chat = subprocess.Popen(
        [sys.executable, "-m", "strongroom", "chat", "--model", "SmolLM2-135M-Instruct",
         "--context-length", "4096", "--max-tokens", "16", f"{clauses}\nWhich day is the rent due?"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=terminal, stdin=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        env={**os.environ, "STRONGROOM_HOME": str(home.data_dir.parent)})
    os.close(terminal)
    try:
        shown = b""
        while b"Reading the prompt: " not in shown:  # what a person sees before Ctrl+C
            chunk = os.read(controller, 4096)
            assert chunk, shown
            shown += chunk
        chat.send_signal(signal.SIGINT)
        assert chat.wait(timeout=120) == 130
        answered = chat.stdout.read()
    finally:
        chat.stdout.close()
        os.close(controller)
    assert answered.strip() == b""  # stopped before the model wrote anything
    started, finished = entries(home)[-2:]
    assert finished["event"] == fmt.FINISHED and finished["started_seq"] == started["seq"]
    assert finished["details"]["outcome"] == "interrupted"
    assert finished["details"]["completion_tokens"] == 0
    assert finished["details"]["prompt_tokens"] > 2000
