"""Encrypting an earlier version's plaintext conversations, killed with SIGKILL at any
moment, leaves either the plaintext database or the encrypted one usable at the usual
path, never neither, with every conversation and message intact; and once it completes,
no plaintext byte is left in the data folder.

`strongroom chats info` (which opens the conversations, and so encrypts them) runs in a
child process on a copy of a plaintext database of 2,000 conversations and is killed at
moments drawn from a seeded random generator across its measured duration, and at the two
steps that matter most, by their own file-system events: the plaintext's second name being
made, and the encrypted file being renamed into place.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from strongroom.core.chats.encrypt_in_place import PLAINTEXT_OLD, summarise
from strongroom.core.chats.open_conversations import open_conversations
from strongroom.core.paths import app_paths
from strongroom.core.secrets import open_secret_store
from tests.helpers import REPO
from tests.helpers.conversations import plaintext_connection
from tests.helpers.kills import IN_CREATE, IN_MOVED_TO, run_and_kill

KILLS = 12
SEED = 20261129
MARKER = "PLAINTEXT-MARKER-93ab"


@pytest.fixture(scope="module")
def plaintext(tmp_path_factory) -> Path:
    """An earlier version's database: plain SQLite, about 25 MB."""
    path = tmp_path_factory.mktemp("plaintext") / "conversations.sqlite3"
    db = plaintext_connection(path)
    filler = "privileged matter " * 60
    db.execute("BEGIN")
    for conversation in range(1, 2001):
        db.execute("INSERT INTO conversations VALUES (?, ?, '2026-01-01', '2026-01-01')",
                   (conversation, f"Case {conversation}"))
        db.executemany("INSERT INTO messages VALUES (NULL, ?, ?, ?, ?, '2026-01-01', NULL, NULL)",
                       [(conversation, position, "user" if position % 2 == 0 else "assistant",
                         f"{MARKER} {conversation}.{position} {filler}") for position in range(10)])
    db.execute("COMMIT")
    db.close()
    return path


def home_with(plaintext: Path, home: Path) -> Path:
    data = app_paths({"STRONGROOM_HOME": str(home)}).data_dir
    data.mkdir(parents=True)
    shutil.copy(plaintext, data / "conversations.sqlite3")
    return home


def command(home: Path) -> tuple[list[str], dict]:
    return ([sys.executable, "-m", "strongroom", "chats", "info"],
            {"STRONGROOM_HOME": str(home), "STRONGROOM_TEST_KEYRING": str(home / "keyring.json")})


def conversations_after(home: Path, monkeypatch) -> object:
    """Open the conversations as the app does (the keyring the child used); their summary."""
    monkeypatch.setenv("STRONGROOM_TEST_KEYRING", str(home / "keyring.json"))
    paths = app_paths({"STRONGROOM_HOME": str(home)})
    opened = open_conversations(paths.conversations_db, open_secret_store(paths.config_dir))
    try:
        return summarise(opened.store._db)
    finally:
        opened.store.close()


def plaintext_left(home: Path) -> list[str]:
    return [p.name for p in (home / "data").rglob("*")
            if p.is_file() and MARKER.encode() in p.read_bytes()]


@pytest.mark.timeout(900)
def test_encryption_killed_at_any_moment_loses_nothing(plaintext, tmp_path, monkeypatch):
    expected = summarise(sqlite3.connect(plaintext))
    assert expected.conversations == 2000 and expected.messages == 20000

    # an uninterrupted run, for its duration and its end state
    home = home_with(plaintext, tmp_path / "whole")
    arguments, env = command(home)
    started = time.monotonic()
    finished = subprocess.run(arguments, cwd=REPO, capture_output=True, text=True, timeout=300,
                              env={**__import__("os").environ, **env})
    duration = time.monotonic() - started
    assert finished.returncode == 0, finished.stderr
    assert "2000 conversation(s)" in finished.stdout
    assert conversations_after(home, monkeypatch) == expected
    assert plaintext_left(home) == []

    generator = random.Random(SEED)
    moments = [duration * (index + generator.random()) / KILLS for index in range(KILLS)]
    data = lambda home: str(app_paths({"STRONGROOM_HOME": str(home)}).data_dir)  # noqa: E731
    runs = [("after", f"{moment:.3f}") for moment in moments]
    runs += [("on", "DATA", str(IN_CREATE), PLAINTEXT_OLD),  # the plaintext's second name
             ("on", "DATA", str(IN_MOVED_TO), "conversations.sqlite3")]  # the swap
    killed = 0
    events_killed = []
    for index, how in enumerate(runs):
        home = home_with(plaintext, tmp_path / f"run-{index}")
        arguments, env = command(home)
        how = tuple(data(home) if part == "DATA" else part for part in how)
        outcome = run_and_kill(arguments, env, *how)
        killed += outcome["killed"]
        if how[0] == "on":
            events_killed.append(outcome["killed"])
        assert conversations_after(home, monkeypatch) == expected, f"lost data after {how}"
        # the open just made finished the job: no plaintext is left
        assert plaintext_left(home) == [], f"plaintext left after {how}"
    assert killed >= KILLS // 2, f"only {killed} runs were killed before they ended"
    assert events_killed == [True, True], "a step's event did not happen"
