"""The encrypted conversation store against the same store unencrypted, in one run.

Figures (issue: privileged text encrypted at rest), each encrypted ÷ plaintext (≤ 1.3):
  - open a store of 10,000 conversations and 200,000 messages and list its conversations;
  - load one conversation of 1,000 messages;
  - search all text (a word in a few messages, through the full-text index).

The first search on a new connection stays near 2.4: it reads about 290 pages (index
segments, the matching messages and their conversations), and each costs SQLCipher a
decryption and an HMAC through OpenSSL, about 5 µs, most of it the HMAC call whatever its
hash. Page sizes from 1 to 16 KB, HMAC-SHA1 and an `optimize` of the index were measured
and do not bring it under 1.3; without the HMAC it is 1.47, and pages could be altered.

Both stores are built the same way, by `ConversationStore`, from the same rows; the
plaintext one is the same code with SQLCipher given no key. Each measurement alternates
the two and reports medians, after a first run to warm the page cache.

    .venv/bin/python bench/bench_chats.py [--conversations N] [--messages-each N] [--runs N]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import sqlcipher3

from strongroom.core.chats import conversation_store
from strongroom.core.chats.conversation_store import ConversationStore

KEY = bytes(range(32))
WORDS = ("contract clause liability patient dosage merger privilege counsel diagnosis review "
         "schedule indemnity tribunal referral discharge witness statement therapy").split()


class Plaintext:
    """The same store with SQLCipher given no key: the baseline."""

    def __enter__(self):
        self.real = conversation_store.connect_encrypted
        conversation_store.connect_encrypted = lambda path, key: sqlcipher3.connect(
            str(path), isolation_level=None)
        return self

    def __exit__(self, *_):
        conversation_store.connect_encrypted = self.real


def build(path: Path, conversations: int, messages_each: int, seed: int) -> int:
    """Fill a store; returns the id of the conversation with 1,000 messages."""
    generator = random.Random(seed)
    store = ConversationStore(path, KEY)
    db = store._db
    db.execute("BEGIN")
    long_one = None
    for index in range(conversations):
        cursor = db.execute("INSERT INTO conversations (title, created_at, updated_at) "
                            "VALUES (?, '2026-01-01', ?)", (f"Case {index}", f"2026-01-{index % 28 + 1:02d}"))
        count = 1000 if index == conversations // 2 else messages_each
        if count == 1000:
            long_one = cursor.lastrowid
        rows = []
        for position in range(count):
            text = " ".join(generator.choice(WORDS) for _ in range(generator.randint(20, 60)))
            if generator.random() < 0.0005:
                text += " zanzibar"  # the rare word the search looks for
            rows.append((cursor.lastrowid, position, "user" if position % 2 == 0 else "assistant",
                         text))
        db.executemany("INSERT INTO messages (conversation_id, position, role, content, created_at) "
                       "VALUES (?, ?, ?, ?, '2026-01-01')", rows)
    db.execute("COMMIT")
    store.close()
    return long_one


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages-each", type=int, default=20)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="strongroom-bench-chats-"))
    try:
        encrypted, plaintext = work / "encrypted.sqlite3", work / "plaintext.sqlite3"
        started = time.perf_counter()
        long_one = build(encrypted, args.conversations, args.messages_each, 1)
        with Plaintext():
            assert build(plaintext, args.conversations, args.messages_each, 1) == long_one
        built = time.perf_counter() - started

        def open_and_list(path):
            store = ConversationStore(path, KEY)
            assert len(store.conversations()) == args.conversations
            store.close()

        def load(path):
            """The first load on an open store (its pages read and decrypted), then again."""
            store = ConversationStore(path, KEY)
            try:
                return [timed(lambda: len(store.messages(long_one)) == 1000) for _ in range(2)]
            finally:
                store.close()

        def search(path):
            store = ConversationStore(path, KEY)
            try:
                return [timed(lambda: store.conversations("zanzibar")) for _ in range(2)]
            finally:
                store.close()

        figures = {name: {"encrypted": [], "plaintext": []}
                   for name in ("open", "load", "search", "load again", "search again")}
        for run in range(args.runs + 1):
            for kind, path in (("encrypted", encrypted), ("plaintext", plaintext)):
                if kind == "plaintext":
                    with Plaintext():
                        opened, loads, searches = timed(lambda path=path: open_and_list(path)), load(path), search(path)
                else:
                    opened, loads, searches = timed(lambda path=path: open_and_list(path)), load(path), search(path)
                values = (opened, loads[0], searches[0], loads[1], searches[1])
                if run:  # the first run warms the page cache
                    for name, value in zip(figures, values, strict=True):
                        figures[name][kind].append(value)
        size = encrypted.stat().st_size
        print(f"conversation store: {args.conversations:,} conversations, "
              f"{args.conversations * args.messages_each + 1000 - args.messages_each:,} messages, "
              f"{size / 1e6:.0f} MB encrypted (built in {built:.0f} s), median of {args.runs}")
        for name, label in (("open", "open and list all conversations"),
                            ("load", "load one conversation of 1,000 messages"),
                            ("search", "search all text (full-text index)"),
                            ("load again", "  the same load again (pages cached)"),
                            ("search again", "  the same search again (pages cached)")):
            encrypted_s = statistics.median(figures[name]["encrypted"])
            plaintext_s = statistics.median(figures[name]["plaintext"])
            print(f"  {label:<42} encrypted {encrypted_s * 1000:7.1f} ms, plaintext "
                  f"{plaintext_s * 1000:7.1f} ms, ratio {encrypted_s / plaintext_s:.2f} (target ≤ 1.3)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
