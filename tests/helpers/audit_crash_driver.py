"""Kills audit-log writers with SIGKILL, many times, at random moments.

    python -m tests.helpers.audit_crash_driver LOG KILLS SEED

Each round forks a child that opens the log as the app does (checking its head, recovering a
torn tail, finishing an interrupted epoch change) and records answers as the app does: an
``inference_started`` entry, then the ``inference`` entry that finishes it, reporting each
write that returned through a pipe. The parent SIGKILLs the child after a random delay (the
experiment's input: where the kill lands). In one round in `EARLY` the delay counts from the
fork, so the kill may land while the child opens and recovers the log; in the others it
counts from the child's first acknowledged write, so the kill lands among writes however
slowly a busy machine runs the child. A child that finds the log refused (a false tamper
report) says so on the pipe before it is killed.

Prints a JSON summary: every started and finished (round, seq) whose write returned, every
refusal a child met, and how many rounds waited for a first write.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import struct
import sys
import time
from pathlib import Path

from strongroom.core.audit import format as fmt
from strongroom.core.audit.writer import AuditLog, AuditUnavailable
from tests.helpers.audit_logs import file_secrets

STARTED, FINISHED, REFUSED = 1, 2, 3
RECORD = struct.Struct("<BII")
EARLY = 0.2  # the share of rounds killed at any moment from the fork
FIRST_WRITE_TIMEOUT_S = 120


def child(path: Path, round_number: int, report_fd: int) -> None:
    try:
        log = AuditLog(path, file_secrets(path.parent / "secrets"), user="crash",
                       entries_per_epoch=40).open()
    except AuditUnavailable:
        os.write(report_fd, RECORD.pack(REFUSED, round_number, 0))
        raise
    while True:
        started = log.append(fmt.STARTED, {"round": round_number}, model_id="demo",
                             digests={"prompt_hash": f"prompt {round_number}"})
        os.write(report_fd, RECORD.pack(STARTED, round_number, started["seq"]))
        log.append(fmt.FINISHED, {"outcome": "answered"}, started_seq=started["seq"],
                   model_id="demo", digests={"prompt_hash": f"prompt {round_number}"})
        os.write(report_fd, RECORD.pack(FINISHED, round_number, started["seq"]))


def until_first_write(read_end: int) -> bytes:
    """What the child reported up to its first acknowledged write (or its refusal, or its
    end): read as it comes."""
    data = b""
    while True:
        ready, _, _ = select.select([read_end], [], [], FIRST_WRITE_TIMEOUT_S)
        if not ready:
            raise TimeoutError(f"a writer made no write in {FIRST_WRITE_TIMEOUT_S} s")
        chunk = os.read(read_end, 65536)
        data += chunk
        kinds = {data[offset] for offset in range(0, len(data) - RECORD.size + 1, RECORD.size)}
        if not chunk or kinds & {STARTED, REFUSED}:
            return data


def main(path: Path, kills: int, seed: int) -> dict:
    chance = random.Random(seed)
    reports: dict[int, list] = {STARTED: [], FINISHED: [], REFUSED: []}
    waited = 0
    for round_number in range(kills):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            try:
                child(path, round_number, write_end)
            finally:
                os._exit(1)
        os.close(write_end)
        data = b""
        if chance.random() >= EARLY:
            data = until_first_write(read_end)
            waited += 1
        time.sleep(chance.uniform(0, 0.015))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        while chunk := os.read(read_end, 65536):
            data += chunk
        os.close(read_end)
        for offset in range(0, len(data) - RECORD.size + 1, RECORD.size):
            kind, number, seq = RECORD.unpack_from(data, offset)
            reports[kind].append([number, seq])
    return {"started": reports[STARTED], "finished": reports[FINISHED],
            "refused": reports[REFUSED], "waited_for_a_write": waited}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))
