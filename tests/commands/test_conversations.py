"""`strongroom chats` and the recovery key on the command line, as real subprocesses."""

from __future__ import annotations

import json

from tests.helpers.cli import strongroom, strongroom_on_terminal


def keyring(home) -> dict:
    return json.loads((home.data_dir.parent / "test-keyring.json").read_text())


def drop_the_key(home) -> None:
    """What a new keyring or user account looks like to Strongroom."""
    path = home.data_dir.parent / "test-keyring.json"
    data = json.loads(path.read_text())
    data.pop("strongroom/conversations-key")
    path.write_text(json.dumps(data))


def recovery_key_from(stderr: str) -> str:
    return next(line.strip() for line in stderr.splitlines() if line.strip().startswith("SRCK-"))


def test_the_recovery_key_is_shown_in_full_once_then_reminded_until_confirmed(home):
    first = strongroom_on_terminal("store", "verify", home=home)
    assert "CONVERSATIONS RECOVERY KEY" in first.stderr
    key = recovery_key_from(first.stderr)
    # the audit key, shown only once, stays the last thing printed
    assert first.stderr.rstrip().splitlines()[-1] == "=" * 78
    assert first.stderr.index("SRCK-") < first.stderr.index("SRAK-")
    second = strongroom_on_terminal("store", "verify", home=home)
    assert key not in second.stderr and "CONVERSATIONS RECOVERY KEY" not in second.stderr
    [reminder] = [line for line in second.stderr.splitlines() if "recovery key" in line]
    assert "not yet confirmed" in reminder and "strongroom chats recovery-key" in reminder
    assert key in strongroom("chats", "recovery-key", home=home).stdout  # asked for: shown
    confirmed = strongroom("chats", "recovery-key", "--stored", home=home)
    assert confirmed.returncode == 0 and "will not be shown again" in confirmed.stdout
    assert "SRCK-" not in strongroom("models", home=home).stderr
    info = strongroom("chats", "info", home=home)
    assert "recovery key confirmed stored" in info.stdout and "test keyring" in info.stdout
    events = [json.loads(line) for line in home.audit_log.read_text().splitlines()]
    actions = [e["details"]["action"] for e in events if e["event"] == "conversations_key"]
    assert actions == ["key created", "recovery key confirmed stored"]


def test_a_lost_key_locks_the_conversations_until_recovered(home):
    key = recovery_key_from(strongroom_on_terminal("store", "verify", home=home).stderr)
    assert "conversations" in strongroom("chats", "info", home=home).stdout
    drop_the_key(home)
    locked = strongroom("models", home=home)
    assert locked.returncode == 1
    assert "their key is not in" in locked.stderr and "strongroom chats recover" in locked.stderr

    refused = strongroom("chats", "recover", home=home, stdin="SRCK-AAAA-AAAA\n")
    assert refused.returncode == 2 and "bytes long" in refused.stderr
    recovered = strongroom("chats", "recover", home=home, stdin=key + "\n")
    assert recovered.returncode == 0, recovered.stderr
    assert strongroom("models", home=home).returncode == 0
    fresh = strongroom("chats", "start-fresh", "--yes", home=home)
    assert fresh.returncode == 1 and "open fine; nothing was set aside" in fresh.stderr


def test_starting_fresh_keeps_the_unreadable_file(home):
    strongroom("store", "verify", home=home)
    drop_the_key(home)
    fresh = strongroom("chats", "start-fresh", "--yes", home=home)
    assert fresh.returncode == 0, fresh.stderr
    assert "kept, unchanged, as" in fresh.stdout
    assert list(home.conversations_db.parent.glob("conversations-set-aside-*.sqlite3"))
    assert strongroom("models", home=home).returncode == 0


def test_two_processes_opening_an_old_database_at_once_encrypt_it_once(home):
    """The window and a command starting together: one encrypts, the other waits and opens."""
    import os
    import subprocess
    import sys

    from tests.helpers import REPO
    from tests.helpers.conversations import plaintext_database

    plaintext_database(home.conversations_db, conversations=400)
    env = {**os.environ, "STRONGROOM_HOME": str(home.data_dir.parent)}
    both = [subprocess.Popen([sys.executable, "-m", "strongroom", "chats", "info"], cwd=REPO,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in both]
    for process, (out, err) in zip(both, outputs, strict=True):
        assert process.returncode == 0, err
        assert "400 conversation(s)" in out
    assert not home.conversations_db.read_bytes().startswith(b"SQLite format 3")
